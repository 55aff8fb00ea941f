//! NATS server frames: never panic, at most one event per input byte.
//! The property is `_core::fuzz_checks::nats_wire`, which `cargo test` also runs
//! over fuzz/corpus/nats_wire/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::nats_wire(data));
