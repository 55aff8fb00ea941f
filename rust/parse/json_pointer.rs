//! RFC 6901 JSON Pointer lookup over raw JSON bytes, without building a tree:
//! used to route a request by a field of its body.
//!
//! The walk validates everything it passes over with the same scanner as
//! [`validate_json`](crate::parse::validate_json) and gives up (`None`) on
//! anything malformed. With duplicate object keys the last one wins, as in
//! Python's `json.loads` and `serde_json`, so every object on the path is
//! scanned to its end: one pass over the document at most.

use std::borrow::Cow;

use encoding_rs::Encoding;
use memchr::memchr;

use crate::parse::json::MAX_DEPTH;
use crate::parse::json_scan::Scanner;

/// A scalar found by [`json_pointer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonScalar<'a> {
    /// A string, unescaped (borrowed when it has no escapes).
    String(Cow<'a, str>),
    /// A number, exactly as written in the document (`-1.5e3`).
    Number(&'a str),
    /// `true` or `false`.
    Bool(bool),
}

impl JsonScalar<'_> {
    /// The value as text: the string itself, the number as written, `true` or `false`.
    pub fn as_text(&self) -> &str {
        match self {
            JsonScalar::String(s) => s,
            JsonScalar::Number(n) => n,
            JsonScalar::Bool(true) => "true",
            JsonScalar::Bool(false) => "false",
        }
    }
}

/// The string, number or boolean at `pointer` (RFC 6901, e.g. `/data/items/0/id`,
/// `~1` for `/` and `~0` for `~` in names) in the JSON document `bytes`.
///
/// `None` when the pointer is malformed, the path does not exist, the value
/// there is `null`, an object or an array, or the document is malformed on
/// the way. The empty pointer `""` designates the whole document.
pub fn json_pointer<'a>(bytes: &'a [u8], pointer: &str) -> Option<JsonScalar<'a>> {
    let mut raw_tokens = pointer.split('/');
    if raw_tokens.next() != Some("") {
        return None;
    }
    let tokens = raw_tokens
        .map(unescape_token)
        .collect::<Option<Vec<Cow<'_, str>>>>()?;
    if tokens.len() > MAX_DEPTH || Encoding::utf8_valid_up_to(bytes) < bytes.len() {
        return None;
    }
    let mut scanner = Scanner::new(bytes);
    resolve(&mut scanner, bytes, 0, &tokens, false)?.0
}

/// What `tokens` designate in the value at `start`, and the end of that
/// value (meaningful only when `need_end`). `None` on malformed JSON.
///
/// Objects are always scanned to their end, so that a later duplicate key
/// replaces an earlier one; the recursion is as deep as the pointer.
fn resolve<'a>(
    s: &mut Scanner<'a>,
    bytes: &'a [u8],
    start: usize,
    tokens: &[Cow<'_, str>],
    need_end: bool,
) -> Option<(Option<JsonScalar<'a>>, usize)> {
    let i = s.skip_ws(start);
    let first = *bytes.get(i)?;
    let skip = |s: &mut Scanner<'a>| Some((None, if need_end { s.value_end(i)? } else { i }));
    let Some((token, rest)) = tokens.split_first() else {
        if !need_end && (first == b'{' || first == b'[') {
            return Some((None, i));
        }
        let end = s.value_end(i)?;
        return Some((scalar(bytes.get(i..end)?), end));
    };
    match first {
        b'{' => member(s, bytes, i + 1, token, rest),
        b'[' => match array_index(token) {
            Some(index) => element(s, bytes, i + 1, index, rest, need_end),
            None => skip(s),
        },
        _ => skip(s),
    }
}

/// `i` is just past `{`: resolve `rest` in the value of the last member named
/// `key`, and return the end of the object.
fn member<'a>(
    s: &mut Scanner<'a>,
    bytes: &'a [u8],
    i: usize,
    key: &str,
    rest: &[Cow<'_, str>],
) -> Option<(Option<JsonScalar<'a>>, usize)> {
    let mut i = s.skip_ws(i);
    if bytes.get(i) == Some(&b'}') {
        return Some((None, i + 1));
    }
    let mut found = None;
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = s.string_end(i + 1)?;
        let matches = key_equals(bytes.get(i + 1..key_end - 1)?, key.as_bytes());
        i = s.skip_ws(key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        if matches {
            let (value, end) = resolve(s, bytes, i + 1, rest, true)?;
            found = value;
            i = end;
        } else {
            i = s.value_end(i + 1)?;
        }
        i = s.skip_ws(i);
        match bytes.get(i)? {
            b',' => i = s.skip_ws(i + 1),
            b'}' => return Some((found, i + 1)),
            _ => return None,
        }
    }
}

/// `i` is just past `[`: resolve `rest` in element `index`, and return the
/// end of the array when `need_end`.
fn element<'a>(
    s: &mut Scanner<'a>,
    bytes: &'a [u8],
    i: usize,
    index: usize,
    rest: &[Cow<'_, str>],
    need_end: bool,
) -> Option<(Option<JsonScalar<'a>>, usize)> {
    let mut i = s.skip_ws(i);
    if bytes.get(i) == Some(&b']') {
        return Some((None, i + 1));
    }
    let mut found = None;
    let mut n = 0usize;
    loop {
        if n == index {
            let (value, end) = resolve(s, bytes, i, rest, need_end)?;
            if !need_end {
                return Some((value, end));
            }
            found = value;
            i = end;
        } else {
            i = s.value_end(i)?;
        }
        n += 1;
        i = s.skip_ws(i);
        match bytes.get(i)? {
            b',' => i = s.skip_ws(i + 1),
            b']' => return Some((found, i + 1)),
            _ => return None,
        }
    }
}

/// Decode `~0` and `~1` in a reference token; `None` for any other `~`.
fn unescape_token(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.contains('~') {
        return Some(Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        out.push(if c != '~' {
            c
        } else {
            match chars.next()? {
                '0' => '~',
                '1' => '/',
                _ => return None,
            }
        });
    }
    Some(Cow::Owned(out))
}

/// An array index token: `0` or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    valid.then(|| token.parse().ok()).flatten()
}

/// Whether the raw (validated, still escaped) key body equals `key`.
fn key_equals(raw: &[u8], key: &[u8]) -> bool {
    if memchr(b'\\', raw).is_none() {
        return raw == key;
    }
    let (mut r, mut k) = (0, 0);
    while r < raw.len() {
        if raw[r] == b'\\' {
            let Some((c, next)) = Scanner::new(raw).escape(r) else {
                return false;
            };
            let mut buf = [0u8; 4];
            let encoded = c.encode_utf8(&mut buf).as_bytes();
            if key.get(k..k + encoded.len()) != Some(encoded) {
                return false;
            }
            k += encoded.len();
            r = next;
        } else {
            if key.get(k) != Some(&raw[r]) {
                return false;
            }
            k += 1;
            r += 1;
        }
    }
    k == key.len()
}

/// The scalar `value` (validated, exactly one value).
fn scalar(value: &[u8]) -> Option<JsonScalar<'_>> {
    match value.first()? {
        b'"' => unescape_string(value.get(1..value.len() - 1)?).map(JsonScalar::String),
        b'-' | b'0'..=b'9' => std::str::from_utf8(value).ok().map(JsonScalar::Number),
        b't' => Some(JsonScalar::Bool(true)),
        b'f' => Some(JsonScalar::Bool(false)),
        _ => None,
    }
}

/// Unescape a validated string body.
fn unescape_string(raw: &[u8]) -> Option<Cow<'_, str>> {
    let Some(first) = memchr(b'\\', raw) else {
        return std::str::from_utf8(raw).ok().map(Cow::Borrowed);
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(std::str::from_utf8(raw.get(..first)?).ok()?);
    let mut r = first;
    while r < raw.len() {
        let (c, next) = Scanner::new(raw).escape(r)?;
        out.push(c);
        let plain_end = memchr(b'\\', raw.get(next..)?).map_or(raw.len(), |k| next + k);
        out.push_str(std::str::from_utf8(raw.get(next..plain_end)?).ok()?);
        r = plain_end;
    }
    Some(Cow::Owned(out))
}

#[cfg(test)]
#[path = "tests/json_pointer.rs"]
mod tests;
