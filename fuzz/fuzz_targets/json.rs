//! JSON validation: never panics, and agrees with serde_json.
#![no_main]

use _core::parse::{validate_json, JsonErrorKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours = validate_json(data);
    if let Err(e) = ours {
        assert!(e.offset <= data.len());
        // serde_json nests at most 128 levels; beyond that only we can judge.
        if e.kind == JsonErrorKind::TooDeep {
            return;
        }
    }
    let syntax = serde_json::from_slice::<serde::de::IgnoredAny>(data);
    let theirs = match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(_) => true,
        Err(e) if e.to_string().starts_with("recursion limit") => return,
        // Valid JSON whose number does not fit an f64.
        Err(e) => e.to_string().starts_with("number out of range"),
    };
    let theirs = theirs && syntax.is_ok() && std::str::from_utf8(data).is_ok();
    assert_eq!(ours.is_ok(), theirs, "{ours:?}");
});
