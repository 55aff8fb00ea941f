//! Who may send (SPEC section 8), applied to one routed request: the
//! provider's URL handshake, the signature, and the key that recognises a
//! duplicate delivery. The checks themselves are [`crate::verify`]'s; this
//! module decides which apply to a request and in what order.

use sha2::{Digest, Sha256};

use crate::parse::json_pointer;
use crate::route::{DedupSource, DedupSpec, InstanceSpec, Senders};
use crate::verify::{self, Answer, HandshakeSpec, Rejection, VerifySpec};

/// A request the ingress answers itself instead of storing it.
#[derive(Debug)]
pub enum Stop {
    /// A handshake: send this answer, run nothing.
    Answer(Answer),
    /// Not from whom the flow accepts requests: 401 (403 for a refused handshake).
    Refused(Rejection),
}

/// What a request to an instance must pass before it is stored: the handshake
/// first (most are unsigned GETs), then the signature, then Slack's signed
/// `url_verification`.
pub fn check(
    senders: &Senders,
    instance: &InstanceSpec,
    method: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    now_secs: u64,
) -> Result<(), Stop> {
    if let Some(handshake) = &senders.handshake {
        let secrets =
            handshake_secret(handshake).map_or_else(Vec::new, |name| instance.secrets(name));
        if let Some(answer) = verify::respond(handshake, &secrets, method, query, body) {
            return Err(answer.map_or_else(Stop::Refused, Stop::Answer));
        }
    }
    let Some(spec) = &senders.verify else {
        return Ok(());
    };
    let secrets = instance.secrets(spec.secret_name());
    verify::verify(spec, &secrets, headers, body, now_secs).map_err(Stop::Refused)?;
    if let VerifySpec::Slack { .. } = spec {
        if let Some(answer) = verify::slack_url_verification(body) {
            return Err(Stop::Answer(answer));
        }
    }
    Ok(())
}

/// The refusal for a request naming a customer without an instance on a
/// shared endpoint whose senders sign: the check runs against a secret no
/// sender has, so the answer is the one a forged request for an existing
/// customer gets, and nobody can tell which customers exist.
pub fn refuse_unknown(
    spec: &VerifySpec,
    headers: &[(String, String)],
    body: &[u8],
    now_secs: u64,
) -> Rejection {
    let unknowable = unknowable_secret();
    match verify::verify(spec, &[unknowable.as_str()], headers, body, now_secs) {
        Err(rejection) => rejection,
        // Cannot happen: nobody signs with a secret made of fresh random bits.
        Ok(()) => Rejection {
            code: crate::error_code::ErrorCode::SignatureInvalid,
            message: format!("{} signature check failed.", spec.scheme_name()),
        },
    }
}

/// The key under which a delivery is remembered: a digest of instance, flow
/// and delivery id (ids may hold any character; keys may not), or None when
/// the request carries no id.
pub fn delivery_key(
    dedup: &DedupSpec,
    verify: Option<&VerifySpec>,
    instance: &str,
    flow: Option<&str>,
    headers: &[(String, String)],
    json_body: Option<&[u8]>,
) -> Option<String> {
    let id = match (dedup.source, dedup.selector.as_deref()) {
        (DedupSource::Scheme, _) => {
            verify::delivery_id(verify?, headers, json_body.unwrap_or_default())?
        }
        (DedupSource::Header, Some(name)) => verify::header::find(headers, name)?.to_owned(),
        (DedupSource::Body, Some(pointer)) => {
            json_pointer(json_body?, pointer)?.as_text().to_owned()
        }
        (_, None) => return None,
    };
    if id.is_empty() {
        return None;
    }
    let mut digest = Sha256::new();
    for piece in [instance, flow.unwrap_or(""), id.as_str()] {
        digest.update((piece.len() as u64).to_be_bytes());
        digest.update(piece.as_bytes());
    }
    Some(hex(&digest.finalize()[..16]))
}

fn handshake_secret(spec: &HandshakeSpec) -> Option<&str> {
    match spec {
        HandshakeSpec::Zoom { secret } => Some(secret),
        HandshakeSpec::Meta { verify_token } => Some(verify_token),
        HandshakeSpec::Graph {} | HandshakeSpec::Dropbox {} => None,
    }
}

/// A secret made of this process's random bits (a UUIDv4's), made once.
fn unknowable_secret() -> &'static String {
    static SECRET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SECRET.get_or_init(|| {
        format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dedup(source: DedupSource, selector: Option<&str>) -> DedupSpec {
        DedupSpec {
            source,
            selector: selector.map(str::to_owned),
            window: 60,
        }
    }

    #[test]
    fn delivery_keys_are_scoped_to_instance_and_flow() {
        let github = VerifySpec::from_json(br#"{"scheme":"github","secret":"s"}"#).unwrap();
        let headers = vec![("x-github-delivery".to_owned(), "d-1".to_owned())];
        let scheme = dedup(DedupSource::Scheme, None);
        let key =
            |instance, flow| delivery_key(&scheme, Some(&github), instance, flow, &headers, None);
        let first = key("i1", Some("Push")).unwrap();
        assert_eq!(first.len(), 32);
        assert_eq!(key("i1", Some("Push")).unwrap(), first);
        assert_ne!(key("i2", Some("Push")).unwrap(), first);
        assert_ne!(key("i1", Some("Pull")).unwrap(), first);
        // Lengths are part of the digest: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(key("ab", Some("c")), key("a", Some("bc")));
        assert_eq!(
            delivery_key(&scheme, Some(&github), "i1", None, &[], None),
            None
        );
    }

    #[test]
    fn rules_name_the_delivery_id() {
        let body = br#"{"event":{"id":"e-9"}}"#;
        let by_body = dedup(DedupSource::Body, Some("/event/id"));
        assert!(delivery_key(&by_body, None, "i", None, &[], Some(body)).is_some());
        assert_eq!(delivery_key(&by_body, None, "i", None, &[], None), None);
        let by_header = dedup(DedupSource::Header, Some("x-delivery"));
        let headers = vec![("x-delivery".to_owned(), String::new())];
        assert_eq!(
            delivery_key(&by_header, None, "i", None, &headers, None),
            None
        );
    }

    #[test]
    fn an_unknown_customer_is_refused_like_a_forgery() {
        let github = VerifySpec::from_json(br#"{"scheme":"github","secret":"s"}"#).unwrap();
        let headers = vec![(
            "x-hub-signature-256".to_owned(),
            format!("sha256={}", "0".repeat(64)),
        )];
        let unknown = refuse_unknown(&github, &headers, b"{}", 0);
        let forged = verify::verify(&github, &["a real secret"], &headers, b"{}", 0).unwrap_err();
        assert_eq!(unknown, forged);
        let missing = refuse_unknown(&github, &[], b"{}", 0);
        assert_eq!(missing.code, crate::error_code::ErrorCode::SignatureMissing);
    }
}
