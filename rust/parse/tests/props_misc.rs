//! Property tests of the content-type, urlencoded and text parsers.

use proptest::prelude::*;

use crate::parse::query::tests::owned as owned_pairs;
use crate::parse::{decode_text, ContentType, TextError};

/// Python's `unquote_plus` done the way CPython does it: split on `%`, decode
/// each piece that starts with two hex digits, keep the rest.
fn python_unquote_plus(s: &str) -> String {
    let s = s.replace('+', " ");
    let mut pieces = s.split('%');
    let mut out: Vec<u8> = pieces.next().unwrap_or_default().as_bytes().to_vec();
    for piece in pieces {
        let hex = piece.get(..2).and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) if piece.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit) => {
                out.push(byte);
                out.extend_from_slice(&piece.as_bytes()[2..]);
            }
            _ => {
                out.push(b'%');
                out.extend_from_slice(piece.as_bytes());
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn python_parse_qsl(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (python_unquote_plus(name), python_unquote_plus(value))
        })
        .collect()
}

fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        match b {
            b' ' => out.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn query_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("&".to_owned()),
            Just("=".to_owned()),
            Just("+".to_owned()),
            Just("%".to_owned()),
            "%[0-9a-fA-F]{2}",
            "%[0-9a-fA-FgG]{1,2}",
            "%[89a-fA-F][0-9a-fA-F]",
            "\\PC{1,3}",
        ],
        0..24,
    )
    .prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn urlencoded_matches_python_algorithm(input in query_text()) {
        prop_assert_eq!(owned_pairs(input.as_bytes()), python_parse_qsl(&input));
    }

    #[test]
    fn urlencoded_round_trip(pairs in prop::collection::vec(("\\PC{0,8}", "\\PC{0,8}"), 0..8)) {
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(n, v)| format!("{}={}", form_encode(n), form_encode(v)))
            .collect();
        prop_assert_eq!(owned_pairs(encoded.join("&").as_bytes()), pairs);
    }

    #[test]
    fn urlencoded_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let pairs = owned_pairs(&bytes);
        prop_assert!(pairs.len() <= bytes.len() / 2 + 1);
    }

    #[test]
    fn content_type_never_panics(value in "\\PC{0,40}|[a-z/;=\" \\\\+-]{0,40}") {
        let ct = ContentType::parse(&value);
        let _ = (ct.kind(), ct.charset(), ct.boundary(), ct.params().count());
    }

    #[test]
    fn utf8_decoding_agrees_with_std(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match (decode_text(&bytes, Some("utf-8")), std::str::from_utf8(&bytes)) {
            (Ok(text), Ok(expected)) => prop_assert_eq!(text.as_ref(), expected.strip_prefix('\u{feff}').unwrap_or(expected)),
            (Err(TextError::Undecodable { offset, .. }), Err(e)) => prop_assert_eq!(offset, e.valid_up_to()),
            (ours, std) => prop_assert!(false, "{:?} vs {:?}", ours, std),
        }
    }

    #[test]
    fn latin1_round_trips(text in "[\\u{0}-\\u{ff}]{0,32}") {
        let bytes: Vec<u8> = text.chars().map(|c| c as u8).collect();
        prop_assert_eq!(decode_text(&bytes, Some("iso-8859-1")).unwrap(), text);
    }

    #[test]
    fn decoders_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        label in prop::sample::select(vec!["utf-8", "utf-16", "utf-16be", "latin1", "ascii", "shift_jis", "gb18030", "big5", "euc-kr", "iso-2022-jp", "x-user-defined", "windows-1252"]),
    ) {
        match decode_text(&bytes, Some(label)) {
            Ok(_) => {}
            Err(TextError::Undecodable { offset, .. }) => prop_assert!(offset < bytes.len()),
            Err(e) => prop_assert!(false, "{}", e),
        }
        let _ = decode_text(&bytes, None);
    }
}
