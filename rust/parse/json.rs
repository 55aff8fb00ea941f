//! Strict RFC 8259 JSON validation over raw bytes, without building a tree.
//!
//! One top-level value with optional surrounding whitespace; no NaN, no
//! Infinity, no trailing commas, no byte order mark, no comments. Strings
//! must be UTF-8, escapes must be valid and `\u` surrogates paired (like
//! `serde_json`). Nesting is tracked in a fixed bit stack, so validation is
//! iterative, allocation-free, and fails with [`JsonErrorKind::TooDeep`]
//! beyond [`MAX_DEPTH`] instead of overflowing the call stack.
//!
//! String bodies are scanned eight bytes at a time (SWAR) for `"`, `\`,
//! control characters and non-ASCII bytes.

use std::fmt;

/// Deepest nesting of arrays and objects that [`validate_json`] accepts.
pub const MAX_DEPTH: usize = 512;

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
    /// A backslash escape other than `\" \\ \/ \b \f \n \r \t \uXXXX`.
    InvalidEscape,
    /// `\u` not followed by four hex digits.
    InvalidUnicodeEscape,
    /// A `\u` UTF-16 surrogate escape without its other half.
    LoneSurrogate,
    /// An unescaped control character (U+0000 to U+001F) inside a string.
    ControlCharacter,
    /// Bytes inside a string that are not UTF-8.
    InvalidUtf8,
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Something other than whitespace after the top-level value.
    TrailingData,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            JsonErrorKind::UnexpectedEnd { expected } => {
                write!(f, "expected {expected}, found the end of the input")?
            }
            JsonErrorKind::UnexpectedByte { found, expected } => {
                write!(f, "expected {expected}, found ")?;
                if found.is_ascii_graphic() {
                    write!(f, "'{}'", found as char)?
                } else {
                    write!(f, "byte 0x{found:02x}")?
                }
            }
            JsonErrorKind::InvalidEscape => f.write_str(
                "expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after a backslash in a string",
            )?,
            JsonErrorKind::InvalidUnicodeEscape => {
                f.write_str("expected four hex digits after \\u in a string")?
            }
            JsonErrorKind::LoneSurrogate => {
                f.write_str("expected a \\u escape surrogate pair, found a lone surrogate")?
            }
            JsonErrorKind::ControlCharacter => {
                f.write_str("expected an escape for a control character in a string")?
            }
            JsonErrorKind::InvalidUtf8 => f.write_str("expected UTF-8 text in a string")?,
            JsonErrorKind::TooDeep => {
                write!(f, "expected at most {MAX_DEPTH} nested arrays and objects")?
            }
            JsonErrorKind::TrailingData => {
                f.write_str("expected the end of the input after the top-level value")?
            }
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl std::error::Error for JsonError {}

/// Check that `bytes` is exactly one valid JSON text (RFC 8259).
pub fn validate_json(bytes: &[u8]) -> Result<(), JsonError> {
    let end = skip_ws(bytes, value_end(bytes, 0)?);
    if end < bytes.len() {
        return Err(error(end, JsonErrorKind::TrailingData));
    }
    Ok(())
}

#[cold]
fn error(offset: usize, kind: JsonErrorKind) -> JsonError {
    JsonError { kind, offset }
}

/// Error for the byte at `at` (or the end of input) where `expected` was required.
#[cold]
fn unexpected(bytes: &[u8], at: usize, expected: &'static str) -> JsonError {
    let kind = match bytes.get(at) {
        Some(&found) => JsonErrorKind::UnexpectedByte { found, expected },
        None => JsonErrorKind::UnexpectedEnd { expected },
    };
    error(at, kind)
}

/// Index of the first non-whitespace byte at or after `i`.
#[inline(always)]
pub(crate) fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&b) = bytes.get(i) {
        if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            return i;
        }
        i += 1;
        // Indentation: skip runs of spaces eight at a time.
        while let Some(chunk) = bytes.get(i..).and_then(|r| r.first_chunk::<8>()) {
            let not_space = u64::from_le_bytes(*chunk) ^ (LO * b' ' as u64);
            if not_space != 0 {
                i += (not_space.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
    }
    i
}

/// Validate one value starting at or after `start` (leading whitespace is
/// skipped) and return the index just past it.
pub(crate) fn value_end(bytes: &[u8], start: usize) -> Result<usize, JsonError> {
    // Bit set: the container at that depth is an object; clear: an array.
    let mut stack = [0u64; MAX_DEPTH / 64];
    let mut depth = 0usize;
    let mut i = start;
    'value: loop {
        i = skip_ws(bytes, i);
        let Some(&c) = bytes.get(i) else {
            return Err(unexpected(bytes, i, "a JSON value"));
        };
        match c {
            b'"' => i = string_end(bytes, i + 1)?,
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                if depth == MAX_DEPTH {
                    return Err(error(i, JsonErrorKind::TooDeep));
                }
                i = skip_ws(bytes, i + 1);
                if bytes.get(i) == Some(&close) {
                    i += 1;
                } else {
                    let (word, bit) = (depth / 64, 1u64 << (depth % 64));
                    if c == b'{' {
                        stack[word] |= bit;
                        i = member_value_start(bytes, i)?;
                    } else {
                        stack[word] &= !bit;
                    }
                    depth += 1;
                    continue 'value;
                }
            }
            b'-' | b'0'..=b'9' => i = number_end(bytes, i)?,
            b't' => i = literal_end(bytes, i, b"true")?,
            b'f' => i = literal_end(bytes, i, b"false")?,
            b'n' => i = literal_end(bytes, i, b"null")?,
            _ => return Err(unexpected(bytes, i, "a JSON value")),
        }
        // A value is complete: close containers until one continues.
        while depth > 0 {
            let top = depth - 1;
            let in_object = stack[top / 64] & (1u64 << (top % 64)) != 0;
            i = skip_ws(bytes, i);
            match (bytes.get(i), in_object) {
                (Some(b','), true) => {
                    i = member_value_start(bytes, skip_ws(bytes, i + 1))?;
                    continue 'value;
                }
                (Some(b','), false) => {
                    i += 1;
                    continue 'value;
                }
                (Some(b'}'), true) | (Some(b']'), false) => {
                    i += 1;
                    depth -= 1;
                }
                (_, true) => {
                    return Err(unexpected(bytes, i, "',' or '}' after an object member"))
                }
                (_, false) => {
                    return Err(unexpected(bytes, i, "',' or ']' after an array element"))
                }
            }
        }
        return Ok(i);
    }
}

/// `i` is at an object key: validate `"key" :` and return the index after ':'.
#[inline]
fn member_value_start(bytes: &[u8], i: usize) -> Result<usize, JsonError> {
    if bytes.get(i) != Some(&b'"') {
        return Err(unexpected(bytes, i, "'\"' to start an object key"));
    }
    let i = skip_ws(bytes, string_end(bytes, i + 1)?);
    if bytes.get(i) != Some(&b':') {
        return Err(unexpected(bytes, i, "':' after an object key"));
    }
    Ok(i + 1)
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bytes of `w` equal to `b` get their high bit set (exact for the lowest one).
#[inline(always)]
fn eq_mask(w: u64, b: u8) -> u64 {
    let x = w ^ (LO * b as u64);
    x.wrapping_sub(LO) & !x & HI
}

/// `i` is just past an opening quote: validate the string body and return
/// the index just past the closing quote.
#[inline]
pub(crate) fn string_end(bytes: &[u8], mut i: usize) -> Result<usize, JsonError> {
    loop {
        while let Some(chunk) = bytes.get(i..).and_then(|r| r.first_chunk::<8>()) {
            let w = u64::from_le_bytes(*chunk);
            // Quote, backslash, control (< 0x20) or non-ASCII (>= 0x80) bytes.
            let special = eq_mask(w, b'"') | eq_mask(w, b'\\') | ((w.wrapping_sub(LO * 0x20) | w) & HI);
            if special != 0 {
                i += (special.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match bytes.get(i) {
            None => return Err(unexpected(bytes, i, "'\"' to close a string")),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => i = escape(bytes, i)?.1,
            Some(0..=0x1f) => return Err(error(i, JsonErrorKind::ControlCharacter)),
            Some(0x80..) => i = utf8_char_end(bytes, i)?,
            Some(_) => i += 1,
        }
    }
}

/// `bytes[i]` is a non-ASCII byte: validate one UTF-8 sequence, return its end.
#[inline]
fn utf8_char_end(bytes: &[u8], i: usize) -> Result<usize, JsonError> {
    let bad = || error(i, JsonErrorKind::InvalidUtf8);
    let (len, lo, hi) = match bytes.get(i).copied().unwrap_or(0) {
        0xC2..=0xDF => (2, 0x80, 0xBF),
        0xE0 => (3, 0xA0, 0xBF),
        0xE1..=0xEC | 0xEE..=0xEF => (3, 0x80, 0xBF),
        0xED => (3, 0x80, 0x9F),
        0xF0 => (4, 0x90, 0xBF),
        0xF1..=0xF3 => (4, 0x80, 0xBF),
        0xF4 => (4, 0x80, 0x8F),
        _ => return Err(bad()),
    };
    let second = bytes.get(i + 1).copied().ok_or_else(bad)?;
    if !(lo..=hi).contains(&second) {
        return Err(bad());
    }
    for k in 2..len {
        if !matches!(bytes.get(i + k), Some(0x80..=0xBF)) {
            return Err(bad());
        }
    }
    Ok(i + len)
}

/// Four hex digits at `i` as a number.
fn hex4(bytes: &[u8], i: usize) -> Option<u32> {
    let digits = bytes.get(i..i.checked_add(4)?)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &d| Some((acc << 4) | (d as char).to_digit(16)?))
}

/// `bytes[i]` is a backslash in a string: decode the escape, return the
/// character and the index after the escape.
pub(crate) fn escape(bytes: &[u8], i: usize) -> Result<(char, usize), JsonError> {
    let c = match bytes.get(i + 1) {
        None => return Err(unexpected(bytes, i + 1, "an escape character")),
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return unicode_escape(bytes, i),
        Some(_) => return Err(error(i, JsonErrorKind::InvalidEscape)),
    };
    Ok((c, i + 2))
}

fn unicode_escape(bytes: &[u8], i: usize) -> Result<(char, usize), JsonError> {
    let unit = hex4(bytes, i + 2).ok_or_else(|| error(i, JsonErrorKind::InvalidUnicodeEscape))?;
    let lone = || error(i, JsonErrorKind::LoneSurrogate);
    let (code, end) = match unit {
        0xD800..=0xDBFF => {
            if bytes.get(i + 6..i + 8) != Some(b"\\u") {
                return Err(lone());
            }
            let low = hex4(bytes, i + 8)
                .ok_or_else(|| error(i + 6, JsonErrorKind::InvalidUnicodeEscape))?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(lone());
            }
            (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), i + 12)
        }
        0xDC00..=0xDFFF => return Err(lone()),
        _ => (unit, i + 6),
    };
    Ok((char::from_u32(code).ok_or_else(lone)?, end))
}

fn digits_end(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// `bytes[i]` starts a number: validate it, return the index just past it.
pub(crate) fn number_end(bytes: &[u8], mut i: usize) -> Result<usize, JsonError> {
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits_end(bytes, i + 1),
        _ => return Err(unexpected(bytes, i, "a digit")),
    }
    if bytes.get(i) == Some(&b'.') {
        if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            return Err(unexpected(bytes, i + 1, "a digit after '.'"));
        }
        i = digits_end(bytes, i + 1);
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(unexpected(bytes, i, "a digit in the exponent"));
        }
        i = digits_end(bytes, i);
    }
    Ok(i)
}

/// `bytes[i..]` should start with `word` (`true`, `false` or `null`).
pub(crate) fn literal_end(bytes: &[u8], i: usize, word: &'static [u8]) -> Result<usize, JsonError> {
    for (k, &w) in word.iter().enumerate() {
        if bytes.get(i + k) != Some(&w) {
            let expected = match word {
                b"true" => "'true'",
                b"false" => "'false'",
                _ => "'null'",
            };
            return Err(unexpected(bytes, i + k, expected));
        }
    }
    Ok(i + word.len())
}

#[cfg(test)]
#[path = "tests/json.rs"]
mod tests;
