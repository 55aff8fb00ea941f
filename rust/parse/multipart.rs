//! `multipart/form-data` bodies (RFC 7578 over RFC 2046), parsed in place.
//!
//! Parts come back as names plus byte ranges into the body, so nothing is
//! copied. The line ending (CRLF or bare LF) is taken from the first boundary
//! line and the delimiters are then searched with one `memmem` finder of
//! `\n--boundary`, which keeps part data byte-exact in both styles; the first
//! few line breaks of a part are looked at before the finder, since most
//! fields are a line or two. A preamble before the first
//! boundary line and an epilogue after the closing one are ignored, as is
//! transport padding (spaces and tabs) after a boundary. A boundary string
//! that continues with other bytes (`--BOUNDARYx`) is data, not a delimiter.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use memchr::memchr_iter;
use memchr::memmem::Finder;

use crate::parse::part_headers::parse_part_headers;

/// Longest boundary accepted (RFC 2046 allows 70; some clients send more).
pub const MAX_BOUNDARY_LEN: usize = 256;

/// Resource limits for [`parse_multipart`]; exceeding one is an
/// [`MultipartError::is_limit`] error (HTTP 413).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    /// Most parts one body may have (default 1000).
    pub max_parts: usize,
    /// Most bytes of one part's header section, blank line included (default 16 KiB).
    pub max_part_header_bytes: usize,
}

impl Default for MultipartLimits {
    fn default() -> Self {
        MultipartLimits {
            max_parts: 1000,
            max_part_header_bytes: 16 * 1024,
        }
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The `name` parameter of `Content-Disposition`.
    pub name: Cow<'a, str>,
    /// `filename*` (RFC 8187, UTF-8 or ISO-8859-1) if usable, else `filename`.
    pub filename: Option<Cow<'a, str>>,
    /// The part's `Content-Type` header value as sent, trimmed.
    pub content_type: Option<Cow<'a, str>>,
    /// Where the part's data lies in the body.
    pub data: Range<usize>,
}

impl Part<'_> {
    /// The part's data within `body` (the body it was parsed from).
    pub fn bytes<'b>(&self, body: &'b [u8]) -> &'b [u8] {
        body.get(self.data.clone()).unwrap_or_default()
    }
}

/// Why a multipart body was rejected. Offsets are byte offsets into the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultipartError {
    /// The boundary parameter is empty or longer than [`MAX_BOUNDARY_LEN`].
    InvalidBoundary { len: usize },
    /// No `--boundary` line anywhere in the body.
    NoBoundary,
    /// The body ends before the closing `--boundary--`.
    MissingClosingBoundary { offset: usize },
    /// The body ends inside a part's header section.
    TruncatedHeaders { offset: usize },
    /// A part header line is malformed; `expected` says what was required.
    BadHeader {
        offset: usize,
        expected: &'static str,
    },
    /// A part has no `Content-Disposition` header.
    MissingContentDisposition { offset: usize },
    /// A part's `Content-Disposition` has no `name` parameter.
    MissingName { offset: usize },
    /// More parts than [`MultipartLimits::max_parts`] (a limit).
    TooManyParts { limit: usize },
    /// A part's header section is larger than
    /// [`MultipartLimits::max_part_header_bytes`] (a limit).
    HeaderTooLarge { offset: usize, limit: usize },
}

impl MultipartError {
    /// Whether a configured limit was exceeded (413) rather than the body being malformed (400).
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            MultipartError::TooManyParts { .. } | MultipartError::HeaderTooLarge { .. }
        )
    }
}

impl fmt::Display for MultipartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MultipartError::*;
        match self {
            InvalidBoundary { len } => write!(
                f,
                "expected a multipart boundary of 1 to {MAX_BOUNDARY_LEN} bytes, found {len} bytes"
            ),
            NoBoundary => f.write_str("expected a '--BOUNDARY' line, found none in the body"),
            MissingClosingBoundary { offset } => write!(
                f,
                "expected a closing '--BOUNDARY--' line, found the end of the body at byte {offset}"
            ),
            TruncatedHeaders { offset } => write!(
                f,
                "expected part headers ending with an empty line, found the end of the body at byte {offset}"
            ),
            BadHeader { offset, expected } => write!(f, "expected {expected} at byte {offset}"),
            MissingContentDisposition { offset } => write!(
                f,
                "expected a Content-Disposition header in the part at byte {offset}"
            ),
            MissingName { offset } => write!(
                f,
                "expected a name parameter in the Content-Disposition header at byte {offset}"
            ),
            TooManyParts { limit } => {
                write!(f, "multipart body has more than {limit} parts, the limit")
            }
            HeaderTooLarge { offset, limit } => write!(
                f,
                "multipart part headers at byte {offset} exceed the limit of {limit} bytes"
            ),
        }
    }
}

impl std::error::Error for MultipartError {}

/// Parse a complete `multipart/form-data` body whose Content-Type boundary
/// parameter is `boundary` (unquoted, without the leading `--`).
pub fn parse_multipart<'a>(
    body: &'a [u8],
    boundary: &[u8],
    limits: &MultipartLimits,
) -> Result<Vec<Part<'a>>, MultipartError> {
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY_LEN {
        return Err(MultipartError::InvalidBoundary {
            len: boundary.len(),
        });
    }
    // "\n--" + boundary: the LF-only delimiter. One finder serves both styles
    // (a CRLF delimiter is a match after a '\r') and the first boundary line.
    let mut buf = [0u8; MAX_BOUNDARY_LEN + 3];
    let delimiter = &mut buf[..boundary.len() + 3];
    delimiter[..3].copy_from_slice(b"\n--");
    delimiter[3..].copy_from_slice(boundary);
    let delimiter = Delimiter {
        finder: Finder::new(delimiter),
        crlf: false,
    };

    let (mut pos, crlf) = first_boundary(body, &delimiter)?;
    let delimiter = Delimiter { crlf, ..delimiter };
    let eol_len = if crlf { 2 } else { 1 };

    let mut parts = Vec::new();
    while let Some(part_start) = pos {
        if parts.len() == limits.max_parts {
            return Err(MultipartError::TooManyParts {
                limit: limits.max_parts,
            });
        }
        let (headers, data_start) = parse_part_headers(body, part_start, limits)?;
        // The blank line's own line ending may double as the delimiter's, for an empty part.
        let (data_end, next) = delimiter
            .next(body, data_start.saturating_sub(eol_len))
            .ok_or(MultipartError::MissingClosingBoundary { offset: body.len() })?;
        parts.push(Part {
            name: headers.name,
            filename: headers.filename,
            content_type: headers.content_type,
            data: data_start..data_end.max(data_start),
        });
        pos = next;
    }
    Ok(parts)
}

/// What follows `--boundary` at `at`: `Some(Some(line_end))` for a boundary line
/// ending at `line_end`, `Some(None)` for the closing `--`, `None` if it is data.
fn after_boundary(body: &[u8], at: usize) -> Option<Option<(usize, bool)>> {
    let rest = body.get(at..)?;
    if rest.starts_with(b"--") {
        return Some(None);
    }
    let padding = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match rest.get(padding..)? {
        [b'\r', b'\n', ..] => Some(Some((at + padding + 2, true))),
        [b'\n', ..] => Some(Some((at + padding + 1, false))),
        _ => None,
    }
}

/// Find the first boundary line (at the start of the body or after a '\n'):
/// the start of the first part (`None` when the body closes at once) and
/// whether lines end with CRLF.
fn first_boundary(
    body: &[u8],
    delimiter: &Delimiter<'_>,
) -> Result<(Option<usize>, bool), MultipartError> {
    let dash_boundary = &delimiter.finder.needle()[1..];
    let at_start = body.starts_with(dash_boundary).then_some(0);
    // Just past each "\n--boundary", overlapping ones included.
    let find_from = |from: usize| {
        let rest = body.get(from..)?;
        delimiter.finder.find(rest).map(|i| from + i + 1)
    };
    let after_newline = std::iter::successors(find_from(0), |&at| find_from(at));
    for at in at_start.into_iter().chain(after_newline) {
        match after_boundary(body, at + dash_boundary.len()) {
            Some(Some((line_end, crlf))) => return Ok((Some(line_end), crlf)),
            Some(None) => return Ok((None, true)),
            None => continue,
        }
    }
    Err(MultipartError::NoBoundary)
}

/// The delimiter between parts: a line ending, `--` and the boundary.
struct Delimiter<'n> {
    /// Finds "\n--boundary".
    finder: Finder<'n>,
    /// Whether the line ending is CRLF rather than LF.
    crlf: bool,
}

/// Line breaks looked at one by one before [`Delimiter::find`] uses the finder.
const LINE_BREAKS_TRIED: usize = 3;

impl Delimiter<'_> {
    /// The first "\n--boundary" at or after `from`. Most fields are a line or
    /// two, whose end is found sooner by looking at their first line breaks.
    fn find(&self, body: &[u8], from: usize) -> Option<usize> {
        let needle = self.finder.needle();
        let rest = body.get(from..)?;
        let mut newlines = memchr_iter(b'\n', rest);
        let mut tried = 0;
        for _ in 0..LINE_BREAKS_TRIED {
            // No line break left: no delimiter either.
            let newline = newlines.next()?;
            if rest.get(newline..)?.starts_with(needle) {
                return Some(from + newline);
            }
            tried = newline + 1;
        }
        Some(from + tried + self.finder.find(rest.get(tried..)?)?)
    }

    /// From `from`, find the next delimiter: the end of the current part's
    /// data and the start of the next part (`None` after the closing delimiter).
    fn next(&self, body: &[u8], from: usize) -> Option<(usize, Option<usize>)> {
        // With CRLF, the '\n' of a delimiter at `from` lies at `from + 1`.
        let needle = self.finder.needle();
        let mut search = from + usize::from(self.crlf);
        loop {
            let newline = self.find(body, search)?;
            search = newline + 1;
            let at = match self.crlf {
                false => newline,
                true if newline > from && body[newline - 1] == b'\r' => newline - 1,
                true => continue,
            };
            if let Some(next) = after_boundary(body, newline + needle.len()) {
                return Some((at, next.map(|(line_end, _)| line_end)));
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/multipart.rs"]
mod tests;
