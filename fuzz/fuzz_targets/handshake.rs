//! Handshakes on arbitrary requests: never panic; answers are 200s.
//! The property is `_core::fuzz_checks::handshake`, which `cargo test` also runs
//! over fuzz/corpus/handshake/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::handshake(data));
