//! `{prefix}{digest}` lists: never panic; each digest is a piece of the value.
//! The property is `_core::fuzz_checks::sig_prefixed`, which `cargo test` also runs
//! over fuzz/corpus/sig_prefixed/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::sig_prefixed(data));
