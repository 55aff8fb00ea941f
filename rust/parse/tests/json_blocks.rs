//! The block validator against byte-at-a-time references.

use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::parse::json_classify::Portable;
use crate::parse::MAX_INT_DIGITS;

/// Whether every grammar run this CPU can do (each classifier) finds
/// `bytes` valid; panics if they disagree.
fn fast_verdict(bytes: &[u8]) -> bool {
    let portable = run::<Portable>(bytes).is_some();
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(run::<Sse2>(bytes).is_some(), portable, "SSE2 vs portable");
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("pclmulqdq") {
            // SAFETY: the CPU has both features.
            assert_eq!(
                unsafe { run_avx2(bytes) }.is_some(),
                portable,
                "AVX2 vs portable"
            );
        }
        if std::is_x86_feature_detected!("avx512bw") && std::is_x86_feature_detected!("pclmulqdq") {
            // SAFETY: the CPU has the features.
            assert_eq!(
                unsafe { run_avx512(bytes) }.is_some(),
                portable,
                "AVX-512 vs portable"
            );
        }
    }
    portable
}

/// The fast path and the scanner agree on `bytes`.
fn check_agreement(bytes: &[u8]) -> Result<(), TestCaseError> {
    let verdict = scanner_verdict(bytes);
    prop_assert_eq!(
        fast_verdict(bytes),
        verdict.is_ok(),
        "{:?}",
        String::from_utf8_lossy(bytes)
    );
    prop_assert_eq!(validate(bytes), verdict);
    Ok(())
}

/// Escaped bits over a whole byte string, the slow way.
fn reference_escaped(bytes: &[u8]) -> Vec<bool> {
    let mut escaped = vec![false; bytes.len()];
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        escaped[i] = b != b'\\' && run % 2 == 1;
        run = if b == b'\\' { run + 1 } else { 0 };
    }
    escaped
}

fn block(bytes: &[u8]) -> [u8; 64] {
    let mut block = [b' '; 64];
    block[..bytes.len()].copy_from_slice(bytes);
    block
}

fn json_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(":".to_owned()),
        Just(",".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\\\\".to_owned()),
        Just("\\\"".to_owned()),
        Just("\\u00e9".to_owned()),
        Just("\\ud83d\\ude00".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("\t".to_owned()),
        Just("\u{1}".to_owned()),
        Just("true".to_owned()),
        Just("nul".to_owned()),
        "-?[0-9]{1,3}(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?",
        "[a-z é]{1,40}",
        "\"[a-z]{0,70}\"",
    ];
    prop::collection::vec(piece, 0..60).prop_map(|p| p.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,80}".prop_map(Value::String),
        "[\\\\\"a]{0,80}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\\\\\"]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn escaped_bits_match_reference(
        bytes in prop::collection::vec(prop::sample::select(b"\\\\\\\\x\"".to_vec()), 0..320),
    ) {
        let expected = reference_escaped(&bytes);
        let mut carry = 0;
        for (k, chunk) in bytes.chunks(64).enumerate() {
            let c = Portable::classify(&block(chunk));
            let escaped = escaped_bits(c.backslash, &mut carry);
            for i in 0..chunk.len() {
                prop_assert_eq!(escaped >> i & 1 != 0, expected[k * 64 + i], "byte {}", k * 64 + i);
            }
        }
    }

    #[test]
    fn agrees_with_scanner_on_noise(text in json_text()) {
        check_agreement(text.as_bytes())?;
    }

    #[test]
    fn agrees_with_scanner_on_documents(value in json_value(), cut in any::<prop::sample::Index>(), byte in prop::sample::select(b"{}[]\",:\\ 1e-.ta\x01".to_vec())) {
        let doc = serde_json::to_vec(&value).unwrap();
        prop_assert!(fast_verdict(&doc));
        let pretty = serde_json::to_vec_pretty(&value).unwrap();
        prop_assert!(fast_verdict(&pretty));
        let mut mutated = doc.clone();
        let at = cut.index(mutated.len() + 1);
        mutated.insert(at, byte);
        check_agreement(&mutated)?;
        mutated.truncate(at);
        check_agreement(&mutated)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Numbers around the digit limit, anywhere in a block: the fast path
    /// refuses exactly the ones the scanner refuses, as `NumberTooLong`.
    #[test]
    fn long_numbers_agree_with_scanner(
        pad in 0usize..130,
        minus in any::<bool>(),
        len in prop::sample::select(vec![1usize, 7, 8, 9, 4299, 4300, 4301, 4302, 9000]),
        tail in prop::sample::select(vec!["", ".5", "e7", ".25E-3", "x"]),
        leading_zero in any::<bool>(),
    ) {
        let sign = if minus { "-" } else { "" };
        let first = if leading_zero { "0" } else { "9" };
        let digits = format!("{first}{}", "1".repeat(len - 1));
        let doc = format!("{{\"k\":[{}{sign}{digits}{tail}, 1]}}", " ".repeat(pad));
        check_agreement(doc.as_bytes())?;
        let verdict = validate(doc.as_bytes());
        let too_long = len > MAX_INT_DIGITS && !leading_zero;
        prop_assert_eq!(
            verdict.is_ok(),
            !too_long && tail != "x" && (!leading_zero || len == 1),
            "{:?}", verdict
        );
        if too_long {
            prop_assert_eq!(verdict, Err(JsonError { kind: JsonErrorKind::NumberTooLong, offset: 6 + pad }));
        }
    }
}

#[test]
fn strings_across_blocks() {
    for len in 0..200 {
        for filler in ["x", "\\\\", "\\\"", "é"] {
            let body = filler.repeat(len / filler.len() + 1);
            let doc = format!("[\"{body}\",{len}]");
            assert!(fast_verdict(doc.as_bytes()), "{doc}");
            let open = format!("[\"{body}");
            assert!(!fast_verdict(open.as_bytes()), "{open}");
        }
    }
}
