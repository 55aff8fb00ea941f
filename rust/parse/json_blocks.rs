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

// Token classes, by first byte.
const OTHER: u8 = 0;
const QUOTE: u8 = 1;
const COLON: u8 = 2;
const COMMA: u8 = 3;
const OPEN_OBJECT: u8 = 4;
const OPEN_ARRAY: u8 = 5;
const CLOSE_OBJECT: u8 = 6;
const CLOSE_ARRAY: u8 = 7;
const NUMBER: u8 = 8;
const TRUE: u8 = 9;
const FALSE: u8 = 10;
const NULL: u8 = 11;
const CLASSES: usize = 12;

const fn token_classes() -> [u8; 256] {
    let mut table = [OTHER; 256];
    table[b'"' as usize] = QUOTE;
    table[b':' as usize] = COLON;
    table[b',' as usize] = COMMA;
    table[b'{' as usize] = OPEN_OBJECT;
    table[b'[' as usize] = OPEN_ARRAY;
    table[b'}' as usize] = CLOSE_OBJECT;
    table[b']' as usize] = CLOSE_ARRAY;
    table[b'-' as usize] = NUMBER;
    let mut d = b'0';
    while d <= b'9' {
        table[d as usize] = NUMBER;
        d += 1;
    }
    table[b't' as usize] = TRUE;
    table[b'f' as usize] = FALSE;
    table[b'n' as usize] = NULL;
    table
}

static TOKEN_CLASS: [u8; 256] = token_classes();

// Grammar states: what the next token may be.
const TOP_VALUE: u8 = 0;
const MEMBER_VALUE: u8 = 1;
const ELEMENT: u8 = 2;
/// An element or `]`, just after `[`.
const FIRST_ELEMENT: u8 = 3;
const KEY: u8 = 4;
/// A key or `}`, just after `{`.
const FIRST_KEY: u8 = 5;
const AFTER_KEY: u8 = 6;
const AFTER_MEMBER: u8 = 7;
const AFTER_ELEMENT: u8 = 8;
const DONE: u8 = 9;
const STATES: usize = 10;
// Transition results that are not states.
const POP: u8 = 0xFE;
const ERROR: u8 = 0xFF;

const fn transitions() -> [[u8; CLASSES]; STATES] {
    let mut table = [[ERROR; CLASSES]; STATES];
    let values = [
        (TOP_VALUE, DONE),
        (MEMBER_VALUE, AFTER_MEMBER),
        (ELEMENT, AFTER_ELEMENT),
        (FIRST_ELEMENT, AFTER_ELEMENT),
    ];
    let mut k = 0;
    while k < values.len() {
        let (state, after) = values[k];
        let row = &mut table[state as usize];
        row[QUOTE as usize] = after;
        row[NUMBER as usize] = after;
        row[TRUE as usize] = after;
        row[FALSE as usize] = after;
        row[NULL as usize] = after;
        row[OPEN_OBJECT as usize] = FIRST_KEY;
        row[OPEN_ARRAY as usize] = FIRST_ELEMENT;
        k += 1;
    }
    table[FIRST_ELEMENT as usize][CLOSE_ARRAY as usize] = POP;
    table[KEY as usize][QUOTE as usize] = AFTER_KEY;
    table[FIRST_KEY as usize][QUOTE as usize] = AFTER_KEY;
    table[FIRST_KEY as usize][CLOSE_OBJECT as usize] = POP;
    table[AFTER_KEY as usize][COLON as usize] = MEMBER_VALUE;
    table[AFTER_MEMBER as usize][COMMA as usize] = KEY;
    table[AFTER_MEMBER as usize][CLOSE_OBJECT as usize] = POP;
    table[AFTER_ELEMENT as usize][COMMA as usize] = ELEMENT;
    table[AFTER_ELEMENT as usize][CLOSE_ARRAY as usize] = POP;
    table
}

static NEXT_STATE: [[u8; CLASSES]; STATES] = transitions();

struct Validator<'a> {
    bytes: &'a [u8],
    scanner: Scanner<'a>,
    state: u8,
    /// Bit set: the container at that depth is an object.
    stack: [u64; MAX_DEPTH / 64],
    depth: usize,
    /// End of the last escape sequence checked (a `\u` pair spans two backslashes).
    escape_end: usize,
}

/// Validate one JSON text (`bytes` is known to be UTF-8).
pub(crate) fn validate(bytes: &[u8]) -> Result<(), JsonError> {
    let mut v = Validator {
        bytes,
        scanner: Scanner::new(bytes),
        state: TOP_VALUE,
        stack: [0; MAX_DEPTH / 64],
        depth: 0,
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
        if self.state != DONE {
            return self.error(bytes.len());
        }
        Some(())
    }

    /// The token starting at `at` (a structural byte, string or scalar start).
    #[inline(always)]
    fn token(&mut self, at: usize) -> Option<()> {
        let byte = self.bytes.get(at).copied().unwrap_or(b' ');
        let class = TOKEN_CLASS[byte as usize];
        let next = NEXT_STATE[self.state as usize % STATES][class as usize];
        if next == ERROR {
            return self.error(at);
        }
        if next == POP {
            self.depth = self.depth.saturating_sub(1);
            self.state = match self.depth.checked_sub(1) {
                None => DONE,
                Some(top) if self.stack[top / 64] >> (top % 64) & 1 != 0 => AFTER_MEMBER,
                Some(_) => AFTER_ELEMENT,
            };
            return Some(());
        }
        let end = match class {
            OPEN_OBJECT | OPEN_ARRAY => {
                if self.depth == MAX_DEPTH {
                    return self.scanner.fail(at, JsonErrorKind::TooDeep);
                }
                let bit = 1u64 << (self.depth % 64);
                let word = &mut self.stack[self.depth / 64];
                *word = if class == OPEN_OBJECT { *word | bit } else { *word & !bit };
                self.depth += 1;
                None
            }
            NUMBER => Some(self.scanner.number_end(at)?),
            TRUE => Some(self.scanner.literal_end(at, b"true")?),
            FALSE => Some(self.scanner.literal_end(at, b"false")?),
            NULL => Some(self.scanner.literal_end(at, b"null")?),
            _ => None,
        };
        self.state = next;
        // A number or literal must end where its token does.
        if let Some(end) = end {
            let delimited = matches!(
                self.bytes.get(end),
                None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'[' | b']' | b'{' | b'}' | b'"')
            );
            if !delimited {
                return self.error(end);
            }
        }
        Some(())
    }

    /// Fail on the byte at `at` (or the end of input), which the current state does not allow.
    #[cold]
    #[inline(never)]
    fn error<T>(&mut self, at: usize) -> Option<T> {
        let expected = match self.state {
            TOP_VALUE | MEMBER_VALUE | ELEMENT | FIRST_ELEMENT => "a JSON value",
            KEY | FIRST_KEY => "'\"' to start an object key",
            AFTER_KEY => "':' after an object key",
            AFTER_MEMBER => "',' or '}' after an object member",
            AFTER_ELEMENT => "',' or ']' after an array element",
            _ => return self.scanner.fail(at, JsonErrorKind::TrailingData),
        };
        self.scanner.unexpected(at, expected)
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
