//! HMAC over a message given in pieces (`{t}.` then the body, …), so that
//! the signed content is never copied, and the constant-time comparison of
//! a presented digest with it.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::verify::spec::Algorithm;

/// An HMAC digest, up to SHA-512's 64 bytes, on the stack.
#[derive(Clone, Copy)]
pub struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    /// Whether `presented` is this digest, compared in constant time (a
    /// length that differs is not a secret and fails at once).
    pub fn matches(&self, presented: &[u8]) -> bool {
        bool::from(self.as_slice().ct_eq(presented))
    }

    /// Lower-case hex, as Zoom's handshake answers it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.as_slice())
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tag({})", self.to_hex())
    }
}

/// HMAC-`algorithm` keyed with `key` over the concatenation of `pieces`.
pub fn hmac(algorithm: Algorithm, key: &[u8], pieces: &[&[u8]]) -> Tag {
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<Sha1>>(key, pieces),
        Algorithm::Sha256 => run::<Hmac<Sha256>>(key, pieces),
        Algorithm::Sha512 => run::<Hmac<Sha512>>(key, pieces),
    }
}

fn run<M: Mac + KeyInit>(key: &[u8], pieces: &[&[u8]]) -> Tag {
    let mut tag = Tag {
        bytes: [0; 64],
        len: 0,
    };
    // HMAC takes keys of any length; were it ever to refuse one, the empty
    // tag matches nothing and the request is refused.
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return tag;
    };
    for piece in pieces {
        mac.update(piece);
    }
    let digest = mac.finalize().into_bytes();
    if let Some(slot) = tag.bytes.get_mut(..digest.len()) {
        slot.copy_from_slice(&digest);
        tag.len = digest.len();
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (SHA-256, SHA-512) and RFC 2202 test case 2 (SHA-1).
    #[test]
    fn rfc_vectors() {
        let (key, data) = (
            b"Jefe".as_slice(),
            b"what do ya want for nothing?".as_slice(),
        );
        assert_eq!(
            hmac(Algorithm::Sha256, key, &[data]).to_hex(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac(Algorithm::Sha512, key, &[data]).to_hex(),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        assert_eq!(
            hmac(Algorithm::Sha1, key, &[data]).to_hex(),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        // Pieces are one message.
        let split = hmac(
            Algorithm::Sha256,
            key,
            &[b"what do ", b"", b"ya want for nothing?"],
        );
        assert!(split.matches(hmac(Algorithm::Sha256, key, &[data]).as_slice()));
    }

    #[test]
    fn matches_only_the_same_bytes() {
        let tag = hmac(Algorithm::Sha256, b"k", &[b"m"]);
        let mut other = tag.as_slice().to_vec();
        assert!(tag.matches(&other));
        other[31] ^= 1;
        assert!(!tag.matches(&other));
        assert!(!tag.matches(&other[..31]));
        assert!(!tag.matches(&[]));
    }
}
