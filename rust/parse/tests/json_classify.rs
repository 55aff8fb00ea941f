//! The SIMD classifiers against the portable one.

use proptest::prelude::*;

use super::*;

fn block() -> impl Strategy<Value = [u8; 64]> {
    let byte = prop_oneof![
        2 => prop::sample::select(b"{}[]:,\"\\ \t\n\r\x00\x1f\x7f\x80\xff\x2c\x3a\x5b\x5d\x7b\x7d\x0b\x2a\x1a".to_vec()),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 64).prop_map(|v| {
        let mut block = [0u8; 64];
        block.copy_from_slice(&v);
        block
    })
}

#[test]
fn every_byte_value() {
    for start in (0..256).step_by(64) {
        let mut block = [0u8; 64];
        for (i, b) in block.iter_mut().enumerate() {
            *b = (start + i) as u8;
        }
        let expected = Portable::classify(&block);
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(Sse2::classify(&block), expected);
            if std::is_x86_feature_detected!("avx2") {
                assert_eq!(Avx2::classify(&block), expected);
            }
            if std::is_x86_feature_detected!("avx512bw") {
                assert_eq!(Avx512::classify(&block), expected);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn simd_matches_portable(block in block()) {
        let expected = Portable::classify(&block);
        prop_assert_eq!(Sse2::classify(&block), expected);
        if std::is_x86_feature_detected!("avx2") {
            prop_assert_eq!(Avx2::classify(&block), expected);
        }
        if std::is_x86_feature_detected!("avx512bw") {
            prop_assert_eq!(Avx512::classify(&block), expected);
        }
    }
}
