//! Who may send (SPEC 8): webhook signatures, delivery ids and provider
//! handshakes, sans-IO and free of Python types.
//!
//! - [`verify`]: check a request's signature under a [`VerifySpec`] against
//!   the instance's secrets (several while one is rotated: any verifies; none
//!   configured refuses, fail closed). HMACs run over the exact bytes
//!   received, in pieces (nothing is copied), and presented digests are
//!   decoded and compared in constant time.
//! - [`delivery_id`]: the id a scheme implies for dropping duplicates.
//! - [`handshake::respond`] and [`handshake::slack_url_verification`]: the
//!   answers to providers' endpoint checks.
//!
//! Each scheme follows its provider's documentation; `tests/vectors/` holds
//! the published vectors the tests check.

pub mod handshake;
pub mod header;
pub mod mac;
mod scheme;
pub mod spec;

use std::fmt;

use crate::error_code::ErrorCode;
use crate::parse::json_pointer;

pub use handshake::{respond, slack_url_verification, Answer};
pub use spec::{Algorithm, Encoding, HandshakeSpec, VerifySpec, DEFAULT_TOLERANCE_SECS};

/// Why a request is refused: the `hookcore-error-code` and a message that
/// names the scheme and what failed (never a secret's value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
}

impl Rejection {
    pub(crate) fn new(code: ErrorCode, message: String) -> Rejection {
        Rejection { code, message }
    }

    /// The HTTP status of the answer: 403 for a refused handshake, else 401.
    pub fn status(&self) -> u16 {
        match self.code {
            ErrorCode::HandshakeRefused => 403,
            _ => 401,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

/// Check the signature of one request.
///
/// `secrets` are the values of the config entry `spec` names (empty: not
/// configured, refused); `headers` have lower-case names, a repeated header
/// joined with ", "; `body` is the exact bytes received; `now_secs` is the
/// Unix time the timestamps of Standard Webhooks, Stripe and Slack must lie
/// within their tolerance of.
pub fn verify(
    spec: &VerifySpec,
    secrets: &[&str],
    headers: &[(String, String)],
    body: &[u8],
    now_secs: u64,
) -> Result<(), Rejection> {
    if secrets.iter().all(|s| s.is_empty()) {
        return Err(scheme::not_configured(spec, ""));
    }
    let request = scheme::Request {
        spec,
        secrets,
        headers,
        body,
        now_secs,
    };
    match spec {
        VerifySpec::StandardWebhooks { tolerance, .. } => request.standard_webhooks(*tolerance),
        VerifySpec::Github { .. } => request.github(),
        VerifySpec::Stripe { tolerance, .. } => request.stripe(*tolerance),
        VerifySpec::Slack { tolerance, .. } => request.slack(*tolerance),
        VerifySpec::Shopify { .. } => request.shopify(),
        VerifySpec::Hmac {
            header,
            algorithm,
            encoding,
            prefix,
            ..
        } => request.hmac(header, *algorithm, *encoding, prefix),
    }
}

/// The delivery id a scheme implies, for dropping duplicates: Standard
/// Webhooks `webhook-id`, GitHub `x-github-delivery`, Stripe body `/id`,
/// Slack body `/event_id`, Shopify `x-shopify-webhook-id`; `verify.hmac`
/// implies none. `None` also when the request lacks it.
pub fn delivery_id(spec: &VerifySpec, headers: &[(String, String)], body: &[u8]) -> Option<String> {
    let from_header = |name| header::find(headers, name).map(str::to_owned);
    let from_body = |pointer| {
        json_pointer(body, pointer)
            .map(|value| value.as_text().to_owned())
            .filter(|id| !id.is_empty())
    };
    match spec {
        VerifySpec::StandardWebhooks { .. } => from_header("webhook-id"),
        VerifySpec::Github { .. } => from_header("x-github-delivery"),
        VerifySpec::Stripe { .. } => from_body("/id"),
        VerifySpec::Slack { .. } => from_body("/event_id"),
        VerifySpec::Shopify { .. } => from_header("x-shopify-webhook-id"),
        VerifySpec::Hmac { .. } => None,
    }
}

#[cfg(test)]
#[path = "tests/schemes.rs"]
mod tests_schemes;

#[cfg(test)]
#[path = "tests/vectors.rs"]
mod tests_vectors;

#[cfg(test)]
#[path = "tests/props.rs"]
mod tests_props;
