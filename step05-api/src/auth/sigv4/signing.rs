//! The cryptography of SigV4: hashes, the derived signing key, the string to
//! sign, the signature, and comparing signatures in constant time.
//!
//! The secret access key never signs anything directly. It is the root of a
//! chain of HMACs, each keyed by the previous one: the date, the region, the
//! service and a fixed terminator. The result, the *signing key*, is good for
//! one service in one region on one day. A server that caches it, or a log
//! that leaks it, exposes one day of one service, never the secret.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The only algorithm SigV4 with a secret key defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The last element of every credential scope.
pub const SCOPE_TERMINATOR: &str = "aws4_request";

/// Lower-case hexadecimal, as every SigV4 hash and signature is written.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// SHA-256 of `data`, in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC is defined for keys of every length (long keys are hashed, short
    // ones padded), so this constructor cannot fail; it returns a `Result`
    // only because the trait is shared with MACs that need a fixed key size.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The credential scope: `date/region/service/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/{SCOPE_TERMINATOR}")
}

// ANCHOR: signing_key
/// The signing key for one day (`YYYYMMDD`), region and service:
/// `kDate = HMAC("AWS4" + secret, date)`, then `kRegion`, `kService`, and
/// `kSigning = HMAC(kService, "aws4_request")`.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    // EXERCISE(05.10): derive the signing key: a chain of four HMACs, starting from "AWS4" + secret
    let mut root = Vec::with_capacity(4 + secret_access_key.len());
    root.extend_from_slice(b"AWS4");
    root.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac_sha256(&root, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, SCOPE_TERMINATOR.as_bytes())
    // END EXERCISE
}
// ANCHOR_END: signing_key

// ANCHOR: string_to_sign
/// The string to sign: the algorithm, the request time, the scope, and the
/// hash of the canonical request, one per line.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request)
    )
}

/// The signature: HMAC of the string to sign under the signing key, in hex.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex(&hmac_sha256(signing_key, string_to_sign.as_bytes()))
}
// ANCHOR_END: string_to_sign

// ANCHOR: constant_time
/// Compares two byte strings in time that depends only on their lengths.
///
/// An early-exit comparison returns sooner the earlier the first wrong byte
/// is, and an attacker who can time enough attempts learns the expected
/// signature one byte at a time. Here every byte is looked at, and the
/// differences are OR-ed together. The length is not secret: every valid
/// signature is 64 hex digits.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y));
    difference == 0
}
// ANCHOR_END: constant_time

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn empty_body_hash_is_the_well_known_one() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn ex05_10_signing_key_matches_the_reference_vector() {
        let key = signing_key(SECRET, "20150830", "us-east-1", "dynamodb");
        assert_eq!(
            hex(&key),
            "44a00bf61392567a12c8a1af3f6227f121fdd3ffabe98527663649f33cbff4aa"
        );
    }

    #[test]
    fn ex05_10_signing_key_matches_aws_published_example() {
        // AWS's documented example of the derivation (service "iam").
        let key = signing_key(SECRET, "20150830", "us-east-1", "iam");
        assert_eq!(
            hex(&key),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn ex05_10_every_scope_element_changes_the_key() {
        let base = signing_key(SECRET, "20150830", "us-east-1", "dynamodb");
        assert_ne!(
            base,
            signing_key("other", "20150830", "us-east-1", "dynamodb")
        );
        assert_ne!(
            base,
            signing_key(SECRET, "20150831", "us-east-1", "dynamodb")
        );
        assert_ne!(
            base,
            signing_key(SECRET, "20150830", "eu-west-1", "dynamodb")
        );
        assert_ne!(base, signing_key(SECRET, "20150830", "us-east-1", "s3"));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }
}
