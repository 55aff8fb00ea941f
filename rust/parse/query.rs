//! `application/x-www-form-urlencoded` bodies, query strings and URL paths.
//!
//! [`parse_urlencoded`] gives the same pairs as Python's
//! `urllib.parse.parse_qsl(s, keep_blank_values=True)` (UTF-8, errors
//! `replace`) for any UTF-8 input: split on `&`, skip empty pairs, split each
//! at the first `=`, `+` is a space, `%XX` is a byte, an invalid `%` stays
//! literal, and decoded bytes that are not UTF-8 become U+FFFD (one per
//! maximal invalid subsequence, as Python does). Raw non-UTF-8 input bytes
//! are decoded together with the escapes, like the WHATWG URL standard.

use std::borrow::Cow;

use memchr::{memchr, memchr2, memchr_iter};

/// Name/value pairs of a form body or query string, in order.
pub fn parse_urlencoded(input: &[u8]) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut start = 0;
    for end in memchr_iter(b'&', input).chain(std::iter::once(input.len())) {
        let pair = input.get(start..end).unwrap_or_default();
        start = end + 1;
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match memchr(b'=', pair) {
            Some(eq) => (&pair[..eq], &pair[eq + 1..]),
            None => (pair, &b""[..]),
        };
        pairs.push((decode_component(name), decode_component(value)));
    }
    pairs
}

fn decode_component(raw: &[u8]) -> String {
    match percent_decode(raw, true) {
        Cow::Borrowed(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Cow::Owned(bytes) => into_string_lossy(bytes),
    }
}

fn into_string_lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Decode `%XX` escapes (and `+` as a space when `plus_is_space`); an invalid
/// escape is kept literally. Borrows when there is nothing to decode.
pub(crate) fn percent_decode(input: &[u8], plus_is_space: bool) -> Cow<'_, [u8]> {
    let plus = if plus_is_space { b'+' } else { b'%' };
    let Some(first) = memchr2(b'%', plus, input) else {
        return Cow::Borrowed(input);
    };
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    while let Some(&b) = input.get(i) {
        match b {
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(hex_value);
                let lo = input.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi << 4) | lo);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                let rest = input.get(i..).unwrap_or_default();
                let run = memchr2(b'%', plus, rest).unwrap_or(rest.len());
                out.extend_from_slice(&rest[..run]);
                i += run;
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
#[path = "tests/query.rs"]
mod tests;
