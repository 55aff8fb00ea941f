//! Every fuzz target, run by `cargo test` on stable: over its committed seed
//! corpus (`fuzz/corpus/<target>/`) and over proptest inputs shaped for it.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;

/// A fuzz target's property.
type Check = fn(&[u8]);

/// Every target of `fuzz/Cargo.toml` and the check it runs.
const TARGETS: [(&str, Check); 15] = [
    ("content_type", content_type),
    ("json", json),
    ("json_pointer", json_pointer_lookup),
    ("multipart", multipart),
    ("urlencoded", urlencoded),
    ("text", text),
    ("nats_wire", nats_wire),
    ("ingest", ingest_request),
    ("route_records", route_records),
    ("sig_digest", sig_digest),
    ("sig_prefixed", sig_prefixed),
    ("sig_standard_webhooks", sig_standard_webhooks),
    ("sig_stripe", sig_stripe),
    ("verify", verify_request),
    ("handshake", handshake),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no seed corpus at {}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty seed corpus {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).expect("corpus file");
            (path, data)
        })
        .collect()
}

#[test]
fn every_fuzz_target_runs_here() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let mut declared: Vec<&str> = manifest
        .lines()
        .filter_map(|line| line.strip_prefix("name = \""))
        .filter_map(|rest| rest.strip_suffix('"'))
        .filter(|name| *name != "hookcore-fuzz")
        .collect();
    declared.sort_unstable();
    let mut tested: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    tested.sort_unstable();
    assert_eq!(
        declared, tested,
        "a fuzz target without a cargo test (or the reverse)"
    );
    for (name, _) in TARGETS {
        let source = std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs")))
            .expect("fuzz target source");
        assert!(
            source.contains("_core::fuzz_checks::"),
            "fuzz/fuzz_targets/{name}.rs must call its check in _core::fuzz_checks"
        );
    }
}

#[test]
fn seed_corpora() {
    for (name, check) in TARGETS {
        for (path, data) in corpus(name) {
            if std::panic::catch_unwind(|| check(&data)).is_err() {
                panic!("fuzz target {name} fails on {}", path.display());
            }
        }
    }
}

#[test]
fn the_corpus_reaches_every_ingress_outcome() {
    // The seeds are meant to start the fuzzer in every branch: check they do.
    let router = router();
    let config = ingest_config();
    let mut statuses = std::collections::BTreeSet::new();
    for (_, data) in corpus("ingest") {
        let request = HostileRequest::from_bytes(&data);
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let decision = ingest(
            &config,
            &router,
            None,
            &TriggerRequest {
                method: &request.method,
                target: &request.target,
                query: &request.query,
                headers: &headers,
                body: &request.body,
            },
        );
        statuses.insert(match decision {
            Decision::Accepted(_) => 200,
            Decision::Head => 0,
            Decision::Answer(_) => 1, // a handshake's own answer
            Decision::Rejected { status, .. } => status,
        });
    }
    let expected = [0, 1, 200, 400, 401, 403, 404, 405, 413, 431];
    assert_eq!(statuses.into_iter().collect::<Vec<_>>(), expected);
}

#[test]
fn the_signed_seeds_reach_the_signature_check() {
    let outcome = |name: &str| {
        let data = std::fs::read(fuzz_dir().join("corpus/ingest").join(name)).expect("seed");
        let request = HostileRequest::from_bytes(&data);
        let headers: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        match ingest(
            &ingest_config(),
            &router(),
            None,
            &TriggerRequest {
                method: &request.method,
                target: &request.target,
                query: &request.query,
                headers: &headers,
                body: &request.body,
            },
        ) {
            Decision::Accepted(_) => "accepted",
            Decision::Answer(_) => "answered",
            Decision::Head => "head",
            Decision::Rejected { code, .. } => code.as_str(),
        }
    };
    assert_eq!(outcome("github_signed"), "accepted");
    assert_eq!(outcome("github_forged"), "signature_invalid");
    assert_eq!(outcome("github_unsigned"), "signature_missing");
    assert_eq!(outcome("meta_handshake"), "answered");
    assert_eq!(outcome("meta_wrong_token"), "handshake_refused");
}

#[test]
fn reference_urlencoded_agrees_with_python_examples() {
    // urllib.parse.parse_qsl(s, keep_blank_values=True), by hand
    let pairs = |s: &[u8]| urlencoded_reference(s);
    let owned = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        pairs(b"a=1&&b=&c"),
        owned(&[("a", "1"), ("b", ""), ("c", "")])
    );
    assert_eq!(pairs(b"a+b=c%20d%zz%4"), owned(&[("a b", "c d%zz%4")]));
    assert_eq!(pairs(b"x=%C3%A9%FF=y"), owned(&[("x", "\u{e9}\u{fffd}=y")]));
}

#[test]
fn json_bodies_meet_the_documented_contract() {
    // A JSON POST to the plain endpoint: what each edge case gets, by docs/errors.md.
    let outcome = |body: &[u8]| {
        let mut data = vec![2, 0, 0, 0, 0, 0];
        data.extend_from_slice(body);
        ingest_request(&data);
        let request = HostileRequest::from_bytes(&data);
        assert_eq!(request.body, body);
        let headers = [("content-type", "application/json")];
        match ingest(
            &ingest_config(),
            &router(),
            None,
            &TriggerRequest {
                method: "POST",
                target: "EEcho",
                query: "",
                headers: &headers,
                body,
            },
        ) {
            Decision::Accepted(_) => "accepted",
            Decision::Rejected { code, .. } => code.as_str(),
            other => panic!("{other:?}"),
        }
    };
    let long = "1".repeat(MAX_INT_DIGITS + 1);
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let cases: [(Vec<u8>, &str); 14] = [
        (br#"{"a":1,"a":2}"#.to_vec(), "accepted"),
        (b"1e400".to_vec(), "accepted"),
        (br#""\ud83d\ude00""#.to_vec(), "accepted"),
        (br#""\ud800""#.to_vec(), "malformed_json"),
        (b"\xef\xbb\xbf{}".to_vec(), "malformed_json"),
        (b"[1,]".to_vec(), "malformed_json"),
        (b" ".to_vec(), "malformed_json"),
        (long.clone().into_bytes(), "json_number_too_long"),
        (format!("[\"{long}\"]").into_bytes(), "accepted"),
        (format!("[{long},x]").into_bytes(), "json_number_too_long"),
        ("9".repeat(MAX_INT_DIGITS).into_bytes(), "accepted"),
        (nested(200).into_bytes(), "accepted"),
        (nested(crate::parse::MAX_DEPTH).into_bytes(), "accepted"),
        (
            nested(crate::parse::MAX_DEPTH + 1).into_bytes(),
            "malformed_json",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            outcome(&body),
            expected,
            "{}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        );
    }
}

fn bytes_from(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![4 => prop::sample::select(alphabet), 1 => any::<u8>()],
        0..max,
    )
}

fn json_value() -> impl Strategy<Value = Value> {
    const KEYS: [&str; 16] = [
        "name",
        "endpoint",
        "flows",
        "rateLimit",
        "burst",
        "customerFrom",
        "flowFrom",
        "source",
        "selector",
        "mapping",
        "id",
        "integration",
        "customer",
        "apiKeyHashes",
        "kind",
        "flow",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "shared",
            "instance",
            "instance_and_flow",
            "header",
            "body",
            "/a/0",
            "x-account",
            "",
            "simple",
            "i-shared",
        ])
        .prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..7).prop_map(
                |entries| {
                    let map: Map<String, Value> = entries
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect();
                    Value::Object(map)
                }
            ),
        ]
    })
}

/// Ids of [`router`]'s endpoints and instances, and a few new ones.
const ROUTE_IDS: [&str; 12] = [
    "EEcho", "ESync", "EInst", "EShared", "EMeta", "i-simple", "i-inst", "i-shared", "i-zz", "i-a",
    "Enew", "",
];
const ROUTE_INTEGRATIONS: [&str; 6] = ["simple", "inst", "pre", "shared", "signed", "nope"];
const ROUTE_KINDS: [&str; 4] = ["instance_and_flow", "instance", "shared", "bogus"];
const ROUTE_FLOWS: [&str; 6] = ["Echo", "Sync", "Created", "Deleted", "Paid", "Nope"];
const ROUTE_CUSTOMERS: [&str; 6] = ["c1", "c2", "c4", "c5", "c7", ""];

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(values).prop_map(str::to_string)
}

/// A record for [`route_records`]: mostly well-formed endpoint, instance and
/// integration records over [`router`]'s names, some broken, some any JSON;
/// an empty one removes. The id is mostly the record's own.
fn route_op() -> impl Strategy<Value = (String, Vec<u8>)> {
    let endpoint = (
        pick(&ROUTE_IDS),
        pick(&ROUTE_INTEGRATIONS),
        pick(&ROUTE_KINDS),
        prop::option::of(pick(&ROUTE_IDS)),
        prop::option::of(pick(&ROUTE_FLOWS)),
    )
        .prop_map(|(id, integration, kind, instance, flow)| {
            let record = serde_json::json!({
                "endpoint": id, "integration": integration, "kind": kind,
                "instance": instance, "flow": flow,
            });
            (id, record)
        });
    let instance = (
        pick(&ROUTE_IDS),
        pick(&ROUTE_INTEGRATIONS),
        pick(&ROUTE_CUSTOMERS),
        any::<bool>(),
    )
        .prop_map(|(id, integration, customer, key)| {
            let mut record = serde_json::json!({
                "id": id, "integration": integration, "customer": customer,
            });
            if key {
                record["apiKeyHashes"] =
                    serde_json::json!({ "Paid": [apikey::digest_hex(API_KEY)] });
            }
            (id, record)
        });
    let integration = (
        pick(&ROUTE_IDS),
        pick(&ROUTE_INTEGRATIONS),
        pick(&ROUTE_KINDS),
        pick(&ROUTE_FLOWS),
        any::<bool>(),
    )
        .prop_map(|(id, name, kind, flow, preprocess)| {
            let record = serde_json::json!({
                "name": name, "endpoint": kind, "rateLimit": 5, "preprocess": preprocess,
                "customerFrom": {"source": "header", "selector": "x-account"},
                "flows": { flow: {} },
            });
            (id, record)
        });
    let record = prop_oneof![
        3 => endpoint,
        3 => instance,
        1 => integration,
        1 => (pick(&ROUTE_IDS), json_value()),
    ];
    (record, pick(&ROUTE_IDS), 0..8u8).prop_map(|((own, record), other, how)| {
        let bytes = serde_json::to_vec(&record).unwrap();
        match how {
            0 => (own, Vec::new()),
            1 => (own, bytes[..bytes.len() / 2].to_vec()),
            2 => (other, bytes),
            _ => (own, bytes),
        }
    })
}

/// Texts on which JSON parsers differ, or hookcore's contract adds to RFC 8259.
fn json_edge_cases() -> Vec<Vec<u8>> {
    let long = "1".repeat(MAX_INT_DIGITS + 1);
    let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let mut cases: Vec<Vec<u8>> = [
        r#"{"a":1,"a":2}"#,
        "1e400",
        "-1e400",
        "1e99999999999999999999",
        "-0",
        "0.5e-7",
        r#""\ud83d\ude00""#,
        r#""\ud800""#,
        r#""\udc00""#,
        r#""\ud83dx""#,
        r#"{"\ud800":1}"#,
        r#""\/\b\f""#,
        r#""\a""#,
        "\u{feff}{}",
        "[1,]",
        r#"{"a":1,}"#,
        "NaN",
        "Infinity",
        "01",
        "1.",
        ".5",
        "1e",
        "+1",
        "\"\u{7f}\"",
        "\"\t\"",
        " {} ",
        "{}\u{a0}",
        "{} x",
        "// c\n{}",
        "nul",
        "[] []",
        "\"\u{e9}\"",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    cases.extend([
        b"\"\xff\"".to_vec(),
        b"\"\xc3\"".to_vec(),
        long.clone().into_bytes(),
        format!("-{long}").into_bytes(),
        format!("[0.{long}e{long}]").into_bytes(),
        format!("[{long},x]").into_bytes(),
        format!("[\"{long}\"]").into_bytes(),
        "9".repeat(MAX_INT_DIGITS).into_bytes(),
        nested(100).into_bytes(),
        nested(200).into_bytes(),
        nested(crate::parse::MAX_DEPTH).into_bytes(),
        nested(crate::parse::MAX_DEPTH + 1).into_bytes(),
        format!("{}1", "[".repeat(300)).into_bytes(),
    ]);
    cases
}

/// JSON bodies: valid ones (compact or pretty), the edge cases, and valid
/// ones with a byte inserted, removed or replaced.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    fn valid() -> impl Strategy<Value = Vec<u8>> {
        (json_value(), any::<bool>()).prop_map(|(value, pretty)| {
            if pretty {
                serde_json::to_vec_pretty(&value).unwrap()
            } else {
                serde_json::to_vec(&value).unwrap()
            }
        })
    }
    let mutated = (
        valid(),
        any::<prop::sample::Index>(),
        prop_oneof![prop::sample::select(JSON_BYTES), any::<u8>()],
        0..3u8,
    )
        .prop_map(|(mut bytes, at, byte, how)| {
            let at = at.index(bytes.len() + 1);
            match how {
                0 => bytes.insert(at, byte),
                _ if at == bytes.len() => bytes.push(byte),
                1 => drop(bytes.remove(at)),
                _ => bytes[at] = byte,
            }
            bytes
        });
    prop_oneof![
        3 => valid(),
        2 => prop::sample::select(json_edge_cases()),
        3 => mutated,
    ]
}

/// Fields with what a part header may carry: quotes, backslashes, line breaks
/// (a filename's goes in `filename*`), non-ASCII; data with line breaks and dashes.
fn odd_field() -> impl Strategy<Value = Field> {
    (
        "[a-z\"\\\\; é\r]{0,6}",
        prop::option::of("[a-z\"\\\\; é\r\n%']{0,6}"),
        prop::option::of("[a-z/;= \"]{0,12}"),
        prop::collection::vec(prop::sample::select(b"ab-\r\n \t".to_vec()), 0..24),
    )
        .prop_map(|(name, filename, content_type, data)| Field {
            name,
            filename,
            content_type: content_type.map(|c| c.trim_matches(' ').to_string()),
            data,
        })
}

/// Bytes an edit puts into a multipart body.
fn multipart_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            b"\r\n".to_vec(),
            b"\n".to_vec(),
            b"--".to_vec(),
            b" \t".to_vec(),
            b"\r\n\r\n".to_vec(),
            b"content-type: a/b\r\n".to_vec(),
            b"Content-Disposition: form-data; name=x\r\n".to_vec(),
            b"; filename*=utf-8''a%0Ab".to_vec(),
            b"\"".to_vec(),
        ]),
        prop::collection::vec(any::<u8>(), 1..4),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    (
        "[A-Za-z0-9_. -]{1,12}",
        prop::option::of("[A-Za-z0-9_. -]{1,12}"),
        prop::option::of(prop::sample::select(vec![
            "application/json",
            "text/plain; charset=utf-8",
            "image/png",
        ])),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(name, filename, content_type, data)| Field {
            name,
            filename,
            content_type: content_type.map(str::to_string),
            data,
        })
}

const JSON_BYTES: &[u8] = b"{}[]\",:0123456789.eE+- truefalsn\\u";
const FORM_BYTES: &[u8] = b"ab=&%+2F41zZ\xff\xc3\xa9 ";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn content_type_props(value in bytes_from(b"aplication/json+xmtx-www-form; charset=\"utf8\" boundary=", 64)) {
        content_type(&value);
    }

    #[test]
    fn json_props(data in bytes_from(JSON_BYTES, 96)) {
        json(&data);
    }

    #[test]
    fn json_pointer_props(pointer in "(/[a-z0-9~]{0,3}){0,3}", document in json_value()) {
        let mut data = pointer.into_bytes();
        data.push(b'\n');
        data.extend_from_slice(&serde_json::to_vec(&document).unwrap());
        json_pointer_lookup(&data);
    }

    #[test]
    fn multipart_props(data in prop::collection::vec(any::<u8>(), 0..256)) {
        multipart(&data);
    }

    #[test]
    fn multipart_of_written_bodies(
        boundary in "[A-Za-z0-9'()+_,./:=? -]{1,7}",
        fields in prop::collection::vec(odd_field(), 0..5),
        lf in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), multipart_piece(), 0..3u8), 0..3),
    ) {
        // A body as a client writes it, then line endings changed and bytes edited.
        let Some(mut body) = multipart_bytes(&fields, boundary.as_bytes()) else {
            return Ok(());
        };
        if lf {
            body = String::from_utf8_lossy(&body).replace("\r\n", "\n").into_bytes();
        }
        for (at, piece, how) in edits {
            let at = at.index(body.len() + 1);
            match how {
                0 => drop(body.splice(at..at, piece)),
                1 => drop(body.drain(at..(at + piece.len()).min(body.len()))),
                _ => drop(body.splice(at..(at + 1).min(body.len()), piece)),
            }
        }
        let mut data = vec![boundary.len() as u8];
        data.extend_from_slice(boundary.as_bytes());
        data.extend_from_slice(&body);
        multipart(&data);
    }

    #[test]
    fn multipart_round_trip(fields in prop::collection::vec(field(), 0..6)) {
        multipart_roundtrip(&fields);
    }

    #[test]
    fn urlencoded_props(data in bytes_from(FORM_BYTES, 64)) {
        urlencoded(&data);
    }

    #[test]
    fn text_props(data in prop::collection::vec(any::<u8>(), 0..128)) {
        text(&data);
    }

    #[test]
    fn nats_wire_props(data in bytes_from(b"MSG +OK -ERR PING PONG INFO {}\r\n 0123456789 _INBOX.fuzz.1 HMSG NATS/1.0", 128)) {
        nats_wire(&data);
    }

    #[test]
    fn ingest_props(
        head in prop::collection::vec(any::<u8>(), 3),
        fragment in "[a-z/%.]{0,12}",
        query in bytes_from(FORM_BYTES, 24),
        headers in prop::collection::vec("[a-zA-Z-]{1,12}:[ -~]{0,40}", 0..16),
        body in prop_oneof![
            bytes_from(JSON_BYTES, 96),
            Just(br#"{"event":{"type":"paid"}}"#.to_vec()),
            Just(b"--b\r\ncontent-disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b--\r\n".to_vec()),
            prop::collection::vec(any::<u8>(), 0..96),
        ],
        limited in any::<bool>(),
    ) {
        let mut data = head;
        for piece in [fragment.as_bytes(), &query, headers.join("\n").as_bytes()] {
            data.extend_from_slice(piece);
            data.push(0);
        }
        data.extend_from_slice(&body);
        data.push(if limited { 1 } else { 2 });
        ingest_request(&data);
    }

    #[test]
    fn ingest_json_props(
        method in prop::sample::select(vec![2u8, 2, 2, 3, 4, 5, 0, 1, 8]),
        endpoint in any::<u8>(),
        flags in prop_oneof![3 => any::<u8>().prop_map(|f| f & !6), 1 => any::<u8>()],
        headers in prop::collection::vec(prop::sample::select(vec![
            "Content-Type:application/json",
            "content-type:text/plain",
            "x-a:1",
        ]), 0..2),
        body in json_body(),
        limited in any::<bool>(),
    ) {
        let mut data = vec![method, endpoint, flags, 0, 0];
        data.extend_from_slice(headers.join("\n").as_bytes());
        data.push(0);
        data.extend_from_slice(&body);
        // The last byte says whether rate limiting is on: JSON whitespace, odd or even.
        data.push(if limited { b'\t' } else { b' ' });
        ingest_request(&data);
    }

    #[test]
    fn sig_digest_props(data in bytes_from(b"0123456789abcdefABCDEF+/=", 80)) {
        sig_digest(&data);
    }

    #[test]
    fn sig_prefixed_props(prefix in "(sha256=|v0=|)", value in "[ a-z0-9=,]{0,60}") {
        sig_prefixed(&[prefix.as_bytes(), b"\0", value.as_bytes()].concat());
    }

    #[test]
    fn sig_standard_webhooks_props(value in "((v1|v2),[A-Za-z0-9+/=]{0,12} ?){0,4}") {
        sig_standard_webhooks(value.as_bytes());
    }

    #[test]
    fn sig_stripe_props(value in "((t|v1|v0)=[0-9a-f]{0,10},?){0,5}") {
        sig_stripe(value.as_bytes());
    }

    #[test]
    fn verify_props(
        now in any::<u64>(),
        headers in prop::collection::vec((any::<u8>(), "[ -~]{0,40}"), 0..6),
        secrets in prop::collection::vec("(whsec_)?[A-Za-z0-9+/=]{0,16}", 0..3),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut data = now.to_le_bytes().to_vec();
        let lines: Vec<Vec<u8>> = headers.iter().map(|(i, v)| [&[*i][..], v.as_bytes()].concat()).collect();
        data.extend_from_slice(&lines.join(&b'\n'));
        data.push(0);
        data.extend_from_slice(secrets.join("\n").as_bytes());
        data.push(0);
        data.extend_from_slice(&body);
        verify_request(&data);
    }

    #[test]
    fn handshake_props(
        get in any::<bool>(),
        query in "((hub\\.mode|hub\\.verify_token|hub\\.challenge|validationToken|challenge)=[a-z0-9]{0,6}&?){0,4}",
        secrets in prop::collection::vec("[a-z]{0,6}", 0..3),
        body in prop_oneof![
            Just(br#"{"event":"endpoint.url_validation","payload":{"plainToken":"P"}}"#.to_vec()),
            Just(br#"{"type":"url_verification","challenge":"c"}"#.to_vec()),
            prop::collection::vec(any::<u8>(), 0..64),
        ],
    ) {
        let mut data = vec![u8::from(get)];
        data.extend_from_slice(query.as_bytes());
        data.push(0);
        data.extend_from_slice(secrets.join("\n").as_bytes());
        data.push(0);
        data.extend_from_slice(&body);
        handshake(&data);
    }

    #[test]
    fn route_records_props(id in "[a-zA-Z-]{0,10}", record in json_value(), raw in any::<bool>()) {
        let mut data = id.into_bytes();
        data.push(0);
        let bytes = serde_json::to_vec(&record).unwrap();
        data.extend_from_slice(if raw { &bytes[..bytes.len() / 2] } else { &bytes });
        route_records(&data);
    }
}

proptest! {
    // Each case checks the whole table after every call: fewer cases, the fuzzer runs more.
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn route_record_sequences(ops in prop::collection::vec(route_op(), 1..=MAX_ROUTE_OPS)) {
        let mut data = Vec::new();
        for (i, (id, record)) in ops.iter().enumerate() {
            if i > 0 {
                data.push(0);
            }
            data.extend_from_slice(id.as_bytes());
            data.push(0);
            data.extend_from_slice(record);
        }
        route_records(&data);
    }
}

/// An instance record replacing one under the same id with another customer
/// moves it: the old customer is routed to it no more, nor counted (found by
/// `route_records`' model; the old pair kept routing to it before).
#[test]
fn an_instance_record_changing_customer_moves_the_instance() {
    let router = router();
    let digest = apikey::digest_hex(API_KEY);
    let moved = format!(
        r#"{{"id":"i-shared","integration":"shared","customer":"c9","apiKeyHashes":{{"Paid":["{digest}"]}}}}"#
    );
    router
        .set_instance_json("i-shared", moved.as_bytes())
        .unwrap();
    // Customer c4 has no instance any more: its requests must not reach customer c9's.
    let decision = ingest(
        &ingest_config(),
        &router,
        None,
        &TriggerRequest {
            method: "POST",
            target: "EShared",
            query: "",
            headers: &[
                ("content-type", "application/json"),
                ("x-account", "c4"),
                ("api-key", API_KEY),
            ],
            body: br#"{"event":{"type":"paid"}}"#,
        },
    );
    if let Decision::Accepted(accepted) = &decision {
        panic!(
            "customer c4's request accepted for customer {}",
            accepted.customer
        );
    }
    assert_eq!(shared_route(&router, "shared", "c4"), Ok(None));
    assert_eq!(router.customer_count("shared"), 1);
}
