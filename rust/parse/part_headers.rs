//! The header section of one multipart part: `Content-Disposition` (name,
//! filename) and `Content-Type`; other headers are ignored.
//!
//! Lines may end with CRLF or LF. Header names are case-insensitive.
//! Folded (obsolete line continuation) headers and duplicate
//! `Content-Disposition` or `Content-Type` headers are rejected. Header bytes
//! that are not UTF-8 become U+FFFD.

use std::borrow::Cow;

use memchr::memchr;

use crate::parse::multipart::{MultipartError, MultipartLimits};
use crate::parse::params::{is_tchar, lossy_str, trim_ows, Params};
use crate::parse::query::percent_decode;

/// What a part's headers say about it.
pub(crate) struct PartHeaders<'a> {
    pub name: Cow<'a, str>,
    pub filename: Option<Cow<'a, str>>,
    pub content_type: Option<Cow<'a, str>>,
}

/// Parse the header section starting at `start`; return the headers and the
/// offset just past the blank line ending them.
pub(crate) fn parse_part_headers<'a>(
    body: &'a [u8],
    start: usize,
    limits: &MultipartLimits,
) -> Result<(PartHeaders<'a>, usize), MultipartError> {
    let window_end = body
        .len()
        .min(start.saturating_add(limits.max_part_header_bytes));
    let mut disposition: Option<(usize, &'a [u8])> = None;
    let mut content_type: Option<&'a [u8]> = None;
    let mut pos = start;
    loop {
        let window = body.get(pos..window_end).unwrap_or_default();
        let Some(newline) = memchr(b'\n', window).map(|k| pos + k) else {
            return Err(if window_end < body.len() {
                MultipartError::HeaderTooLarge {
                    offset: start,
                    limit: limits.max_part_header_bytes,
                }
            } else {
                MultipartError::TruncatedHeaders { offset: body.len() }
            });
        };
        let line = body.get(pos..newline).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line_start = pos;
        pos = newline + 1;
        if line.is_empty() {
            break;
        }
        let (name, value_offset, value) = split_header(line, line_start)?;
        let slot = if name.eq_ignore_ascii_case(b"content-disposition") {
            let old = disposition.replace((value_offset, value));
            old.map(|_| "a single Content-Disposition header")
        } else if name.eq_ignore_ascii_case(b"content-type") {
            let old = content_type.replace(value);
            old.map(|_| "a single Content-Type header")
        } else {
            None
        };
        if let Some(expected) = slot {
            return Err(MultipartError::BadHeader {
                offset: line_start,
                expected,
            });
        }
    }
    let (value_offset, value) =
        disposition.ok_or(MultipartError::MissingContentDisposition { offset: start })?;
    let (name, filename) = parse_disposition(value, value_offset)?;
    let headers = PartHeaders {
        name: name.ok_or(MultipartError::MissingName {
            offset: value_offset,
        })?,
        filename,
        content_type: content_type.map(|v| lossy_str(Cow::Borrowed(v))),
    };
    Ok((headers, pos))
}

/// Split `Name: value` into the name, the value's offset in the body, and
/// the trimmed value.
fn split_header(line: &[u8], offset: usize) -> Result<(&[u8], usize, &[u8]), MultipartError> {
    let bad = |at: usize, expected| MultipartError::BadHeader {
        offset: offset + at,
        expected,
    };
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(bad(0, "a part header name, not a folded continuation line"));
    }
    let name_len = match memchr(b':', line) {
        Some(colon) if colon > 0 && line[..colon].iter().all(|&b| is_tchar(b)) => colon,
        _ => {
            let name_len = line.iter().take_while(|&&b| is_tchar(b)).count();
            if name_len == 0 {
                return Err(bad(0, "a part header name"));
            }
            return Err(bad(name_len, "':' after part header name"));
        }
    };
    let raw = line.get(name_len + 1..).unwrap_or_default();
    let lead = raw.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    Ok((
        &line[..name_len],
        offset + name_len + 1 + lead,
        trim_ows(raw),
    ))
}

type NameAndFilename<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>);

/// `name` and `filename` from a Content-Disposition value at `offset`.
fn parse_disposition(value: &[u8], offset: usize) -> Result<NameAndFilename<'_>, MultipartError> {
    let params_start = memchr(b';', value).map_or(value.len(), |i| i + 1);
    let mut params = Params::new(value.get(params_start..).unwrap_or_default());
    let (mut name, mut filename, mut ext_filename) = (None, None, None);
    for param in params.by_ref() {
        let key = param.name;
        if key.eq_ignore_ascii_case(b"name") {
            name.get_or_insert(param.value);
        } else if key.eq_ignore_ascii_case(b"filename") {
            filename.get_or_insert(param.value);
        } else if key.eq_ignore_ascii_case(b"filename*") {
            ext_filename.get_or_insert(param.value);
        }
    }
    if let Some((at, expected)) = params.error {
        return Err(MultipartError::BadHeader {
            offset: offset + params_start + at,
            expected,
        });
    }
    let filename = ext_filename
        .as_deref()
        .and_then(decode_ext_value)
        .or_else(|| filename.map(lossy_str));
    Ok((name.map(lossy_str), filename))
}

/// An RFC 8187 `charset'language'pct-encoded` value in UTF-8 or ISO-8859-1.
fn decode_ext_value<'a>(value: &[u8]) -> Option<Cow<'a, str>> {
    let mut fields = value.splitn(3, |&b| b == b'\'');
    let (charset, _language, encoded) = (fields.next()?, fields.next()?, fields.next()?);
    let bytes = percent_decode(encoded, false);
    if charset.eq_ignore_ascii_case(b"utf-8") {
        String::from_utf8(bytes.into_owned()).ok().map(Cow::Owned)
    } else if charset.eq_ignore_ascii_case(b"iso-8859-1") {
        Some(Cow::Owned(bytes.iter().map(|&b| b as char).collect()))
    } else {
        None
    }
}
