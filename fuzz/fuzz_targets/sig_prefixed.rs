//! `{prefix}{digest}` lists (GitHub, Slack, Shopify, `verify.hmac`): never
//! panic; each digest is a piece of the value.
#![no_main]

use _core::verify::header::prefixed;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str)| {
    let (prefix, value) = input;
    for digest in prefixed(value, prefix) {
        assert!(value.contains(digest));
    }
});
