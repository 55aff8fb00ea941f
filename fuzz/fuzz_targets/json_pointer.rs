//! JSON Pointer lookups (pointer, newline, document): a found value is what serde_json sees.
//! The property is `_core::fuzz_checks::json_pointer_lookup`, which `cargo test` also runs
//! over fuzz/corpus/json_pointer/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::json_pointer_lookup(data));
