//! Whole-document JSON validation in 64-byte blocks, in the manner of
//! simdjson: classify every byte of a block with SIMD compares into bit
//! masks, find the strings with a prefix XOR over the unescaped quotes, and
//! run the grammar only over the resulting token starts. Strings,
//! whitespace and digit runs are never walked byte by byte.
//!
//! Escapes and the numbers and literals are checked by the byte
//! [`Scanner`]; errors match its, kind and offset, as a property test checks.
//! The input must be UTF-8 (checked before, in bulk).

use crate::parse::json::{JsonError, JsonErrorKind, MAX_DEPTH};
use crate::parse::json_scan::Scanner;

/// One bit per byte of a block (bit `i` is byte `i`).
#[derive(Default)]
struct Classes {
    quote: u64,
    backslash: u64,
    /// `{ } [ ] : ,`
    op: u64,
    /// Space, tab, line feed, carriage return.
    ws: u64,
    /// Bytes below 0x20.
    control: u64,
}

/// What the grammar expects next.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Value,
    /// A value or `]`: just after `[`.
    ValueOrClose,
    Key,
    /// A key or `}`: just after `{`.
    KeyOrClose,
    Colon,
    AfterValue,
}

struct Validator<'a> {
    bytes: &'a [u8],
    scanner: Scanner<'a>,
    state: State,
    /// Bit set: the container at that depth is an object.
    stack: [u64; MAX_DEPTH / 64],
    depth: usize,
    in_object: bool,
    /// End of the last escape sequence checked (a `\u` pair spans two backslashes).
    escape_end: usize,
}

/// Validate one JSON text (`bytes` is known to be UTF-8).
pub(crate) fn validate(bytes: &[u8]) -> Result<(), JsonError> {
    let mut v = Validator {
        bytes,
        scanner: Scanner::new(bytes),
        state: State::Value,
        stack: [0; MAX_DEPTH / 64],
        depth: 0,
        in_object: false,
        escape_end: 0,
    };
    match v.run() {
        Some(()) => Ok(()),
        None => Err(v.scanner.into_error()),
    }
}

impl Validator<'_> {
    fn run(&mut self) -> Option<()> {
        let bytes = self.bytes;
        // Carries from one block to the next.
        let mut in_string = 0u64; // all ones when a string is open
        let mut scalar_carry = 0u64; // 1 when a scalar runs into the block
        let mut backslash_carry = 0u64; // parity of an open backslash run
        let mut tail = [b' '; 64];
        let mut offset = 0;
        while offset < bytes.len() {
            let rest = bytes.get(offset..).unwrap_or_default();
            let block = match rest.first_chunk::<64>() {
                Some(block) => block,
                None => {
                    tail[..rest.len()].copy_from_slice(rest);
                    &tail
                }
            };
            let c = classify(block);
            let quotes = c.quote & !escaped_bits(c.backslash, &mut backslash_carry);
            let inside = prefix_xor(quotes) ^ in_string;
            in_string = 0u64.wrapping_sub(inside >> 63);
            let scalar = !(c.op | c.ws | c.quote | inside);
            let scalar_starts = scalar & !((scalar << 1) | scalar_carry);
            scalar_carry = scalar >> 63;
            // Backslashes and control bytes inside strings, for the scanner.
            let special = (c.backslash | c.control) & inside;
            let mut tokens = (c.op & !inside) | (quotes & inside) | scalar_starts | special;
            while tokens != 0 {
                let bit = tokens.trailing_zeros();
                tokens &= tokens - 1;
                let at = offset + bit as usize;
                if special >> bit & 1 == 0 {
                    self.token(at)?;
                } else if at >= self.escape_end {
                    if c.backslash >> bit & 1 == 0 {
                        return self.scanner.fail(at, JsonErrorKind::ControlCharacter);
                    }
                    self.escape_end = self.scanner.escape(at)?.1;
                }
            }
            offset += 64;
        }
        if in_string != 0 {
            return self.scanner.unexpected(bytes.len(), "'\"' to close a string");
        }
        self.finish()
    }

    /// The token starting at `at` (a structural byte, string or scalar start).
    #[inline(always)]
    fn token(&mut self, at: usize) -> Option<()> {
        let c = self.bytes.get(at).copied().unwrap_or(b' ');
        self.state = match self.state {
            State::Value | State::ValueOrClose => match c {
                b'"' => State::AfterValue,
                b'{' => {
                    self.push(at, true)?;
                    State::KeyOrClose
                }
                b'[' => {
                    self.push(at, false)?;
                    State::ValueOrClose
                }
                b']' if self.state == State::ValueOrClose => self.pop(),
                b'-' | b'0'..=b'9' => self.scalar_end(|s| s.number_end(at))?,
                b't' => self.scalar_end(|s| s.literal_end(at, b"true"))?,
                b'f' => self.scalar_end(|s| s.literal_end(at, b"false"))?,
                b'n' => self.scalar_end(|s| s.literal_end(at, b"null"))?,
                _ => return self.scanner.unexpected(at, "a JSON value"),
            },
            State::Key | State::KeyOrClose => match c {
                b'"' => State::Colon,
                b'}' if self.state == State::KeyOrClose => self.pop(),
                _ => return self.scanner.unexpected(at, "'\"' to start an object key"),
            },
            State::Colon if c == b':' => State::Value,
            State::Colon => return self.scanner.unexpected(at, "':' after an object key"),
            State::AfterValue => match (c, self.in_object) {
                _ if self.depth == 0 => return self.after_value_error(at),
                (b',', true) => State::Key,
                (b',', false) => State::Value,
                (b'}', true) | (b']', false) => self.pop(),
                _ => return self.after_value_error(at),
            },
        };
        Some(())
    }

    /// Check a number or literal with `scan`; the byte after it must end its token.
    #[inline(always)]
    fn scalar_end(&mut self, scan: impl FnOnce(&mut Scanner<'_>) -> Option<usize>) -> Option<State> {
        let end = scan(&mut self.scanner)?;
        let delimited = matches!(
            self.bytes.get(end),
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'[' | b']' | b'{' | b'}' | b'"')
        );
        if !delimited {
            return self.after_value_error(end);
        }
        Some(State::AfterValue)
    }

    /// The byte at `at` cannot follow a complete value.
    #[cold]
    fn after_value_error<T>(&mut self, at: usize) -> Option<T> {
        if self.depth == 0 {
            return self.scanner.fail(at, JsonErrorKind::TrailingData);
        }
        let expected = if self.in_object {
            "',' or '}' after an object member"
        } else {
            "',' or ']' after an array element"
        };
        self.scanner.unexpected(at, expected)
    }

    fn push(&mut self, at: usize, object: bool) -> Option<()> {
        if self.depth == MAX_DEPTH {
            return self.scanner.fail(at, JsonErrorKind::TooDeep);
        }
        let bit = 1u64 << (self.depth % 64);
        let word = &mut self.stack[self.depth / 64];
        *word = if object { *word | bit } else { *word & !bit };
        self.depth += 1;
        self.in_object = object;
        Some(())
    }

    fn pop(&mut self) -> State {
        self.depth = self.depth.saturating_sub(1);
        if let Some(top) = self.depth.checked_sub(1) {
            self.in_object = self.stack[top / 64] >> (top % 64) & 1 != 0;
        }
        State::AfterValue
    }

    /// At the end of the input: the top-level value must be complete.
    fn finish(&mut self) -> Option<()> {
        let expected = match self.state {
            State::AfterValue if self.depth == 0 => return Some(()),
            State::Value | State::ValueOrClose => "a JSON value",
            State::Key | State::KeyOrClose => "'\"' to start an object key",
            State::Colon => "':' after an object key",
            State::AfterValue => return self.after_value_error(self.bytes.len()),
        };
        self.scanner.unexpected(self.bytes.len(), expected)
    }
}

/// Bits of the bytes that follow an odd-length run of backslashes, that is
/// escaped bytes. `carry` is the parity of a run still open at the end of
/// the previous block, and is updated for the next one.
#[inline]
fn escaped_bits(backslash: u64, carry: &mut u64) -> u64 {
    // An odd run that ended with the previous block escapes byte 0.
    let mut escaped = *carry & !backslash & 1;
    let mut bits = backslash;
    let mut run_carry = *carry;
    *carry = 0;
    while bits != 0 {
        let start = bits.trailing_zeros();
        let len = (!(bits >> start)).trailing_zeros();
        let continued = if start == 0 { run_carry } else { 0 };
        let parity = (len as u64 + continued) & 1;
        let end = start + len;
        if end >= 64 {
            *carry = parity;
            break;
        }
        escaped |= parity << end;
        bits &= !((u64::MAX >> (64 - len)) << start);
        run_carry = 0;
    }
    escaped
}

/// Bit `i` is the XOR of bits `0..=i`: inside-string bits from quote bits.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify(block: &[u8; 64]) -> Classes {
    use std::arch::x86_64::*;
    let mut c = Classes::default();
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads exactly
        // the 16 bytes of `chunk` and has no alignment requirement.
        unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
            let bits = |m: __m128i| (_mm_movemask_epi8(m) as u32 as u64) << (16 * k);
            // '[' and ']' are '{' and '}' without bit 5.
            let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
            let brace = _mm_or_si128(
                _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8)),
                _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8)),
            );
            let op = _mm_or_si128(brace, _mm_or_si128(eq(b':'), eq(b',')));
            let ws = _mm_or_si128(
                _mm_or_si128(eq(b' '), eq(b'\t')),
                _mm_or_si128(eq(b'\n'), eq(b'\r')),
            );
            let limit = _mm_set1_epi8(0x1f);
            let control = _mm_cmpeq_epi8(_mm_max_epu8(v, limit), limit);
            c.quote |= bits(eq(b'"'));
            c.backslash |= bits(eq(b'\\'));
            c.op |= bits(op);
            c.ws |= bits(ws);
            c.control |= bits(control);
        }
    }
    c
}

/// Portable [`classify`], a byte at a time.
#[cfg(any(test, not(target_arch = "x86_64")))]
fn classify_portable(block: &[u8; 64]) -> Classes {
    let mut c = Classes::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        let set = |mask: &mut u64, yes: bool| *mask |= if yes { bit } else { 0 };
        set(&mut c.quote, b == b'"');
        set(&mut c.backslash, b == b'\\');
        set(&mut c.op, matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b','));
        set(&mut c.ws, matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        set(&mut c.control, b < 0x20);
    }
    c
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn classify(block: &[u8; 64]) -> Classes {
    classify_portable(block)
}

#[cfg(test)]
#[path = "tests/json_blocks.rs"]
mod tests;
