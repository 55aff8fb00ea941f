//! Unit tests of text body decoding.

use super::*;

fn undecodable(bytes: &[u8], charset: Option<&str>) -> (&'static str, usize) {
    match decode_text(bytes, charset) {
        Err(TextError::Undecodable { charset, offset }) => (charset, offset),
        other => panic!("expected Undecodable, got {other:?}"),
    }
}

#[test]
fn utf8_default_and_bom() {
    assert_eq!(decode_text("héllo".as_bytes(), None).unwrap(), "héllo");
    assert!(matches!(
        decode_text(b"plain", None).unwrap(),
        Cow::Borrowed(_)
    ));
    assert_eq!(decode_text(b"\xef\xbb\xbfhi", None).unwrap(), "hi");
    assert_eq!(decode_text(b"\xef\xbb\xbfhi", Some("UTF-8")).unwrap(), "hi");
    assert_eq!(decode_text(b"hi", Some(" utf8 ")).unwrap(), "hi");
    assert_eq!(decode_text(b"", None).unwrap(), "");
}

#[test]
fn utf8_errors_name_charset_and_offset() {
    assert_eq!(undecodable(b"ab\xffcd", None), ("UTF-8", 2));
    assert_eq!(
        undecodable(b"\xef\xbb\xbfab\xc3", Some("utf-8")),
        ("UTF-8", 5)
    );
    let e = decode_text(b"ab\xff", None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expected UTF-8 text, found undecodable bytes at byte 2"
    );
}

#[test]
fn latin1_is_true_iso_8859_1() {
    for label in ["latin-1", "ISO-8859-1", "latin1", "iso_8859-1", "l1"] {
        assert_eq!(
            decode_text(b"caf\xe9 \x80", Some(label)).unwrap(),
            "café \u{80}"
        );
    }
    assert!(matches!(
        decode_text(b"ascii", Some("latin1")).unwrap(),
        Cow::Borrowed(_)
    ));
}

#[test]
fn ascii_is_strict() {
    assert_eq!(decode_text(b"hello", Some("us-ascii")).unwrap(), "hello");
    assert_eq!(undecodable(b"hel\xe9lo", Some("US-ASCII")), ("US-ASCII", 3));
}

#[test]
fn windows_1252_and_other_encodings() {
    assert_eq!(
        decode_text(b"\x80 \x93q\x94", Some("windows-1252")).unwrap(),
        "€ \u{201c}q\u{201d}"
    );
    assert_eq!(decode_text(b"\x82\xa0", Some("shift_jis")).unwrap(), "あ");
    assert_eq!(decode_text(b"\xa4\xa2", Some("euc-jp")).unwrap(), "あ");
    assert_eq!(
        decode_text(b"\xc4\xe3\xba\xc3", Some("gbk")).unwrap(),
        "你好"
    );
    assert_eq!(decode_text(b"\xf0\xd2", Some("koi8-r")).unwrap(), "Пр");
    assert_eq!(undecodable(b"ok\x82", Some("shift_jis")), ("Shift_JIS", 2));
}

#[test]
fn utf16_by_bom_and_label() {
    let le = b"\xff\xfeh\x00i\x00";
    let be = b"\xfe\xff\x00h\x00i";
    assert_eq!(decode_text(le, Some("utf-16")).unwrap(), "hi");
    assert_eq!(decode_text(be, Some("utf-16")).unwrap(), "hi");
    assert_eq!(decode_text(be, Some("utf-16le")).unwrap(), "hi");
    assert_eq!(decode_text(le, None).unwrap(), "hi");
    assert_eq!(decode_text(b"h\x00i\x00", Some("UTF-16")).unwrap(), "hi");
    assert_eq!(decode_text(b"h\x00i\x00", Some("utf-16le")).unwrap(), "hi");
    assert_eq!(decode_text(b"\x00h\x00i", Some("utf-16be")).unwrap(), "hi");
    assert_eq!(
        decode_text(b"=\xd8\x00\xde", Some("utf-16le")).unwrap(),
        "😀"
    );
}

#[test]
fn utf16_errors() {
    assert_eq!(undecodable(b"h\x00i", Some("utf-16le")), ("UTF-16LE", 2));
    assert_eq!(
        undecodable(b"\xff\xfeh\x00\x00\xd8a\x00", Some("utf-16")),
        ("UTF-16LE", 4)
    );
    assert_eq!(undecodable(b"\x00\xdc", Some("utf-16le")), ("UTF-16LE", 0));
}

#[test]
fn unknown_charsets() {
    for label in ["klingon", "", "utf-9", "replacement", "iso-2022-kr"] {
        assert_eq!(
            decode_text(b"x", Some(label)),
            Err(TextError::UnknownCharset {
                label: label.to_owned()
            })
        );
    }
    assert_eq!(
        decode_text(b"x", Some("klingon")).unwrap_err().to_string(),
        "expected a known charset, found \"klingon\""
    );
}

#[test]
fn long_bodies_report_late_offsets() {
    let mut body = vec![b'a'; 5000];
    body.push(0x82);
    assert_eq!(undecodable(&body, Some("shift_jis")), ("Shift_JIS", 5000));
    let mut utf16 = b"a\x00".repeat(3000);
    utf16.extend_from_slice(b"\x00\xdc");
    assert_eq!(undecodable(&utf16, Some("utf-16le")), ("UTF-16LE", 6000));
}
