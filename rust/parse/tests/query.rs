//! Unit tests of urlencoded parsing; expectations come from CPython 3.11's
//! `urllib.parse.parse_qsl(s, keep_blank_values=True)` and `unquote`.

use super::*;

/// All the pairs of `input`, owned.
pub(crate) fn owned(input: &[u8]) -> Vec<(String, String)> {
    let mut pairs = parse_urlencoded(input);
    let mut out = Vec::new();
    while let Some((name, value)) = pairs.next_pair() {
        out.push((name.to_owned(), value.to_owned()));
    }
    out
}

fn pairs(input: &str) -> Vec<(String, String)> {
    owned(input.as_bytes())
}

fn expect(input: &str, expected: &[(&str, &str)]) {
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(pairs(input), expected, "{input:?}");
}

#[test]
fn matches_python_parse_qsl() {
    expect("a=1&b=2", &[("a", "1"), ("b", "2")]);
    expect("a=1&a=2&b", &[("a", "1"), ("a", "2"), ("b", "")]);
    expect(
        "&&a=&=x&=&b=c=d&",
        &[("a", ""), ("", "x"), ("", ""), ("b", "c=d")],
    );
    expect(
        "q=hello+world&x=%2B%20%26%3D",
        &[("q", "hello world"), ("x", "+ &=")],
    );
    expect(
        "%zz=%4&bad=%%41&t=%",
        &[("%zz", "%4"), ("bad", "%A"), ("t", "%")],
    );
    expect(
        "n%C3%A9=caf%C3%A9&e=%E2%82%AC",
        &[("né", "café"), ("e", "€")],
    );
    expect(
        "bad=%FF%FEx&trunc=%E2%82&mix=%E2%82%41&sur=%ED%A0%80",
        &[
            ("bad", "\u{fffd}\u{fffd}x"),
            ("trunc", "\u{fffd}"),
            ("mix", "\u{fffd}A"),
            ("sur", "\u{fffd}\u{fffd}\u{fffd}"),
        ],
    );
    expect("plus=%2B+%2b&lit=é", &[("plus", "+ +"), ("lit", "é")]);
    expect("a=b;c=d", &[("a", "b;c=d")]);
    expect("  sp = x ", &[("  sp ", " x ")]);
    expect("x=%e2%82%ac", &[("x", "€")]);
    expect("k=a%C3", &[("k", "a\u{fffd}")]);
    expect("x=%F0%9F%98", &[("x", "\u{fffd}")]);
    expect("", &[]);
    expect("&", &[]);
    expect("=", &[("", "")]);
}

#[test]
fn raw_non_utf8_bytes_decode_with_escapes() {
    assert_eq!(owned(b"a=\xff"), [("a".to_owned(), "\u{fffd}".to_owned())]);
    assert_eq!(owned(b"a=\xe2%82%ac"), [("a".to_owned(), "€".to_owned())]);
}

#[test]
fn browser_form_body() {
    expect(
        "firstname=Taylor&lastname=O%27Brien&comment=Line+1%0D%0ALine+2&agree=on&empty=",
        &[
            ("firstname", "Taylor"),
            ("lastname", "O'Brien"),
            ("comment", "Line 1\r\nLine 2"),
            ("agree", "on"),
            ("empty", ""),
        ],
    );
}

#[test]
fn plain_components_borrow_the_input() {
    let input = "a=1&b+=x%21&é=c&d=e";
    let within = |s: &str| input.as_bytes().as_ptr_range().contains(&s.as_ptr());
    for mut pairs in [
        parse_urlencoded(input.as_bytes()),
        parse_urlencoded_str(input),
    ] {
        let mut seen = Vec::new();
        while let Some((name, value)) = pairs.next_pair() {
            seen.push((
                name.to_owned(),
                within(name),
                value.to_owned(),
                within(value),
            ));
        }
        let expected = [
            ("a", true, "1", true),
            ("b ", false, "x!", false),
            ("é", true, "c", true),
            ("d", true, "e", true),
        ];
        let expected: Vec<_> = expected
            .iter()
            .map(|&(n, nb, v, vb)| (n.to_owned(), nb, v.to_owned(), vb))
            .collect();
        assert_eq!(seen, expected);
    }
}

#[test]
fn non_utf8_components_are_decoded() {
    assert_eq!(
        owned(b"\xff=c&d"),
        [
            ("\u{fffd}".to_owned(), "c".to_owned()),
            ("d".to_owned(), String::new())
        ]
    );
    assert_eq!(owned(b"&&"), []);
}

#[test]
fn percent_decode_borrows_when_nothing_to_do() {
    assert!(matches!(percent_decode(b"plain", true), Cow::Borrowed(_)));
    assert!(matches!(percent_decode(b"a+b", false), Cow::Borrowed(_)));
    assert!(matches!(percent_decode(b"a+b", true), Cow::Owned(_)));
}
