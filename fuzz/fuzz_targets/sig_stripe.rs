//! `Stripe-Signature` values: never panic; what is found is in the value.
//! The property is `_core::fuzz_checks::sig_stripe`, which `cargo test` also runs
//! over fuzz/corpus/sig_stripe/ (add a crashing input there once fixed).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| _core::fuzz_checks::sig_stripe(data));
