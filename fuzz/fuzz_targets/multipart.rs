//! Multipart parsing: never panics; parts lie inside the body, within limits.
#![no_main]

use _core::parse::{parse_multipart, MultipartLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &[u8])| {
    let (boundary_len, data) = input;
    // The first bytes are the boundary, so the fuzzer can make it appear in the body.
    let split = (boundary_len as usize % 8).min(data.len());
    let (boundary, body) = data.split_at(split);
    let limits = MultipartLimits {
        max_parts: 8,
        max_part_header_bytes: 256,
    };
    if let Ok(parts) = parse_multipart(body, boundary, &limits) {
        assert!(parts.len() <= limits.max_parts);
        for part in &parts {
            assert!(part.data.start <= part.data.end && part.data.end <= body.len());
        }
    }
});
