//! The partition key's hash: where on the ring an item collection lives.
//!
//! DynamoDB hashes the partition key with MD5 and places the item by the
//! 128-bit result. A cryptographic hash is overkill for security here; what
//! it buys is *uniformity*: any set of keys, however similar (`user#1`,
//! `user#2`, ...), spreads evenly over the ring, so equal hash ranges hold
//! about equal numbers of item collections.
//!
//! What is hashed is the key's *canonical, type-tagged* bytes: step 1's
//! order-preserving encoding ([`KeyValue::encode_into`]). Canonical, because
//! equal keys must hash equally — the numbers `1000` and `1e3` are one key
//! and encode to the same bytes. Type-tagged, because the string `"1"`, the
//! number `1` and the binary `0x31` are different keys and should not be
//! pushed to one position just because their payloads look alike.
//!
//! The 16 digest bytes are read *big-endian* into a `u128`. Then the numeric
//! order of hashes equals the byte order of the digests, which is what lets
//! the storage key start with the digest bytes (see [`crate::layout`]).
//!
//! Invariants: the hash depends on the partition key only (never on the sort
//! key, the partition map or anything else), and
//! `hash_from_bytes(&hash_bytes(h)) == Some(h)`.

use md5::{Digest, Md5};
use step01_kv::key::KeyValue;

/// A position on the hash ring: MD5 of a partition key, as a number.
pub type KeyHash = u128;

/// The width of a hash in bytes.
pub const HASH_BYTES: usize = 16;

// ANCHOR: hash
/// The 128-bit MD5 of a partition key's canonical, type-tagged bytes.
pub fn partition_hash(partition_key: &KeyValue) -> KeyHash {
    // EXERCISE(03.1): hash the partition key: MD5 of its canonical type-tagged encoding, read big-endian into a u128
    let mut canonical = Vec::new();
    partition_key.encode_into(&mut canonical);
    let digest = Md5::digest(&canonical);
    let mut bytes = [0u8; HASH_BYTES];
    bytes.copy_from_slice(digest.as_slice());
    KeyHash::from_be_bytes(bytes)
    // END EXERCISE
}
// ANCHOR_END: hash

/// The hash as 16 big-endian bytes: the first part of every storage key.
pub fn hash_bytes(hash: KeyHash) -> [u8; HASH_BYTES] {
    hash.to_be_bytes()
}

/// Reads a hash back from the first 16 bytes of `bytes`, if there are 16.
pub fn hash_from_bytes(bytes: &[u8]) -> Option<KeyHash> {
    let first: [u8; HASH_BYTES] = bytes.get(..HASH_BYTES)?.try_into().ok()?;
    Some(KeyHash::from_be_bytes(first))
}

/// The hash as 32 lowercase hex digits, written by hand: the digest type has
/// no hex formatting of its own, and this is how hashes appear in logs, the
/// console and the book.
pub fn to_hex(hash: KeyHash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * HASH_BYTES);
    for byte in hash_bytes(hash) {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0F)]));
    }
    out
}

/// A short form for labels: the first 8 hex digits.
pub fn to_short_hex(hash: KeyHash) -> String {
    let mut hex = to_hex(hash);
    hex.truncate(8);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use step01_kv::number::Number;

    #[test]
    fn ex03_1_hash_is_md5_of_the_type_tagged_encoding_read_big_endian() {
        // MD5("S" "a" 00 01): the string "a" as step 1 encodes it.
        let hash = partition_hash(&KeyValue::S("a".to_string()));
        let direct = Md5::digest([b'S', b'a', 0x00, 0x01]);
        assert_eq!(hash_bytes(hash).as_slice(), direct.as_slice());
        assert_eq!(to_hex(hash), "48dcdaef51b477f17272f26b64bbc41b");
    }

    #[test]
    fn ex03_1_equal_numbers_hash_equally_and_types_differ() {
        let n = |text: &str| KeyValue::N(Number::parse(text).unwrap());
        assert_eq!(partition_hash(&n("1000")), partition_hash(&n("1e3")));
        assert_eq!(partition_hash(&n("0.50")), partition_hash(&n(".5")));
        let string = partition_hash(&KeyValue::S("1".to_string()));
        let number = partition_hash(&n("1"));
        let binary = partition_hash(&KeyValue::B(b"1".to_vec()));
        assert_ne!(string, number);
        assert_ne!(string, binary);
        assert_ne!(number, binary);
    }

    #[test]
    fn ex03_1_similar_keys_land_far_apart() {
        let a = partition_hash(&KeyValue::S("user#1".to_string()));
        let b = partition_hash(&KeyValue::S("user#2".to_string()));
        // Flipping one input bit changes about half of the 128 output bits.
        let differing = (a ^ b).count_ones();
        assert!((32..=96).contains(&differing), "{differing} bits differ");
    }

    #[test]
    fn hex_and_bytes_round_trip() {
        for hash in [0, 1, 0xdead_beef, KeyHash::MAX, KeyHash::MAX / 3] {
            assert_eq!(to_hex(hash), format!("{hash:032x}"));
            assert_eq!(hash_from_bytes(&hash_bytes(hash)), Some(hash));
        }
        assert_eq!(to_short_hex(KeyHash::MAX), "ffffffff");
        assert_eq!(hash_from_bytes(&[1, 2, 3]), None);
    }
}
