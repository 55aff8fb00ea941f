//! Text decoding: never panics; error offsets inside the body; UTF-8 decodes to itself.
//! The property is `_core::fuzz_checks::text`, which `cargo test` also runs
//! over fuzz/corpus/text/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::text(data));
