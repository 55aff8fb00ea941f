//! `application/x-www-form-urlencoded` bodies, query strings and URL paths.
//!
//! [`parse_urlencoded`] gives the same pairs as Python's
//! `urllib.parse.parse_qsl(s, keep_blank_values=True)` (UTF-8, errors
//! `replace`) for any UTF-8 input: split on `&`, skip empty pairs, split each
//! at the first `=`, `+` is a space, `%XX` is a byte, an invalid `%` stays
//! literal, and decoded bytes that are not UTF-8 become U+FFFD (one per
//! maximal invalid subsequence, as Python does). Raw non-UTF-8 input bytes
//! are decoded together with the escapes, like the WHATWG URL standard.
//!
//! Names and values that need no decoding borrow the input; the others are
//! decoded into one buffer shared by all pairs, so a parse allocates a few
//! times whatever the number of pairs, and a form of up to [`INLINE_PAIRS`]
//! pairs only for that buffer (when something needs decoding).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use memchr::memchr2;
use smallvec::SmallVec;

/// A name or value: borrowed from the input, or a range of the decoded buffer.
#[derive(Debug, Clone)]
enum Text<'a> {
    Input(&'a str),
    Decoded(Range<usize>),
}

/// Name/value pairs of a form body or query string, in order.
#[derive(Debug, Clone)]
pub struct FormPairs<'a> {
    decoded: String,
    pairs: Pairs<'a>,
}

/// The pairs of a form; short forms (most query strings) stay on the stack.
type Pairs<'a> = SmallVec<[(Text<'a>, Text<'a>); INLINE_PAIRS]>;

/// Pairs (and groups) kept without a heap allocation.
pub const INLINE_PAIRS: usize = 16;

/// Pairs grouped by name (see [`FormPairs::groups`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameGroups {
    /// For each pair, the number of its group (groups are numbered in order of first appearance).
    pub group_of: SmallVec<[usize; INLINE_PAIRS]>,
    /// For each group, the index of its first pair.
    pub first: SmallVec<[usize; INLINE_PAIRS]>,
}

/// Up to this many distinct names, [`FormPairs::groups`] compares names
/// directly instead of hashing them.
const LINEAR_GROUPING_MAX: usize = 8;

impl<'a> FormPairs<'a> {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn text<'s>(&'s self, text: &'s Text<'a>) -> &'s str {
        match text {
            Text::Input(s) => s,
            Text::Decoded(range) => self.decoded.get(range.clone()).unwrap_or_default(),
        }
    }

    /// The name of pair `i`.
    pub fn name(&self, i: usize) -> &str {
        self.pairs.get(i).map_or("", |(name, _)| self.text(name))
    }

    /// The value of pair `i`.
    pub fn value(&self, i: usize) -> &str {
        self.pairs.get(i).map_or("", |(_, value)| self.text(value))
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + use<'_, 'a> {
        self.pairs
            .iter()
            .map(|(name, value)| (self.text(name), self.text(value)))
    }

    /// Group the pairs by name: a few names are compared directly, many are hashed.
    pub fn groups(&self) -> NameGroups {
        let mut groups = NameGroups {
            group_of: SmallVec::with_capacity(self.len()),
            first: SmallVec::new(),
        };
        let mut index: Option<HashMap<&str, usize, ahash::RandomState>> = None;
        for i in 0..self.len() {
            let name = self.name(i);
            if index.is_none() && groups.first.len() == LINEAR_GROUPING_MAX {
                let mut map = HashMap::with_capacity_and_hasher(self.len(), Default::default());
                map.extend(
                    groups
                        .first
                        .iter()
                        .enumerate()
                        .map(|(g, &f)| (self.name(f), g)),
                );
                index = Some(map);
            }
            let found = match &mut index {
                Some(index) => *index.entry(name).or_insert(groups.first.len()),
                None => groups
                    .first
                    .iter()
                    .position(|&f| self.name(f) == name)
                    .unwrap_or(groups.first.len()),
            };
            if found == groups.first.len() {
                groups.first.push(i);
            }
            groups.group_of.push(found);
        }
        groups
    }
}

/// Parse a form body or query string into its name/value pairs.
///
/// One pass over the bytes finds the `&` and the first `=` of each pair and
/// notes whether its name and value hold `%` or `+`; the plain ones are
/// borrowed without looking at them again.
pub fn parse_urlencoded(input: &[u8]) -> FormPairs<'_> {
    let mut parser = Parser {
        input,
        // Valid UTF-8 input (always, from a Python str) is validated once, here.
        text: std::str::from_utf8(input).ok(),
        decoded: Vec::new(),
    };
    let mut pairs = Pairs::new();
    let mut start = 0;
    let mut eq = None;
    // Escapes seen in the name (bit 0) and in the value (bit 1) of this pair.
    let mut escapes = 0u8;
    for (i, &b) in input.iter().enumerate() {
        match b {
            b'&' => {
                parser.pair(&mut pairs, start..i, eq, escapes);
                start = i + 1;
                eq = None;
                escapes = 0;
            }
            b'=' if eq.is_none() => eq = Some(i),
            b'%' | b'+' => escapes |= if eq.is_none() { 1 } else { 2 },
            _ => {}
        }
    }
    parser.pair(&mut pairs, start..input.len(), eq, escapes);
    // Every decoded piece is UTF-8, so this never replaces anything.
    let decoded = String::from_utf8(parser.decoded)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    FormPairs { decoded, pairs }
}

struct Parser<'a> {
    input: &'a [u8],
    text: Option<&'a str>,
    /// Decoded names and values, one after the other; each is checked as UTF-8 when added.
    decoded: Vec<u8>,
}

impl<'a> Parser<'a> {
    /// Add the pair at `range` (unless empty), split at `eq`, the first `=`.
    #[inline(always)]
    fn pair(&mut self, pairs: &mut Pairs<'a>, range: Range<usize>, eq: Option<usize>, escapes: u8) {
        if range.is_empty() {
            return;
        }
        pairs.push(match eq {
            Some(eq) => (
                self.component(range.start..eq, escapes & 1 != 0),
                self.component(eq + 1..range.end, escapes & 2 != 0),
            ),
            None => (self.component(range, escapes != 0), Text::Input("")),
        });
    }

    /// Borrow the input at `range` when it is UTF-8 without escapes (`%` or
    /// `+`, which `escaped` tells); else decode it onto `decoded`.
    fn component(&mut self, range: Range<usize>, escaped: bool) -> Text<'a> {
        let raw = self.input.get(range.clone()).unwrap_or_default();
        if !escaped {
            let text = match self.text {
                Some(text) => text.get(range),
                None => std::str::from_utf8(raw).ok(),
            };
            if let Some(text) = text {
                return Text::Input(text);
            }
        }
        if self.decoded.capacity() == 0 {
            self.decoded.reserve(self.input.len());
        }
        let start = self.decoded.len();
        let ascii = percent_decode_onto(raw, true, &mut self.decoded);
        let added = self.decoded.get(start..).unwrap_or_default();
        if !ascii && std::str::from_utf8(added).is_err() {
            let replaced = String::from_utf8_lossy(added).into_owned();
            self.decoded.truncate(start);
            self.decoded.extend_from_slice(replaced.as_bytes());
        }
        Text::Decoded(start..self.decoded.len())
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decode `%XX` escapes (and `+` as a space when `plus_is_space`); an invalid
/// escape is kept literally. Borrows when there is nothing to decode.
pub(crate) fn percent_decode(input: &[u8], plus_is_space: bool) -> Cow<'_, [u8]> {
    let plus = if plus_is_space { b'+' } else { b'%' };
    if memchr2(b'%', plus, input).is_none() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::new();
    percent_decode_onto(input, plus_is_space, &mut out);
    Cow::Owned(out)
}

/// [`percent_decode`] appending to `out`; whether the decoded bytes are all ASCII.
/// Byte by byte into a slice: the inputs are short, and a `memchr` per run of
/// plain bytes would cost more.
fn percent_decode_onto(input: &[u8], plus_is_space: bool, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.resize(start + input.len(), 0);
    let buf = out.get_mut(start..).unwrap_or_default();
    let (mut i, mut len, mut bits) = (0, 0, 0);
    while let Some(&b) = input.get(i) {
        i += 1;
        let byte = match b {
            b'%' => match (input.get(i), input.get(i + 1)) {
                (Some(&hi), Some(&lo)) => match (hex_value(hi), hex_value(lo)) {
                    (Some(hi), Some(lo)) => {
                        i += 2;
                        (hi << 4) | lo
                    }
                    _ => b'%',
                },
                _ => b'%',
            },
            b'+' if plus_is_space => b' ',
            _ => b,
        };
        if let Some(slot) = buf.get_mut(len) {
            *slot = byte;
        }
        len += 1;
        bits |= byte;
    }
    out.truncate(start + len);
    bits.is_ascii()
}

#[cfg(test)]
#[path = "tests/query.rs"]
mod tests;
