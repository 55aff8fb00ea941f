//! How a flow's senders prove who they are, as JSON (camelCase) from Python.
//!
//! KEEP IN SYNC with `hookcore.verify` and `hookcore.handshake` (Python),
//! which emit exactly these shapes:
//!
//! ```json
//! {"scheme":"standardWebhooks","secret":"NAME","tolerance":300}
//! {"scheme":"github","secret":"NAME"}
//! {"scheme":"stripe","secret":"NAME","tolerance":300}
//! {"scheme":"slack","secret":"NAME","tolerance":300}
//! {"scheme":"shopify","secret":"NAME"}
//! {"scheme":"hmac","secret":"NAME","header":"x-signature","algorithm":"sha256","encoding":"hex","prefix":""}
//! {"kind":"zoom","secret":"NAME"}
//! {"kind":"meta","verifyToken":"NAME"}
//! {"kind":"graph"}
//! {"kind":"dropbox"}
//! ```
//!
//! `secret` and `verifyToken` name an instance config value, never the value itself.

use serde::Deserialize;

/// The tolerance when the spec has none: five minutes, as every provider documents.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

fn default_tolerance() -> u64 {
    DEFAULT_TOLERANCE_SECS
}

/// A signature scheme and the name of the config value holding its secret.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    tag = "scheme",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum VerifySpec {
    /// <https://www.standardwebhooks.com>: `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature: v1,<base64>[ v1,<base64>…]` of `{id}.{timestamp}.{body}`;
    /// the secret is `whsec_<base64 key>` (or the base64 key alone).
    StandardWebhooks {
        secret: String,
        #[serde(default = "default_tolerance")]
        tolerance: u64,
    },
    /// `X-Hub-Signature-256: sha256=<hex>` of the body.
    Github { secret: String },
    /// `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>…]` of `{t}.{body}`.
    Stripe {
        secret: String,
        #[serde(default = "default_tolerance")]
        tolerance: u64,
    },
    /// `X-Slack-Signature: v0=<hex>` of `v0:{X-Slack-Request-Timestamp}:{body}`.
    Slack {
        secret: String,
        #[serde(default = "default_tolerance")]
        tolerance: u64,
    },
    /// `X-Shopify-Hmac-Sha256: <base64>` of the body.
    Shopify { secret: String },
    /// Any other sender: `{header}: {prefix}<digest>` of the body.
    Hmac {
        secret: String,
        /// Lower-case header name.
        header: String,
        algorithm: Algorithm,
        encoding: Encoding,
        #[serde(default)]
        prefix: String,
    },
}

impl VerifySpec {
    /// Parse the JSON Python emits; the error says which field is wrong.
    pub fn from_json(json: &[u8]) -> Result<VerifySpec, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// The name of the config value holding the secret.
    pub fn secret_name(&self) -> &str {
        match self {
            VerifySpec::StandardWebhooks { secret, .. }
            | VerifySpec::Github { secret }
            | VerifySpec::Stripe { secret, .. }
            | VerifySpec::Slack { secret, .. }
            | VerifySpec::Shopify { secret }
            | VerifySpec::Hmac { secret, .. } => secret,
        }
    }

    /// The scheme as messages name it ("GitHub", "Standard Webhooks", …).
    pub fn scheme_name(&self) -> &'static str {
        match self {
            VerifySpec::StandardWebhooks { .. } => "Standard Webhooks",
            VerifySpec::Github { .. } => "GitHub",
            VerifySpec::Stripe { .. } => "Stripe",
            VerifySpec::Slack { .. } => "Slack",
            VerifySpec::Shopify { .. } => "Shopify",
            VerifySpec::Hmac { .. } => "HMAC",
        }
    }
}

/// The hash under the HMAC of `verify.hmac(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The digest's length in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

/// How a digest is written in a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Hex,
    /// Standard alphabet, padding optional.
    Base64,
}

/// A provider's endpoint check, answered without running a flow.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum HandshakeSpec {
    /// Zoom's `endpoint.url_validation`: the secret token signs the plain token.
    Zoom { secret: String },
    /// Meta's (WhatsApp, Messenger, Instagram) `hub.mode=subscribe` check.
    Meta { verify_token: String },
    /// Microsoft Graph's `?validationToken=` echo. (Empty braces, not a
    /// unit variant: serde then refuses unknown fields here too.)
    Graph {},
    /// Dropbox's `GET ?challenge=` echo.
    Dropbox {},
}

impl HandshakeSpec {
    /// Parse the JSON Python emits; the error says which field is wrong.
    pub fn from_json(json: &[u8]) -> Result<HandshakeSpec, serde_json::Error> {
        serde_json::from_slice(json)
    }

    /// The provider as messages name it.
    pub fn provider_name(&self) -> &'static str {
        match self {
            HandshakeSpec::Zoom { .. } => "Zoom",
            HandshakeSpec::Meta { .. } => "Meta",
            HandshakeSpec::Graph {} => "Microsoft Graph",
            HandshakeSpec::Dropbox {} => "Dropbox",
        }
    }
}
