//! Urlencoded decoding: never panic, bounded output.
#![no_main]

use _core::parse::parse_urlencoded;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut pairs = parse_urlencoded(data);
    let (mut count, mut decoded) = (0, 0);
    while let Some((name, value)) = pairs.next_pair() {
        count += 1;
        decoded += name.len() + value.len();
    }
    assert!(count <= data.len() / 2 + 1);
    // Each input byte yields at most one U+FFFD (three bytes).
    assert!(decoded <= 3 * data.len());
});
