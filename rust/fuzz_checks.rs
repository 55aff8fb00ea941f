//! The properties the fuzz targets check, one function per target, on raw bytes.
//!
//! `fuzz/fuzz_targets/*.rs` (libFuzzer, nightly, `cargo fuzz run <target>`)
//! call these functions; so does `cargo test` on the stable toolchain, over
//! the committed seed corpus `fuzz/corpus/<target>/` and proptest inputs
//! (`fuzz_checks_tests.rs`). A property broken by the fuzzer is thus a unit
//! test failure too, once its input is added to the corpus.
//!
//! Every function takes the fuzzer's raw bytes and panics when a property
//! fails. Targets that need several inputs split the bytes themselves
//! (documented per function), so a corpus file means the same to both runners.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use ahash::AHashMap;
use serde_json::Value;

use crate::error_code::ErrorCode;
use crate::ingest::{
    admit, ingest, Decision, IngestConfig, TriggerRequest, ENDPOINT_NOT_FOUND, MALFORMED_JSON,
    MALFORMED_MULTIPART, TRIGGER_METHODS,
};
use crate::nats_wire::Wire;
use crate::parse::{
    decode_text, json_pointer, parse_multipart, parse_urlencoded, validate_json, BodyKind,
    ContentType, JsonErrorKind, JsonScalar, MultipartError, MultipartLimits, Part, TextError,
    MAX_INT_DIGITS,
};
use crate::rate_limit::{Limiter, Table};
use crate::route::{
    apikey, resolve, EndpointKind, EndpointSpec, InstanceSpec, IntegrationSpec, RouteBody, Router,
    RuleSource, RuleSpec, Senders,
};
use crate::verify::header::{
    decode_digest, parse_timestamp, prefixed, standard_webhooks, stripe_signatures,
    stripe_timestamp, DIGEST_BUF,
};
use crate::verify::{
    delivery_id, respond, slack_url_verification, verify, Encoding, HandshakeSpec, VerifySpec,
};

/// `Content-Type` parsing (input: the header value, lossily UTF-8): never
/// panics; the kind ignores ASCII case, and `BodyKind::of` gives it for any
/// non-empty body.
pub fn content_type(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    let ct = ContentType::parse(&value);
    let kind = ct.kind();
    assert_eq!(ContentType::parse(&value.to_ascii_uppercase()).kind(), kind);
    assert_eq!(BodyKind::of(Some(&ct), b"x"), Some(kind));
    if let Some((ty, sub)) = ct.type_subtype() {
        assert_eq!(ct.media_type(), format!("{ty}/{sub}"));
    }
    let _ = (ct.charset(), ct.boundary(), ct.params().count());
}

/// JSON validation: never panics, and agrees with serde_json but for the
/// integer parts longer than Python decodes, which only we refuse.
pub fn json(data: &[u8]) {
    let ours = validate_json(data);
    if let Err(e) = ours {
        assert!(e.offset <= data.len());
        match e.kind {
            // serde_json nests at most 128 levels; beyond that only we can judge.
            JsonErrorKind::TooDeep => return,
            // A number starts at the offset, its integer part too long for Python.
            JsonErrorKind::NumberTooLong => {
                let number = &data[e.offset..];
                let number = number.strip_prefix(b"-").unwrap_or(number);
                let digits = number.iter().take_while(|b| b.is_ascii_digit()).count();
                assert!(digits > MAX_INT_DIGITS, "{digits} digits at {}", e.offset);
                assert!(matches!(number.first(), Some(b'1'..=b'9')));
                return;
            }
            _ => {}
        }
    }
    let Some(theirs) = serde_json_accepts(data) else {
        return;
    };
    assert_eq!(ours.is_ok(), theirs, "{ours:?}");
}

/// The reference's verdict on a JSON text: whether serde_json accepts it as
/// one value (a number too large for an f64 is still valid JSON), or None
/// when it cannot judge: nested deeper than its 128 levels.
pub fn serde_json_accepts(data: &[u8]) -> Option<bool> {
    let syntax = serde_json::from_slice::<serde::de::IgnoredAny>(data);
    let value = match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(_) => true,
        Err(e) if e.to_string().starts_with("recursion limit") => return None,
        // Valid JSON whose number does not fit an f64.
        Err(e) => e.to_string().starts_with("number out of range"),
    };
    Some(value && syntax.is_ok() && std::str::from_utf8(data).is_ok())
}

/// In a valid JSON text: where the first number whose integer part has more
/// than [`MAX_INT_DIGITS`] digits starts (at its `-`, if any).
pub fn first_long_integer(json: &[u8]) -> Option<usize> {
    let mut i = 0;
    let (mut in_string, mut escaped) = (false, false);
    while i < json.len() {
        let b = json[i];
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b == b'-' || b.is_ascii_digit() {
            // A number: its integer part, then its fraction and exponent.
            let start = i;
            i += usize::from(b == b'-');
            let digits = json[i..].iter().take_while(|b| b.is_ascii_digit()).count();
            if digits > MAX_INT_DIGITS {
                return Some(start);
            }
            i += digits;
            i += json[i..]
                .iter()
                .take_while(|b| matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'))
                .count();
            continue;
        }
        i += 1;
    }
    None
}

/// How deeply arrays and objects nest in a JSON text (brackets outside strings).
pub fn json_depth(json: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// JSON Pointer lookups (input: the pointer, a newline, the document): never
/// panic; a found value is what serde_json sees.
pub fn json_pointer_lookup(data: &[u8]) {
    let (pointer, document) = split_once(data, b'\n');
    let pointer = String::from_utf8_lossy(pointer);
    let pointer = pointer.as_ref();
    let found = json_pointer(document, pointer);
    // serde_json keeps a '~' not followed by 0 or 1; RFC 6901 (and we) reject it.
    let bad_tilde = pointer
        .split('~')
        .skip(1)
        .any(|rest| !rest.starts_with(['0', '1']));
    if bad_tilde || validate_json(document).is_err() {
        return;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(document) else {
        return;
    };
    let expected = value.pointer(pointer);
    match (&found, expected) {
        (Some(JsonScalar::String(s)), Some(Value::String(e))) => assert_eq!(s, e),
        (Some(JsonScalar::Bool(b)), Some(Value::Bool(e))) => assert_eq!(b, e),
        (Some(JsonScalar::Number(_)), Some(Value::Number(_))) => {}
        (None, None | Some(Value::Null | Value::Array(_) | Value::Object(_))) => {}
        _ => panic!("{found:?} vs {expected:?}"),
    }
}

/// Multipart parsing (input: one byte whose value mod 8 is the boundary's
/// length, the boundary, the body): never panics. No reference parser is
/// among the dependencies (nothing like `multer` in Cargo.lock, and one is
/// not added for a test), so the parser is held to RFC 2046 and to itself:
/// - a body that parses has its parts in order, each part's data right after
///   the blank line ending its headers and right before a delimiter
///   (`--boundary` after the line ending of the first boundary line, CRLF or
///   LF), with no delimiter inside it; the last delimiter closes
///   ([`multipart_shape`]);
/// - limits only ever turn an answer into a limit error: what parses under
///   small limits parses the same under the defaults, what parses under the
///   defaults parses the same or hits a limit, a malformed body is refused
///   the same way or over a limit; n parts parse with `max_parts` n and are
///   refused with n - 1;
/// - a preamble line before the body and an epilogue after it (one that looks
///   like another part) change nothing but the offsets;
/// - the parts, written again by [`multipart_bytes`] with the same boundary
///   (one without CR or LF: a line is what it delimits), parse back to the
///   same names, filenames, content types and data.
///
/// Then the same bytes, read as part contents, must survive a round trip
/// through [`multipart_body`] (see [`multipart_roundtrip`]).
pub fn multipart(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let split = (first as usize % 8).min(rest.len());
    let (boundary, body) = rest.split_at(split);
    let limits = MultipartLimits {
        max_parts: 8,
        max_part_header_bytes: 256,
    };
    let defaults = MultipartLimits::default();
    let limited = parse_multipart(body, boundary, &limits);
    let parsed = parse_multipart(body, boundary, &defaults);
    match (&limited, &parsed) {
        (Ok(parts), Ok(all)) => assert_eq!(parts, all),
        (Ok(_), Err(e)) => panic!("parsed under small limits only: {e}"),
        (Err(e), Ok(_)) => assert!(e.is_limit(), "{e}"),
        (Err(e), Err(f)) => assert!(e.is_limit() || e == f, "{e} vs {f}"),
    }
    if let Ok(parts) = &limited {
        assert!(parts.len() <= limits.max_parts);
    }

    // A preamble line: the same answer, offsets shifted.
    let preamble = b"preamble\r\n";
    let after_preamble = [&preamble[..], body].concat();
    let shifted = parse_multipart(&after_preamble, boundary, &defaults);
    match (&parsed, shifted) {
        (Ok(parts), Ok(moved)) => {
            let moved: Vec<Part<'_>> = moved
                .into_iter()
                .map(|part| Part {
                    data: part.data.start - preamble.len()..part.data.end - preamble.len(),
                    ..part
                })
                .collect();
            assert_eq!(parts, &moved);
        }
        (Err(e), Err(f)) => assert_eq!(shift_error(e, preamble.len()), f),
        (ours, theirs) => panic!("a preamble changed {ours:?} into {theirs:?}"),
    }

    let Ok(parts) = parsed else {
        return;
    };
    multipart_shape(body, boundary, &parts);
    if !parts.is_empty() {
        let fewer = MultipartLimits {
            max_parts: parts.len() - 1,
            ..defaults
        };
        assert_eq!(
            parse_multipart(body, boundary, &fewer),
            Err(MultipartError::TooManyParts {
                limit: parts.len() - 1
            })
        );
    }
    // An epilogue, even one that looks like another part: ignored.
    let epilogue = [
        b"\r\n--",
        boundary,
        b"\r\nContent-Disposition: form-data; name=e\r\n\r\n",
    ]
    .concat();
    let longer = [body, &epilogue].concat();
    assert_eq!(
        parse_multipart(&longer, boundary, &defaults).as_ref(),
        Ok(&parts)
    );

    // Written again, read again.
    let fields: Vec<Field> = parts.iter().map(|part| Field::of(part, body)).collect();
    if !boundary.contains(&b'\r') && !boundary.contains(&b'\n') {
        if let Some(again) = multipart_bytes(&fields, boundary) {
            let reparsed = parse_multipart(&again, boundary, &defaults)
                .unwrap_or_else(|e| panic!("parts written again were refused: {e}"));
            let reparsed: Vec<Field> = reparsed
                .iter()
                .map(|part| Field::of(part, &again))
                .collect();
            assert_eq!(reparsed, fields);
        }
    }
    multipart_roundtrip(&fields_of(data));
}

/// `e` for a body `by` bytes further on.
fn shift_error(e: &MultipartError, by: usize) -> MultipartError {
    use MultipartError::*;
    match e.clone() {
        MissingClosingBoundary { offset } => MissingClosingBoundary {
            offset: offset + by,
        },
        TruncatedHeaders { offset } => TruncatedHeaders {
            offset: offset + by,
        },
        BadHeader { offset, expected } => BadHeader {
            offset: offset + by,
            expected,
        },
        MissingContentDisposition { offset } => MissingContentDisposition {
            offset: offset + by,
        },
        MissingName { offset } => MissingName {
            offset: offset + by,
        },
        HeaderTooLarge { offset, limit } => HeaderTooLarge {
            offset: offset + by,
            limit,
        },
        e @ (InvalidBoundary { .. } | NoBoundary | TooManyParts { .. }) => e,
    }
}

/// What follows `--boundary` at `at`, by RFC 2046 as the parser documents
/// it: `--` closes (Some(None)); optional spaces and tabs, then a line
/// ending, open a part (Some(Some(crlf))); anything else is data (None).
fn after_dash_boundary(body: &[u8], at: usize) -> Option<Option<bool>> {
    let rest = body.get(at..)?;
    if rest.starts_with(b"--") {
        return Some(None);
    }
    let rest = &rest[rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()..];
    if rest.starts_with(b"\r\n") {
        Some(Some(true))
    } else if rest.starts_with(b"\n") {
        Some(Some(false))
    } else {
        None
    }
}

/// The delimiter of a body whose lines end with CRLF (or LF): `{eol}--{boundary}`.
fn delimiter(boundary: &[u8], crlf: bool) -> Vec<u8> {
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    [eol, b"--", boundary].concat()
}

/// Whether `delimiter` starts at `at`, followed by what [`after_dash_boundary`] accepts.
fn delimiter_at(body: &[u8], delimiter: &[u8], at: usize) -> bool {
    body.get(at..)
        .is_some_and(|rest| rest.starts_with(delimiter))
        && after_dash_boundary(body, at + delimiter.len()).is_some()
}

/// The shape RFC 2046 gives the parts of `body`: see [`multipart`].
fn multipart_shape(body: &[u8], boundary: &[u8], parts: &[Part<'_>]) {
    // The first boundary line: at the start of the body or of a line.
    let dash_boundary = [b"--", boundary].concat();
    let first = (0..body.len())
        .filter(|&at| at == 0 || body[at - 1] == b'\n')
        .filter(|&at| body[at..].starts_with(&dash_boundary))
        .find_map(|at| after_dash_boundary(body, at + dash_boundary.len()))
        .expect("a body that parses has a boundary line");
    let Some(crlf) = first else {
        assert!(parts.is_empty(), "the first boundary line closes the body");
        return;
    };
    let eol_len = if crlf { 2 } else { 1 };
    let delimiter = delimiter(boundary, crlf);
    let mut previous_end = 0;
    for (i, part) in parts.iter().enumerate() {
        let data = part.data.clone();
        assert!(data.start <= data.end && data.end <= body.len());
        assert!(i == 0 || previous_end < data.start, "parts overlap");
        previous_end = data.end;
        let before = &body[..data.start];
        assert!(before.ends_with(b"\n\n") || before.ends_with(b"\n\r\n"));
        // Right before a delimiter; an empty part's may begin with the blank line's line ending.
        let at = if delimiter_at(body, &delimiter, data.end) {
            data.end
        } else {
            assert!(data.is_empty(), "part {i} is not followed by a delimiter");
            let at = data.start - eol_len;
            assert!(delimiter_at(body, &delimiter, at), "part {i}");
            at
        };
        assert!(
            !(data.start..data.end).any(|at| delimiter_at(body, &delimiter, at)),
            "a delimiter inside part {i}"
        );
        let closes = after_dash_boundary(body, at + delimiter.len()) == Some(None);
        assert_eq!(closes, i + 1 == parts.len(), "part {i}");
    }
}

/// One field of a multipart body built by [`multipart_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

impl Field {
    /// The field a parsed part is.
    pub fn of(part: &Part<'_>, body: &[u8]) -> Field {
        Field {
            name: part.name.to_string(),
            filename: part.filename.as_ref().map(std::string::ToString::to_string),
            content_type: part
                .content_type
                .as_ref()
                .map(std::string::ToString::to_string),
            data: part.bytes(body).to_vec(),
        }
    }
}

/// Boundary of the bodies [`multipart_body`] builds.
pub const BOUNDARY: &str = "hookcore-fuzz-7MA4YWxkTrZu0gW";

/// Fields from raw bytes: pieces split at 0x00, the i-th piece is the data of
/// field `f{i}`, which has a filename when i % 3 == 1 and a content type when
/// i % 2 == 1.
pub fn fields_of(data: &[u8]) -> Vec<Field> {
    data.split(|&b| b == 0)
        .take(16)
        .enumerate()
        .map(|(i, piece)| Field {
            name: format!("f{i}"),
            filename: (i % 3 == 1).then(|| format!("file {i}.bin")),
            content_type: (i % 2 == 1).then(|| "application/octet-stream".to_string()),
            data: piece.to_vec(),
        })
        .collect()
}

/// The reference encoder: a `multipart/form-data` body as RFC 7578 writes
/// it (CRLF lines; `Content-Disposition`, then `Content-Type`), or None when
/// a field's data holds the delimiter (no boundary then works).
pub fn multipart_body(fields: &[Field], boundary: &str) -> Option<Vec<u8>> {
    multipart_bytes(fields, boundary.as_bytes())
}

/// [`multipart_body`] for any boundary bytes. Names and filenames are quoted
/// strings, `"` and `\` escaped; a filename with a line break in it goes
/// in `filename*` (RFC 8187, UTF-8, every byte but the unreserved ones
/// percent-encoded). None when the data holds a delimiter (the data after
/// the blank line, with the line ending before the next).
pub fn multipart_bytes(fields: &[Field], boundary: &[u8]) -> Option<Vec<u8>> {
    fn quoted(value: &str) -> String {
        value.replace('\\', "\\\\").replace('"', "\\\"")
    }
    let delimiter = [b"\r\n--", boundary].concat();
    let mut body = Vec::new();
    for field in fields {
        let inside = [b"\r\n", field.data.as_slice(), b"\r\n"].concat();
        if find(&inside, &delimiter).is_some() {
            return None;
        }
        body.extend_from_slice(&delimiter[2..]);
        body.extend_from_slice(b"\r\n");
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"",
            quoted(&field.name)
        );
        match &field.filename {
            Some(filename) if filename.contains(['\r', '\n']) => {
                let encoded: String = filename
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                            char::from(b).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect();
                disposition += &format!("; filename*=utf-8''{encoded}");
            }
            Some(filename) => disposition += &format!("; filename=\"{}\"", quoted(filename)),
            None => {}
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = &field.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&field.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(&delimiter[2..]);
    body.extend_from_slice(b"--\r\n");
    Some(body)
}

/// The oracle: parsing what [`multipart_body`] wrote gives back the fields,
/// data byte for byte, in order.
pub fn multipart_roundtrip(fields: &[Field]) {
    let Some(body) = multipart_body(fields, BOUNDARY) else {
        return;
    };
    let limits = MultipartLimits::default();
    let parts = parse_multipart(&body, BOUNDARY.as_bytes(), &limits)
        .unwrap_or_else(|e| panic!("a well-formed body was refused: {e}"));
    let got: Vec<Field> = parts.iter().map(|part| Field::of(part, &body)).collect();
    assert_eq!(got, fields);
}

/// Urlencoded decoding: never panics, bounded output, and the pairs equal
/// [`urlencoded_reference`]'s.
pub fn urlencoded(data: &[u8]) {
    let mut pairs = parse_urlencoded(data);
    let mut got = Vec::new();
    let mut decoded = 0;
    while let Some((name, value)) = pairs.next_pair() {
        decoded += name.len() + value.len();
        got.push((name.to_string(), value.to_string()));
    }
    assert!(got.len() <= data.len() / 2 + 1);
    // Each input byte yields at most one U+FFFD (three bytes).
    assert!(decoded <= 3 * data.len());
    assert_eq!(got, urlencoded_reference(data));
}

/// The reference: `urllib.parse.parse_qsl(s, keep_blank_values=True)`
/// written the plain way: split on `&`, skip empty pieces, split at the first
/// `=`, `+` is a space, `%XX` (two hex digits) a byte, any other `%` itself;
/// the bytes of a name or value then decoded as UTF-8 with U+FFFD for each
/// maximal invalid sequence.
pub fn urlencoded_reference(data: &[u8]) -> Vec<(String, String)> {
    fn hex(b: Option<&u8>) -> Option<u8> {
        b.and_then(|&b| (b as char).to_digit(16)).map(|d| d as u8)
    }
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match (s[i], hex(s.get(i + 1)), hex(s.get(i + 2))) {
                (b'+', _, _) => out.push(b' '),
                (b'%', Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                (b, _, _) => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    data.split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.iter().position(|&b| b == b'=') {
            Some(i) => (decode(&piece[..i]), decode(&piece[i + 1..])),
            None => (decode(piece), String::new()),
        })
        .collect()
}

const LABELS: [Option<&str>; 10] = [
    None,
    Some("utf-8"),
    Some("utf-16"),
    Some("utf-16be"),
    Some("latin-1"),
    Some("us-ascii"),
    Some("windows-1252"),
    Some("shift_jis"),
    Some("gb18030"),
    Some("iso-2022-jp"),
];

/// Text decoding (input: one byte choosing the charset, the body): never
/// panics; error offsets lie inside the body; UTF-8 bodies decode to
/// themselves.
pub fn text(data: &[u8]) {
    let Some((&label, body)) = data.split_first() else {
        return;
    };
    let charset = LABELS[label as usize % LABELS.len()];
    match decode_text(body, charset) {
        Ok(text) => {
            if charset == Some("utf-8") && !body.starts_with(b"\xEF\xBB\xBF") {
                if let Ok(expected) = std::str::from_utf8(body) {
                    assert_eq!(text, expected);
                }
            }
        }
        Err(TextError::Undecodable { offset, .. }) => assert!(offset < body.len()),
        Err(e) => panic!("{e}"),
    }
}

/// NATS server frames: never panic, at most one event per input byte, fed
/// whole or split in two as a socket may.
pub fn nats_wire(data: &[u8]) {
    let mut wire = Wire::new("_INBOX.fuzz.");
    let mut events = Vec::new();
    let (first, second) = data.split_at(data.len() / 2);
    if wire.feed(first, &mut events).is_ok() {
        let _ = wire.feed(second, &mut events);
    }
    assert!(events.len() <= data.len());
}

// ---- the ingress ------------------------------------------------------------

/// An API key valid for the shared integration's "Paid" flow, instance `i-shared`.
pub const API_KEY: &str = "hk_fuzz_key";

/// Endpoint ids of [`router`], one per kind of endpoint.
pub const ENDPOINTS: [&str; 8] = [
    "EEcho", "ESync", "EHook", "EInst", "EPre", "EShared", "EGithub", "EMeta",
];

/// The signing secret of `i-signed` (config `gh`) and its Meta verify token (config `mt`).
pub const GITHUB_SECRET: &str = "s3cret";
pub const META_TOKEN: &str = "tok";

/// A router with every endpoint configuration: instance-and-flow (plain,
/// synchronous, with a Python hook, with its own rate and burst), instance
/// (a header rule), instance with a `preprocess`, and shared (a header picks
/// the customer, a body pointer the flow, one flow needs an API key), and
/// who may send: a flow verified as GitHub signs, one answering Meta's handshake
/// (a flow's senders are its own, resolved in Python: the integration's are the default).
pub fn router() -> Router {
    let router = Router::default();
    let records = router_records();
    for spec in &records.integrations {
        router.set_integration_json(spec).expect("integration spec");
    }
    for (id, record) in &records.instances {
        router
            .set_instance_json(id, record)
            .expect("instance record");
    }
    for (id, record) in &records.endpoints {
        router
            .set_endpoint_json(id, record)
            .expect("endpoint record");
    }
    router
}

/// The records [`router`] loads, in its order: integration specs, then
/// instance and endpoint records, each with the id it is stored under.
pub struct RouterRecords {
    pub integrations: Vec<Vec<u8>>,
    pub instances: Vec<(String, Vec<u8>)>,
    pub endpoints: Vec<(String, Vec<u8>)>,
}

/// The records of [`router`].
pub fn router_records() -> RouterRecords {
    let integrations: [&[u8]; 5] = [
        br#"{"name":"simple","endpoint":"instance_and_flow","rateLimit":50,
            "flows":{"Echo":{},"Sync":{"synchronous":true},
                     "Hook":{"python":true,"rateLimit":2,"burst":3}}}"#,
        br#"{"name":"inst","endpoint":"instance","rateLimit":5,"burst":10,
            "flowFrom":{"source":"header","selector":"x-event"},
            "flows":{"Created":{},"Deleted":{"apiKeys":true}}}"#,
        br#"{"name":"pre","endpoint":"instance","preprocess":true,"rateLimit":50,
            "flows":{"Big":{},"Small":{}}}"#,
        br#"{"name":"shared","endpoint":"shared","rateLimit":50,
            "customerFrom":{"source":"header","selector":"x-account"},
            "flowFrom":{"source":"body","selector":"/event/type","mapping":{"paid":"Paid"}},
            "flows":{"Created":{},"Paid":{"apiKeys":true}}}"#,
        br#"{"name":"signed","endpoint":"instance_and_flow","rateLimit":50,
            "senders":{"verify":{"scheme":"github","secret":"gh"}},
            "flows":{"Github":{"senders":{"verify":{"scheme":"github","secret":"gh"}}},
                     "Meta":{"senders":{"handshake":{"kind":"meta","verifyToken":"mt"}}}}}"#,
    ];
    let digest = apikey::digest_hex(API_KEY);
    let instances = [
        ("i-simple", "simple", "c1".to_string(), String::new()),
        (
            "i-inst",
            "inst",
            "c2".to_string(),
            format!(r#""Deleted":["{digest}"]"#),
        ),
        ("i-pre", "pre", "c3".to_string(), String::new()),
        (
            "i-shared",
            "shared",
            "c4".to_string(),
            format!(r#""Paid":["{digest}"]"#),
        ),
        ("i-signed", "signed", "c5".to_string(), String::new()),
    ];
    let config = format!(r#"{{"gh":"{GITHUB_SECRET}","mt":"{META_TOKEN}"}}"#);
    let instances = instances
        .iter()
        .map(|(id, integration, customer, keys)| {
            let record = format!(
                r#"{{"id":"{id}","integration":"{integration}","customer":"{customer}","apiKeyHashes":{{{keys}}},"config":{config}}}"#
            );
            ((*id).to_string(), record.into_bytes())
        })
        .collect();
    let endpoints = [
        (
            "EEcho",
            "simple",
            "instance_and_flow",
            Some("i-simple"),
            Some("Echo"),
        ),
        (
            "ESync",
            "simple",
            "instance_and_flow",
            Some("i-simple"),
            Some("Sync"),
        ),
        (
            "EHook",
            "simple",
            "instance_and_flow",
            Some("i-simple"),
            Some("Hook"),
        ),
        ("EInst", "inst", "instance", Some("i-inst"), None),
        ("EPre", "pre", "instance", Some("i-pre"), None),
        ("EShared", "shared", "shared", None, None),
        (
            "EGithub",
            "signed",
            "instance_and_flow",
            Some("i-signed"),
            Some("Github"),
        ),
        (
            "EMeta",
            "signed",
            "instance_and_flow",
            Some("i-signed"),
            Some("Meta"),
        ),
    ];
    let endpoints = endpoints
        .into_iter()
        .map(|(id, integration, kind, instance, flow)| {
            let mut record =
                format!(r#"{{"endpoint":"{id}","integration":"{integration}","kind":"{kind}""#);
            if let Some(instance) = instance {
                record += &format!(r#","instance":"{instance}""#);
            }
            if let Some(flow) = flow {
                record += &format!(r#","flow":"{flow}""#);
            }
            record.push('}');
            (id.to_string(), record.into_bytes())
        })
        .collect();
    RouterRecords {
        integrations: integrations.iter().map(|spec| spec.to_vec()).collect(),
        instances,
        endpoints,
    }
}

/// Limits small enough for short inputs to reach them.
pub fn ingest_config() -> IngestConfig {
    IngestConfig {
        subject_prefix: "hookcore.executions".into(),
        reply_prefix: "_INBOX.fuzz".into(),
        max_envelope: 2048,
        max_headers: 12,
        max_header_bytes: 512,
        multipart: MultipartLimits {
            max_parts: 4,
            max_part_header_bytes: 128,
        },
    }
}

const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "post",
];

const CONTENT_TYPES: [&str; 8] = [
    "application/json",
    "application/cloudevents+json",
    "multipart/form-data; boundary=b",
    "multipart/form-data",
    "application/x-www-form-urlencoded",
    "text/plain; charset=utf-16",
    "image/png",
    "",
];

/// A hostile request from raw bytes: byte 0 picks the method, byte 1 the
/// endpoint (or none of [`ENDPOINTS`]), byte 2 the content type and which
/// extra headers (account, event, API key, synchronous) are sent; the rest,
/// split at 0x00, is the path fragment, the query, more header lines
/// (`name:value` per `\n`), and the body.
pub struct HostileRequest {
    pub method: String,
    pub target: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HostileRequest {
    pub fn from_bytes(data: &[u8]) -> HostileRequest {
        let byte = |i: usize| data.get(i).copied().unwrap_or(0);
        let rest = data.get(3..).unwrap_or_default();
        let mut pieces = rest.splitn(4, |&b| b == 0);
        let mut piece = || String::from_utf8_lossy(pieces.next().unwrap_or_default()).into_owned();
        let method = METHODS[byte(0) as usize % METHODS.len()].to_string();
        let endpoint = match byte(1) as usize % (ENDPOINTS.len() + 2) {
            i if i < ENDPOINTS.len() => ENDPOINTS[i].to_string(),
            i if i == ENDPOINTS.len() => "nope".to_string(),
            _ => String::new(),
        };
        let fragment = piece();
        let target = if fragment.is_empty() {
            endpoint
        } else {
            format!("{endpoint}/{fragment}")
        };
        let query = piece();
        let mut headers = Vec::new();
        let flags = byte(2);
        let content_type = CONTENT_TYPES[flags as usize % CONTENT_TYPES.len()];
        if !content_type.is_empty() {
            headers.push(("content-type".to_string(), content_type.to_string()));
        }
        for (bit, name, value) in [
            (3, "x-account", "c4"),
            (4, "x-event", "Deleted"),
            (5, "api-key", API_KEY),
            (6, "hookcore-synchronous", "true"),
        ] {
            if flags & (1 << bit) != 0 {
                headers.push((name.to_string(), value.to_string()));
            }
        }
        for line in piece().split('\n').filter(|l| !l.is_empty()) {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            headers.push((name.to_string(), value.to_string()));
        }
        let body = pieces.next().unwrap_or_default().to_vec();
        HostileRequest {
            method,
            target,
            query,
            headers,
            body,
        }
    }
}

/// The statuses and codes a refusal may have (SPEC 3 and docs/errors.md);
/// the router above is well configured, so never a 500.
fn allowed_refusal(status: u16, code: ErrorCode) -> bool {
    use ErrorCode::*;
    matches!(
        (status, code),
        (404, EndpointNotFound)
            | (405, MethodNotAllowed)
            | (
                400,
                MalformedJson | JsonNumberTooLong | MalformedMultipart | Unroutable
            )
            | (
                401,
                ApiKeyMissing
                    | ApiKeyInvalid
                    | SignatureMissing
                    | SignatureInvalid
                    | TimestampOutOfTolerance
                    | SecretNotConfigured
            )
            | (403, HandshakeRefused)
            | (413, MultipartTooLarge | RequestTooLarge)
            | (431, HeadersTooLarge)
            | (429, RateLimited)
    )
}

/// The hot path on a hostile request: never panics, answers only contract
/// statuses, every refusal has its code and a JSON `{"error": …}` body (the
/// seed's exact text where the seed fixes it), and an accepted request has an
/// envelope and its execution id in the answer. `admit` (the look before the
/// body is read) never refuses what `ingest` would not. JSON bodies are
/// judged as serde_json judges them ([`json_contract`]).
pub fn ingest_request(data: &[u8]) {
    let request = HostileRequest::from_bytes(data);
    let router = router();
    let config = ingest_config();
    // Rate limiting on for inputs with an odd last byte, with a stopped clock.
    let limited = data.last().is_some_and(|b| b % 2 == 1);
    let limiter = Limiter::with_clock(Table::in_process(64), Box::new(|| 1_000_000));
    let limiter = limited.then_some(&limiter);
    let headers: Vec<(&str, &str)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let looked = admit(&router, limiter, &request.method, &request.target);
    let decision = ingest(
        &config,
        &router,
        limiter,
        &TriggerRequest {
            method: &request.method,
            target: &request.target,
            query: &request.query,
            headers: &headers,
            body: &request.body,
        },
    );
    if let Some(Decision::Rejected { status, code, .. }) = &looked {
        // What admit refuses, ingest refuses the same way (the bucket was only looked at).
        match &decision {
            Decision::Rejected {
                status: s, code: c, ..
            } => assert_eq!((s, c), (status, code)),
            other => panic!("admit refused {status} but ingest gave {other:?}"),
        }
    }
    json_contract(&request, &decision, limited);
    match decision {
        Decision::Head => {
            assert_eq!(request.method, "HEAD");
            assert!(matches!(looked, Some(Decision::Head)));
        }
        Decision::Answer(answer) => {
            // a provider's handshake, answered without storing anything
            assert_eq!(answer.status, 200);
            assert!(TRIGGER_METHODS.contains(&request.method.as_str()));
            assert!(looked.is_none());
        }
        Decision::Accepted(accepted) => {
            assert!(TRIGGER_METHODS.contains(&request.method.as_str()));
            assert!(looked.is_none());
            assert!(!accepted.envelope_head.is_empty());
            assert_eq!(
                accepted.subject,
                crate::shards::execution_subject(
                    &config.subject_prefix,
                    &accepted.customer,
                    accepted.synchronous,
                    &accepted.execution_id
                )
            );
            let answer: serde_json::Value =
                serde_json::from_slice(&accepted.response).expect("the answer is JSON");
            assert_eq!(answer["executionId"], accepted.execution_id.as_str());
        }
        Decision::Rejected {
            status,
            code,
            body,
            limit,
        } => {
            assert!(
                allowed_refusal(status, code),
                "{status} {code:?}: {}",
                String::from_utf8_lossy(&body)
            );
            assert!(!code.as_str().is_empty());
            let answer: serde_json::Value =
                serde_json::from_slice(&body).expect("a refusal's body is JSON");
            let message = answer
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.get("error"))
                .and_then(|e| e.as_str())
                .expect("a refusal's body is {\"error\": message}");
            assert!(!message.is_empty());
            match code {
                ErrorCode::EndpointNotFound => assert_eq!(message, ENDPOINT_NOT_FOUND),
                ErrorCode::MalformedJson => assert_eq!(message, MALFORMED_JSON),
                ErrorCode::MalformedMultipart => assert_eq!(message, MALFORMED_MULTIPART),
                ErrorCode::RateLimited => {
                    assert!(limited && limit.is_some());
                    assert!(message.starts_with("Endpoint with id: "), "{message}");
                }
                _ => {}
            }
        }
    }
}

/// Whether `ingest` checks the body of `request` as JSON (SPEC 3): a trigger
/// method but GET (whose body is dropped), a known endpoint, headers within
/// [`ingest_config`]'s limits, a JSON `Content-Type` (repeated headers
/// joined with ", ", names in any case) and a body.
fn body_checked_as_json(request: &HostileRequest, router: &Router) -> bool {
    let config = ingest_config();
    let (endpoint, _) = request
        .target
        .split_once('/')
        .unwrap_or((&request.target, ""));
    let header_bytes: usize = request.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    let content_type: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.as_str())
        .collect();
    TRIGGER_METHODS.contains(&request.method.as_str())
        && request.method != "GET"
        && router.endpoint(endpoint).is_some()
        && request.headers.len() <= config.max_headers
        && header_bytes <= config.max_header_bytes
        && !content_type.is_empty()
        && ContentType::parse(&content_type.join(", ")).kind() == BodyKind::Json
        && !request.body.is_empty()
}

/// The JSON contract (docs/errors.md), with serde_json as the reference: a
/// body checked as JSON ([`body_checked_as_json`]) that serde_json accepts is
/// never refused as `malformed_json`, and is accepted on the plain endpoint
/// `EEcho` (or 413 when its headers and query overflow the envelope); one it
/// refuses is refused as `malformed_json`; no other request gets either
/// JSON code. Where hookcore defines more than RFC 8259 (parse/json.rs):
/// - a number whose integer part has more than [`MAX_INT_DIGITS`] digits is
///   valid JSON but refused as `json_number_too_long`, with its offset; in a
///   body that is also malformed the first problem wins, so that code may
///   stand for a malformed body with a long number before its error;
/// - nesting deeper than [`MAX_DEPTH`](crate::parse::MAX_DEPTH) is refused as
///   `malformed_json`; between serde_json's 128 levels and that, serde_json
///   cannot judge and the validator ([`json`] checks it) does;
/// - duplicate keys are valid (serde_json keeps the last; the body is kept
///   as sent), lone `\u` surrogates are not (as in serde_json), a BOM is
///   not JSON.
///
/// A request counted over its rate limit may be refused before its body is read.
fn json_contract(request: &HostileRequest, decision: &Decision, limited: bool) {
    let code = match decision {
        Decision::Rejected { code, .. } => Some(*code),
        _ => None,
    };
    let json_code = matches!(
        code,
        Some(ErrorCode::MalformedJson | ErrorCode::JsonNumberTooLong)
    );
    if !body_checked_as_json(request, &router()) {
        assert!(!json_code, "{code:?} on a body not checked as JSON");
        return;
    }
    if limited && code == Some(ErrorCode::RateLimited) {
        return;
    }
    let body = request.body.as_slice();
    let refused = |expected: ErrorCode, message: &str| match decision {
        Decision::Rejected {
            status,
            code,
            body: answer,
            ..
        } => {
            assert_eq!((*status, *code), (400, expected));
            assert_eq!(answer, &crate::ingest::error_body(message));
        }
        other => panic!("{expected:?} expected, got {other:?}"),
    };
    let too_long = validate_json(body)
        .err()
        .filter(|e| e.kind == JsonErrorKind::NumberTooLong);
    let long_number = |offset: usize| {
        refused(
            ErrorCode::JsonNumberTooLong,
            &crate::parse::json::number_too_long_message(offset),
        );
    };
    match serde_json_accepts(body) {
        Some(true) => match first_long_integer(body) {
            Some(offset) => long_number(offset),
            None => {
                assert!(!json_code, "valid JSON refused as {code:?}");
                if request.target.split('/').next() == Some("EEcho") {
                    assert!(
                        matches!(decision, Decision::Accepted(_))
                            || code == Some(ErrorCode::RequestTooLarge),
                        "valid JSON to EEcho: {decision:?}"
                    );
                }
            }
        },
        Some(false) => match too_long {
            Some(e) => long_number(e.offset),
            None => refused(ErrorCode::MalformedJson, MALFORMED_JSON),
        },
        // Deeper than serde_json goes: hookcore's own limit decides.
        None => match validate_json(body) {
            Ok(()) => {
                assert!(json_depth(body) <= crate::parse::MAX_DEPTH);
                assert!(!json_code, "{code:?}");
            }
            Err(e) if e.kind == JsonErrorKind::NumberTooLong => long_number(e.offset),
            Err(_) => refused(ErrorCode::MalformedJson, MALFORMED_JSON),
        },
    }
}

/// Routing records from untrusted bytes (the config bucket is shared), as a
/// sequence: the input, split at 0x00, is pairs of an id and a record (a
/// last id without its record has an empty one), at most [`MAX_ROUTE_OPS`].
/// A non-empty record is offered as an integration spec, as an endpoint and
/// an instance record under the id, and over the known ids ([`ENDPOINTS`],
/// `i-shared`); an empty one removes the endpoint and the instance `id`.
/// Starting from [`router`], after every single call:
/// - the router accepts exactly the records [`RouteModel`] does (a record
///   valid for its spec type and, for endpoints and instances, naming the id
///   it is stored under), and removes exactly what the model holds;
/// - the router agrees with the model (plain maps of the valid records
///   applied in order) on every id, instance and customer it was ever
///   offered ([`RouteView`]): an accepted endpoint resolves to itself and its
///   integration and routes to the instance and flow it names; an instance
///   is found under its id; a shared endpoint routes a customer to the
///   newest (greatest id) of its instances; customers are counted per
///   integration;
/// - a removed endpoint is unroutable: a 404 `endpoint_not_found`.
///
/// And an offer that changed nothing (every call refused, or a removal of
/// what was not there) leaves every answer as it was: [`RouteSnapshot`],
/// which adds `ingest`'s answer for every known and offered endpoint id.
pub fn route_records(data: &[u8]) {
    let router = router();
    let mut model = RouteModel::default();
    let records = router_records();
    for spec in &records.integrations {
        assert!(model.set_integration(spec));
    }
    for (id, record) in &records.instances {
        assert!(model.set_instance(id, record));
    }
    for (id, record) in &records.endpoints {
        assert!(model.set_endpoint(id, record));
    }
    model
        .ids
        .extend(ENDPOINTS.iter().map(|id| (*id).to_string()));
    model.check(&router);
    for (id, record) in route_ops(data) {
        model.ids.insert(id.clone());
        let before = RouteSnapshot::of(&router, &model);
        let mut changed = false;
        if record.is_empty() {
            changed |= apply(&router, &mut model, &RouteCall::RemoveEndpoint(&id));
            changed |= apply(&router, &mut model, &RouteCall::RemoveInstance(&id));
            // Gone: its URL is a 404 (a '/' in an id starts the URL's path fragment).
            assert!(router.endpoint(&id).is_none());
            if !id.contains('/') {
                let answer = route_status(&router, &id);
                assert_eq!(answer, (404, Some(ErrorCode::EndpointNotFound)));
            }
        } else {
            let mut calls = vec![
                RouteCall::Integration(&record),
                RouteCall::Endpoint(&id, &record),
                RouteCall::Instance(&id, &record),
            ];
            calls.extend(ENDPOINTS.map(|known| RouteCall::Endpoint(known, &record)));
            calls.push(RouteCall::Instance("i-shared", &record));
            for call in &calls {
                changed |= apply(&router, &mut model, call);
            }
        }
        if !changed {
            assert_eq!(
                RouteSnapshot::of(&router, &model),
                before,
                "a refused record {:?} under {id:?} changed the table",
                String::from_utf8_lossy(&record)
            );
        }
    }
}

/// Most (id, record) pairs one [`route_records`] input applies.
pub const MAX_ROUTE_OPS: usize = 8;

/// The (id, record) pairs of a [`route_records`] input.
fn route_ops(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let pieces: Vec<&[u8]> = data.split(|&b| b == 0).collect();
    pieces
        .chunks(2)
        .take(MAX_ROUTE_OPS)
        .map(|pair| {
            let id = String::from_utf8_lossy(pair[0]).into_owned();
            (id, pair.get(1).copied().unwrap_or_default().to_vec())
        })
        .collect()
}

/// One call that changes a [`Router`].
#[derive(Debug)]
enum RouteCall<'a> {
    Integration(&'a [u8]),
    Endpoint(&'a str, &'a [u8]),
    Instance(&'a str, &'a [u8]),
    RemoveEndpoint(&'a str),
    RemoveInstance(&'a str),
}

/// Make `call` on the router and the model: both accept (or remove) or
/// neither does, and they agree afterwards. True when the call changed the table.
fn apply(router: &Router, model: &mut RouteModel, call: &RouteCall<'_>) -> bool {
    let (ours, expected) = match *call {
        RouteCall::Integration(json) => (
            router.set_integration_json(json).is_ok(),
            model.set_integration(json),
        ),
        RouteCall::Endpoint(id, json) => (
            router.set_endpoint_json(id, json).is_ok(),
            model.set_endpoint(id, json),
        ),
        RouteCall::Instance(id, json) => (
            router.set_instance_json(id, json).is_ok(),
            model.set_instance(id, json),
        ),
        RouteCall::RemoveEndpoint(id) => (router.remove_endpoint(id), model.remove_endpoint(id)),
        RouteCall::RemoveInstance(id) => (router.remove_instance(id), model.remove_instance(id)),
    };
    assert_eq!(ours, expected, "{call:?}");
    model.check(router);
    ours
}

/// The routing table as plain maps of the valid records applied in order:
/// what [`Router`] must agree with. A record is valid when it deserializes
/// as its type in `route/spec.rs` (the records' contract) and, for an
/// endpoint or an instance, names the id it is stored under; a valid record
/// inserts or replaces, any other changes nothing.
#[derive(Default)]
pub struct RouteModel {
    integrations: HashMap<String, Arc<IntegrationSpec>>,
    endpoints: HashMap<String, Arc<EndpointSpec>>,
    instances: HashMap<String, Arc<InstanceSpec>>,
    /// Every id offered, and every (integration, customer) pair of an instance
    /// ever accepted: what [`RouteView`] looks at.
    ids: BTreeSet<String>,
    pairs: BTreeSet<(String, String)>,
}

impl RouteModel {
    fn set_integration(&mut self, json: &[u8]) -> bool {
        let Ok(spec) = serde_json::from_slice::<IntegrationSpec>(json) else {
            return false;
        };
        self.integrations.insert(spec.name.clone(), Arc::new(spec));
        true
    }

    fn set_endpoint(&mut self, id: &str, json: &[u8]) -> bool {
        match serde_json::from_slice::<EndpointSpec>(json) {
            Ok(spec) if spec.endpoint == id => {
                self.endpoints.insert(id.to_string(), Arc::new(spec));
                true
            }
            _ => false,
        }
    }

    fn set_instance(&mut self, id: &str, json: &[u8]) -> bool {
        let spec = match serde_json::from_slice::<InstanceSpec>(json) {
            Ok(spec) if spec.id == id => spec,
            _ => return false,
        };
        self.pairs
            .insert((spec.integration.clone(), spec.customer.clone()));
        self.ids.insert(id.to_string());
        self.instances.insert(id.to_string(), Arc::new(spec));
        true
    }

    fn remove_endpoint(&mut self, id: &str) -> bool {
        self.endpoints.remove(id).is_some()
    }

    fn remove_instance(&mut self, id: &str) -> bool {
        self.instances.remove(id).is_some()
    }

    /// The instance a shared endpoint of `integration` routes `customer` to:
    /// the greatest id among theirs (ids sort by creation time).
    fn newest(&self, integration: &str, customer: &str) -> Option<String> {
        self.instances
            .values()
            .filter(|i| i.integration == integration && i.customer == customer)
            .map(|i| i.id.clone())
            .max()
    }

    /// Customers with an instance of `integration`.
    fn customers(&self, integration: &str) -> usize {
        self.instances
            .values()
            .filter(|i| i.integration == integration)
            .map(|i| i.customer.as_str())
            .collect::<BTreeSet<_>>()
            .len()
    }

    /// Customers that a header can name (an empty one is a missing one).
    fn probed_pairs(&self) -> impl Iterator<Item = &(String, String)> {
        self.pairs.iter().filter(|pair| !pair.1.is_empty())
    }

    fn probed_integrations(&self) -> BTreeSet<&str> {
        self.pairs
            .iter()
            .map(|(integration, _)| integration.as_str())
            .chain(self.integrations.keys().map(String::as_str))
            .collect()
    }

    /// What the router should show.
    fn view(&self) -> RouteView {
        let endpoint = |id: &str| {
            let spec = self.endpoints.get(id)?;
            let integration = self.integrations.get(&spec.integration)?;
            Some((spec.clone(), integration.clone()))
        };
        RouteView {
            endpoint_count: self.endpoints.len(),
            endpoints: self
                .ids
                .iter()
                .map(|id| {
                    let found = endpoint(id);
                    let instance = found.as_ref().and_then(|(spec, _)| {
                        (spec.kind != EndpointKind::Shared).then(|| {
                            let instance = spec.instance.as_deref().unwrap_or_default();
                            self.instances.contains_key(instance)
                        })
                    });
                    (id.clone(), found, instance)
                })
                .collect(),
            instances: self
                .ids
                .iter()
                .map(|id| (id.clone(), self.instances.get(id).cloned()))
                .collect(),
            newest: self
                .probed_pairs()
                .map(|(integration, customer)| {
                    let pair = (integration.clone(), customer.clone());
                    (pair, Ok(self.newest(integration, customer)))
                })
                .collect(),
            customers: self
                .probed_integrations()
                .into_iter()
                .map(|name| (name.to_string(), self.customers(name)))
                .collect(),
        }
    }

    /// The router shows what the model holds.
    fn check(&self, router: &Router) {
        RouteView::of(router, self).assert_eq(&self.view());
    }
}

/// An endpoint and its integration, as [`Router::endpoint`] finds them.
type RoutedEndpoint = (Arc<EndpointSpec>, Arc<IntegrationSpec>);
/// An (integration, customer) pair.
type Pair = (String, String);
/// Where a shared endpoint routes a customer: [`shared_route`].
type SharedRoute = Result<Option<String>, String>;

/// A router's routing as seen through its public calls, over what a
/// [`RouteModel`] was offered.
#[derive(Debug, PartialEq)]
struct RouteView {
    endpoint_count: usize,
    /// Per id: the endpoint and its integration (when both are known), and
    /// for an instance or instance_and_flow endpoint whether its instance
    /// is found (else a 404).
    endpoints: Vec<(String, Option<RoutedEndpoint>, Option<bool>)>,
    /// Per id: the instance stored under it.
    instances: Vec<(String, Option<Arc<InstanceSpec>>)>,
    /// Per (integration, customer): the instance a shared endpoint routes to,
    /// or the refusal it gives instead of "no such customer".
    newest: Vec<(Pair, SharedRoute)>,
    /// Per integration: how many customers have an instance.
    customers: Vec<(String, usize)>,
}

impl RouteView {
    /// Equal, or a panic naming the first entry that differs.
    fn assert_eq(&self, expected: &RouteView) {
        fn same<T: PartialEq + std::fmt::Debug>(what: &str, ours: &[T], expected: &[T]) {
            assert_eq!(
                ours.len(),
                expected.len(),
                "{what}: {ours:?} vs {expected:?}"
            );
            for (ours, expected) in ours.iter().zip(expected) {
                assert_eq!(ours, expected, "{what} differ");
            }
        }
        assert_eq!(
            self.endpoint_count, expected.endpoint_count,
            "endpoint count"
        );
        same("endpoints", &self.endpoints, &expected.endpoints);
        same("instances", &self.instances, &expected.instances);
        same("shared routes", &self.newest, &expected.newest);
        same("customer counts", &self.customers, &expected.customers);
    }

    fn of(router: &Router, model: &RouteModel) -> RouteView {
        RouteView {
            endpoint_count: router.endpoint_count(),
            endpoints: model
                .ids
                .iter()
                .map(|id| {
                    let found = router.endpoint(id);
                    let instance = found.as_ref().and_then(|(spec, integration)| {
                        (spec.kind != EndpointKind::Shared)
                            .then(|| finds_instance(router, spec, integration))
                    });
                    (id.clone(), found, instance)
                })
                .collect(),
            instances: model
                .ids
                .iter()
                .map(|id| (id.clone(), instance_of(router, id)))
                .collect(),
            newest: model
                .probed_pairs()
                .map(|(integration, customer)| {
                    let routed = shared_route(router, integration, customer);
                    ((integration.clone(), customer.clone()), routed)
                })
                .collect(),
            customers: model
                .probed_integrations()
                .into_iter()
                .map(|name| (name.to_string(), router.customer_count(name)))
                .collect(),
        }
    }
}

/// Whether an instance or instance_and_flow endpoint finds its instance
/// (else it is a 404); when it routes, it routes where its record says.
fn finds_instance(
    router: &Router,
    spec: &Arc<EndpointSpec>,
    integration: &Arc<IntegrationSpec>,
) -> bool {
    match resolve(
        router,
        spec.clone(),
        integration.clone(),
        &[],
        RouteBody::Empty,
    ) {
        Ok(resolved) => {
            assert_eq!(
                resolved.instance.id,
                spec.instance.clone().unwrap_or_default()
            );
            if spec.kind == EndpointKind::InstanceAndFlow && spec.flow.is_some() {
                assert_eq!(resolved.flow, spec.flow);
            }
            true
        }
        Err(rejection) => rejection.status != 404,
    }
}

/// A probe integration whose flow a `preprocess` picks, so that routing
/// stops once the instance is found; a shared one takes the customer from
/// header [`PROBE_HEADER`].
fn probe(
    name: &str,
    kind: EndpointKind,
    instance: Option<&str>,
) -> (Arc<EndpointSpec>, Arc<IntegrationSpec>) {
    let endpoint = EndpointSpec {
        endpoint: "probe".to_string(),
        integration: name.to_string(),
        kind,
        instance: instance.map(str::to_string),
        flow: None,
    };
    let integration = IntegrationSpec {
        name: name.to_string(),
        endpoint: kind,
        customer_from: Some(RuleSpec {
            source: RuleSource::Header,
            selector: PROBE_HEADER.to_string(),
            mapping: None,
        }),
        flow_from: None,
        preprocess: true,
        rate_limit: 1.0,
        burst: None,
        senders: Senders::default(),
        flows: AHashMap::new(),
    };
    (Arc::new(endpoint), Arc::new(integration))
}

const PROBE_HEADER: &str = "x-probe-customer";

/// The instance stored under `id`, found the way an instance endpoint naming it finds it.
fn instance_of(router: &Router, id: &str) -> Option<Arc<InstanceSpec>> {
    let (endpoint, integration) = probe("probe", EndpointKind::Instance, Some(id));
    match resolve(router, endpoint, integration, &[], RouteBody::Empty) {
        Ok(resolved) => Some(resolved.instance),
        Err(rejection) => {
            assert_eq!(rejection.status, 404, "{rejection:?}");
            None
        }
    }
}

/// The instance a shared endpoint of `integration` routes `customer` to
/// (None: "no such customer"), or the refusal it gives instead.
fn shared_route(router: &Router, integration: &str, customer: &str) -> SharedRoute {
    let (endpoint, integration) = probe(integration, EndpointKind::Shared, None);
    let headers = [(PROBE_HEADER.to_string(), customer.to_string())];
    match resolve(router, endpoint, integration, &headers, RouteBody::Empty) {
        Ok(resolved) => Ok(Some(resolved.instance.id.clone())),
        Err(rejection) if rejection.unknown_customer => Ok(None),
        Err(rejection) => Err(format!("{} {}", rejection.status, rejection.message)),
    }
}

/// [`RouteView`] and `ingest`'s answer to one request on every id offered.
#[derive(Debug, PartialEq)]
struct RouteSnapshot {
    view: RouteView,
    answers: Vec<(String, String)>,
}

impl RouteSnapshot {
    fn of(router: &Router, model: &RouteModel) -> RouteSnapshot {
        let answers = model
            .ids
            .iter()
            .map(|id| (id.clone(), route_answer(router, id)))
            .collect();
        RouteSnapshot {
            view: RouteView::of(router, model),
            answers,
        }
    }
}

/// A JSON POST to `endpoint` (customer `c4`, event `paid`, as [`router`]'s shared one routes).
fn route_decision(router: &Router, endpoint: &str) -> Decision {
    ingest(
        &ingest_config(),
        router,
        None,
        &TriggerRequest {
            method: "POST",
            target: endpoint,
            query: "",
            headers: &[("content-type", "application/json"), ("x-account", "c4")],
            body: br#"{"event":{"type":"paid"}}"#,
        },
    )
}

/// The status and code of [`route_decision`] (200 and None when accepted).
fn route_status(router: &Router, endpoint: &str) -> (u16, Option<ErrorCode>) {
    match route_decision(router, endpoint) {
        Decision::Rejected { status, code, .. } => (status, Some(code)),
        Decision::Answer(answer) => (answer.status, None),
        Decision::Accepted(_) | Decision::Head => (200, None),
    }
}

/// [`route_decision`] without what differs per call (the execution id).
fn route_answer(router: &Router, endpoint: &str) -> String {
    match route_decision(router, endpoint) {
        Decision::Accepted(accepted) => format!(
            "accepted {} {} {:?} {:?} {}",
            accepted.integration.name,
            accepted.customer,
            accepted.flow,
            accepted.python,
            accepted.synchronous
        ),
        Decision::Head => "head".to_string(),
        Decision::Answer(answer) => format!("answer {}", answer.status),
        Decision::Rejected {
            status, code, body, ..
        } => format!("{status} {code:?} {}", String::from_utf8_lossy(&body)),
    }
}

// ---- senders: signatures and handshakes ---------------------------------------

/// Digests and timestamps (input: the text, lossily UTF-8): never panic; a
/// decoded hex digest encodes back to the text it came from.
pub fn sig_digest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    let mut buf = [0u8; DIGEST_BUF];
    if let Some(bytes) = decode_digest(text, Encoding::Hex, &mut buf) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert!(hex.eq_ignore_ascii_case(text));
    }
    let mut buf = [0u8; DIGEST_BUF];
    if let Some(bytes) = decode_digest(text, Encoding::Base64, &mut buf) {
        assert!(bytes.len() <= DIGEST_BUF);
        assert!(text.len() >= bytes.len());
    }
    if let Some(t) = parse_timestamp(text) {
        assert_eq!(t.to_string().parse::<u64>().ok(), Some(t));
    }
}

/// `{prefix}{digest}` lists (input: the prefix, 0x00, the header value):
/// never panic; each digest is a piece of the value.
pub fn sig_prefixed(data: &[u8]) {
    let (prefix, value) = split_once(data, 0);
    let (prefix, value) = (
        String::from_utf8_lossy(prefix),
        String::from_utf8_lossy(value),
    );
    for digest in prefixed(&value, &prefix) {
        assert!(value.contains(digest));
    }
}

/// `webhook-signature` values: never panic; each signature is a `v1,` item's.
pub fn sig_standard_webhooks(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    for signature in standard_webhooks(&value) {
        assert!(value.contains(&format!("v1,{signature}")));
        assert!(!signature.contains(|c: char| c.is_ascii_whitespace()));
    }
}

/// `Stripe-Signature` values: never panic; what is found is in the value.
pub fn sig_stripe(data: &[u8]) {
    let value = String::from_utf8_lossy(data);
    if let Some(t) = stripe_timestamp(&value) {
        assert!(value.contains(t));
    }
    for v1 in stripe_signatures(&value) {
        assert!(value.contains(v1));
        assert!(!v1.contains(','));
    }
}

const VERIFY_SPECS: [&str; 7] = [
    r#"{"scheme":"standardWebhooks","secret":"s","tolerance":300}"#,
    r#"{"scheme":"github","secret":"s"}"#,
    r#"{"scheme":"stripe","secret":"s","tolerance":300}"#,
    r#"{"scheme":"slack","secret":"s","tolerance":300}"#,
    r#"{"scheme":"shopify","secret":"s"}"#,
    r#"{"scheme":"hmac","secret":"s","header":"x-sig","algorithm":"sha1","encoding":"hex","prefix":"sha1="}"#,
    r#"{"scheme":"hmac","secret":"s","header":"x-sig","algorithm":"sha512","encoding":"base64","prefix":""}"#,
];

const SIGNATURE_HEADERS: [&str; 9] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-hub-signature-256",
    "stripe-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-shopify-hmac-sha256",
    "x-sig",
];

/// Lines of `piece` (split at `\n`), lossily UTF-8.
fn lines(piece: &[u8]) -> Vec<String> {
    piece
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// The whole check under every scheme (input: 8 bytes of Unix time, little
/// endian; then, split at 0x00, header lines whose first byte picks the
/// name, secrets one per line, and the body): never panics, and a refusal is
/// a 401 naming its scheme.
pub fn verify_request(data: &[u8]) {
    let mut clock = [0u8; 8];
    let split = data.len().min(8);
    clock[..split].copy_from_slice(&data[..split]);
    let now = u64::from_le_bytes(clock);
    let mut pieces = data[split..].splitn(3, |&b| b == 0);
    let headers: Vec<(String, String)> = pieces
        .next()
        .unwrap_or_default()
        .split(|&b| b == b'\n')
        .filter_map(|line| line.split_first())
        .map(|(&i, value)| {
            let name = SIGNATURE_HEADERS[usize::from(i) % SIGNATURE_HEADERS.len()];
            (name.to_owned(), String::from_utf8_lossy(value).into_owned())
        })
        .collect();
    let secrets = lines(pieces.next().unwrap_or_default());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let body = pieces.next().unwrap_or_default();
    for json in VERIFY_SPECS {
        let spec = VerifySpec::from_json(json.as_bytes()).expect("verify spec");
        if let Err(r) = verify(&spec, &secrets, &headers, body, now) {
            assert_eq!(r.status(), 401);
            assert!(r.message.starts_with(spec.scheme_name()));
        }
        let _ = delivery_id(&spec, &headers, body);
    }
}

/// Handshakes on arbitrary requests (input: one byte, odd for GET; then,
/// split at 0x00, the query, secrets one per line, the body): never panic;
/// answers are 200s, refusals 401 or 403.
pub fn handshake(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let method = if first % 2 == 1 { "GET" } else { "POST" };
    let mut pieces = rest.splitn(3, |&b| b == 0);
    let query = String::from_utf8_lossy(pieces.next().unwrap_or_default()).into_owned();
    let secrets = lines(pieces.next().unwrap_or_default());
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let body = pieces.next().unwrap_or_default();
    for json in [
        r#"{"kind":"zoom","secret":"z"}"#,
        r#"{"kind":"meta","verifyToken":"m"}"#,
        r#"{"kind":"graph"}"#,
        r#"{"kind":"dropbox"}"#,
    ] {
        let spec = HandshakeSpec::from_json(json.as_bytes()).expect("handshake spec");
        match respond(&spec, &secrets, method, &query, body) {
            Some(Ok(answer)) => assert_eq!(answer.status, 200),
            Some(Err(r)) => assert!(r.status() == 401 || r.status() == 403),
            None => {}
        }
    }
    if let Some(answer) = slack_url_verification(body) {
        assert!(answer.body.starts_with(b"{\"challenge\":"));
    }
}

fn split_once(data: &[u8], at: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == at) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "fuzz_checks_tests.rs"]
mod tests;
