//! Decoding `text/*` bodies with their declared charset.
//!
//! - No charset or a UTF-8 label: UTF-8, a leading UTF-8 BOM stripped. With no
//!   charset, a UTF-16 BOM selects UTF-16 instead.
//! - Latin-1 labels (`iso-8859-1`, `latin-1`, `latin1`, `l1`, ...): true
//!   ISO-8859-1 (every byte is the code point of the same value), as Python's
//!   `latin-1` codec, not the WHATWG windows-1252 mapping.
//! - ASCII labels (`us-ascii`, `ascii`, ...): strict 7-bit ASCII, as Python.
//! - UTF-16 labels: a BOM decides the endianness (and is stripped); without
//!   one, `utf-16be` is big-endian and `utf-16`/`utf-16le` little-endian.
//! - Any other label `encoding_rs` knows (`windows-1252`, `shift_jis`,
//!   `gbk`, ...): that WHATWG decoder.
//!
//! Decoding never replaces: undecodable bytes give [`TextError::Undecodable`]
//! with the offset of the first bad byte, so the caller can keep the raw body.

use std::borrow::Cow;
use std::fmt;

use encoding_rs::{DecoderResult, Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// Why a text body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// The charset label is not one this decoder knows.
    UnknownCharset { label: String },
    /// The bytes at `offset` are not valid in `charset` (canonical name).
    Undecodable {
        charset: &'static str,
        offset: usize,
    },
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::UnknownCharset { label } => {
                write!(f, "expected a known charset, found {label:?}")
            }
            TextError::Undecodable { charset, offset } => {
                write!(
                    f,
                    "expected {charset} text, found undecodable bytes at byte {offset}"
                )
            }
        }
    }
}

impl std::error::Error for TextError {}

const LATIN1_LABELS: &[&str] = &[
    "iso-8859-1",
    "iso8859-1",
    "iso_8859-1",
    "iso88591",
    "iso_8859-1:1987",
    "latin-1",
    "latin1",
    "latin_1",
    "l1",
    "cp819",
    "ibm819",
    "iso-ir-100",
    "csisolatin1",
];

const ASCII_LABELS: &[&str] = &[
    "us-ascii",
    "ascii",
    "us",
    "ansi_x3.4-1968",
    "iso646-us",
    "iso-ir-6",
    "cp367",
    "ibm367",
    "csascii",
];

/// Decode a text body; `charset` is the Content-Type `charset` parameter.
pub fn decode_text<'a>(bytes: &'a [u8], charset: Option<&str>) -> Result<Cow<'a, str>, TextError> {
    let Some(label) = charset.map(|c| c.trim_matches([' ', '\t'])) else {
        return match bytes {
            [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => decode_utf16(bytes, UTF_16LE),
            _ => decode_utf8(bytes),
        };
    };
    let is = |labels: &[&str]| labels.iter().any(|l| l.eq_ignore_ascii_case(label));
    if is(LATIN1_LABELS) {
        return Ok(decode_latin1(bytes));
    }
    if is(ASCII_LABELS) {
        return decode_ascii(bytes);
    }
    match Encoding::for_label_no_replacement(label.as_bytes()) {
        None => Err(TextError::UnknownCharset {
            label: label.to_owned(),
        }),
        Some(enc) if enc == UTF_8 => decode_utf8(bytes),
        Some(enc) if enc == UTF_16LE || enc == UTF_16BE => decode_utf16(bytes, enc),
        Some(enc) => decode_with(bytes, enc, 0),
    }
}

fn decode_utf8(bytes: &[u8]) -> Result<Cow<'_, str>, TextError> {
    let (skip, rest) = match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => (3, rest),
        _ => (0, bytes),
    };
    // encoding_rs validates with SIMD, several times faster than std on non-ASCII text.
    UTF_8
        .decode_without_bom_handling_and_without_replacement(rest)
        .ok_or_else(|| TextError::Undecodable {
            charset: UTF_8.name(),
            offset: skip + Encoding::utf8_valid_up_to(rest),
        })
}

fn decode_latin1(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.is_ascii() => Cow::Borrowed(text),
        _ => Cow::Owned(bytes.iter().map(|&b| b as char).collect()),
    }
}

fn decode_ascii(bytes: &[u8]) -> Result<Cow<'_, str>, TextError> {
    match bytes.iter().position(|b| !b.is_ascii()) {
        Some(offset) => Err(TextError::Undecodable {
            charset: "US-ASCII",
            offset,
        }),
        None => Ok(String::from_utf8_lossy(bytes)),
    }
}

fn decode_utf16<'a>(
    bytes: &'a [u8],
    default: &'static Encoding,
) -> Result<Cow<'a, str>, TextError> {
    match bytes {
        [0xFF, 0xFE, ..] => decode_with(bytes, UTF_16LE, 2),
        [0xFE, 0xFF, ..] => decode_with(bytes, UTF_16BE, 2),
        _ => decode_with(bytes, default, 0),
    }
}

/// Decode `bytes[skip..]` with `enc`, reporting offsets relative to `bytes`.
fn decode_with<'a>(
    bytes: &'a [u8],
    enc: &'static Encoding,
    skip: usize,
) -> Result<Cow<'a, str>, TextError> {
    let body = bytes.get(skip..).unwrap_or_default();
    enc.decode_without_bom_handling_and_without_replacement(body)
        .ok_or_else(|| TextError::Undecodable {
            charset: enc.name(),
            offset: skip + malformed_offset(body, enc),
        })
}

/// Offset of the first malformed sequence of `body` in `enc`, found with a
/// fixed stack buffer instead of a full-size output allocation.
fn malformed_offset(body: &[u8], enc: &'static Encoding) -> usize {
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut buf = [0u8; 1024];
    let mut consumed = 0;
    loop {
        let src = body.get(consumed..).unwrap_or_default();
        let (result, read, _) = decoder.decode_to_utf8_without_replacement(src, &mut buf, true);
        consumed += read;
        match result {
            DecoderResult::OutputFull => continue,
            DecoderResult::InputEmpty => return body.len(),
            DecoderResult::Malformed(bad, after) => {
                return consumed.saturating_sub(bad as usize + after as usize)
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/text.rs"]
mod tests;
