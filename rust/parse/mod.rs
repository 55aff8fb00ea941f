//! Request body and URL parsers of the ingress: pure Rust, no Python types.
//!
//! Every parser accepts arbitrary bytes without panicking, allocates at most
//! in proportion to its input, and reports failures as typed errors whose
//! `Display` says what was expected and at which byte.
//!
//! - [`content_type`]: `Content-Type` values and the [`BodyKind`] they select.
//! - [`json`]: strict RFC 8259 validation; [`json_pointer`](mod@json_pointer): RFC 6901 lookups.
//! - [`query`]: urlencoded forms and query strings.
//! - [`text`]: text bodies in their declared charset.
//! - [`multipart`]: `multipart/form-data` bodies as parts with byte ranges.

pub mod content_type;
pub mod json;
mod json_blocks;
mod json_classify;
pub mod json_pointer;
mod json_scan;
pub mod multipart;
pub(crate) mod params;
mod part_headers;
pub mod query;
pub mod text;

pub use content_type::{BodyKind, ContentType};
pub use json::{validate_json, JsonError, JsonErrorKind, MAX_DEPTH, MAX_INT_DIGITS};
pub use json_pointer::{json_pointer, JsonScalar};
pub use multipart::{parse_multipart, MultipartError, MultipartLimits, Part, MAX_BOUNDARY_LEN};
pub use query::{parse_urlencoded, parse_urlencoded_str, UrlencodedPairs};
pub use text::{decode_text, TextError};

#[cfg(test)]
#[path = "tests/props_json.rs"]
mod props_json;
#[cfg(test)]
#[path = "tests/props_misc.rs"]
mod props_misc;
#[cfg(test)]
#[path = "tests/props_multipart.rs"]
mod props_multipart;
