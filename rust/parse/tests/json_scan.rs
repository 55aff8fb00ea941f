//! Tests of the scanner's word-at-a-time helpers against plain byte loops.

use proptest::prelude::*;

use super::*;

/// The lowest stop position in `chunk` and whether it is a quote, byte by byte.
fn reference(chunk: &[u8; 16]) -> Option<(u32, bool)> {
    let at = chunk
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some((at as u32, chunk[at] == b'"'))
}

fn lowest((quote, stop): (u32, u32)) -> Option<(u32, bool)> {
    (stop != 0).then(|| {
        let at = stop.trailing_zeros();
        (at, quote >> at & 1 != 0)
    })
}

fn chunk_bytes() -> impl Strategy<Value = [u8; 16]> {
    let byte = prop_oneof![
        4 => 0x20u8..0x7f,
        3 => b'0'..=b'9',
        1 => prop::sample::select(vec![b'"', b'\\', 0x00, 0x1f, 0x20, 0x7f, 0x80, 0xff, b'0', b'9', b'/', b':']),
        1 => any::<u8>(),
    ];
    prop::array::uniform16(byte)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn swar_classification_matches_bytes(chunk in chunk_bytes()) {
        prop_assert_eq!(lowest(classify_swar(&chunk)), reference(&chunk));
    }

    #[test]
    fn classification_matches_bytes(chunk in chunk_bytes()) {
        prop_assert_eq!(lowest(classify16(&chunk, 0).unwrap()), reference(&chunk));
    }

    #[test]
    fn digit_runs_match_bytes(bytes in prop::collection::vec(chunk_bytes(), 1..3), start in 0usize..16) {
        let bytes = bytes.concat();
        let expected = bytes[start..].iter().position(|b| !b.is_ascii_digit()).map_or(bytes.len(), |k| start + k);
        prop_assert_eq!(digits_end(&bytes, start), expected);
    }
}
