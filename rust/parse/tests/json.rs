//! Unit tests of strict JSON validation.

use super::*;

fn ok(s: &str) {
    assert_eq!(validate_json(s.as_bytes()), Ok(()), "{s:?} should be valid");
}

fn err(s: &[u8]) -> JsonError {
    match validate_json(s) {
        Ok(()) => panic!("{:?} should be invalid", String::from_utf8_lossy(s)),
        Err(e) => e,
    }
}

#[test]
fn accepts_valid_documents() {
    for s in [
        "0",
        "-0",
        "1",
        "-12.5e+3",
        "1E-2",
        "0.0",
        "1e5",
        "true",
        "false",
        "null",
        "\"\"",
        "\"abc\"",
        " \t\r\n{} \n",
        "[]",
        "[ ]",
        "{ }",
        "[1,2,3]",
        "[[[]]]",
        r#"{"a":{"b":[true,false,null,"x",-1.5]}}"#,
        r#"{"a" : 1 , "b" : [ 1 , { } ] }"#,
        r#""\" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uD83D\uDE00 \uFFFF""#,
        "\"naïve 日本語 😀\"",
        "\"\u{7f}\"",
        r#"{"":""}"#,
        r#"{"a":1,"a":2}"#,
    ] {
        ok(s);
    }
}

#[test]
fn rejects_invalid_documents() {
    for s in [
        "",
        " ",
        "NaN",
        "Infinity",
        "-Infinity",
        "nan",
        "+1",
        "01",
        "-01",
        "1.",
        ".5",
        "1e",
        "1e+",
        "-",
        "0x10",
        "[1,]",
        "{\"a\":1,}",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\":}",
        "{a:1}",
        "{'a':1}",
        "'x'",
        "tru",
        "truE",
        "nul",
        "[",
        "]",
        "{",
        "}",
        "[}",
        "{]",
        "\"abc",
        "\"\\x\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"\\uD800\"",
        "\"\\uDC00\"",
        "\"\\uD800\\u0041\"",
        "\"\\uD800x\"",
        "1 2",
        "{}{}",
        "[] x",
        "\"a\"\"b\"",
        "/* c */ 1",
        "[1,,2]",
        "[,1]",
        "\u{feff}1",
        "1\u{0}",
    ] {
        err(s.as_bytes());
    }
}

#[test]
fn rejects_bad_bytes_in_strings() {
    for s in [
        &b"\"a\x01b\""[..],
        b"\"\x1f\"",
        b"\"\n\"",
        b"\"\x80\"",
        b"\"\xc3\"",
        b"\"\xc3(\"",
        b"\"\xc0\x80\"",
        b"\"\xed\xa0\x80\"",
        b"\"\xf4\x90\x80\x80\"",
        b"\"\xf8\x88\x80\x80\x80\"",
        b"\"\xe2\x82\"",
        b"\"\xff\"",
        b"\xc3\xa9",
    ] {
        err(s);
    }
}

#[test]
fn error_kinds_and_offsets() {
    let e = err(b"{\"a\":1 \"b\":2}");
    assert_eq!(e.offset, 7);
    assert_eq!(
        e.kind,
        JsonErrorKind::UnexpectedByte {
            found: b'"',
            expected: "',' or '}' after an object member"
        }
    );
    assert_eq!(
        e.to_string(),
        "expected ',' or '}' after an object member, found '\"' at byte 7"
    );
    let e = err(b"[1,");
    assert_eq!(
        e.kind,
        JsonErrorKind::UnexpectedEnd {
            expected: "a JSON value"
        }
    );
    assert_eq!(
        e.to_string(),
        "expected a JSON value, found the end of the input at byte 3"
    );
    assert_eq!(err(b"[1] 2").kind, JsonErrorKind::TrailingData);
    assert_eq!(err(b"[1] 2").offset, 4);
    assert_eq!(err(b"\"ab\\q\"").kind, JsonErrorKind::InvalidEscape);
    assert_eq!(err(b"\"ab\\q\"").offset, 3);
    assert_eq!(err(b"\"\\u00\"").kind, JsonErrorKind::InvalidUnicodeEscape);
    assert_eq!(err(b"\"\\udead\"").kind, JsonErrorKind::LoneSurrogate);
    assert_eq!(err(b"\"a\tb\"").kind, JsonErrorKind::ControlCharacter);
    assert_eq!(err(b"\"a\tb\"").offset, 2);
    assert_eq!(err(b"\"aaaaaaaaaaaa\xff\"").offset, 13);
    assert_eq!(
        err(b"\"aaaaaaaaaaaa\xff\"").kind,
        JsonErrorKind::InvalidUtf8
    );
    let e = err(b"[1.x]");
    assert_eq!(
        e.to_string(),
        "expected a digit after '.', found 'x' at byte 3"
    );
    let e = err(b"\x00");
    assert_eq!(
        e.to_string(),
        "expected a JSON value, found byte 0x00 at byte 0"
    );
}

#[test]
fn depth_limit() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    ok(&nested(MAX_DEPTH));
    let e = err(nested(MAX_DEPTH + 1).as_bytes());
    assert_eq!(e.kind, JsonErrorKind::TooDeep);
    assert_eq!(e.offset, MAX_DEPTH);
    let objects = format!("{}1{}", "{\"k\":".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
    ok(&objects);
    // Far deeper than any call stack could take recursively: still an error, not a crash.
    assert_eq!(
        err("[".repeat(1_000_000).as_bytes()).kind,
        JsonErrorKind::TooDeep
    );
    assert_eq!(err(nested(100_000).as_bytes()).kind, JsonErrorKind::TooDeep);
}

#[test]
fn mixed_containers_close_correctly() {
    ok(r#"[{"a":[{"b":{}}]},[[{}]],{"c":[]}]"#);
    err(br#"[{"a":[{"b":{}]}]"#);
    err(br#"{"a":[}"#);
}

#[test]
fn long_strings_cross_word_boundaries() {
    for len in 0..40 {
        for special in ["\\n", "é", "😀", "\\u00e9"] {
            let s = format!("\"{}{special}{}\"", "x".repeat(len), "y".repeat(len % 9));
            ok(&s);
        }
        let mut bad = format!("\"{}", "x".repeat(len)).into_bytes();
        bad.push(0x01);
        bad.push(b'"');
        assert_eq!(err(&bad).offset, len + 1);
    }
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn bench_validate_json() {
    use std::time::Instant;
    let record = r#"{"id": 12345, "name": "Taylor Smith", "email": "taylor@example.com", "active": true, "score": 912.375, "tags": ["alpha", "beta"], "address": {"street": "12 Main St", "city": "Springfield", "zip": "01234"}, "note": null}"#;
    for target in [1_000usize, 100_000] {
        let mut doc = String::from("{\"event\":\"order.created\",\"data\":[");
        while doc.len() + record.len() + 2 < target {
            doc.push_str(record);
            doc.push(',');
        }
        doc.push_str("{}]}");
        ok(&doc);
        let iters = (200_000_000 / doc.len()).max(10);
        let start = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(validate_json(std::hint::black_box(doc.as_bytes()))).unwrap();
        }
        let per = start.elapsed().as_secs_f64() / iters as f64;
        println!(
            "validate_json {} bytes: {:.2} us, {:.2} GB/s",
            doc.len(),
            per * 1e6,
            doc.len() as f64 / per / 1e9
        );
    }
}

#[test]
fn integer_parts_longer_than_python_decodes_are_refused() {
    let digits = |n: usize| "7".repeat(n);
    for doc in [
        digits(MAX_INT_DIGITS),
        format!("-{}", digits(MAX_INT_DIGITS)),
        format!("{}.5e3", digits(MAX_INT_DIGITS)),
        format!("[{}]", digits(MAX_INT_DIGITS)),
        // Fraction and exponent digits are not limited: Python reads them as floats.
        format!("0.{}", digits(100_000)),
        format!("1e{}", digits(100_000)),
        format!("-1.5E-{}", digits(100_000)),
        format!("\"{}\"", digits(100_000)),
    ] {
        ok(&doc);
    }
    for (doc, at) in [
        (digits(MAX_INT_DIGITS + 1), 0),
        (format!("-{}", digits(MAX_INT_DIGITS + 1)), 0),
        (format!("{}.0", digits(MAX_INT_DIGITS + 1)), 0),
        (format!("{}e-9", digits(MAX_INT_DIGITS + 1)), 0),
        (format!("{{\"big\": {}}}", digits(10 * 1024 * 1024)), 8),
        (format!("[1, 2, -{}]", digits(MAX_INT_DIGITS + 1)), 7),
    ] {
        let e = err(doc.as_bytes());
        assert_eq!(e.kind, JsonErrorKind::NumberTooLong, "{}", &doc[..20]);
        assert_eq!(e.offset, at);
    }
    // The first error wins, whichever it is.
    let e = err(format!("[01, {}]", digits(MAX_INT_DIGITS + 1)).as_bytes());
    assert_eq!(e.offset, 2);
    let e = err(format!("[{}, 01]", digits(MAX_INT_DIGITS + 1)).as_bytes());
    assert_eq!((e.kind, e.offset), (JsonErrorKind::NumberTooLong, 1));
    assert_eq!(
        e.to_string(),
        "expected at most 4300 digits before the fraction and exponent of a number at byte 1"
    );
    assert_eq!(
        number_too_long_message(1),
        "A number in the JSON body (at byte 1) has more than 4300 digits before its decimal \
         point; send such numbers as strings."
    );
}
