//! Urlencoded and path decoding: never panic, bounded output.
#![no_main]

use _core::parse::{parse_urlencoded, percent_decode_path};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pairs = parse_urlencoded(data);
    assert!(pairs.len() <= data.len() / 2 + 1);
    if let Ok(text) = std::str::from_utf8(data) {
        let decoded = percent_decode_path(text);
        // Each input byte yields at most one U+FFFD (three bytes).
        assert!(decoded.len() <= 3 * text.len());
    }
});
