//! Multipart parsing: never panics; parts shaped as RFC 2046 says, limits only add limit errors,
//! preamble and epilogue change nothing, parts written again parse the same; a built body round-trips.
//! The property is `_core::fuzz_checks::multipart`, which `cargo test` also runs
//! over fuzz/corpus/multipart/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::multipart(data));
