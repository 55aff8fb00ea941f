//! The schemes, each as its provider documents it. Order of the checks: a
//! secret is configured, the headers are there, the timestamp is fresh
//! (before any HMAC, so a replayed large body costs nothing), then the HMAC
//! of each secret against each presented signature.

use base64::Engine as _;

use crate::error_code::ErrorCode;
use crate::verify::header::{self, DIGEST_BUF};
use crate::verify::mac;
use crate::verify::spec::{Algorithm, Encoding, VerifySpec};
use crate::verify::Rejection;

/// A Standard Webhooks key decodes into this on the stack (the spec's
/// largest is 512 bits); a longer one goes to the heap.
const KEY_BUF: usize = 256;

/// "{Scheme} signature check failed: {detail}"
fn fail(spec: &VerifySpec, code: ErrorCode, detail: &str) -> Rejection {
    let scheme = spec.scheme_name();
    Rejection::new(code, format!("{scheme} signature check failed: {detail}"))
}

/// No usable secret; `why` completes the sentence when there is one that is not usable.
pub(super) fn not_configured(spec: &VerifySpec, why: &str) -> Rejection {
    let name = spec.secret_name();
    let detail = if why.is_empty() {
        format!("no secret '{name}' is configured for this instance.")
    } else {
        format!("the secret '{name}' configured for this instance {why}")
    };
    fail(spec, ErrorCode::SecretNotConfigured, &detail)
}

/// `x-signature` as people write it: `X-Signature`.
fn display_name(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    let mut upper = true;
    for c in header.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

/// How keys come from the configured secrets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyForm {
    /// The secret's UTF-8 bytes (GitHub, Stripe, Slack, Shopify, hmac, Zoom).
    Text,
    /// `whsec_<base64>` or `<base64>`: the decoded bytes (Standard Webhooks).
    Whsec,
}

/// The HMAC key of `secret`; `None` when it cannot be one.
fn key<'b>(
    secret: &'b str,
    form: KeyForm,
    buf: &'b mut [u8; KEY_BUF],
    long: &'b mut Vec<u8>,
) -> Option<&'b [u8]> {
    if secret.is_empty() {
        return None;
    }
    if form == KeyForm::Text {
        return Some(secret.as_bytes());
    }
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = match header::BASE64.decode_slice(encoded, buf) {
        Ok(len) => buf.get(..len)?,
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            *long = header::BASE64.decode(encoded).ok()?;
            long.as_slice()
        }
        Err(base64::DecodeSliceError::DecodeError(_)) => return None,
    };
    (!key.is_empty()).then_some(key)
}

/// One request under one spec.
pub(super) struct Request<'a> {
    pub spec: &'a VerifySpec,
    pub secrets: &'a [&'a str],
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    pub now_secs: u64,
}

/// What is signed and how, for [`Request::check`].
struct Signed<'p, 'v, I: Iterator<Item = &'v str>> {
    form: KeyForm,
    algorithm: Algorithm,
    /// The signed content, in pieces.
    pieces: &'p [&'p [u8]],
    encoding: Encoding,
    /// The presented digests (each call starts the list again).
    presented: &'p dyn Fn() -> I,
    /// The header the digests come from: as messages name it, or (for
    /// `verify.hmac`) the configured lower-case name, titled when a message
    /// needs it, so that a check that passes builds no text.
    header: Label<'p>,
    /// What comes before a digest in the header, for messages.
    prefix: &'p str,
}

/// A header's name in messages.
#[derive(Clone, Copy)]
enum Label<'a> {
    /// Already as people write it (`X-Hub-Signature-256`, `webhook-id`).
    Shown(&'a str),
    /// A lower-case name to title (`x-signature` → `X-Signature`).
    Configured(&'a str),
}

impl Label<'_> {
    fn shown(self) -> String {
        match self {
            Label::Shown(name) => name.to_owned(),
            Label::Configured(name) => display_name(name),
        }
    }
}

impl Request<'_> {
    /// The value of a header the scheme needs, or `signature_missing`.
    fn required(&self, name: &str, label: Label<'_>) -> Result<&str, Rejection> {
        header::find(self.headers, name).ok_or_else(|| {
            let detail = format!("header {} is missing.", label.shown());
            fail(self.spec, ErrorCode::SignatureMissing, &detail)
        })
    }

    /// The timestamp `text` (read from `what`) lies within `tolerance` of now.
    fn fresh(&self, text: &str, what: &str, tolerance: u64) -> Result<(), Rejection> {
        let Some(ts) = header::parse_timestamp(text) else {
            let detail = format!("{what} is not a Unix time in seconds.");
            return Err(fail(self.spec, ErrorCode::SignatureInvalid, &detail));
        };
        let away = self.now_secs.abs_diff(ts);
        if away > tolerance {
            let detail = format!(
                "the timestamp is {away} s away from now; at most {tolerance} are allowed."
            );
            return Err(fail(self.spec, ErrorCode::TimestampOutOfTolerance, &detail));
        }
        Ok(())
    }

    /// Whether a secret signs the content to one of the presented digests.
    fn check<'v, I: Iterator<Item = &'v str>>(
        &self,
        signed: &Signed<'_, 'v, I>,
    ) -> Result<(), Rejection> {
        if (signed.presented)().next().is_none() {
            let encoding = match signed.encoding {
                Encoding::Hex => "hex",
                Encoding::Base64 => "base64",
            };
            let (header, prefix) = (signed.header.shown(), signed.prefix);
            let detail = format!("header {header} holds no {prefix}<{encoding}> signature.");
            return Err(fail(self.spec, ErrorCode::SignatureInvalid, &detail));
        }
        let (mut buf, mut long) = ([0u8; KEY_BUF], Vec::new());
        let mut keys = 0;
        for secret in self.secrets {
            let Some(key) = key(secret, signed.form, &mut buf, &mut long) else {
                continue;
            };
            keys += 1;
            let tag = mac::hmac(signed.algorithm, key, signed.pieces);
            for text in (signed.presented)() {
                let mut digest = [0u8; DIGEST_BUF];
                let decoded = header::decode_digest(text, signed.encoding, &mut digest);
                if decoded.is_some_and(|d| tag.matches(d)) {
                    return Ok(());
                }
            }
        }
        // Text keys are only skipped when empty, and `verify` refused a
        // list of empty ones: only Standard Webhooks keys get here.
        if keys == 0 {
            return Err(not_configured(
                self.spec,
                "is not a Standard Webhooks key (whsec_ followed by the base64 key).",
            ));
        }
        let detail = format!(
            "no signature in header {} matches this request with secret '{}'.",
            signed.header.shown(),
            self.spec.secret_name()
        );
        Err(fail(self.spec, ErrorCode::SignatureInvalid, &detail))
    }

    pub fn standard_webhooks(&self, tolerance: u64) -> Result<(), Rejection> {
        let id = self.required("webhook-id", Label::Shown("webhook-id"))?;
        let timestamp = self.required("webhook-timestamp", Label::Shown("webhook-timestamp"))?;
        let signature = self.required("webhook-signature", Label::Shown("webhook-signature"))?;
        self.fresh(timestamp, "header webhook-timestamp", tolerance)?;
        self.check(&Signed {
            form: KeyForm::Whsec,
            algorithm: Algorithm::Sha256,
            pieces: &[id.as_bytes(), b".", timestamp.as_bytes(), b".", self.body],
            encoding: Encoding::Base64,
            presented: &|| header::standard_webhooks(signature),
            header: Label::Shown("webhook-signature"),
            prefix: "v1,",
        })
    }

    pub fn github(&self) -> Result<(), Rejection> {
        const HEADER: &str = "X-Hub-Signature-256";
        let signature = self.required("x-hub-signature-256", Label::Shown(HEADER))?;
        self.check(&Signed {
            form: KeyForm::Text,
            algorithm: Algorithm::Sha256,
            pieces: &[self.body],
            encoding: Encoding::Hex,
            presented: &|| header::prefixed(signature, "sha256="),
            header: Label::Shown(HEADER),
            prefix: "sha256=",
        })
    }

    pub fn stripe(&self, tolerance: u64) -> Result<(), Rejection> {
        const HEADER: &str = "Stripe-Signature";
        let value = self.required("stripe-signature", Label::Shown(HEADER))?;
        let Some(timestamp) = header::stripe_timestamp(value) else {
            let detail = format!("header {HEADER} holds no t= timestamp.");
            return Err(fail(self.spec, ErrorCode::SignatureInvalid, &detail));
        };
        self.fresh(timestamp, "the t= of header Stripe-Signature", tolerance)?;
        self.check(&Signed {
            form: KeyForm::Text,
            algorithm: Algorithm::Sha256,
            pieces: &[timestamp.as_bytes(), b".", self.body],
            encoding: Encoding::Hex,
            presented: &|| header::stripe_signatures(value),
            header: Label::Shown(HEADER),
            prefix: "v1=",
        })
    }

    pub fn slack(&self, tolerance: u64) -> Result<(), Rejection> {
        const HEADER: &str = "X-Slack-Signature";
        let signature = self.required("x-slack-signature", Label::Shown(HEADER))?;
        let timestamp = self.required(
            "x-slack-request-timestamp",
            Label::Shown("X-Slack-Request-Timestamp"),
        )?;
        self.fresh(timestamp, "header X-Slack-Request-Timestamp", tolerance)?;
        self.check(&Signed {
            form: KeyForm::Text,
            algorithm: Algorithm::Sha256,
            pieces: &[b"v0:", timestamp.as_bytes(), b":", self.body],
            encoding: Encoding::Hex,
            presented: &|| header::prefixed(signature, "v0="),
            header: Label::Shown(HEADER),
            prefix: "v0=",
        })
    }

    pub fn shopify(&self) -> Result<(), Rejection> {
        const HEADER: &str = "X-Shopify-Hmac-Sha256";
        let signature = self.required("x-shopify-hmac-sha256", Label::Shown(HEADER))?;
        self.check(&Signed {
            form: KeyForm::Text,
            algorithm: Algorithm::Sha256,
            pieces: &[self.body],
            encoding: Encoding::Base64,
            presented: &|| header::prefixed(signature, ""),
            header: Label::Shown(HEADER),
            prefix: "",
        })
    }

    pub fn hmac(
        &self,
        name: &str,
        algorithm: Algorithm,
        encoding: Encoding,
        prefix: &str,
    ) -> Result<(), Rejection> {
        let signature = self.required(name, Label::Configured(name))?;
        self.check(&Signed {
            form: KeyForm::Text,
            algorithm,
            pieces: &[self.body],
            encoding,
            presented: &|| header::prefixed(signature, prefix),
            header: Label::Configured(name),
            prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_for_people() {
        assert_eq!(display_name("x-signature"), "X-Signature");
        assert_eq!(display_name("x-hub-signature-256"), "X-Hub-Signature-256");
        assert_eq!(display_name("signature"), "Signature");
    }

    #[test]
    fn whsec_keys() {
        let (mut buf, mut long) = ([0u8; KEY_BUF], Vec::new());
        let k = key("whsec_AP8=", KeyForm::Whsec, &mut buf, &mut long).map(<[u8]>::to_vec);
        assert_eq!(k, Some(vec![0, 255]));
        let k = key("AP8", KeyForm::Whsec, &mut buf, &mut long).map(<[u8]>::to_vec);
        assert_eq!(k, Some(vec![0, 255]));
        assert!(key("whsec_", KeyForm::Whsec, &mut buf, &mut long).is_none());
        assert!(key("whsec_!!", KeyForm::Whsec, &mut buf, &mut long).is_none());
        assert!(key("", KeyForm::Text, &mut buf, &mut long).is_none());
        let big = "A".repeat(1000);
        let k = key(&big, KeyForm::Whsec, &mut buf, &mut long).map(<[u8]>::len);
        assert_eq!(k, Some(750));
    }
}
