//! `application/x-www-form-urlencoded` bodies and query strings.
//!
//! [`parse_urlencoded`] gives the same pairs as Python's
//! `urllib.parse.parse_qsl(s, keep_blank_values=True)` (UTF-8, errors
//! `replace`) for any UTF-8 input: split on `&`, skip empty pairs, split each
//! at the first `=`, `+` is a space, `%XX` is a byte, an invalid `%` stays
//! literal, and decoded bytes that are not UTF-8 become U+FFFD (one per
//! maximal invalid subsequence, as Python does). Raw non-UTF-8 input bytes
//! are decoded together with the escapes, like the WHATWG URL standard.
//!
//! Pairs are read one at a time and not collected: the caller groups them
//! (the Python bindings, straight into a dict).

use std::borrow::Cow;
use std::ops::Range;

use memchr::memchr2;

/// The name/value pairs of a form body or query string, read in order with
/// [`UrlencodedPairs::next_pair`].
///
/// One pass over each pair's bytes finds its end (`&`), its first `=` and
/// whether its name and value hold `%` or `+`; plain ones are borrowed from
/// the input, the others decoded into a buffer kept from pair to pair, so a
/// whole parse allocates at most twice (and once more for each component
/// that is not UTF-8 once decoded).
#[derive(Debug, Clone)]
pub struct UrlencodedPairs<'a> {
    input: &'a [u8],
    /// The input as text when it is UTF-8 (always, from a Python str).
    text: Option<&'a str>,
    /// Where the next pair starts; past the end of the input once all are read.
    next: usize,
    name: String,
    value: String,
}

/// Parse a form body or query string; see [`UrlencodedPairs`].
pub fn parse_urlencoded(input: &[u8]) -> UrlencodedPairs<'_> {
    UrlencodedPairs::new(input, std::str::from_utf8(input).ok())
}

/// [`parse_urlencoded`] for input known to be text, which is not checked again.
pub fn parse_urlencoded_str(input: &str) -> UrlencodedPairs<'_> {
    UrlencodedPairs::new(input.as_bytes(), Some(input))
}

impl<'a> UrlencodedPairs<'a> {
    fn new(input: &'a [u8], text: Option<&'a str>) -> Self {
        UrlencodedPairs {
            input,
            text,
            next: 0,
            name: String::new(),
            value: String::new(),
        }
    }

    /// The next pair, name then value; `None` after the last.
    pub fn next_pair(&mut self) -> Option<(&str, &str)> {
        let (name, value, escapes) = loop {
            let start = self.next;
            let rest = self.input.get(start..)?;
            let (mut end, mut eq) = (self.input.len(), None);
            // Escapes seen in the name (bit 0) and in the value (bit 1).
            let mut escapes = 0u8;
            for (i, &b) in rest.iter().enumerate() {
                match b {
                    b'&' => {
                        end = start + i;
                        break;
                    }
                    b'=' if eq.is_none() => eq = Some(start + i),
                    b'%' | b'+' => escapes |= if eq.is_none() { 1 } else { 2 },
                    _ => {}
                }
            }
            self.next = end + 1;
            if end > start {
                break match eq {
                    Some(eq) => (start..eq, eq + 1..end, escapes),
                    None => (start..end, end..end, escapes),
                };
            }
        };
        let (input, text) = (self.input, self.text);
        let name = component(input, text, name, escapes & 1 != 0, &mut self.name);
        let value = component(input, text, value, escapes & 2 != 0, &mut self.value);
        Some((
            name.unwrap_or(self.name.as_str()),
            value.unwrap_or(self.value.as_str()),
        ))
    }
}

/// The input at `range` when it is UTF-8 without escapes (`%` or `+`, which
/// `escaped` tells); else `None`, after decoding it into `out`.
fn component<'a>(
    input: &'a [u8],
    text: Option<&'a str>,
    range: Range<usize>,
    escaped: bool,
    out: &mut String,
) -> Option<&'a str> {
    if !escaped {
        let borrowed = match text {
            Some(text) => text.get(range.clone()),
            None => input
                .get(range.clone())
                .and_then(|raw| std::str::from_utf8(raw).ok()),
        };
        if borrowed.is_some() {
            return borrowed;
        }
    }
    let mut bytes = std::mem::take(out).into_bytes();
    bytes.clear();
    percent_decode_onto(input.get(range).unwrap_or_default(), true, &mut bytes);
    *out = match String::from_utf8(bytes) {
        Ok(decoded) => decoded,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    None
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

/// [`percent_decode`] appending to `out`.
/// Byte by byte into a slice: the inputs are short, and a `memchr` per run of
/// plain bytes would cost more.
fn percent_decode_onto(input: &[u8], plus_is_space: bool, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + input.len(), 0);
    let buf = out.get_mut(start..).unwrap_or_default();
    let (mut i, mut len) = (0, 0);
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
    }
    out.truncate(start + len);
}

#[cfg(test)]
#[path = "tests/query.rs"]
pub(crate) mod tests;
