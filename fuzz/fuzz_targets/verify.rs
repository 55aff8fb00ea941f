//! The whole check under every scheme, on arbitrary headers, bodies and
//! secrets: never panics, and a refusal is a 401 naming its scheme.
#![no_main]

use _core::verify::{delivery_id, verify, VerifySpec};
use libfuzzer_sys::fuzz_target;

const SPECS: [&str; 7] = [
    r#"{"scheme":"standardWebhooks","secret":"s","tolerance":300}"#,
    r#"{"scheme":"github","secret":"s"}"#,
    r#"{"scheme":"stripe","secret":"s","tolerance":300}"#,
    r#"{"scheme":"slack","secret":"s","tolerance":300}"#,
    r#"{"scheme":"shopify","secret":"s"}"#,
    r#"{"scheme":"hmac","secret":"s","header":"x-sig","algorithm":"sha1","encoding":"hex","prefix":"sha1="}"#,
    r#"{"scheme":"hmac","secret":"s","header":"x-sig","algorithm":"sha512","encoding":"base64","prefix":""}"#,
];

const NAMES: [&str; 9] = [
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

fuzz_target!(|input: (Vec<(u8, String)>, Vec<String>, &[u8], u64)| {
    let (values, secrets, body, now) = input;
    let headers: Vec<(String, String)> = values
        .into_iter()
        .map(|(i, v)| (NAMES[usize::from(i) % NAMES.len()].to_owned(), v))
        .collect();
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    for json in SPECS {
        let spec = VerifySpec::from_json(json.as_bytes()).unwrap();
        if let Err(r) = verify(&spec, &secrets, &headers, body, now) {
            assert_eq!(r.status(), 401);
            assert!(r.message.starts_with(spec.scheme_name()));
        }
        let _ = delivery_id(&spec, &headers, body);
    }
});
