//! The ingress hot path on hostile requests: only contract statuses, every refusal coded,
//! a JSON body refused as malformed exactly when serde_json refuses it.
//! The property is `_core::fuzz_checks::ingest_request`, which `cargo test` also runs
//! over fuzz/corpus/ingest/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::ingest_request(data));
