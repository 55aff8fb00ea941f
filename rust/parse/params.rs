//! Header parameters: the `; name=value` lists of `Content-Type` and
//! `Content-Disposition` (RFC 9110 section 5.6.6).
//!
//! Values are tokens or quoted strings. Inside a quoted string `\"` and `\\`
//! are escapes; a backslash before any other byte is kept literally, because
//! real clients send unescaped Windows paths (`filename="C:\Users\a.txt"`).
//! Unquoted values run to the next `;` and are trimmed, so `filename=a b.txt`
//! works. Parameters without `=` are skipped.

use std::borrow::Cow;

use memchr::{memchr, memchr2};

/// Whether `b` is an RFC 9110 `tchar`, the bytes of tokens such as header
/// names and media types (by table: it runs on every part header).
pub(crate) fn is_tchar(b: u8) -> bool {
    const TCHAR: [bool; 256] = {
        let mut table = [false; 256];
        let mut i = 0;
        while i < 256 {
            table[i] = (i as u8).is_ascii_alphanumeric();
            i += 1;
        }
        let symbols = b"!#$%&'*+-.^_`|~";
        let mut i = 0;
        while i < symbols.len() {
            table[symbols[i] as usize] = true;
            i += 1;
        }
        table
    };
    TCHAR[usize::from(b)]
}

/// One parameter; `value` is unquoted and unescaped.
pub(crate) struct Param<'a> {
    pub name: &'a [u8],
    pub value: Cow<'a, [u8]>,
}

/// Iterator over the parameters in `input` (the text after the first `;`).
///
/// On malformed input it stops and records why in [`Params::error`].
pub(crate) struct Params<'a> {
    input: &'a [u8],
    pos: usize,
    /// Offset into `input` and description of the first syntax error.
    pub error: Option<(usize, &'static str)>,
}

impl<'a> Params<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Params {
            input,
            pos: 0,
            error: None,
        }
    }

    fn fail(&mut self, at: usize, what: &'static str) -> Option<Param<'a>> {
        self.error = Some((at, what));
        self.pos = self.input.len();
        None
    }

    fn skip(&mut self, pred: impl Fn(u8) -> bool) {
        while self.input.get(self.pos).is_some_and(|&b| pred(b)) {
            self.pos += 1;
        }
    }

    /// Parse a quoted string whose opening quote is at `self.pos`.
    fn quoted(&mut self) -> Option<Cow<'a, [u8]>> {
        let input = self.input;
        let mut owned: Option<Vec<u8>> = None;
        let mut seg_start = self.pos + 1;
        let mut pos = seg_start;
        loop {
            let rest = input.get(pos..)?;
            let found = pos + memchr2(b'"', b'\\', rest)?;
            let segment = input.get(seg_start..found)?;
            if input[found] == b'"' {
                self.pos = found + 1;
                return Some(match owned {
                    None => Cow::Borrowed(segment),
                    Some(mut buf) => {
                        buf.extend_from_slice(segment);
                        Cow::Owned(buf)
                    }
                });
            }
            match input.get(found + 1) {
                Some(&escaped @ (b'"' | b'\\')) => {
                    let buf = owned.get_or_insert_with(Vec::new);
                    buf.extend_from_slice(segment);
                    buf.push(escaped);
                    seg_start = found + 2;
                    pos = found + 2;
                }
                _ => pos = found + 1,
            }
        }
    }
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `bytes` without leading and trailing spaces and tabs.
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let input = self.input;
        loop {
            self.skip(|b| is_ows(b) || b == b';');
            let name_start = self.pos;
            if name_start >= input.len() {
                return None;
            }
            self.skip(|b| b != b'=' && b != b';');
            let name = trim_ows(input.get(name_start..self.pos)?);
            if input.get(self.pos) != Some(&b'=') {
                continue;
            }
            if name.is_empty() {
                return self.fail(name_start, "a parameter name before '='");
            }
            self.pos += 1;
            self.skip(is_ows);
            let value = if input.get(self.pos) == Some(&b'"') {
                let open = self.pos;
                let Some(value) = self.quoted() else {
                    return self.fail(open, "a closing '\"' for the quoted parameter value");
                };
                self.skip(is_ows);
                if self.pos < input.len() && input[self.pos] != b';' {
                    return self.fail(self.pos, "';' after a quoted parameter value");
                }
                value
            } else {
                let rest = input.get(self.pos..)?;
                let end = memchr(b';', rest).map_or(input.len(), |i| self.pos + i);
                let value = trim_ows(input.get(self.pos..end)?);
                self.pos = end;
                Cow::Borrowed(value)
            };
            return Some(Param { name, value });
        }
    }
}

/// Bytes as text, invalid UTF-8 replaced by U+FFFD; borrows when it can.
pub(crate) fn lossy_str(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        // `from_utf8` checks ASCII a word at a time; `from_utf8_lossy` byte by byte.
        Cow::Borrowed(b) => match std::str::from_utf8(b) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(b),
        },
        Cow::Owned(v) => Cow::Owned(
            String::from_utf8(v)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
    }
}
