//! `Stripe-Signature` values: never panic; what is found is in the value.
#![no_main]

use _core::verify::header::{stripe_signatures, stripe_timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    if let Some(t) = stripe_timestamp(value) {
        assert!(value.contains(t));
    }
    for v1 in stripe_signatures(value) {
        assert!(value.contains(v1));
        assert!(!v1.contains(','));
    }
});
