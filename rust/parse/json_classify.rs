//! Byte classification of 64-byte blocks into bit masks for the block JSON
//! validator: SSE2 (the x86_64 baseline), AVX2 and AVX-512BW (when the CPU
//! has them, using nibble lookup tables as simdjson does) and a portable
//! byte loop.

/// One bit per byte of a block (bit `i` is byte `i`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Classes {
    pub quote: u64,
    pub backslash: u64,
    /// `{ } [ ] : ,`
    pub op: u64,
    /// Space, tab, line feed, carriage return.
    pub ws: u64,
    /// Bytes below 0x20.
    pub control: u64,
}

/// A way to classify a block.
pub(crate) trait Classify {
    fn classify(block: &[u8; 64]) -> Classes;

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
}

/// A byte at a time, on any CPU.
#[cfg(any(test, not(target_arch = "x86_64")))]
pub(crate) struct Portable;

#[cfg(any(test, not(target_arch = "x86_64")))]
impl Classify for Portable {
    fn classify(block: &[u8; 64]) -> Classes {
        let mut c = Classes::default();
        for (i, &b) in block.iter().enumerate() {
            let bit = 1u64 << i;
            let set = |mask: &mut u64, yes: bool| *mask |= if yes { bit } else { 0 };
            set(&mut c.quote, b == b'"');
            set(&mut c.backslash, b == b'\\');
            set(
                &mut c.op,
                matches!(b, b'{' | b'}' | b'[' | b']' | b':' | b','),
            );
            set(&mut c.ws, matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
            set(&mut c.control, b < 0x20);
        }
        c
    }
}

/// Sixteen bytes at a time with SSE2 compares.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Sse2;

#[cfg(target_arch = "x86_64")]
impl Classify for Sse2 {
    #[inline(always)]
    fn classify(block: &[u8; 64]) -> Classes {
        use std::arch::x86_64::*;
        let mut c = Classes::default();
        for (k, chunk) in block.chunks_exact(16).enumerate() {
            // SAFETY: SSE2 is part of the x86_64 baseline; the load reads
            // exactly the 16 bytes of `chunk` and has no alignment requirement.
            unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast());
                let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
                let bits = |m: __m128i| u64::from(_mm_movemask_epi8(m) as u32) << (16 * k);
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
}

/// Thirty-two bytes at a time with AVX2; only for CPUs that have it.
#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    fn classify(block: &[u8; 64]) -> Classes {
        // SAFETY: `Avx2` is only used after detecting AVX2 (see `json_blocks`).
        unsafe { classify_avx2(block) }
    }

    /// One carry-less multiplication by all ones (the CPU has `pclmulqdq`
    /// wherever `Avx2` is used).
    #[inline(always)]
    fn prefix_xor(x: u64) -> u64 {
        // SAFETY: see above.
        unsafe { prefix_xor_clmul(x) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
unsafe fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::*;
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

// Nibble tables: a byte is an operator when LOW[lo] & HIGH[hi] has a bit
// in OP, whitespace when it has one in WS.
//   bit 0: ','        (0x2C)     bit 3: ' '           (0x20)
//   bit 1: ':'        (0x3A)     bit 4: '\t' '\n' '\r' (0x09 0x0A 0x0D)
//   bit 2: '[' ']' '{' '}'        (0x5B 0x5D 0x7B 0x7D)
#[cfg(target_arch = "x86_64")]
const OP: i8 = 0b0_0111;
#[cfg(target_arch = "x86_64")]
const WS: i8 = 0b1_1000;
#[cfg(target_arch = "x86_64")]
const LOW_NIBBLE: [i8; 16] = [8, 0, 0, 0, 0, 0, 0, 0, 0, 16, 2 | 16, 4, 1, 4 | 16, 0, 0];
#[cfg(target_arch = "x86_64")]
const HIGH_NIBBLE: [i8; 16] = [16, 0, 1 | 8, 2, 0, 4, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0];

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn classify_avx2(block: &[u8; 64]) -> Classes {
    use std::arch::x86_64::*;
    let table = |t: &[i8; 16]| {
        let lane = _mm_loadu_si128(t.as_ptr().cast());
        _mm256_broadcastsi128_si256(lane)
    };
    let (low_table, high_table) = (table(&LOW_NIBBLE), table(&HIGH_NIBBLE));
    let nibble = _mm256_set1_epi8(0x0f);
    let zero = _mm256_setzero_si256();
    let limit = _mm256_set1_epi8(0x1f);
    let mut c = Classes::default();
    for (k, chunk) in block.chunks_exact(32).enumerate() {
        // SAFETY: the load reads exactly the 32 bytes of `chunk`, unaligned.
        let v = unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) };
        let bits = |m: __m256i| u64::from(_mm256_movemask_epi8(m) as u32) << (32 * k);
        let low = _mm256_shuffle_epi8(low_table, _mm256_and_si256(v, nibble));
        let high_nibble = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble);
        let high = _mm256_shuffle_epi8(high_table, high_nibble);
        let class = _mm256_and_si256(low, high);
        let not_op = _mm256_cmpeq_epi8(_mm256_and_si256(class, _mm256_set1_epi8(OP)), zero);
        let not_ws = _mm256_cmpeq_epi8(_mm256_and_si256(class, _mm256_set1_epi8(WS)), zero);
        c.op |= !bits(not_op) & (u64::from(u32::MAX) << (32 * k));
        c.ws |= !bits(not_ws) & (u64::from(u32::MAX) << (32 * k));
        c.quote |= bits(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8)));
        c.backslash |= bits(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8)));
        c.control |= bits(_mm256_cmpeq_epi8(_mm256_max_epu8(v, limit), limit));
    }
    c
}

/// The whole block at once with AVX-512BW, whose compares give the bit
/// masks directly; only for CPUs that have it (and `pclmulqdq`).
#[cfg(target_arch = "x86_64")]
pub(crate) struct Avx512;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx512 {
    #[inline(always)]
    fn classify(block: &[u8; 64]) -> Classes {
        // SAFETY: `Avx512` is only used after detecting AVX-512F and BW (see `json_blocks`).
        unsafe { classify_avx512(block) }
    }

    #[inline(always)]
    fn prefix_xor(x: u64) -> u64 {
        // SAFETY: see above; such CPUs have `pclmulqdq` (checked too).
        unsafe { prefix_xor_clmul(x) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[inline]
unsafe fn classify_avx512(block: &[u8; 64]) -> Classes {
    use std::arch::x86_64::*;
    let table = |t: &[i8; 16]| {
        // SAFETY: reads exactly the 16 bytes of `t`, unaligned.
        _mm512_broadcast_i32x4(unsafe { _mm_loadu_si128(t.as_ptr().cast()) })
    };
    // SAFETY: reads exactly the 64 bytes of `block`, unaligned.
    let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let nibble = _mm512_set1_epi8(0x0f);
    let low = _mm512_shuffle_epi8(table(&LOW_NIBBLE), _mm512_and_si512(v, nibble));
    let high_nibble = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
    let high = _mm512_shuffle_epi8(table(&HIGH_NIBBLE), high_nibble);
    let class = _mm512_and_si512(low, high);
    Classes {
        quote: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'"' as i8)),
        backslash: _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b'\\' as i8)),
        op: _mm512_test_epi8_mask(class, _mm512_set1_epi8(OP)),
        ws: _mm512_test_epi8_mask(class, _mm512_set1_epi8(WS)),
        control: _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f)),
    }
}

#[cfg(test)]
#[path = "tests/json_classify.rs"]
mod tests;
