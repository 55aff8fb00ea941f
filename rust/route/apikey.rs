//! API keys: only SHA-256 digests are stored; a presented key is hashed and
//! compared in constant time against each digest.

use sha2::{Digest, Sha256};

/// Hex SHA-256 of a key (what the instance record stores).
/// The request header a flow's API key comes in (lower case, as headers are collected).
/// KEEP IN SYNC with `API_KEY_HEADERS` in python/hookcore/hooks.py.
pub const API_KEY_HEADER: &str = "api-key";

pub fn digest_hex(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    out
}

/// True when `presented` hashes to one of `digests` (hex); constant time per digest.
pub fn matches(presented: &str, digests: &[String]) -> bool {
    let candidate = digest_hex(presented);
    let mut found = false;
    for digest in digests {
        found |= constant_time_eq(candidate.as_bytes(), digest.as_bytes());
    }
    found
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_and_match() {
        let d = digest_hex("secret-key");
        assert_eq!(d.len(), 64);
        assert_eq!(
            digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(matches("secret-key", &[String::from("00"), d.clone()]));
        assert!(!matches("other", &[d]));
        assert!(!matches("secret-key", &[]));
    }
}
