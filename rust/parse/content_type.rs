//! `Content-Type` header values: media type, parameters, and the body kind
//! that decides how the ingress parses a body (SPEC section 3).
//!
//! Parsing never fails: a value that is not `type/subtype` classifies as
//! [`BodyKind::Binary`], and a malformed parameter list keeps the parameters
//! before the error.

use std::borrow::Cow;

use crate::parse::params::{is_tchar, lossy_str, Params};

/// How a request body is parsed, chosen by its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// `application/json` and any `*/*+json`.
    Json,
    /// `multipart/form-data`.
    Multipart,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `text/*`, `application/xml` and any `*/*+xml`.
    Text,
    /// Everything else, including a body without a content type.
    Binary,
}

impl BodyKind {
    /// The kind of a request body: `None` when the body is empty, `Binary`
    /// when there is a body but no `Content-Type`.
    pub fn of(content_type: Option<&ContentType<'_>>, body: &[u8]) -> Option<BodyKind> {
        if body.is_empty() {
            return None;
        }
        Some(content_type.map_or(BodyKind::Binary, ContentType::kind))
    }

    /// Lower-case name of the kind: `json`, `multipart`, `form`, `text`, `binary`.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::Json => "json",
            BodyKind::Multipart => "multipart",
            BodyKind::Form => "form",
            BodyKind::Text => "text",
            BodyKind::Binary => "binary",
        }
    }
}

/// A parsed `Content-Type` value borrowing from the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType<'a> {
    media_type: Cow<'a, str>,
    params: &'a str,
}

impl<'a> ContentType<'a> {
    /// Parse a header value such as `Multipart/Form-Data; boundary="a b"`.
    pub fn parse(value: &'a str) -> ContentType<'a> {
        // A byte search: `split_once(';')` costs more on these short values.
        let semicolon = value.bytes().position(|b| b == b';');
        let (media, params) = match semicolon {
            Some(i) => (&value[..i], &value[i + 1..]),
            None => (value, ""),
        };
        let media = media.trim_matches([' ', '\t']);
        let media_type = if media.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(media.to_ascii_lowercase())
        } else {
            Cow::Borrowed(media)
        };
        ContentType { media_type, params }
    }

    /// The lower-cased `type/subtype` as sent (possibly empty or invalid).
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// `(type, subtype)` when the media type is two non-empty tokens around one `/`.
    pub fn type_subtype(&self) -> Option<(&str, &str)> {
        let (ty, sub) = self.media_type.split_once('/')?;
        (is_token(ty) && is_token(sub)).then_some((ty, sub))
    }

    /// Parameters in order: (name as sent, unquoted value).
    pub fn params(&self) -> impl Iterator<Item = (&'a str, Cow<'a, str>)> {
        Params::new(self.params.as_bytes()).map(|p| {
            let name = std::str::from_utf8(p.name).unwrap_or_default();
            (name, lossy_str(p.value))
        })
    }

    /// The first parameter called `name` (ASCII case-insensitive).
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The `charset` parameter.
    pub fn charset(&self) -> Option<Cow<'a, str>> {
        self.param("charset")
    }

    /// The `boundary` parameter (multipart), when present and non-empty.
    pub fn boundary(&self) -> Option<Cow<'a, str>> {
        self.param("boundary").filter(|b| !b.is_empty())
    }

    /// How a body with this content type is parsed.
    pub fn kind(&self) -> BodyKind {
        let Some((ty, sub)) = self.type_subtype() else {
            return BodyKind::Binary;
        };
        match (ty, sub) {
            ("application", "json") => BodyKind::Json,
            (_, s) if s.ends_with("+json") => BodyKind::Json,
            ("multipart", "form-data") => BodyKind::Multipart,
            ("application", "x-www-form-urlencoded") => BodyKind::Form,
            ("text", _) | ("application", "xml") => BodyKind::Text,
            (_, s) if s.ends_with("+xml") => BodyKind::Text,
            _ => BodyKind::Binary,
        }
    }
}

/// RFC 9110 token: one or more tchar.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

#[cfg(test)]
#[path = "tests/content_type.rs"]
mod tests;
