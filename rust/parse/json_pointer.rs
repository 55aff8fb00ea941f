//! RFC 6901 JSON Pointer lookup over raw JSON bytes, without building a tree:
//! used to route a request by a field of its body.
//!
//! The walk validates everything it passes over with the same scanner as
//! [`validate_json`](crate::parse::validate_json) and gives up (`None`) on
//! anything malformed. With duplicate object keys the last one wins, as in
//! Python's `json.loads` and `serde_json`.

use std::borrow::Cow;

use memchr::memchr;

use crate::parse::json::{escape, literal_end, number_end, skip_ws, string_end, value_end};

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
    let mut tokens = pointer.split('/');
    if tokens.next() != Some("") {
        return None;
    }
    let mut i = skip_ws(bytes, 0);
    for raw in tokens {
        let token = unescape_token(raw)?;
        i = match bytes.get(i)? {
            b'{' => member(bytes, i + 1, token.as_bytes())?,
            b'[' => element(bytes, i + 1, array_index(&token)?)?,
            _ => return None,
        };
    }
    scalar(bytes, i)
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

/// `i` is just past `{`: the start of the value of the last member named `key`.
fn member(bytes: &[u8], i: usize, key: &[u8]) -> Option<usize> {
    let mut i = skip_ws(bytes, i);
    if bytes.get(i) == Some(&b'}') {
        return None;
    }
    let mut found = None;
    loop {
        if bytes.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = string_end(bytes, i + 1).ok()?;
        let matches = key_equals(bytes.get(i + 1..key_end - 1)?, key);
        i = skip_ws(bytes, key_end);
        if bytes.get(i) != Some(&b':') {
            return None;
        }
        let value = skip_ws(bytes, i + 1);
        if matches {
            found = Some(value);
        }
        i = skip_ws(bytes, value_end(bytes, value).ok()?);
        match bytes.get(i)? {
            b',' => i = skip_ws(bytes, i + 1),
            b'}' => return found,
            _ => return None,
        }
    }
}

/// `i` is just past `[`: the start of element `index`.
fn element(bytes: &[u8], i: usize, index: usize) -> Option<usize> {
    let mut i = skip_ws(bytes, i);
    if bytes.get(i) == Some(&b']') {
        return None;
    }
    for _ in 0..index {
        i = skip_ws(bytes, value_end(bytes, i).ok()?);
        match bytes.get(i)? {
            b',' => i = skip_ws(bytes, i + 1),
            _ => return None,
        }
    }
    Some(i)
}

/// Whether the raw (validated, still escaped) key body equals `key`.
fn key_equals(raw: &[u8], key: &[u8]) -> bool {
    if memchr(b'\\', raw).is_none() {
        return raw == key;
    }
    let (mut r, mut k) = (0, 0);
    while r < raw.len() {
        if raw[r] == b'\\' {
            let Ok((c, next)) = escape(raw, r) else {
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

/// The scalar value starting at `i`.
fn scalar(bytes: &[u8], i: usize) -> Option<JsonScalar<'_>> {
    match bytes.get(i)? {
        b'"' => {
            let end = string_end(bytes, i + 1).ok()?;
            unescape_string(bytes.get(i + 1..end - 1)?).map(JsonScalar::String)
        }
        b'-' | b'0'..=b'9' => {
            let end = number_end(bytes, i).ok()?;
            std::str::from_utf8(bytes.get(i..end)?)
                .ok()
                .map(JsonScalar::Number)
        }
        b't' => literal_end(bytes, i, b"true").ok().map(|_| JsonScalar::Bool(true)),
        b'f' => literal_end(bytes, i, b"false").ok().map(|_| JsonScalar::Bool(false)),
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
        let (c, next) = escape(raw, r).ok()?;
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
