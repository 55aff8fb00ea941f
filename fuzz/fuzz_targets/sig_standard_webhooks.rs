//! `webhook-signature` values: never panic; each signature is a `v1,` item's.
#![no_main]

use _core::verify::header::standard_webhooks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    for signature in standard_webhooks(value) {
        assert!(value.contains(&format!("v1,{signature}")));
        assert!(!signature.contains(|c: char| c.is_ascii_whitespace()));
    }
});
