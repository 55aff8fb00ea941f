//! `Content-Type` parsing: never panics; the kind ignores ASCII case.
//! The property is `_core::fuzz_checks::content_type`, which `cargo test` also runs
//! over fuzz/corpus/content_type/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::content_type(data));
