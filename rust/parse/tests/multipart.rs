//! Unit tests of multipart/form-data parsing.

use super::*;

const CURL_BOUNDARY: &str = "------------------------d74496d66958873e";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\r\n--\r\n";

fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MultipartError> {
    parse_multipart(body, boundary.as_bytes(), &MultipartLimits::default())
}

/// `curl -F person='{"firstname":"Taylor"};type=application/json' -F photo=@file.png`
fn curl_body() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(format!("--{CURL_BOUNDARY}\r\n").as_bytes());
    body.extend_from_slice(b"Content-Disposition: form-data; name=\"person\"\r\n");
    body.extend_from_slice(b"Content-Type: application/json\r\n\r\n");
    body.extend_from_slice(b"{\"firstname\":\"Taylor\"}\r\n");
    body.extend_from_slice(format!("--{CURL_BOUNDARY}\r\n").as_bytes());
    body.extend_from_slice(
        b"Content-Disposition: form-data; name=\"photo\"; filename=\"file.png\"\r\n",
    );
    body.extend_from_slice(b"Content-Type: image/png\r\n\r\n");
    body.extend_from_slice(PNG);
    body.extend_from_slice(format!("\r\n--{CURL_BOUNDARY}--\r\n").as_bytes());
    body
}

#[test]
fn curl_form() {
    let body = curl_body();
    let ct = crate::parse::ContentType::parse(
        "multipart/form-data; boundary=------------------------d74496d66958873e",
    );
    let boundary = ct.boundary().unwrap();
    let parts = parse(&body, &boundary).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].name, "person");
    assert_eq!(parts[0].filename, None);
    assert_eq!(parts[0].content_type.as_deref(), Some("application/json"));
    assert_eq!(parts[0].bytes(&body), br#"{"firstname":"Taylor"}"#);
    assert_eq!(parts[1].name, "photo");
    assert_eq!(parts[1].filename.as_deref(), Some("file.png"));
    assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
    assert_eq!(parts[1].bytes(&body), PNG);
    assert!(matches!(parts[0].name, Cow::Borrowed(_)));
}

#[test]
fn browser_form() {
    let body = b"------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n\
Content-Disposition: form-data; name=\"title\"\r\n\r\n\
Hello, w\xc3\xb6rld\r\n\
------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n\
Content-Disposition: form-data; name=\"a%22b\"; filename=\"r\xc3\xa9sum\xc3\xa9 %22v2%22.txt\"\r\n\
Content-Type: text/plain\r\n\r\n\
line1\r\nline2\r\n\r\n\
------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n\
Content-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\
\r\n\
------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n";
    let parts = parse(body, "----WebKitFormBoundary7MA4YWxkTrZu0gW").unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0].bytes(body), "Hello, wörld".as_bytes());
    assert_eq!(parts[1].name, "a%22b");
    assert_eq!(parts[1].filename.as_deref(), Some("résumé %22v2%22.txt"));
    assert_eq!(parts[1].bytes(body), b"line1\r\nline2\r\n");
    assert_eq!(parts[2].filename.as_deref(), Some(""));
    assert_eq!(parts[2].bytes(body), b"");
}

#[test]
fn lf_only_with_preamble_epilogue_and_padding() {
    let body = b"This is the preamble.\n--xyz \t\ncontent-disposition: form-data; name=a\n\nA\r\n--xyz\t\n\
CONTENT-DISPOSITION: Form-Data; NAME=\"b\"\n\n\n--xyz--  \nepilogue --xyz\n";
    let parts = parse(body, "xyz").unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        (parts[0].name.as_ref(), parts[0].bytes(body)),
        ("a", &b"A\r"[..])
    );
    assert_eq!(
        (parts[1].name.as_ref(), parts[1].bytes(body)),
        ("b", &b""[..])
    );
}

#[test]
fn boundary_lookalikes_are_data() {
    let body = b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n\
--b is here\r\n--bb\r\n--b-\r\n\r\n--\r\n--b \r\n\
Content-Disposition: form-data; name=y\r\n\r\nY\r\n--b--";
    let parts = parse(body, "b").unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(
        parts[0].bytes(body),
        b"--b is here\r\n--bb\r\n--b-\r\n\r\n--"
    );
    assert_eq!(parts[1].bytes(body), b"Y");
}

#[test]
fn preamble_lookalike_is_skipped() {
    let body =
        b"x--b\r\n--bz\r\n--b\r\nContent-Disposition: form-data; name=n\r\n\r\nv\r\n--b--\r\n";
    let parts = parse(body, "b").unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].bytes(body), b"v");
}

#[test]
fn empty_forms_and_empty_parts() {
    assert_eq!(parse(b"--b--\r\n", "b").unwrap(), []);
    assert_eq!(parse(b"preamble\r\n--b--", "b").unwrap(), []);
    // The delimiter right after the blank line (no CRLF of its own): empty data.
    let body = b"--b\r\nContent-Disposition: form-data; name=e\r\n\r\n--b--";
    let parts = parse(body, "b").unwrap();
    assert_eq!(parts[0].data, body.len() - 5..body.len() - 5);
    let body = b"--b\nContent-Disposition: form-data; name=e\n\n--b--";
    assert_eq!(parse(body, "b").unwrap()[0].bytes(body), b"");
}

#[test]
fn disposition_parameters() {
    let cases: [(&str, &str, Option<&str>); 7] = [
        (
            r#"form-data; name="f"; filename="plain.txt""#,
            "f",
            Some("plain.txt"),
        ),
        (
            r#"form-data; name=f; filename=a b.txt"#,
            "f",
            Some("a b.txt"),
        ),
        (
            r#"form-data; name="q\"uo\\te"; filename="C:\Users\me\x.txt""#,
            "q\"uo\\te",
            Some(r"C:\Users\me\x.txt"),
        ),
        (
            r#"form-data; name="f"; filename="fallback.txt"; filename*=UTF-8''%E2%82%AC%20rates.txt"#,
            "f",
            Some("€ rates.txt"),
        ),
        (
            r#"form-data; filename*=iso-8859-1'en'caf%E9.txt; name="f""#,
            "f",
            Some("café.txt"),
        ),
        (
            r#"form-data; name="f"; filename="fb"; filename*=koi8-r''%F0"#,
            "f",
            Some("fb"),
        ),
        (r#"form-data; name="n;a=me"; name="second""#, "n;a=me", None),
    ];
    for (disposition, name, filename) in cases {
        let body = format!("--b\r\nContent-Disposition: {disposition}\r\n\r\nx\r\n--b--");
        let parts = parse(body.as_bytes(), "b").unwrap();
        assert_eq!(parts[0].name, name, "{disposition}");
        assert_eq!(parts[0].filename.as_deref(), filename, "{disposition}");
    }
}

#[test]
fn non_utf8_header_bytes_are_replaced() {
    let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"caf\xe9.txt\"\r\n\r\nx\r\n--b--";
    let parts = parse(body, "b").unwrap();
    assert_eq!(parts[0].filename.as_deref(), Some("caf\u{fffd}.txt"));
}

#[test]
fn other_headers_are_ignored() {
    let body = b"--b\r\nContent-Transfer-Encoding: binary\r\nX-Custom:  v \r\n\
Content-Disposition: form-data; name=f\r\ncontent-type:  text/plain; charset=latin1  \r\n\r\nx\r\n--b--";
    let parts = parse(body, "b").unwrap();
    assert_eq!(
        parts[0].content_type.as_deref(),
        Some("text/plain; charset=latin1")
    );
}

fn error(body: &[u8], boundary: &str) -> MultipartError {
    parse(body, boundary).unwrap_err()
}

#[test]
fn malformed_bodies() {
    use MultipartError::*;
    let cd = "Content-Disposition: form-data; name=a";
    assert_eq!(error(b"--b\r\n", ""), InvalidBoundary { len: 0 });
    assert_eq!(
        error(b"", &"x".repeat(MAX_BOUNDARY_LEN + 1)),
        InvalidBoundary { len: 257 }
    );
    assert_eq!(error(b"no boundary here", "b"), NoBoundary);
    assert_eq!(error(b"--bc\r\n", "b"), NoBoundary);
    let body = format!("--b\r\n{cd}\r\n\r\ndata without end");
    assert_eq!(
        error(body.as_bytes(), "b"),
        MissingClosingBoundary { offset: body.len() }
    );
    let body = format!("--b\r\n{cd}\r\n\r\ndata\r\n--b");
    assert_eq!(
        error(body.as_bytes(), "b"),
        MissingClosingBoundary { offset: body.len() }
    );
    assert_eq!(
        error(b"--b\r\nContent-Disposition: form-data; na", "b"),
        TruncatedHeaders { offset: 39 }
    );
    assert_eq!(
        error(b"--b\r\nX: y\r\n\r\nv\r\n--b--", "b"),
        MissingContentDisposition { offset: 5 }
    );
    assert_eq!(
        error(
            b"--b\r\nContent-Disposition: form-data; filename=x\r\n\r\nv\r\n--b--",
            "b"
        ),
        MissingName { offset: 26 }
    );
    let body = format!("--b\r\n{cd}\r\n{cd}\r\n\r\nv\r\n--b--");
    assert_eq!(
        error(body.as_bytes(), "b"),
        BadHeader {
            offset: 45,
            expected: "a single Content-Disposition header"
        }
    );
    let body = format!("--b\r\n{cd}\r\n continued\r\n\r\nv\r\n--b--");
    assert!(matches!(
        error(body.as_bytes(), "b"),
        BadHeader { offset: 45, .. }
    ));
    let body = b"--b\r\nContent-Disposition form-data; name=a\r\n\r\nv\r\n--b--";
    let e = error(body, "b");
    assert_eq!(
        e,
        BadHeader {
            offset: 24,
            expected: "':' after part header name"
        }
    );
    assert_eq!(
        e.to_string(),
        "expected ':' after part header name at byte 24"
    );
    let body = b"--b\r\n: x\r\n\r\nv\r\n--b--";
    assert_eq!(
        error(body, "b"),
        BadHeader {
            offset: 5,
            expected: "a part header name"
        }
    );
    let body = b"--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--b--";
    assert_eq!(
        error(body, "b"),
        BadHeader {
            offset: 42,
            expected: "a closing '\"' for the quoted parameter value"
        }
    );
}

#[test]
fn limits() {
    let part = "--b\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n";
    let body = format!("{}--b--", part.repeat(3));
    let limits = MultipartLimits {
        max_parts: 3,
        ..MultipartLimits::default()
    };
    assert_eq!(
        parse_multipart(body.as_bytes(), b"b", &limits)
            .unwrap()
            .len(),
        3
    );
    let limits = MultipartLimits {
        max_parts: 2,
        ..MultipartLimits::default()
    };
    let e = parse_multipart(body.as_bytes(), b"b", &limits).unwrap_err();
    assert_eq!(e, MultipartError::TooManyParts { limit: 2 });
    assert!(e.is_limit());

    // Each part's header section is 42 bytes: a 38-byte line and two CRLFs.
    let exact = MultipartLimits {
        max_part_header_bytes: 42,
        ..MultipartLimits::default()
    };
    assert!(parse_multipart(body.as_bytes(), b"b", &exact).is_ok());
    let small = MultipartLimits {
        max_part_header_bytes: 41,
        ..MultipartLimits::default()
    };
    let e = parse_multipart(body.as_bytes(), b"b", &small).unwrap_err();
    assert_eq!(
        e,
        MultipartError::HeaderTooLarge {
            offset: 5,
            limit: 41
        }
    );
    assert!(e.is_limit());
    assert!(!MultipartError::NoBoundary.is_limit());

    let huge = format!("--b\r\nX: {}\r\n", "y".repeat(100_000));
    let e = parse(huge.as_bytes(), "b").unwrap_err();
    assert_eq!(
        e,
        MultipartError::HeaderTooLarge {
            offset: 5,
            limit: 16 * 1024
        }
    );
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn bench_multipart() {
    use std::time::Instant;
    let boundary = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    let file: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    for (name, data) in [
        ("title", &b"Hello"[..]),
        ("meta", br#"{"a":1}"#),
        ("file", &file),
    ] {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    assert_eq!(parse(&body, boundary).unwrap()[2].bytes(&body), &file[..]);
    let iters = 20_000;
    let start = Instant::now();
    for _ in 0..iters {
        std::hint::black_box(parse(std::hint::black_box(&body), boundary).unwrap());
    }
    let per = start.elapsed().as_secs_f64() / f64::from(iters);
    println!(
        "multipart 3 parts, {} bytes: {:.2} us, {:.2} GB/s",
        body.len(),
        per * 1e6,
        body.len() as f64 / per / 1e9
    );
}
