//! The whole signature check under every scheme: never panics; a refusal is a 401 naming its scheme.
//! The property is `_core::fuzz_checks::verify_request`, which `cargo test` also runs
//! over fuzz/corpus/verify/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::verify_request(data));
