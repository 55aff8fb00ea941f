//! Strict RFC 8259 JSON validation over raw bytes, without building a tree.
//!
//! One top-level value with optional surrounding whitespace; no NaN, no
//! Infinity, no trailing commas, no byte order mark, no comments. Strings
//! must be UTF-8, escapes must be valid and `\u` surrogates paired (like
//! `serde_json`). Nesting is tracked in a fixed bit stack, so validation is
//! iterative, allocation-free, and fails with [`JsonErrorKind::TooDeep`]
//! beyond [`MAX_DEPTH`] instead of overflowing the call stack. A number
//! whose integer part has more than [`MAX_INT_DIGITS`] digits is refused
//! ([`JsonErrorKind::NumberTooLong`]): Python could not decode it.
//!
//! UTF-8 is checked in bulk first; the grammar then runs over 64-byte blocks
//! classified with SIMD (`json_blocks`: AVX-512BW, AVX2 or SSE2, chosen at
//! run time), using the byte scanner (`json_scan`, shared with
//! [`json_pointer`](mod@crate::parse::json_pointer)) only for escapes, numbers
//! and literals. A document found invalid is scanned once more by the byte
//! scanner alone, which names the error and its offset.

use std::fmt;

use encoding_rs::Encoding;

use crate::parse::json_blocks;

/// Deepest nesting of arrays and objects that [`validate_json`] accepts.
pub const MAX_DEPTH: usize = 512;

/// Most digits the integer part of a number (before any `.`, `e` or `E`)
/// may have: CPython's default `sys.get_int_max_str_digits()`. Python
/// (`json.loads`, msgspec) refuses longer integers, and turning digits into an
/// int takes time quadratic in their count, so a document with a longer one
/// would be accepted and then never run (SPEC 9: accepted means runnable).
/// Floats with such integer parts are refused too: one rule, said in one
/// sentence to the sender.
///
/// KEEP IN SYNC with `MAX_INT_DIGITS` in `python/hookcore/parsing.py`.
pub const MAX_INT_DIGITS: usize = 4300;

/// Why a document is not valid JSON, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonError {
    /// What went wrong.
    pub kind: JsonErrorKind,
    /// Byte offset in the input where it went wrong.
    pub offset: usize,
}

/// The causes of a [`JsonError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// The input ended where `expected` was required.
    UnexpectedEnd { expected: &'static str },
    /// Byte `found` where `expected` was required.
    UnexpectedByte { found: u8, expected: &'static str },
    /// A backslash escape other than `\" \\ \/ \b \f \n \r \t` or `\u` and four hex digits.
    InvalidEscape,
    /// `\u` not followed by four hex digits.
    InvalidUnicodeEscape,
    /// A `\u` UTF-16 surrogate escape without its other half.
    LoneSurrogate,
    /// An unescaped control character (U+0000 to U+001F) inside a string.
    ControlCharacter,
    /// Bytes that are not UTF-8 (the offset is the first bad byte).
    InvalidUtf8,
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A number with more than [`MAX_INT_DIGITS`] digits before its fraction
    /// or exponent (the offset is where the number starts). Valid RFC 8259,
    /// but no Python decoder can run it: see [`MAX_INT_DIGITS`].
    NumberTooLong,
    /// Something other than whitespace after the top-level value.
    TrailingData,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            JsonErrorKind::UnexpectedEnd { expected } => {
                write!(f, "expected {expected}, found the end of the input")?;
            }
            JsonErrorKind::UnexpectedByte { found, expected } => {
                write!(f, "expected {expected}, found ")?;
                if found.is_ascii_graphic() {
                    write!(f, "'{}'", found as char)?;
                } else {
                    write!(f, "byte 0x{found:02x}")?;
                }
            }
            JsonErrorKind::InvalidEscape => f.write_str(
                "expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after a backslash in a string",
            )?,
            JsonErrorKind::InvalidUnicodeEscape => {
                f.write_str("expected four hex digits after \\u in a string")?;
            }
            JsonErrorKind::LoneSurrogate => {
                f.write_str("expected a \\u escape surrogate pair, found a lone surrogate")?;
            }
            JsonErrorKind::ControlCharacter => {
                f.write_str("expected an escape for a control character in a string")?;
            }
            JsonErrorKind::InvalidUtf8 => f.write_str("expected UTF-8 text")?,
            JsonErrorKind::TooDeep => {
                write!(f, "expected at most {MAX_DEPTH} nested arrays and objects")?;
            }
            JsonErrorKind::NumberTooLong => write!(
                f,
                "expected at most {MAX_INT_DIGITS} digits before the fraction and exponent of a number"
            )?,
            JsonErrorKind::TrailingData => {
                f.write_str("expected the end of the input after the top-level value")?;
            }
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for JsonError {}

/// The ingress's answer (400, code `json_number_too_long`) to a body refused
/// with [`JsonErrorKind::NumberTooLong`] at `offset`: what is wrong, where,
/// and what the sender can do instead.
pub fn number_too_long_message(offset: usize) -> String {
    format!(
        "A number in the JSON body (at byte {offset}) has more than {MAX_INT_DIGITS} digits \
         before its decimal point; send such numbers as strings."
    )
}

/// Check that `bytes` is exactly one valid JSON text (RFC 8259) that Python
/// can decode: no integer part longer than [`MAX_INT_DIGITS`] digits.
pub fn validate_json(bytes: &[u8]) -> Result<(), JsonError> {
    let utf8_end = Encoding::utf8_valid_up_to(bytes);
    if utf8_end < bytes.len() {
        return Err(JsonError {
            kind: JsonErrorKind::InvalidUtf8,
            offset: utf8_end,
        });
    }
    json_blocks::validate(bytes)
}

#[cfg(test)]
#[path = "tests/json.rs"]
mod tests;
