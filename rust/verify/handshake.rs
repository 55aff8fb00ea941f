//! Providers' endpoint checks, answered by the ingress without running a
//! flow: Zoom's `endpoint.url_validation`, Meta's `hub.mode=subscribe`,
//! Microsoft Graph's `validationToken`, Dropbox's `challenge`, and Slack's
//! signed `url_verification`.
//!
//! The echo answers are `text/plain` with `X-Content-Type-Options: nosniff`
//! (Dropbox requires it; for the others it keeps a browser from reading the
//! echoed text as anything else).

use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error_code::ErrorCode;
use crate::parse::{json_pointer, parse_urlencoded_str, JsonScalar};
use crate::verify::mac;
use crate::verify::spec::{Algorithm, HandshakeSpec};
use crate::verify::Rejection;

pub const CONTENT_TYPE_JSON: &str = "application/json";
pub const CONTENT_TYPE_TEXT: &str = "text/plain; charset=utf-8";
const NOSNIFF: (&str, &str) = ("x-content-type-options", "nosniff");

/// The answer to a handshake: send it as it is, and run no flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Headers besides `content-type` (lower-case names).
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    fn json(body: &impl Serialize) -> Answer {
        Answer {
            status: 200,
            content_type: CONTENT_TYPE_JSON,
            // Serializing a struct of strings cannot fail.
            body: serde_json::to_vec(body).unwrap_or_default(),
            headers: Vec::new(),
        }
    }

    fn echo(text: String) -> Answer {
        Answer {
            status: 200,
            content_type: CONTENT_TYPE_TEXT,
            body: text.into_bytes(),
            headers: vec![(NOSNIFF.0, NOSNIFF.1.to_owned())],
        }
    }
}

/// The answer to a handshake request under `spec`, or `None` when the
/// request is not one (run the flow as usual).
///
/// `secrets` are the values of the config entry `spec` names (Zoom's secret
/// token, signing with the first one; Meta's verify token, any of them
/// matching); `query` is the raw query string, without `?`.
pub fn respond(
    spec: &HandshakeSpec,
    secrets: &[&str],
    method: &str,
    query: &str,
    body: &[u8],
) -> Option<Result<Answer, Rejection>> {
    match spec {
        HandshakeSpec::Zoom { secret } => zoom(spec, secret, secrets, body),
        HandshakeSpec::Meta { verify_token } => {
            if method != "GET" {
                return None;
            }
            let [mode, token, challenge] =
                query_values(query, ["hub.mode", "hub.verify_token", "hub.challenge"]);
            (mode.as_deref() == Some("subscribe"))
                .then(|| meta(spec, verify_token, secrets, token, challenge))
        }
        HandshakeSpec::Graph {} => {
            let [token] = query_values(query, ["validationToken"]);
            token.map(|token| Ok(Answer::echo(token)))
        }
        HandshakeSpec::Dropbox {} => {
            if method != "GET" {
                return None;
            }
            let [challenge] = query_values(query, ["challenge"]);
            challenge.map(|challenge| Ok(Answer::echo(challenge)))
        }
    }
}

/// Slack's `url_verification` (call it once the Slack signature verified):
/// a JSON body `{"type":"url_verification","challenge":C,…}` is answered
/// `200 {"challenge":C}`; `None` for any other body.
pub fn slack_url_verification(body: &[u8]) -> Option<Answer> {
    #[derive(Serialize)]
    struct Challenge<'a> {
        challenge: &'a str,
    }
    if string_at(body, "/type")? != "url_verification" {
        return None;
    }
    let challenge = string_at(body, "/challenge")?;
    Some(Answer::json(&Challenge {
        challenge: &challenge,
    }))
}

fn zoom(
    spec: &HandshakeSpec,
    name: &str,
    secrets: &[&str],
    body: &[u8],
) -> Option<Result<Answer, Rejection>> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Validation<'a> {
        plain_token: &'a str,
        encrypted_token: String,
    }
    if string_at(body, "/event")? != "endpoint.url_validation" {
        return None;
    }
    let Some(plain) = string_at(body, "/payload/plainToken") else {
        return Some(Err(refused(
            spec,
            "the body has no payload.plainToken string.",
        )));
    };
    let Some(secret) = secrets.iter().find(|s| !s.is_empty()) else {
        return Some(Err(not_configured(spec, name)));
    };
    let tag = mac::hmac(Algorithm::Sha256, secret.as_bytes(), &[plain.as_bytes()]);
    Some(Ok(Answer::json(&Validation {
        plain_token: &plain,
        encrypted_token: tag.to_hex(),
    })))
}

fn meta(
    spec: &HandshakeSpec,
    name: &str,
    secrets: &[&str],
    token: Option<String>,
    challenge: Option<String>,
) -> Result<Answer, Rejection> {
    if secrets.iter().all(|s| s.is_empty()) {
        return Err(not_configured(spec, name));
    }
    let Some(token) = token else {
        return Err(refused(spec, "the request has no hub.verify_token."));
    };
    // Compare digests, so that neither the time nor an early length check
    // tells anything about the configured token.
    let presented = Sha256::digest(token.as_bytes());
    let mut found = false;
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        found |= bool::from(Sha256::digest(secret.as_bytes()).ct_eq(&presented));
    }
    if !found {
        let detail = format!("hub.verify_token is not the config value '{name}'.");
        return Err(refused(spec, &detail));
    }
    match challenge {
        Some(challenge) => Ok(Answer::echo(challenge)),
        None => Err(refused(spec, "the request has no hub.challenge.")),
    }
}

fn refused(spec: &HandshakeSpec, detail: &str) -> Rejection {
    let provider = spec.provider_name();
    Rejection::new(
        ErrorCode::HandshakeRefused,
        format!("{provider} handshake refused: {detail}"),
    )
}

fn not_configured(spec: &HandshakeSpec, name: &str) -> Rejection {
    let provider = spec.provider_name();
    Rejection::new(
        ErrorCode::SecretNotConfigured,
        format!(
            "{provider} handshake refused: no secret '{name}' is configured for this instance."
        ),
    )
}

/// The string at `pointer` in a JSON body (not a number or boolean).
fn string_at(body: &[u8], pointer: &str) -> Option<String> {
    match json_pointer(body, pointer)? {
        JsonScalar::String(s) => Some(s.into_owned()),
        _ => None,
    }
}

/// The first value of each of `names` in a query string (percent-decoded,
/// `+` a space, as `urllib.parse.parse_qsl` reads it).
fn query_values<const N: usize>(query: &str, names: [&str; N]) -> [Option<String>; N] {
    let mut found: [Option<String>; N] = std::array::from_fn(|_| None);
    let mut pairs = parse_urlencoded_str(query);
    while let Some((name, value)) = pairs.next_pair() {
        if let Some(i) = names.iter().position(|n| *n == name) {
            if let Some(slot @ None) = found.get_mut(i) {
                *slot = Some(value.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
#[path = "tests/handshake.rs"]
mod tests;
