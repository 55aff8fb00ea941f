//! Whole-document JSON validation in 64-byte blocks, in the manner of
//! simdjson: classify every byte of a block with SIMD compares into bit
//! masks, find the strings with a prefix XOR over the unescaped quotes, and
//! run the grammar only over the resulting token starts. Strings,
//! whitespace and digit runs are never walked byte by byte.
//!
//! Escapes, numbers and literals are checked by the byte [`Scanner`], and
//! every error (kind and offset) is the one the scanner alone would report,
//! as a property test checks. The input must be UTF-8 (checked before, in
//! bulk).

use crate::parse::json::{JsonError, JsonErrorKind, MAX_DEPTH};
#[cfg(not(target_arch = "x86_64"))]
use crate::parse::json_classify::Portable;
#[cfg(target_arch = "x86_64")]
use crate::parse::json_classify::{Avx2, Sse2};
use crate::parse::json_classify::{Classes, Classify};
use crate::parse::json_scan::Scanner;

/// The classified 64-byte blocks of the input, in order.
struct Blocks<'a> {
    bytes: &'a [u8],
    /// Start of the next block to classify.
    next: usize,
    /// All ones when a string is open at the end of the last block.
    in_string: u64,
    /// 1 when a scalar runs to the end of the last block.
    scalar_carry: u64,
    /// Parity of a backslash run open at the end of the last block.
    backslash_carry: u64,
    /// Classify with AVX2 (detected at run time) rather than SSE2.
    #[cfg(target_arch = "x86_64")]
    avx2: bool,
}

/// The token starts of one block.
#[derive(Clone, Copy)]
struct Block {
    /// Offset of the block in the input.
    base: usize,
    /// Token starts (bit `i` is byte `base + i`).
    tokens: u64,
    /// Of those, the backslashes and control bytes inside strings.
    special: u64,
    /// All backslashes of the block.
    backslash: u64,
}

impl<'a> Blocks<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Blocks {
            bytes,
            next: 0,
            in_string: 0,
            scalar_carry: 0,
            backslash_carry: 0,
            #[cfg(target_arch = "x86_64")]
            avx2: std::is_x86_feature_detected!("avx2"),
        }
    }

    /// Classify the next block, `None` at the end of the input.
    #[inline(never)]
    fn next(&mut self) -> Option<Block> {
        #[cfg(target_arch = "x86_64")]
        {
            if self.avx2 {
                // SAFETY: the CPU supports AVX2 (checked in `new`).
                return unsafe { self.next_avx2() };
            }
            self.next_with::<Sse2>()
        }
        #[cfg(not(target_arch = "x86_64"))]
        self.next_with::<Portable>()
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn next_avx2(&mut self) -> Option<Block> {
        self.next_with::<Avx2>()
    }

    #[inline(always)]
    fn next_with<C: Classify>(&mut self) -> Option<Block> {
        let rest = self.bytes.get(self.next..).filter(|r| !r.is_empty())?;
        let mut tail = [b' '; 64];
        let block = match rest.first_chunk::<64>() {
            Some(block) => block,
            None => {
                tail[..rest.len()].copy_from_slice(rest);
                &tail
            }
        };
        let c: Classes = C::classify(block);
        let quotes = c.quote & !escaped_bits(c.backslash, &mut self.backslash_carry);
        let inside = prefix_xor(quotes) ^ self.in_string;
        self.in_string = 0u64.wrapping_sub(inside >> 63);
        let scalar = !(c.op | c.ws | c.quote | inside);
        let scalar_starts = scalar & !((scalar << 1) | self.scalar_carry);
        self.scalar_carry = scalar >> 63;
        let special = (c.backslash | c.control) & inside;
        let base = self.next;
        self.next += 64;
        Some(Block {
            base,
            tokens: (c.op & !inside) | (quotes & inside) | scalar_starts | special,
            special,
            backslash: c.backslash,
        })
    }
}

/// The token starts of the input in order. Kept apart from [`Blocks`] so
/// that its fields stay in registers.
struct Tokens<'a, 'b> {
    blocks: &'b mut Blocks<'a>,
    current: Block,
    /// End of the last escape sequence checked (a `\u` pair spans two backslashes).
    escape_end: usize,
}

impl Tokens<'_, '_> {
    /// Offset of the next token: a structural byte, the opening quote of a
    /// string, or the first byte of anything else; the input length at the end.
    #[inline(always)]
    fn next(&mut self, scanner: &mut Scanner<'_>) -> Option<usize> {
        loop {
            let block = &mut self.current;
            if block.tokens != 0 {
                let bit = block.tokens.trailing_zeros();
                block.tokens &= block.tokens - 1;
                let at = block.base + bit as usize;
                if block.special >> bit & 1 == 0 {
                    return Some(at);
                }
                let backslash = block.backslash >> bit & 1 != 0;
                self.escape_end = check_special(scanner, at, backslash, self.escape_end)?;
            } else if let Some(next) = self.blocks.next() {
                self.current = next;
            } else if self.blocks.in_string != 0 {
                return scanner.unexpected(self.blocks.bytes.len(), "'\"' to close a string");
            } else {
                return Some(self.blocks.bytes.len());
            }
        }
    }
}

/// A backslash or control byte at `at` inside a string: check the escape
/// (unless an earlier one covers it) and return the end of the escapes checked.
#[inline(never)]
fn check_special(
    s: &mut Scanner<'_>,
    at: usize,
    backslash: bool,
    escape_end: usize,
) -> Option<usize> {
    if at < escape_end {
        return Some(escape_end);
    }
    if !backslash {
        return s.fail(at, JsonErrorKind::ControlCharacter);
    }
    Some(s.escape(at)?.1)
}

/// Validate one JSON text (`bytes` is known to be UTF-8).
pub(crate) fn validate(bytes: &[u8]) -> Result<(), JsonError> {
    let mut scanner = Scanner::new(bytes);
    match run(bytes, &mut scanner) {
        Some(()) => Ok(()),
        None => Err(scanner.into_error()),
    }
}

/// The grammar over the tokens; the same shape as [`Scanner::value_end`].
fn run(bytes: &[u8], s: &mut Scanner<'_>) -> Option<()> {
    let mut blocks = Blocks::new(bytes);
    let mut tokens = Tokens {
        blocks: &mut blocks,
        current: Block {
            base: 0,
            tokens: 0,
            special: 0,
            backslash: 0,
        },
        escape_end: 0,
    };
    // Bit set: the container at that depth is an object.
    let mut stack = [0u64; MAX_DEPTH / 64];
    let mut depth = 0usize;
    let mut in_object = false;
    let mut at = tokens.next(s)?;
    'value: loop {
        match bytes.get(at) {
            Some(b'"') => {}
            Some(&c @ (b'{' | b'[')) => {
                if depth == MAX_DEPTH {
                    return s.fail(at, JsonErrorKind::TooDeep);
                }
                let close = if c == b'{' { b'}' } else { b']' };
                at = tokens.next(s)?;
                if bytes.get(at) != Some(&close) {
                    in_object = c == b'{';
                    let bit = 1u64 << (depth % 64);
                    if in_object {
                        stack[depth / 64] |= bit;
                        at = member_value(&mut tokens, s, bytes, at)?;
                    } else {
                        stack[depth / 64] &= !bit;
                    }
                    depth += 1;
                    continue 'value;
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let end = s.number_end(at)?;
                check_delimited(s, bytes, end, depth, in_object)?;
            }
            Some(&c @ (b't' | b'f' | b'n')) => {
                let word: &'static [u8] = match c {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                let end = s.literal_end(at, word)?;
                check_delimited(s, bytes, end, depth, in_object)?;
            }
            _ => return s.unexpected(at, "a JSON value"),
        }
        // A value is complete: close containers until one continues.
        loop {
            at = tokens.next(s)?;
            if depth == 0 {
                break;
            }
            match (bytes.get(at), in_object) {
                (Some(b','), true) => {
                    at = tokens.next(s)?;
                    at = member_value(&mut tokens, s, bytes, at)?;
                    continue 'value;
                }
                (Some(b','), false) => {
                    at = tokens.next(s)?;
                    continue 'value;
                }
                (Some(b'}'), true) | (Some(b']'), false) => {
                    depth -= 1;
                    if let Some(top) = depth.checked_sub(1) {
                        in_object = stack[top / 64] >> (top % 64) & 1 != 0;
                    }
                }
                _ => return after_value_error(s, at, depth, in_object),
            }
        }
        if at < bytes.len() {
            return s.fail(at, JsonErrorKind::TrailingData);
        }
        return Some(());
    }
}

/// `at` is an object key token: check `"key" :` and return the value's token.
#[inline(always)]
fn member_value(
    tokens: &mut Tokens<'_, '_>,
    s: &mut Scanner<'_>,
    bytes: &[u8],
    at: usize,
) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return s.unexpected(at, "'\"' to start an object key");
    }
    let at = tokens.next(s)?;
    if bytes.get(at) != Some(&b':') {
        return s.unexpected(at, "':' after an object key");
    }
    tokens.next(s)
}

/// A number or literal ended at `end`: the byte there must end its token.
#[inline(always)]
fn check_delimited(
    s: &mut Scanner<'_>,
    bytes: &[u8],
    end: usize,
    depth: usize,
    in_object: bool,
) -> Option<()> {
    match bytes.get(end) {
        None
        | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'[' | b']' | b'{' | b'}' | b'"') => {
            Some(())
        }
        Some(_) => after_value_error(s, end, depth, in_object),
    }
}

/// The token at `at` cannot follow a complete value.
#[cold]
#[inline(never)]
fn after_value_error<T>(
    s: &mut Scanner<'_>,
    at: usize,
    depth: usize,
    in_object: bool,
) -> Option<T> {
    if depth == 0 {
        return s.fail(at, JsonErrorKind::TrailingData);
    }
    let expected = if in_object {
        "',' or '}' after an object member"
    } else {
        "',' or ']' after an array element"
    };
    s.unexpected(at, expected)
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

#[cfg(test)]
#[path = "tests/json_blocks.rs"]
mod tests;
