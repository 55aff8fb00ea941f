//! `webhook-signature` values: never panic; each signature is a `v1,` item's.
//! The property is `_core::fuzz_checks::sig_standard_webhooks`, which `cargo test` also runs
//! over fuzz/corpus/sig_standard_webhooks/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::sig_standard_webhooks(data));
