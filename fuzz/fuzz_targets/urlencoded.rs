//! Urlencoded decoding: never panic, bounded output.
#![no_main]

use _core::parse::parse_urlencoded;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs = parse_urlencoded(data);
    assert!(pairs.len() <= data.len() / 2 + 1);
    // Each input byte yields at most one U+FFFD (three bytes).
    let decoded: usize = pairs.iter().map(|(n, v)| n.len() + v.len()).sum();
    assert!(decoded <= 3 * data.len());
});
