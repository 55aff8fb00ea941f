//! Unit tests of urlencoded parsing; expectations come from CPython 3.11's
//! `urllib.parse.parse_qsl(s, keep_blank_values=True)` and `unquote`.

use super::*;

fn owned(input: &[u8]) -> Vec<(String, String)> {
    parse_urlencoded(input)
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
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
    let form = parse_urlencoded(b"a=1&b+=x%21&\xff=c");
    assert!(matches!(
        form.pairs[0],
        (Text::Input("a"), Text::Input("1"))
    ));
    assert!(matches!(
        form.pairs[1],
        (Text::Decoded(_), Text::Decoded(_))
    ));
    assert!(matches!(
        form.pairs[2],
        (Text::Decoded(_), Text::Input("c"))
    ));
    assert_eq!(form.decoded, "b x!\u{fffd}");
    assert_eq!((form.name(1), form.value(1)), ("b ", "x!"));
    assert_eq!((form.name(3), form.value(3)), ("", ""));
    assert!(!form.is_empty());
    assert!(parse_urlencoded(b"&&").is_empty());
}

#[test]
fn groups_number_names_in_order_of_first_appearance() {
    let form = parse_urlencoded(b"tag=a&q=1&tag=b&x&q=2&tag=c");
    assert_eq!(
        form.groups(),
        NameGroups {
            group_of: smallvec::smallvec![0, 1, 0, 2, 1, 0],
            first: smallvec::smallvec![0, 1, 3],
        }
    );
    let many: Vec<String> = (0..20).map(|i| format!("n{}=v", i % 12)).collect();
    let many = many.join("&");
    let groups = parse_urlencoded(many.as_bytes()).groups();
    assert_eq!(groups.first.to_vec(), (0..12).collect::<Vec<_>>());
    assert_eq!(groups.group_of[12..], [0, 1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn percent_decode_borrows_when_nothing_to_do() {
    assert!(matches!(percent_decode(b"plain", true), Cow::Borrowed(_)));
    assert!(matches!(percent_decode(b"a+b", false), Cow::Borrowed(_)));
    assert!(matches!(percent_decode(b"a+b", true), Cow::Owned(_)));
}
