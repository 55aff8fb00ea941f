//! The published vectors of `tests/vectors/` (sources and licences in its README).

use serde::Deserialize;

use crate::verify::{header, verify, VerifySpec};

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
    #[serde(default)]
    headers: Vec<HeaderVector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    spec: serde_json::Value,
    secrets: Vec<String>,
    headers: Vec<(String, String)>,
    body: String,
    now: u64,
    expect: String,
}

#[derive(Deserialize)]
struct HeaderVector {
    name: String,
    value: String,
    timestamp: String,
    v1: Vec<String>,
}

const FILES: [(&str, &str); 4] = [
    (
        "standard_webhooks.json",
        include_str!("../../../tests/vectors/standard_webhooks.json"),
    ),
    (
        "github.json",
        include_str!("../../../tests/vectors/github.json"),
    ),
    (
        "slack.json",
        include_str!("../../../tests/vectors/slack.json"),
    ),
    (
        "stripe.json",
        include_str!("../../../tests/vectors/stripe.json"),
    ),
];

#[test]
fn published_vectors() {
    let mut count = 0;
    for (file, text) in FILES {
        let parsed: File = serde_json::from_str(text).expect(file);
        for v in parsed.vectors {
            let spec: VerifySpec = serde_json::from_value(v.spec).expect(&v.name);
            let secrets: Vec<&str> = v.secrets.iter().map(String::as_str).collect();
            let got = verify(&spec, &secrets, &v.headers, v.body.as_bytes(), v.now);
            let got = match &got {
                Ok(()) => "ok",
                Err(r) => r.code.as_str(),
            };
            assert_eq!(got, v.expect, "{file}: {} ({got:?})", v.name);
            count += 1;
        }
    }
    assert!(count >= 20, "only {count} vectors");
}

#[test]
fn published_stripe_headers_parse() {
    let parsed: File = serde_json::from_str(FILES[3].1).expect("stripe.json");
    assert!(!parsed.headers.is_empty());
    for h in parsed.headers {
        assert_eq!(
            header::stripe_timestamp(&h.value),
            Some(h.timestamp.as_str()),
            "{}",
            h.name
        );
        let v1: Vec<&str> = header::stripe_signatures(&h.value).collect();
        assert_eq!(v1, h.v1, "{}", h.name);
    }
}
