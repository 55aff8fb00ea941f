//! Digests and timestamps: never panic; a decoded digest encodes back to
//! the text it came from (hex in either case; base64 up to padding).
#![no_main]

use _core::verify::header::{decode_digest, parse_timestamp, DIGEST_BUF};
use _core::verify::Encoding;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let mut buf = [0u8; DIGEST_BUF];
    if let Some(bytes) = decode_digest(text, Encoding::Hex, &mut buf) {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert!(hex.eq_ignore_ascii_case(text));
    }
    let mut buf = [0u8; DIGEST_BUF];
    if let Some(bytes) = decode_digest(text, Encoding::Base64, &mut buf) {
        assert!(bytes.len() <= DIGEST_BUF);
        assert!(text.len() >= bytes.len());
    }
    if let Some(t) = parse_timestamp(text) {
        assert_eq!(t.to_string().parse::<u64>().ok(), Some(t));
    }
});
