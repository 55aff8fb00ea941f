//! JSON Pointer lookups: never panic; a found string is what serde_json sees.
#![no_main]

use _core::parse::{json_pointer, validate_json, JsonScalar};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &[u8])| {
    let (pointer, document) = input;
    let found = json_pointer(document, pointer);
    // serde_json keeps a '~' not followed by 0 or 1; RFC 6901 (and we) reject it.
    let bad_tilde = pointer.split('~').skip(1).any(|rest| !rest.starts_with(['0', '1']));
    if bad_tilde || validate_json(document).is_err() {
        return;
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(document) else {
        return;
    };
    let expected = value.pointer(pointer);
    match (&found, expected) {
        (Some(JsonScalar::String(s)), Some(serde_json::Value::String(e))) => assert_eq!(s, e),
        (Some(JsonScalar::Bool(b)), Some(serde_json::Value::Bool(e))) => assert_eq!(b, e),
        (Some(JsonScalar::Number(_)), Some(serde_json::Value::Number(_))) => {}
        (None, None | Some(serde_json::Value::Null | serde_json::Value::Array(_) | serde_json::Value::Object(_))) => {}
        _ => panic!("{found:?} vs {expected:?}"),
    }
});
