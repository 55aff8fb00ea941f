//! JSON validation: never panics, and agrees with serde_json but for the
//! integer parts longer than Python decodes, which only we refuse.
#![no_main]

use _core::parse::{validate_json, JsonErrorKind, MAX_INT_DIGITS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ours = validate_json(data);
    if let Err(e) = ours {
        assert!(e.offset <= data.len());
        match e.kind {
            // serde_json nests at most 128 levels; beyond that only we can judge.
            JsonErrorKind::TooDeep => return,
            // A number starts at the offset, its integer part too long.
            JsonErrorKind::NumberTooLong => {
                let number = &data[e.offset..];
                let number = number.strip_prefix(b"-").unwrap_or(number);
                let digits = number.iter().take_while(|b| b.is_ascii_digit()).count();
                assert!(digits > MAX_INT_DIGITS, "{digits} digits at {}", e.offset);
                assert!(matches!(number.first(), Some(b'1'..=b'9')));
                return;
            }
            _ => {}
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
