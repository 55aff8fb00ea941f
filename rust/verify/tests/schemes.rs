//! Each scheme: what verifies, what is refused with which code and message.

use base64::Engine as _;

use crate::error_code::ErrorCode;
use crate::verify::header::BASE64;
use crate::verify::mac::hmac;
use crate::verify::{delivery_id, verify, Algorithm, Encoding, VerifySpec};

const NOW: u64 = 1_700_000_000;
const BODY: &[u8] = br#"{"id":"evt_1","event_id":"Ev1","type":"x"}"#;

fn spec(json: &str) -> VerifySpec {
    VerifySpec::from_json(json.as_bytes()).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn hex256(key: &[u8], pieces: &[&[u8]]) -> String {
    hmac(Algorithm::Sha256, key, pieces).to_hex()
}

fn b64(key: &[u8], alg: Algorithm, pieces: &[&[u8]]) -> String {
    BASE64.encode(hmac(alg, key, pieces).as_slice())
}

fn code(result: Result<(), crate::verify::Rejection>) -> Option<ErrorCode> {
    result.err().map(|r| r.code)
}

fn message(result: Result<(), crate::verify::Rejection>) -> String {
    result.err().map(|r| r.message).unwrap_or_default()
}

#[test]
fn specs_parse_exactly_the_documented_shapes() {
    let s = spec(r#"{"scheme":"standardWebhooks","secret":"s","tolerance":60}"#);
    assert_eq!(
        s,
        VerifySpec::StandardWebhooks {
            secret: "s".into(),
            tolerance: 60
        }
    );
    assert_eq!(
        spec(r#"{"scheme":"stripe","secret":"s"}"#),
        VerifySpec::Stripe {
            secret: "s".into(),
            tolerance: 300
        }
    );
    let s = spec(
        r#"{"scheme":"hmac","secret":"s","header":"x-signature","algorithm":"sha512","encoding":"base64","prefix":"sha512="}"#,
    );
    assert_eq!(
        s,
        VerifySpec::Hmac {
            secret: "s".into(),
            header: "x-signature".into(),
            algorithm: Algorithm::Sha512,
            encoding: Encoding::Base64,
            prefix: "sha512=".into()
        }
    );
    for json in [
        r#"{"scheme":"github","secret":"s"}"#,
        r#"{"scheme":"slack","secret":"s","tolerance":300}"#,
        r#"{"scheme":"shopify","secret":"s"}"#,
    ] {
        assert_eq!(spec(json).secret_name(), "s");
    }
    for bad in [
        r#"{"scheme":"gitlab","secret":"s"}"#,
        r#"{"scheme":"github"}"#,
        r#"{"scheme":"github","secret":"s","tolerance":3}"#,
        r#"{"scheme":"hmac","secret":"s","header":"x","algorithm":"md5","encoding":"hex"}"#,
        r#"{"scheme":"hmac","secret":"s","header":"x","algorithm":"sha1","encoding":"base32"}"#,
        r#"{"scheme":"stripe","secret":"s","tolerance":-1}"#,
        r#"{"secret":"s"}"#,
    ] {
        assert!(VerifySpec::from_json(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn no_secret_fails_closed() {
    let s = spec(r#"{"scheme":"github","secret":"github_secret"}"#);
    let h = headers(&[("x-hub-signature-256", "sha256=00")]);
    for secrets in [&[][..], &[""][..], &["", ""][..]] {
        let r = verify(&s, secrets, &h, BODY, NOW);
        assert_eq!(
            message(r),
            "GitHub signature check failed: no secret 'github_secret' is configured for this instance."
        );
    }
    let r = verify(&s, &[], &h, BODY, NOW).unwrap_err();
    assert_eq!((r.code, r.status()), (ErrorCode::SecretNotConfigured, 401));
}

#[test]
fn github() {
    let s = spec(r#"{"scheme":"github","secret":"gh"}"#);
    let sig = format!("sha256={}", hex256(b"k", &[BODY]));
    let h = headers(&[("x-hub-signature-256", &sig)]);
    assert_eq!(verify(&s, &["k"], &h, BODY, NOW), Ok(()));
    assert_eq!(verify(&s, &["old", "k"], &h, BODY, NOW), Ok(()), "rotation");
    // Upper-case hex is the same digest.
    let upper = headers(&[(
        "x-hub-signature-256",
        &sig.to_uppercase().replace("SHA256=", "sha256="),
    )]);
    assert_eq!(verify(&s, &["k"], &upper, BODY, NOW), Ok(()));
    let r = verify(&s, &["other"], &h, BODY, NOW);
    assert_eq!(
        message(r),
        "GitHub signature check failed: no signature in header X-Hub-Signature-256 matches this request with secret 'gh'."
    );
    assert_eq!(
        code(verify(&s, &["k"], &h, b"{}", NOW)),
        Some(ErrorCode::SignatureInvalid)
    );
    assert_eq!(
        message(verify(&s, &["k"], &[], BODY, NOW)),
        "GitHub signature check failed: header X-Hub-Signature-256 is missing."
    );
    let sha1 = headers(&[("x-hub-signature-256", "sha1=abc")]);
    assert_eq!(
        message(verify(&s, &["k"], &sha1, BODY, NOW)),
        "GitHub signature check failed: header X-Hub-Signature-256 holds no sha256=<hex> signature."
    );
    // A repeated header, joined with ", ".
    let joined = format!("sha256={}, {sig}", "0".repeat(64));
    let h = headers(&[("x-hub-signature-256", &joined)]);
    assert_eq!(verify(&s, &["k"], &h, BODY, NOW), Ok(()));
}

#[test]
fn stripe() {
    let s = spec(r#"{"scheme":"stripe","secret":"stripe_secret","tolerance":300}"#);
    let t = (NOW - 10).to_string();
    let v1 = hex256(b"whsec_x", &[t.as_bytes(), b".", BODY]);
    let value = format!("t={t},v1={},v1={v1},v0={v1}", "ab".repeat(32));
    let h = headers(&[("stripe-signature", &value)]);
    assert_eq!(verify(&s, &["whsec_x"], &h, BODY, NOW), Ok(()));
    let r = verify(&s, &["whsec_x"], &h, BODY, NOW + 612 - 10);
    assert_eq!(
        message(r),
        "Stripe signature check failed: the timestamp is 612 s away from now; at most 300 are allowed."
    );
    let only_v0 = headers(&[("stripe-signature", &format!("t={t},v0={v1}"))]);
    assert_eq!(
        message(verify(&s, &["whsec_x"], &only_v0, BODY, NOW)),
        "Stripe signature check failed: header Stripe-Signature holds no v1=<hex> signature."
    );
    let no_t = headers(&[("stripe-signature", &format!("v1={v1}"))]);
    assert_eq!(
        message(verify(&s, &["whsec_x"], &no_t, BODY, NOW)),
        "Stripe signature check failed: header Stripe-Signature holds no t= timestamp."
    );
    let bad_t = headers(&[("stripe-signature", &format!("t=soon,v1={v1}"))]);
    assert_eq!(
        message(verify(&s, &["whsec_x"], &bad_t, BODY, NOW)),
        "Stripe signature check failed: the t= of header Stripe-Signature is not a Unix time in seconds."
    );
    // The timestamp is signed: another t with the same v1 fails.
    let other_t = headers(&[("stripe-signature", &format!("t={NOW},v1={v1}"))]);
    assert_eq!(
        code(verify(&s, &["whsec_x"], &other_t, BODY, NOW)),
        Some(ErrorCode::SignatureInvalid)
    );
}

#[test]
fn slack() {
    let s = spec(r#"{"scheme":"slack","secret":"slack_secret","tolerance":300}"#);
    let t = NOW.to_string();
    let sig = format!("v0={}", hex256(b"sk", &[b"v0:", t.as_bytes(), b":", BODY]));
    let h = headers(&[
        ("x-slack-signature", &sig),
        ("x-slack-request-timestamp", &t),
    ]);
    assert_eq!(verify(&s, &["sk"], &h, BODY, NOW + 300), Ok(()));
    assert_eq!(verify(&s, &["sk"], &h, BODY, NOW - 300), Ok(()));
    assert_eq!(
        code(verify(&s, &["sk"], &h, BODY, NOW + 301)),
        Some(ErrorCode::TimestampOutOfTolerance)
    );
    assert_eq!(
        message(verify(&s, &["sk"], &h[..1], BODY, NOW)),
        "Slack signature check failed: header X-Slack-Request-Timestamp is missing."
    );
    assert_eq!(
        code(verify(&s, &["nope"], &h, BODY, NOW)),
        Some(ErrorCode::SignatureInvalid)
    );
}

#[test]
fn standard_webhooks() {
    let s = spec(r#"{"scheme":"standardWebhooks","secret":"signing_secret","tolerance":300}"#);
    let key = [7u8; 32];
    let secret = format!("whsec_{}", BASE64.encode(key));
    let t = NOW.to_string();
    let sig = b64(
        &key,
        Algorithm::Sha256,
        &[b"msg_1", b".", t.as_bytes(), b".", BODY],
    );
    let value = format!("v1a,xyz v1,{sig}");
    let h = headers(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", &t),
        ("webhook-signature", &value),
    ]);
    assert_eq!(verify(&s, &[&secret], &h, BODY, NOW), Ok(()));
    let bare = BASE64.encode(key);
    assert_eq!(
        verify(&s, &[&bare], &h, BODY, NOW),
        Ok(()),
        "no whsec_ prefix"
    );
    let r = verify(&s, &["whsec_!!!", "not base64 either"], &h, BODY, NOW);
    assert_eq!(
        message(r),
        "Standard Webhooks signature check failed: the secret 'signing_secret' configured for this instance is not a Standard Webhooks key (whsec_ followed by the base64 key)."
    );
    // A bad value beside a good one, while rotating: the good one verifies.
    assert_eq!(verify(&s, &["whsec_!!!", &secret], &h, BODY, NOW), Ok(()));
    // The id is signed.
    let mut other = h.clone();
    other[0].1 = "msg_2".into();
    assert_eq!(
        code(verify(&s, &[&secret], &other, BODY, NOW)),
        Some(ErrorCode::SignatureInvalid)
    );
    let mut missing = h.clone();
    missing.remove(2);
    assert_eq!(
        message(verify(&s, &[&secret], &missing, BODY, NOW)),
        "Standard Webhooks signature check failed: header webhook-signature is missing."
    );
}

#[test]
fn shopify() {
    let s = spec(r#"{"scheme":"shopify","secret":"shopify_secret"}"#);
    let sig = b64(b"shpss", Algorithm::Sha256, &[BODY]);
    let h = headers(&[("x-shopify-hmac-sha256", &sig)]);
    assert_eq!(verify(&s, &["shpss"], &h, BODY, NOW), Ok(()));
    let unpadded = headers(&[("x-shopify-hmac-sha256", sig.trim_end_matches('='))]);
    assert_eq!(verify(&s, &["shpss"], &unpadded, BODY, NOW), Ok(()));
    assert_eq!(
        code(verify(&s, &["x"], &h, BODY, NOW)),
        Some(ErrorCode::SignatureInvalid)
    );
    assert_eq!(
        message(verify(&s, &["x"], &[], BODY, NOW)),
        "Shopify signature check failed: header X-Shopify-Hmac-Sha256 is missing."
    );
}

#[test]
fn generic_hmac_every_algorithm_and_encoding() {
    for (alg, name) in [
        (Algorithm::Sha1, "sha1"),
        (Algorithm::Sha256, "sha256"),
        (Algorithm::Sha512, "sha512"),
    ] {
        for encoding in ["hex", "base64"] {
            for prefix in ["", "sha=", "Sig "] {
                let s = spec(&format!(
                    r#"{{"scheme":"hmac","secret":"n","header":"x-signature","algorithm":"{name}","encoding":"{encoding}","prefix":"{prefix}"}}"#
                ));
                let tag = hmac(alg, b"key", &[BODY]);
                assert_eq!(tag.as_slice().len(), alg.digest_len());
                let digest = if encoding == "hex" {
                    tag.to_hex()
                } else {
                    BASE64.encode(tag.as_slice())
                };
                let h = headers(&[("x-signature", &format!("{prefix}{digest}"))]);
                assert_eq!(
                    verify(&s, &["key"], &h, BODY, NOW),
                    Ok(()),
                    "{name} {encoding} {prefix:?}"
                );
                assert_eq!(
                    code(verify(&s, &["key"], &h, b"", NOW)),
                    Some(ErrorCode::SignatureInvalid)
                );
                let wrong = headers(&[("x-signature", &format!("nope{digest}"))]);
                if !prefix.is_empty() {
                    assert_eq!(
                        code(verify(&s, &["key"], &wrong, BODY, NOW)),
                        Some(ErrorCode::SignatureInvalid)
                    );
                }
            }
        }
    }
    let s = spec(
        r#"{"scheme":"hmac","secret":"n","header":"x-signature","algorithm":"sha1","encoding":"hex","prefix":"sha1="}"#,
    );
    assert_eq!(
        message(verify(&s, &["key"], &[], BODY, NOW)),
        "HMAC signature check failed: header X-Signature is missing."
    );
    let h = headers(&[("x-signature", "sha256=00")]);
    assert_eq!(
        message(verify(&s, &["key"], &h, BODY, NOW)),
        "HMAC signature check failed: header X-Signature holds no sha1=<hex> signature."
    );
    // A SHA-256 digest is not a SHA-1 digest, whatever its first bytes.
    let long = format!("sha1={}", hmac(Algorithm::Sha256, b"key", &[BODY]).to_hex());
    let h = headers(&[("x-signature", &long)]);
    assert_eq!(
        code(verify(&s, &["key"], &h, BODY, NOW)),
        Some(ErrorCode::SignatureInvalid)
    );
}

#[test]
fn delivery_ids() {
    let h = headers(&[
        ("webhook-id", "msg_1"),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("x-shopify-webhook-id", "b54557e4"),
    ]);
    let id = |json: &str, body: &[u8]| delivery_id(&spec(json), &h, body);
    assert_eq!(
        id(r#"{"scheme":"standardWebhooks","secret":"s"}"#, BODY).as_deref(),
        Some("msg_1")
    );
    assert_eq!(
        id(r#"{"scheme":"github","secret":"s"}"#, BODY).as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
    assert_eq!(
        id(r#"{"scheme":"stripe","secret":"s"}"#, BODY).as_deref(),
        Some("evt_1")
    );
    assert_eq!(
        id(r#"{"scheme":"slack","secret":"s"}"#, BODY).as_deref(),
        Some("Ev1")
    );
    assert_eq!(
        id(r#"{"scheme":"slack","secret":"s"}"#, b"token=x&a=b"),
        None
    );
    assert_eq!(
        id(r#"{"scheme":"shopify","secret":"s"}"#, BODY).as_deref(),
        Some("b54557e4")
    );
    let hmac_spec = r#"{"scheme":"hmac","secret":"s","header":"x-sig","algorithm":"sha1","encoding":"hex","prefix":""}"#;
    assert_eq!(id(hmac_spec, BODY), None);
    assert_eq!(
        delivery_id(&spec(r#"{"scheme":"github","secret":"s"}"#), &[], BODY),
        None
    );
}
