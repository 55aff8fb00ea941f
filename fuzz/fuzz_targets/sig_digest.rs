//! Digests and timestamps: never panic; a decoded hex digest encodes back to its text.
//! The property is `_core::fuzz_checks::sig_digest`, which `cargo test` also runs
//! over fuzz/corpus/sig_digest/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::sig_digest(data));
