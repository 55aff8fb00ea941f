//! JSON validation: never panics, and agrees with serde_json (but for integers longer than Python decodes).
//! The property is `_core::fuzz_checks::json`, which `cargo test` also runs
//! over fuzz/corpus/json/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::json(data));
