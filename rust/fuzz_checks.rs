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

use serde_json::Value;

use crate::error_code::ErrorCode;
use crate::ingest::{
    admit, ingest, Decision, IngestConfig, TriggerRequest, ENDPOINT_NOT_FOUND, MALFORMED_JSON,
    MALFORMED_MULTIPART, TRIGGER_METHODS,
};
use crate::nats_wire::Wire;
use crate::parse::{
    decode_text, json_pointer, parse_multipart, parse_urlencoded, validate_json, BodyKind,
    ContentType, JsonErrorKind, JsonScalar, MultipartLimits, TextError, MAX_INT_DIGITS,
};
use crate::rate_limit::{Limiter, Table};
use crate::route::{apikey, Router};
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
    let syntax = serde_json::from_slice::<serde::de::IgnoredAny>(data);
    let theirs = match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(_) => true,
        Err(e) if e.to_string().starts_with("recursion limit") => return,
        // Valid JSON whose number does not fit an f64.
        Err(e) => e.to_string().starts_with("number out of range"),
    };
    let theirs = theirs && syntax.is_ok() && std::str::from_utf8(data).is_ok();
    assert_eq!(ours.is_ok(), theirs, "{ours:?}");
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
/// length, the boundary, the body): never panics; parts lie inside the body,
/// within limits. Then the same bytes, read as part contents, must survive a
/// round trip through [`multipart_body`] (see [`multipart_roundtrip`]).
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
    if let Ok(parts) = parse_multipart(body, boundary, &limits) {
        assert!(parts.len() <= limits.max_parts);
        for part in &parts {
            assert!(part.data.start <= part.data.end && part.data.end <= body.len());
        }
    }
    multipart_roundtrip(&fields_of(data));
}

/// One field of a multipart body built by [`multipart_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
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
    let delimiter = format!("\r\n--{boundary}");
    let mut body = Vec::new();
    for field in fields {
        let tail = [field.data.as_slice(), b"\r\n"].concat();
        if find(&tail, delimiter.as_bytes()).is_some() {
            return None;
        }
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", field.name);
        if let Some(filename) = &field.filename {
            disposition += &format!("; filename=\"{filename}\"");
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
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
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
    let got: Vec<Field> = parts
        .iter()
        .map(|p| Field {
            name: p.name.to_string(),
            filename: p.filename.as_ref().map(std::string::ToString::to_string),
            content_type: p
                .content_type
                .as_ref()
                .map(std::string::ToString::to_string),
            data: p.bytes(&body).to_vec(),
        })
        .collect();
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
    for spec in integrations {
        router.set_integration_json(spec).expect("integration spec");
    }
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
    for (id, integration, customer, keys) in &instances {
        let record = format!(
            r#"{{"id":"{id}","integration":"{integration}","customer":"{customer}","apiKeyHashes":{{{keys}}},"config":{config}}}"#
        );
        router
            .set_instance_json(id, record.as_bytes())
            .expect("instance record");
    }
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
    for (id, integration, kind, instance, flow) in endpoints {
        let mut record =
            format!(r#"{{"endpoint":"{id}","integration":"{integration}","kind":"{kind}""#);
        if let Some(instance) = instance {
            record += &format!(r#","instance":"{instance}""#);
        }
        if let Some(flow) = flow {
            record += &format!(r#","flow":"{flow}""#);
        }
        record.push('}');
        router
            .set_endpoint_json(id, record.as_bytes())
            .expect("endpoint record");
    }
    router
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
/// body is read) never refuses what `ingest` would not.
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

/// Routing records from untrusted bytes (the config bucket is shared): the
/// input, split at the first 0x00 into an id and a record, is offered as an
/// integration spec, an endpoint record and an instance record. Never
/// panics, and the router still answers every endpoint without panicking.
pub fn route_records(data: &[u8]) {
    let (id, record) = split_once(data, 0);
    let id = String::from_utf8_lossy(id);
    let router = router();
    let _ = router.set_integration_json(record);
    let _ = router.set_endpoint_json(&id, record);
    let _ = router.set_instance_json(&id, record);
    // Over the known ids too: a bad record must not break what was there.
    for known in ENDPOINTS {
        let _ = router.set_endpoint_json(known, record);
    }
    let _ = router.set_instance_json("i-shared", record);
    let _ = router.endpoint_count();
    let config = ingest_config();
    for endpoint in ENDPOINTS.iter().copied().chain([id.as_ref()]) {
        let _ = ingest(
            &config,
            &router,
            None,
            &TriggerRequest {
                method: "POST",
                target: endpoint,
                query: "",
                headers: &[("content-type", "application/json"), ("x-account", "c4")],
                body: br#"{"event":{"type":"paid"}}"#,
            },
        );
    }
    router.remove_endpoint(&id);
    router.remove_instance(&id);
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
