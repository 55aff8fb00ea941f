//! Property tests: no input panics; what a secret signs verifies, and no
//! single changed byte of the body or the signature does.

use base64::Engine as _;
use proptest::prelude::*;

use crate::verify::header::{self, BASE64, DIGEST_BUF};
use crate::verify::mac::hmac;
use crate::verify::{
    delivery_id, handshake, verify, Algorithm, Encoding, HandshakeSpec, VerifySpec,
};

fn specs() -> Vec<VerifySpec> {
    [
        r#"{"scheme":"standardWebhooks","secret":"s","tolerance":300}"#,
        r#"{"scheme":"github","secret":"s"}"#,
        r#"{"scheme":"stripe","secret":"s","tolerance":300}"#,
        r#"{"scheme":"slack","secret":"s","tolerance":300}"#,
        r#"{"scheme":"shopify","secret":"s"}"#,
        r#"{"scheme":"hmac","secret":"s","header":"x-sig","algorithm":"sha1","encoding":"hex","prefix":"sha1="}"#,
        r#"{"scheme":"hmac","secret":"s","header":"x-sig","algorithm":"sha512","encoding":"base64","prefix":""}"#,
    ]
    .iter()
    .map(|json| VerifySpec::from_json(json.as_bytes()).unwrap())
    .collect()
}

const HEADER_NAMES: [&str; 10] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-hub-signature-256",
    "stripe-signature",
    "x-slack-signature",
    "x-slack-request-timestamp",
    "x-shopify-hmac-sha256",
    "x-sig",
    "x-github-delivery",
];

/// Header values made of the characters signature headers are made of, and any others.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[tv0-9a-fA-F=,. +/_-]{0,120}",
        "(v1,|sha256=|v0=|t=|v1=|sha1=)[0-9a-zA-Z+/=]{0,90}( |, |,)?",
        any::<String>(),
    ]
}

/// A request signed as `spec` prescribes with `secret` (Text keys) at `now`.
fn signed(spec: &VerifySpec, secret: &str, body: &[u8], now: u64) -> Vec<(String, String)> {
    let t = now.to_string();
    let h = |n: &str, v: String| (n.to_owned(), v);
    let hex = |pieces: &[&[u8]]| hmac(Algorithm::Sha256, secret.as_bytes(), pieces).to_hex();
    match spec {
        VerifySpec::StandardWebhooks { .. } => {
            let key = BASE64.decode(secret.trim_start_matches("whsec_")).unwrap();
            let pieces: &[&[u8]] = &[b"msg_1", b".", t.as_bytes(), b".", body];
            let sig = BASE64.encode(hmac(Algorithm::Sha256, &key, pieces).as_slice());
            vec![
                h("webhook-id", "msg_1".into()),
                h("webhook-timestamp", t.clone()),
                h("webhook-signature", format!("v1,{sig}")),
            ]
        }
        VerifySpec::Github { .. } => {
            vec![h("x-hub-signature-256", format!("sha256={}", hex(&[body])))]
        }
        VerifySpec::Stripe { .. } => {
            let v1 = hex(&[t.as_bytes(), b".", body]);
            vec![h("stripe-signature", format!("t={t},v1={v1}"))]
        }
        VerifySpec::Slack { .. } => vec![
            h("x-slack-request-timestamp", t.clone()),
            h(
                "x-slack-signature",
                format!("v0={}", hex(&[b"v0:", t.as_bytes(), b":", body])),
            ),
        ],
        VerifySpec::Shopify { .. } => {
            let tag = hmac(Algorithm::Sha256, secret.as_bytes(), &[body]);
            vec![h("x-shopify-hmac-sha256", BASE64.encode(tag.as_slice()))]
        }
        VerifySpec::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
            ..
        } => {
            let tag = hmac(*algorithm, secret.as_bytes(), &[body]);
            let digest = match encoding {
                Encoding::Hex => tag.to_hex(),
                Encoding::Base64 => BASE64.encode(tag.as_slice()),
            };
            vec![h(header, format!("{prefix}{digest}"))]
        }
    }
}

/// The header whose value holds the signature, in `signed`'s output.
fn signature_index(spec: &VerifySpec) -> usize {
    match spec {
        VerifySpec::StandardWebhooks { .. } => 2,
        VerifySpec::Slack { .. } => 1,
        _ => 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_headers_never_panic(
        values in proptest::collection::vec((0..HEADER_NAMES.len(), header_value()), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        secrets in proptest::collection::vec("(whsec_)?[A-Za-z0-9+/=!]{0,12}", 0..3),
        now in any::<u64>(),
    ) {
        let headers: Vec<(String, String)> = values
            .into_iter()
            .map(|(i, v)| (HEADER_NAMES[i].to_owned(), v))
            .collect();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        for spec in specs() {
            if let Err(r) = verify(&spec, &secrets, &headers, &body, now) {
                prop_assert!(r.message.starts_with(spec.scheme_name()));
                prop_assert_eq!(r.status(), 401);
            }
            let _ = delivery_id(&spec, &headers, &body);
        }
    }

    #[test]
    fn parsers_never_panic(value in any::<String>()) {
        let _ = header::parse_timestamp(&value);
        let _ = header::stripe_timestamp(&value);
        let _ = header::stripe_signatures(&value).count();
        let _ = header::standard_webhooks(&value).count();
        for prefix in ["", "sha256=", "v0=", ", "] {
            let _ = header::prefixed(&value, prefix).count();
        }
        let mut buf = [0u8; DIGEST_BUF];
        let _ = header::decode_digest(&value, Encoding::Hex, &mut buf);
        let _ = header::decode_digest(&value, Encoding::Base64, &mut buf);
    }

    #[test]
    fn handshakes_never_panic(
        method in prop_oneof![Just("GET".to_owned()), Just("POST".to_owned()), any::<String>()],
        query in any::<String>(),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        secrets in proptest::collection::vec(any::<String>(), 0..2),
    ) {
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        for json in [
            r#"{"kind":"zoom","secret":"z"}"#,
            r#"{"kind":"meta","verifyToken":"m"}"#,
            r#"{"kind":"graph"}"#,
            r#"{"kind":"dropbox"}"#,
        ] {
            let spec = HandshakeSpec::from_json(json.as_bytes()).unwrap();
            let _ = handshake::respond(&spec, &secrets, &method, &query, &body);
        }
        let _ = handshake::slack_url_verification(&body);
    }

    #[test]
    fn signed_verifies_and_one_changed_byte_does_not(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        key in proptest::collection::vec(any::<u8>(), 1..40),
        text_secret in "[ -~]{1,40}",
        now in 1_000_000_000u64..4_000_000_000,
        which in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        for spec in specs() {
            let secret = match spec {
                VerifySpec::StandardWebhooks { .. } => format!("whsec_{}", BASE64.encode(&key)),
                _ => text_secret.clone(),
            };
            let headers = signed(&spec, &secret, &body, now);
            prop_assert_eq!(verify(&spec, &[&secret], &headers, &body, now), Ok(()));
            prop_assert_eq!(verify(&spec, &["wrong", &secret], &headers, &body, now), Ok(()));
            if !body.is_empty() {
                let mut changed = body.clone();
                let i = which.index(changed.len());
                changed[i] ^= flip;
                prop_assert!(verify(&spec, &[&secret], &headers, &changed, now).is_err());
            }
            let s = signature_index(&spec);
            let value = headers[s].1.clone().into_bytes();
            // A byte of the signature itself (its version tag and digest), not of a
            // separator or base64 padding, which parsers rightly take leniently.
            let signature: Vec<usize> = (0..value.len())
                .filter(|&i| value[i].is_ascii_alphanumeric() || value[i] == b'+' || value[i] == b'/')
                .collect();
            let i = signature[which.index(signature.len())];
            let mut changed_value = value.clone();
            changed_value[i] ^= flip;
            if let Ok(changed_value) = String::from_utf8(changed_value) {
                let mut changed = headers.clone();
                changed[s].1 = changed_value;
                // Hex digests equal but for the case of a letter are the same signature.
                let hex = !matches!(
                    spec,
                    VerifySpec::StandardWebhooks { .. }
                        | VerifySpec::Shopify { .. }
                        | VerifySpec::Hmac { encoding: Encoding::Base64, .. }
                );
                let same = hex && changed[s].1.eq_ignore_ascii_case(&headers[s].1);
                if !same {
                    prop_assert!(verify(&spec, &[&secret], &changed, &body, now).is_err(), "{:?}", changed);
                }
            }
        }
    }
}
