//! Text decoding: never panics; error offsets lie inside the body.
#![no_main]

use _core::parse::{decode_text, TextError};
use libfuzzer_sys::fuzz_target;

const LABELS: [Option<&str>; 10] = [
    None,
    Some("utf-8"),
    Some("utf-16"),
    Some("utf-16be"),
    Some("latin-1"),
    Some("us-ascii"),
    Some("windows-1252"),
    Some("shift_jis"),
    Some("gb18030"),
    Some("iso-2022-jp"),
];

fuzz_target!(|input: (u8, &[u8])| {
    let (label, body) = input;
    let charset = LABELS[label as usize % LABELS.len()];
    match decode_text(body, charset) {
        Ok(_) => {}
        Err(TextError::Undecodable { offset, .. }) => assert!(offset < body.len()),
        Err(e) => panic!("{e}"),
    }
});
