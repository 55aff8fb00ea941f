//! Whole-document JSON validation in 64-byte blocks, in the manner of
//! simdjson: classify every byte of a block with SIMD compares into bit
//! masks, find the strings with a prefix XOR over the unescaped quotes, and
//! run the grammar only over the resulting token starts. Strings,
//! whitespace and digit runs are never walked byte by byte; the escapes and
//! control bytes inside strings are checked a block at a time, apart from
//! the grammar.
//!
//! This fast path only answers whether a document is valid. For an invalid
//! one the byte [`Scanner`] runs once more and says what is wrong and
//! where, so every error is exactly the scanner's; property tests check
//! that both always agree. The input must be UTF-8 (checked before, in
//! bulk).

use std::marker::PhantomData;

use crate::parse::json::{JsonError, JsonErrorKind, MAX_DEPTH};
#[cfg(not(target_arch = "x86_64"))]
use crate::parse::json_classify::Portable;
#[cfg(target_arch = "x86_64")]
use crate::parse::json_classify::{Avx2, Avx512, Sse2};
use crate::parse::json_classify::{Classes, Classify};
use crate::parse::json_scan::Scanner;

/// The classified 64-byte blocks of the input, in order.
struct Blocks<'a, C> {
    bytes: &'a [u8],
    /// Start of the next block to classify.
    next: usize,
    /// All ones when a string is open at the end of the last block.
    in_string: u64,
    /// 1 when a scalar runs to the end of the last block.
    scalar_carry: u64,
    /// Parity of a backslash run open at the end of the last block.
    backslash_carry: u64,
    /// End of the last escape sequence checked (a `\u` pair spans two backslashes).
    escape_end: usize,
    /// A string holds an invalid escape or a control byte.
    invalid: bool,
    classify: PhantomData<C>,
}

/// The token starts of one block.
#[derive(Clone, Copy)]
struct Block {
    /// Offset of the block in the input.
    base: usize,
    /// Token starts (bit `i` is byte `base + i`): structural bytes, opening
    /// quotes, and the first bytes of numbers and literals (or of junk).
    tokens: u64,
}

impl<'a, C: Classify> Blocks<'a, C> {
    fn new(bytes: &'a [u8]) -> Self {
        Blocks {
            bytes,
            next: 0,
            in_string: 0,
            scalar_carry: 0,
            backslash_carry: 0,
            escape_end: 0,
            invalid: false,
            classify: PhantomData,
        }
    }

    /// Classify the next block and check the escapes and control bytes in
    /// its strings; `None` at the end of the input or when they are invalid.
    #[inline(always)]
    fn next(&mut self, scanner: &mut Scanner<'_>) -> Option<Block> {
        let rest = self.bytes.get(self.next..).filter(|r| !r.is_empty())?;
        let c: Classes = match rest.first_chunk::<64>() {
            Some(block) => C::classify(block),
            None => {
                let mut tail = [b' '; 64];
                tail[..rest.len()].copy_from_slice(rest);
                C::classify(&tail)
            }
        };
        let quotes = c.quote & !escaped_bits(c.backslash, &mut self.backslash_carry);
        let inside = C::prefix_xor(quotes) ^ self.in_string;
        self.in_string = 0u64.wrapping_sub(inside >> 63);
        let scalar = !(c.op | c.ws | c.quote | inside);
        let scalar_starts = scalar & !((scalar << 1) | self.scalar_carry);
        self.scalar_carry = scalar >> 63;
        let base = self.next;
        self.next += 64;
        let special = (c.backslash | c.control) & inside;
        if special != 0 && !self.check_special(scanner, base, special, c.backslash) {
            self.invalid = true;
            return None;
        }
        Some(Block {
            base,
            tokens: (c.op & !inside) | (quotes & inside) | scalar_starts,
        })
    }

    /// Check the backslashes and control bytes inside strings of the block
    /// at `base`: every escape must be valid, control bytes are not allowed.
    #[inline(never)]
    fn check_special(
        &mut self,
        scanner: &mut Scanner<'_>,
        base: usize,
        mut special: u64,
        backslash: u64,
    ) -> bool {
        while special != 0 {
            let bit = special.trailing_zeros();
            special &= special - 1;
            let at = base + bit as usize;
            if at < self.escape_end {
                // Inside the escape checked last (`\\` or a `\u` pair).
                continue;
            }
            if backslash >> bit & 1 == 0 {
                return false;
            }
            match scanner.escape(at) {
                Some((_, end)) => self.escape_end = end,
                None => return false,
            }
        }
        true
    }
}

/// The token starts of the input in order. Kept apart from [`Blocks`] so
/// that its fields stay in registers.
struct Tokens<'a, 'b, C> {
    blocks: &'b mut Blocks<'a, C>,
    current: Block,
}

impl<C: Classify> Tokens<'_, '_, C> {
    /// Offset of the next token: a structural byte, the opening quote of a
    /// string, or the first byte of anything else; the input length at the
    /// end. `None` when a string is invalid or not closed.
    #[inline(always)]
    fn next(&mut self, scanner: &mut Scanner<'_>) -> Option<usize> {
        loop {
            let block = &mut self.current;
            if block.tokens != 0 {
                let bit = block.tokens.trailing_zeros();
                block.tokens &= block.tokens - 1;
                return Some(block.base + bit as usize);
            }
            match self.blocks.next(scanner) {
                Some(next) => self.current = next,
                None if self.blocks.invalid || self.blocks.in_string != 0 => return None,
                None => return Some(self.blocks.bytes.len()),
            }
        }
    }
}

/// Validate one JSON text (`bytes` is known to be UTF-8).
pub(crate) fn validate(bytes: &[u8]) -> Result<(), JsonError> {
    if run_fastest(bytes).is_some() {
        return Ok(());
    }
    scanner_verdict(bytes)
}

/// The byte scanner's verdict on a whole document, with its error.
pub(crate) fn scanner_verdict(bytes: &[u8]) -> Result<(), JsonError> {
    let mut scanner = Scanner::new(bytes);
    let Some(end) = scanner.value_end(0) else {
        return Err(scanner.into_error());
    };
    let end = scanner.skip_ws(end);
    if end < bytes.len() {
        return Err(JsonError {
            kind: JsonErrorKind::TrailingData,
            offset: end,
        });
    }
    Ok(())
}

/// [`run`] with the fastest classifier this CPU has.
fn run_fastest(bytes: &[u8]) -> Option<()> {
    #[cfg(target_arch = "x86_64")]
    {
        // VBMI2 marks the CPUs (Ice Lake, Zen 4 and later) on which 512-bit
        // instructions do not lower the clock of the whole core.
        if std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512vbmi2")
            && std::is_x86_feature_detected!("pclmulqdq")
        {
            // SAFETY: the CPU has the features `run_avx512` is compiled for.
            return unsafe { run_avx512(bytes) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("pclmulqdq") {
            // SAFETY: the CPU has both features.
            return unsafe { run_avx2(bytes) };
        }
        run::<Sse2>(bytes)
    }
    #[cfg(not(target_arch = "x86_64"))]
    run::<Portable>(bytes)
}

/// [`run`] compiled for AVX2 and carry-less multiplication, so that the
/// classifier inlines into the grammar loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
unsafe fn run_avx2(bytes: &[u8]) -> Option<()> {
    run::<Avx2>(bytes)
}

/// [`run`] compiled for AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,pclmulqdq")]
unsafe fn run_avx512(bytes: &[u8]) -> Option<()> {
    run::<Avx512>(bytes)
}

/// The grammar over the tokens, `Some` for a valid document; the same
/// shape as [`Scanner::value_end`].
#[inline(always)]
fn run<C: Classify>(bytes: &[u8]) -> Option<()> {
    // Checks escapes, numbers and literals; why they fail is not kept.
    let s = &mut Scanner::new(bytes);
    let mut blocks = Blocks::<C>::new(bytes);
    let mut tokens = Tokens {
        blocks: &mut blocks,
        current: Block { base: 0, tokens: 0 },
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
                    return None;
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
            Some(b'-' | b'0'..=b'9') => delimited(bytes, s.number_end(at)?)?,
            Some(b't') => delimited(bytes, s.literal_end(at, b"true")?)?,
            Some(b'f') => delimited(bytes, s.literal_end(at, b"false")?)?,
            Some(b'n') => delimited(bytes, s.literal_end(at, b"null")?)?,
            _ => return None,
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
                _ => return None,
            }
        }
        return (at == bytes.len()).then_some(());
    }
}

/// `at` is an object key token: check `"key" :` and return the value's token.
#[inline(always)]
fn member_value<C: Classify>(
    tokens: &mut Tokens<'_, '_, C>,
    s: &mut Scanner<'_>,
    bytes: &[u8],
    at: usize,
) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let at = tokens.next(s)?;
    if bytes.get(at) != Some(&b':') {
        return None;
    }
    tokens.next(s)
}

/// A number or literal ended at `end`: the byte there must end its token.
#[inline(always)]
fn delimited(bytes: &[u8], end: usize) -> Option<()> {
    match bytes.get(end) {
        None
        | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' | b'[' | b']' | b'{' | b'}' | b'"') => {
            Some(())
        }
        Some(_) => None,
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
        let parity = (u64::from(len) + continued) & 1;
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

#[cfg(test)]
#[path = "tests/json_blocks.rs"]
mod tests;
