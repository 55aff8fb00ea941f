//! Property tests of the JSON validator and pointer, with `serde_json` as the oracle.

use proptest::prelude::*;
use serde_json::Value;

use crate::parse::{json_pointer, validate_json, JsonErrorKind, JsonScalar, MAX_INT_DIGITS};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z~/\"\\\\ ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z~/\"\\\\ é]{0,5}|\\PC{0,5}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Whether serde_json accepts `bytes` as a JSON document. Numbers outside
/// the f64 range are valid JSON that `Value` cannot represent, so syntax is
/// checked with `IgnoredAny` (which skips UTF-8 and surrogate checks), and
/// those with `Value`, forgiving only its range errors.
fn serde_accepts(bytes: &[u8]) -> bool {
    let syntax = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
    let strings = match serde_json::from_slice::<Value>(bytes) {
        Ok(_) => true,
        Err(e) => e.to_string().starts_with("number out of range"),
    };
    syntax && strings && std::str::from_utf8(bytes).is_ok()
}

#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, u8),
    Delete(usize),
    Replace(usize, u8),
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(b"{}[]\",:\\ \n-+.eE0123456789tfnulx/u".to_vec()),
        any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    let len = doc.len();
    match *m {
        Mutation::Insert(i, b) => doc.insert(i % (len + 1), b),
        Mutation::Delete(i) if len > 0 => {
            doc.remove(i % len);
        }
        Mutation::Replace(i, b) if len > 0 => doc[i % len] = b,
        _ => {}
    }
}

/// Pointers to every leaf of `value`, with the leaf.
fn leaves<'v>(value: &'v Value, pointer: String, out: &mut Vec<(String, &'v Value)>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                leaves(item, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let token = key.replace('~', "~0").replace('/', "~1");
                leaves(item, format!("{pointer}/{token}"), out);
            }
        }
        _ => out.push((pointer, value)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validate_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = validate_json(&bytes);
        let _ = json_pointer(&bytes, "/a/0");
    }

    #[test]
    fn generated_documents_are_valid(value in json_value()) {
        let compact = serde_json::to_vec(&value).unwrap();
        prop_assert_eq!(validate_json(&compact), Ok(()));
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        prop_assert_eq!(validate_json(&pretty), Ok(()));
    }

    #[test]
    fn mutated_documents_agree_with_serde(
        value in json_value(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let mut doc = serde_json::to_vec(&value).unwrap();
        for m in &mutations {
            apply(&mut doc, m);
        }
        let ours = validate_json(&doc);
        prop_assert_eq!(ours.is_ok(), serde_accepts(&doc), "{:?} -> {:?}", String::from_utf8_lossy(&doc), ours);
    }

    #[test]
    fn pointer_finds_every_scalar_leaf(value in json_value()) {
        let doc = serde_json::to_vec_pretty(&value).unwrap();
        let mut found = Vec::new();
        leaves(&value, String::new(), &mut found);
        for (pointer, leaf) in found {
            let got = json_pointer(&doc, &pointer);
            match leaf {
                Value::String(s) => prop_assert_eq!(got, Some(JsonScalar::String(s.as_str().into()))),
                Value::Bool(b) => prop_assert_eq!(got, Some(JsonScalar::Bool(*b))),
                Value::Number(n) => {
                    let text = n.to_string();
                    prop_assert_eq!(got, Some(JsonScalar::Number(&text)));
                }
                _ => prop_assert_eq!(got, None),
            }
        }
    }

    /// serde_json reads any number of digits; we refuse integer parts longer
    /// than Python decodes, and nothing else.
    #[test]
    fn long_numbers_agree_with_serde_but_for_the_digit_limit(
        value in json_value(),
        len in (MAX_INT_DIGITS - 3)..(MAX_INT_DIGITS + 3),
        number in "-?[1-9](\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
    ) {
        // The generated integer part is one digit: widen it to `len` digits.
        let (sign, rest) = number.split_at(usize::from(number.starts_with('-')));
        let widened = format!("{sign}{}{}", "4".repeat(len - 1), rest);
        let doc = format!("[{value}, {widened}]");
        let ours = validate_json(doc.as_bytes());
        prop_assert!(serde_accepts(doc.as_bytes()));
        if len > MAX_INT_DIGITS {
            prop_assert_eq!(ours.map_err(|e| e.kind), Err(JsonErrorKind::NumberTooLong));
        } else {
            prop_assert_eq!(ours, Ok(()));
        }
    }

    #[test]
    fn pointer_never_panics(bytes in prop::collection::vec(interesting_byte(), 0..64), pointer in "(/[a-z0-9~]{0,3}){0,4}") {
        let _ = json_pointer(&bytes, &pointer);
    }
}
