//! Reading signature headers: finding a header, its timestamp, the
//! signatures it lists, and a digest's bytes. Nothing here allocates; every
//! function takes any text without panicking (fuzzed in `fuzz/`).
//!
//! A header sent more than once arrives joined with ", " (RFC 9110), so
//! every list reader accepts signatures separated by commas and spaces.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::verify::spec::Encoding;

/// The standard base64 alphabet, with or without padding (senders differ).
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Room for the longest digest (SHA-512, 64 bytes) and the slack base64
/// decoding needs to reject anything longer.
pub const DIGEST_BUF: usize = 96;

/// The value of header `name` (names compared without regard to ASCII
/// case), trimmed; `None` when absent or empty.
pub fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A Unix time in whole seconds: 1 to 19 ASCII digits, nothing else.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The pieces of a signature list: separated by commas and ASCII white space.
fn tokens(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
}

/// The digests of a list of `{prefix}{digest}` items (GitHub's `sha256=`,
/// Slack's `v0=`, Shopify's bare base64, `verify.hmac`'s prefix); items with
/// another prefix are skipped.
///
/// The whole value comes first, so that a prefix holding a comma or a space
/// still works for a header carrying one signature.
pub fn prefixed<'a>(value: &'a str, prefix: &'a str) -> impl Iterator<Item = &'a str> {
    let value = value.trim();
    let whole = value.strip_prefix(prefix);
    let split = value.contains(|c: char| c == ',' || c.is_ascii_whitespace());
    let items = tokens(value)
        .filter(move |_| split)
        .filter_map(move |t| t.strip_prefix(prefix));
    whole.into_iter().chain(items).map(str::trim)
}

/// The base64 signatures of a Standard Webhooks `webhook-signature` value:
/// space-separated `{version},{signature}` items, of which only `v1` ones
/// count (`v1a`, asymmetric, and unknown versions are skipped, as the spec's
/// libraries do).
pub fn standard_webhooks(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c.is_ascii_whitespace())
        // A repeated header arrives joined with ", ": drop that comma.
        .map(|item| item.trim_end_matches(','))
        .filter_map(|item| item.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .map(|(_, signature)| signature)
}

/// The items of a Stripe `Stripe-Signature` value: `key=value` pairs
/// separated by commas.
fn stripe_items(value: &str) -> impl Iterator<Item = (&str, &str)> {
    value
        .split(',')
        .filter_map(|item| item.split_once('='))
        .map(|(key, value)| (key.trim(), value.trim()))
}

/// The `t=` of a `Stripe-Signature` value (the first one, as stripe-python reads it).
pub fn stripe_timestamp(value: &str) -> Option<&str> {
    stripe_items(value).find(|(k, _)| *k == "t").map(|(_, v)| v)
}

/// The `v1=` signatures of a `Stripe-Signature` value; `v0` (test mode's
/// old scheme) and unknown schemes are skipped.
pub fn stripe_signatures(value: &str) -> impl Iterator<Item = &str> {
    stripe_items(value)
        .filter(|(k, _)| *k == "v1")
        .map(|(_, v)| v)
}

/// Decode a digest written as `encoding` into `out`; `None` when it is not
/// valid or longer than any digest.
pub fn decode_digest<'o>(
    text: &str,
    encoding: Encoding,
    out: &'o mut [u8; DIGEST_BUF],
) -> Option<&'o [u8]> {
    let text = text.as_bytes();
    let len = match encoding {
        Encoding::Hex => decode_hex(text, out)?,
        Encoding::Base64 => BASE64.decode_slice(text, out).ok()?,
    };
    out.get(..len)
}

/// The value of each byte as a hex digit, or 0xff.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Hex (either case) into `out`: the number of bytes, `None` when `text`
/// is not hex or too long. By table rather than with the `hex` crate, whose
/// `decode_to_slice` took 83 ns for a SHA-256 digest against 26 ns here
/// (release build, this machine): a tenth of a small request's check.
fn decode_hex(text: &[u8], out: &mut [u8]) -> Option<usize> {
    let len = text.len() / 2;
    if !text.len().is_multiple_of(2) || len > out.len() {
        return None;
    }
    let mut bad = 0u8;
    for (slot, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let hi = HEX_VALUES[usize::from(pair[0])];
        let lo = HEX_VALUES[usize::from(pair[1])];
        bad |= (hi | lo) & 0xf0;
        *slot = (hi << 4) | (lo & 0x0f);
    }
    (bad == 0).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_trimmed_non_empty_values() {
        let headers = vec![
            ("x-a".to_string(), "  one ".to_string()),
            ("x-empty".to_string(), "  ".to_string()),
        ];
        assert_eq!(find(&headers, "x-a"), Some("one"));
        assert_eq!(find(&headers, "X-A"), Some("one"));
        assert_eq!(find(&headers, "x-empty"), None);
        assert_eq!(find(&headers, "x-b"), None);
    }

    #[test]
    fn timestamps_are_plain_digits() {
        assert_eq!(parse_timestamp("1614265330"), Some(1_614_265_330));
        assert_eq!(parse_timestamp(" 0 "), Some(0));
        for bad in [
            "",
            "-1",
            "+1",
            "1.5",
            "1e9",
            "12a",
            "99999999999999999999",
            "１",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_timestamp("9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
    }

    #[test]
    fn prefixed_lists() {
        let got: Vec<_> = prefixed("sha256=aa", "sha256=").collect();
        assert_eq!(got, ["aa"]);
        let got: Vec<_> = prefixed("sha256=aa, sha256=bb,sha1=cc sha256=dd", "sha256=").collect();
        assert_eq!(got, ["aa, sha256=bb,sha1=cc sha256=dd", "aa", "bb", "dd"]);
        let got: Vec<_> = prefixed("abc+/=", "").collect();
        assert_eq!(got, ["abc+/="]);
        // A prefix with a space: the whole value still yields the digest.
        let got: Vec<_> = prefixed("Sig ab12", "Sig ").collect();
        assert_eq!(got, ["ab12"]);
        assert_eq!(prefixed("", "v0=").count(), 0);
        assert_eq!(prefixed(" , ,", "").count(), 1);
    }

    #[test]
    fn standard_webhooks_lists() {
        let got: Vec<_> =
            standard_webhooks("v1,AAA= v1a,BBB v2,CCC  v1,DDD=, v1,EEE junk ,").collect();
        assert_eq!(got, ["AAA=", "DDD=", "EEE"]);
    }

    #[test]
    fn stripe_headers() {
        let value = "t=1492774577,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39";
        assert_eq!(stripe_timestamp(value), Some("1492774577"));
        let sigs: Vec<_> = stripe_signatures(value).collect();
        assert_eq!(
            sigs,
            ["5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"]
        );
        let joined = "t=1, v1=aa, t=2,v1=bb";
        assert_eq!(stripe_timestamp(joined), Some("1"));
        assert_eq!(stripe_signatures(joined).collect::<Vec<_>>(), ["aa", "bb"]);
        assert_eq!(stripe_timestamp("v1=aa"), None);
        assert_eq!(stripe_signatures("t=1").count(), 0);
    }

    #[test]
    fn digests_decode_or_not() {
        let mut buf = [0u8; DIGEST_BUF];
        assert_eq!(
            decode_digest("00ff", Encoding::Hex, &mut buf),
            Some(&[0, 255][..])
        );
        assert_eq!(
            decode_digest("00FF", Encoding::Hex, &mut buf),
            Some(&[0, 255][..])
        );
        assert_eq!(decode_digest("0", Encoding::Hex, &mut buf), None);
        assert_eq!(decode_digest("zz", Encoding::Hex, &mut buf), None);
        assert_eq!(
            decode_digest("AP8=", Encoding::Base64, &mut buf),
            Some(&[0, 255][..])
        );
        assert_eq!(
            decode_digest("AP8", Encoding::Base64, &mut buf),
            Some(&[0, 255][..])
        );
        assert_eq!(decode_digest("AP8-", Encoding::Base64, &mut buf), None);
        let long = "a".repeat(2 * DIGEST_BUF + 2);
        assert_eq!(decode_digest(&long, Encoding::Hex, &mut buf), None);
        let long = "A".repeat(200);
        assert_eq!(decode_digest(&long, Encoding::Base64, &mut buf), None);
    }
}
