//! JSON Pointer lookups: never panic; a found value is what serde_json sees.
#![no_main]

use _core::parse::{json_pointer, validate_json, JsonScalar};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|input: (&str, &[u8])| {
    let (pointer, document) = input;
    let found = json_pointer(document, pointer);
    // serde_json keeps a '~' not followed by 0 or 1; RFC 6901 (and we) reject it.
    let bad_tilde = pointer
        .split('~')
        .skip(1)
        .any(|rest| !rest.starts_with(['0', '1']));
    if bad_tilde || validate_json(document).is_err() {
        return;
    }
    let Ok(value) = serde_json::from_slice::<Value>(document) else {
        return;
    };
    let expected = value.pointer(pointer);
    match (&found, expected) {
        (Some(JsonScalar::String(s)), Some(Value::String(e))) => assert_eq!(s, e),
        (Some(JsonScalar::Bool(b)), Some(Value::Bool(e))) => assert_eq!(b, e),
        (Some(JsonScalar::Number(_)), Some(Value::Number(_))) => {}
        (None, None | Some(Value::Null | Value::Array(_) | Value::Object(_))) => {}
        _ => panic!("{found:?} vs {expected:?}"),
    }
});
