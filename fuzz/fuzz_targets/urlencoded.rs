//! Urlencoded decoding: never panics, bounded, equal to the reference (parse_qsl).
//! The property is `_core::fuzz_checks::urlencoded`, which `cargo test` also runs
//! over fuzz/corpus/urlencoded/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::urlencoded(data));
