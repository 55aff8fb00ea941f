//! Sequences of routing records from arbitrary bytes: never panic, the router agrees with a
//! model of the valid records after every call, and a refused record changes no answer.
//! The property is `_core::fuzz_checks::route_records`, which `cargo test` also runs
//! over fuzz/corpus/route_records/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::route_records(data));
