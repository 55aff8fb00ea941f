//! The byte-at-a-time JSON scanner: it walks single values for
//! [`json_pointer`](crate::parse::json_pointer), checks escapes, numbers and
//! literals for the block validator behind
//! [`validate_json`](crate::parse::validate_json), and is the reference that
//! validator is tested against.
//!
//! The input must already be known to be UTF-8 (checked in bulk with
//! `encoding_rs`'s SIMD validator), so string scanning only stops at `"`,
//! `\` and control bytes. Hot functions return `Option` (which fits in
//! registers) and record the error in the scanner on failure. Nesting is
//! tracked in a fixed bit stack, so scanning is iterative and
//! allocation-free. String bodies are skipped sixteen bytes at a time with
//! SSE2 on x86_64 (SWAR elsewhere), and digit runs eight at a time.

use crate::parse::json::{JsonError, JsonErrorKind, MAX_DEPTH, MAX_INT_DIGITS};

const LO: u64 = 0x0101_0101_0101_0101;
const NIBBLE_HI: u64 = 0xF0F0_F0F0_F0F0_F0F0;
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// A JSON scanner over UTF-8 `bytes` that remembers why it last failed.
pub(crate) struct Scanner<'a> {
    bytes: &'a [u8],
    error: Option<JsonError>,
}

impl<'a> Scanner<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, error: None }
    }

    /// The error recorded by the call that returned `None`.
    pub fn into_error(self) -> JsonError {
        self.error.unwrap_or(JsonError {
            kind: JsonErrorKind::UnexpectedEnd {
                expected: "a JSON value",
            },
            offset: 0,
        })
    }

    #[cold]
    #[inline(never)]
    pub fn fail<T>(&mut self, offset: usize, kind: JsonErrorKind) -> Option<T> {
        self.error = Some(JsonError { kind, offset });
        None
    }

    /// Fail on the byte at `at` (or the end of input) where `expected` was required.
    #[cold]
    #[inline(never)]
    pub fn unexpected<T>(&mut self, at: usize, expected: &'static str) -> Option<T> {
        let kind = match self.bytes.get(at) {
            Some(&found) => JsonErrorKind::UnexpectedByte { found, expected },
            None => JsonErrorKind::UnexpectedEnd { expected },
        };
        self.fail(at, kind)
    }

    /// Index of the first non-whitespace byte at or after `i`.
    #[inline(always)]
    pub fn skip_ws(&self, mut i: usize) -> usize {
        let bytes = self.bytes;
        while let Some(&b) = bytes.get(i) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return i;
            }
            i += 1;
            // Indentation: skip runs of spaces eight at a time.
            while let Some(chunk) = bytes.get(i..).and_then(|r| r.first_chunk::<8>()) {
                let not_space = u64::from_le_bytes(*chunk) ^ (LO * u64::from(b' '));
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
    pub fn value_end(&mut self, start: usize) -> Option<usize> {
        // Bit set: the container at that depth is an object; clear: an array.
        let mut stack = [0u64; MAX_DEPTH / 64];
        let mut depth = 0usize;
        let mut in_object = false;
        let mut i = start;
        'value: loop {
            i = self.skip_ws(i);
            let c = self.bytes.get(i);
            if c == Some(&b'"') {
                i = self.string_end(i + 1)?;
            } else {
                match c {
                    Some(&c @ (b'{' | b'[')) => {
                        if depth == MAX_DEPTH {
                            return self.fail(i, JsonErrorKind::TooDeep);
                        }
                        let close = if c == b'{' { b'}' } else { b']' };
                        i = self.skip_ws(i + 1);
                        if self.bytes.get(i) == Some(&close) {
                            i += 1;
                        } else {
                            in_object = c == b'{';
                            let bit = 1u64 << (depth % 64);
                            if in_object {
                                stack[depth / 64] |= bit;
                                i = self.member_value_start(i)?;
                            } else {
                                stack[depth / 64] &= !bit;
                            }
                            depth += 1;
                            continue 'value;
                        }
                    }
                    Some(b'-' | b'0'..=b'9') => i = self.number_end(i)?,
                    Some(b't') => i = self.literal_end(i, b"true")?,
                    Some(b'f') => i = self.literal_end(i, b"false")?,
                    Some(b'n') => i = self.literal_end(i, b"null")?,
                    _ => return self.unexpected(i, "a JSON value"),
                }
            }
            // A value is complete: close containers until one continues.
            while depth > 0 {
                i = self.skip_ws(i);
                match (self.bytes.get(i), in_object) {
                    (Some(b','), true) => {
                        i = self.member_value_start(self.skip_ws(i + 1))?;
                        continue 'value;
                    }
                    (Some(b','), false) => {
                        i += 1;
                        continue 'value;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        i += 1;
                        depth -= 1;
                        if let Some(top) = depth.checked_sub(1) {
                            in_object = stack[top / 64] & (1u64 << (top % 64)) != 0;
                        }
                    }
                    (_, true) => return self.unexpected(i, "',' or '}' after an object member"),
                    (_, false) => return self.unexpected(i, "',' or ']' after an array element"),
                }
            }
            return Some(i);
        }
    }

    /// `i` is at an object key: validate `"key" :` and return the index after ':'.
    #[inline]
    fn member_value_start(&mut self, i: usize) -> Option<usize> {
        if self.bytes.get(i) != Some(&b'"') {
            return self.unexpected(i, "'\"' to start an object key");
        }
        let i = self.string_end(i + 1)?;
        let i = self.skip_ws(i);
        if self.bytes.get(i) != Some(&b':') {
            return self.unexpected(i, "':' after an object key");
        }
        Some(i + 1)
    }

    /// `i` is just past an opening quote: validate the string body and return
    /// the index just past the closing quote.
    #[inline(always)]
    pub fn string_end(&mut self, i: usize) -> Option<usize> {
        // Fast path, inlined: a short string without escapes or non-ASCII.
        if let Some(end) = short_string_end(self.bytes, i) {
            return Some(end);
        }
        self.long_string_end(i)
    }

    #[inline(never)]
    fn long_string_end(&mut self, mut i: usize) -> Option<usize> {
        loop {
            i = skip_plain(self.bytes, i);
            match self.bytes.get(i) {
                Some(b'"') => return Some(i + 1),
                Some(b'\\') => i = self.escape(i)?.1,
                Some(0..=0x1f) => return self.fail(i, JsonErrorKind::ControlCharacter),
                Some(_) => i += 1,
                None => return self.unexpected(i, "'\"' to close a string"),
            }
        }
    }

    /// `bytes[i]` is a backslash in a string: decode the escape, return the
    /// character and the index after the escape.
    pub fn escape(&mut self, i: usize) -> Option<(char, usize)> {
        let c = match self.bytes.get(i + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(i),
            Some(_) => return self.fail(i, JsonErrorKind::InvalidEscape),
            None => return self.unexpected(i + 1, "an escape character"),
        };
        Some((c, i + 2))
    }

    fn unicode_escape(&mut self, i: usize) -> Option<(char, usize)> {
        let Some(unit) = hex4(self.bytes, i + 2) else {
            return self.fail(i, JsonErrorKind::InvalidUnicodeEscape);
        };
        let (code, end) = match unit {
            0xD800..=0xDBFF => {
                if self.bytes.get(i + 6..i + 8) != Some(b"\\u") {
                    return self.fail(i, JsonErrorKind::LoneSurrogate);
                }
                let Some(low) = hex4(self.bytes, i + 8) else {
                    return self.fail(i + 6, JsonErrorKind::InvalidUnicodeEscape);
                };
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return self.fail(i, JsonErrorKind::LoneSurrogate);
                }
                (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), i + 12)
            }
            _ => (unit, i + 6),
        };
        match char::from_u32(code) {
            Some(c) => Some((c, end)),
            None => self.fail(i, JsonErrorKind::LoneSurrogate),
        }
    }

    /// `bytes[i]` starts a number: validate it, return the index just past it.
    ///
    /// Short non-negative integers (the common case) are recognised from one
    /// eight-byte word; anything else takes the full grammar, which also
    /// refuses integer parts longer than [`MAX_INT_DIGITS`] digits.
    #[inline(always)]
    pub fn number_end(&mut self, i: usize) -> Option<usize> {
        if let Some(chunk) = self.bytes.get(i..).and_then(|r| r.first_chunk::<8>()) {
            let len = (non_digits(u64::from_le_bytes(*chunk)).trailing_zeros() / 8) as usize;
            if let (Some(&first), Some(&next)) = (chunk.first(), chunk.get(len)) {
                let leading_zero = first == b'0' && len > 1;
                if len > 0 && !leading_zero && next != b'.' && next | 0x20 != b'e' {
                    return Some(i + len);
                }
            }
        }
        self.number_end_full(i)
    }

    #[inline(never)]
    fn number_end_full(&mut self, start: usize) -> Option<usize> {
        let bytes = self.bytes;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                let first = i;
                i = digits_end(bytes, i + 1);
                if i - first > MAX_INT_DIGITS {
                    return self.fail(start, JsonErrorKind::NumberTooLong);
                }
            }
            _ => return self.unexpected(i, "a digit"),
        }
        if bytes.get(i) == Some(&b'.') {
            if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                return self.unexpected(i + 1, "a digit after '.'");
            }
            i = digits_end(bytes, i + 1);
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
                return self.unexpected(i, "a digit in the exponent");
            }
            i = digits_end(bytes, i);
        }
        Some(i)
    }

    /// `bytes[i..]` should start with `word` (`true`, `false` or `null`).
    #[inline]
    pub fn literal_end(&mut self, i: usize, word: &'static [u8]) -> Option<usize> {
        let end = i + word.len();
        if self.bytes.get(i..end) == Some(word) {
            return Some(end);
        }
        let matched = (0..word.len())
            .take_while(|&k| self.bytes.get(i + k) == word.get(k))
            .count();
        let expected = match word {
            b"true" => "'true'",
            b"false" => "'false'",
            _ => "'null'",
        };
        self.unexpected(i + matched, expected)
    }
}

/// Four hex digits at `i` as a number.
fn hex4(bytes: &[u8], i: usize) -> Option<u32> {
    let digits = bytes.get(i..i.checked_add(4)?)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &d| Some((acc << 4) | (d as char).to_digit(16)?))
}

/// Index of the first non-digit at or after `i`, eight bytes at a time.
#[inline]
fn digits_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let non_digit = non_digits(u64::from_le_bytes(*chunk));
        if non_digit != 0 {
            return i + (non_digit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// Nonzero bits in the bytes of `w` that are not ASCII digits, up to and
/// including the first such byte (a carry from it may mark later ones): a
/// byte is a digit when its high nibble is 3 and stays 3 after adding 6.
#[inline(always)]
fn non_digits(w: u64) -> u64 {
    ((w & NIBBLE_HI) ^ ASCII_ZEROS) | ((w.wrapping_add(LO * 6) & NIBBLE_HI) ^ ASCII_ZEROS)
}

/// Bit masks of the 16 bytes at `i`: the `"` bytes, and the bytes a string
/// scan must stop at (`"`, `\` and control bytes). Only the
/// lowest stop bit and the quote bit at that position are meaningful.
#[inline(always)]
fn classify16(bytes: &[u8], i: usize) -> Option<(u32, u32)> {
    let chunk = bytes.get(i..)?.first_chunk::<16>()?;
    #[cfg(target_arch = "x86_64")]
    return Some(classify_sse2(chunk));
    #[cfg(not(target_arch = "x86_64"))]
    return Some(classify_swar(chunk));
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify_sse2(chunk: &[u8; 16]) -> (u32, u32) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline; the load reads exactly the
    // 16 bytes of `chunk` and has no alignment requirement.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Control bytes: unsigned v <= 0x1f, that is max(v, 0x1f) == 0x1f.
        let limit = _mm_set1_epi8(0x1f);
        let low = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
        let stop = _mm_or_si128(_mm_or_si128(quote, backslash), low);
        (
            _mm_movemask_epi8(quote) as u32,
            _mm_movemask_epi8(stop) as u32,
        )
    }
}

/// Portable [`classify_sse2`] with 64-bit words (SWAR). Bits above the
/// lowest true stop byte may be spurious, which callers never look at.
#[cfg(any(test, not(target_arch = "x86_64")))]
#[inline(always)]
pub(crate) fn classify_swar(chunk: &[u8; 16]) -> (u32, u32) {
    const HI: u64 = 0x8080_8080_8080_8080;
    // High bit set in bytes equal to `b` (exact up to the lowest one).
    let eq = |w: u64, b: u8| {
        let x = w ^ (LO * u64::from(b));
        x.wrapping_sub(LO) & !x & HI
    };
    // Gather the high bit of each byte into one bit per byte.
    let bits = |m: u64| (((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56) as u32;
    let (mut quote, mut stop) = (0, 0);
    for (half, word) in chunk.chunks_exact(8).enumerate() {
        let mut w8 = [0u8; 8];
        w8.copy_from_slice(word);
        let w = u64::from_le_bytes(w8);
        let q = eq(w, b'"');
        let control = w.wrapping_sub(LO * 0x20) & !w & HI;
        let special = q | eq(w, b'\\') | control;
        quote |= bits(q) << (half * 8);
        stop |= bits(special) << (half * 8);
    }
    (quote, stop)
}

/// End of a string whose closing quote is within 16 bytes of `i` and which
/// has no escapes, control or non-ASCII bytes before it.
#[inline(always)]
fn short_string_end(bytes: &[u8], i: usize) -> Option<usize> {
    let (quote, stop) = classify16(bytes, i)?;
    // The lowest stop byte is a quote (no stop byte at all: `quote & 0 == 0`).
    let lowest = stop & stop.wrapping_neg();
    (quote & lowest != 0).then(|| i + lowest.trailing_zeros() as usize + 1)
}

/// Skip string bytes a scan need not stop at, sixteen at a time; returns
/// where it stopped, at or shortly before the first byte to look at.
#[inline(always)]
fn skip_plain(bytes: &[u8], mut i: usize) -> usize {
    while let Some((_, stop)) = classify16(bytes, i) {
        if stop != 0 {
            return i + stop.trailing_zeros() as usize;
        }
        i += 16;
    }
    i
}

#[cfg(test)]
#[path = "tests/json_scan.rs"]
mod tests;
