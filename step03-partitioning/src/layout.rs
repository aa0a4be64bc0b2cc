//! The storage key: how an item's primary key becomes the byte key a
//! partition's engine sorts by.
//!
//! ```text
//! [ 16 bytes: MD5 of the partition key ][ encoded partition key ][ encoded sort key ]
//!   big-endian, so bytes sort like the      step 1's order-preserving,
//!   128-bit number                          self-delimiting encodings
//! ```
//!
//! Why this order:
//!
//! * **The hash first.** Keys sort by hash before anything else, so a hash
//!   range is a byte range: a partition's items are one contiguous run of
//!   keys, a parallel-scan segment is a contiguous run, and moving the
//!   partition boundaries (a split) never reorders anything. The order is
//!   global and independent of the partition map, which is why a scan's
//!   last evaluated key stays an exact position across partitions and
//!   across splits.
//! * **The partition key second.** All items of one partition key (an item
//!   collection) share the 16-byte hash *and* the encoded partition key, so
//!   they are adjacent: a Query is a prefix scan over `hash ++ partition
//!   key`. The partition key also keeps two keys apart in the (never yet
//!   observed) case of an MD5 collision.
//! * **The sort key last.** Within the collection, step 1's encoding sorts
//!   by DynamoDB's sort-key order (strings by UTF-8 bytes, numbers
//!   numerically, binaries by bytes), so "sort key between a and b" is a
//!   byte range.
//!
//! Step 1's key encodings are self-delimiting, so the layout splits back
//! unambiguously: [`decode_item_key`] recovers the primary key and checks
//! that the hash in front is the hash of that partition key.
//!
//! Invariants: `decode_item_key(&item_key(k)) == Ok((partition_hash(&k.partition), k))`;
//! `a.cmp(b) == item_key(a).cmp(item_key(b))` for keys of equal hash; every
//! storage key is at least [`HASH_BYTES`] long.

use std::cmp::Ordering;
use std::ops::Bound;

use step01_kv::engine::{KeyRange, ScanDirection};
use step01_kv::error::DecodeError;
use step01_kv::key::{KeyValue, PrimaryKey};

use crate::hash::{HASH_BYTES, KeyHash, hash_bytes, hash_from_bytes, partition_hash};
use crate::range::HashRange;

// ANCHOR: key_layout
/// The storage key of an item: `hash ++ partition key ++ sort key`.
pub fn item_key(key: &PrimaryKey) -> Vec<u8> {
    let mut out = collection_prefix(&key.partition);
    if let Some(sort) = &key.sort {
        sort.encode_into(&mut out);
    }
    out
}

/// The common prefix of every storage key of one item collection:
/// `hash ++ partition key`.
pub fn collection_prefix(partition_key: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(HASH_BYTES + 16);
    out.extend_from_slice(&hash_bytes(partition_hash(partition_key)));
    partition_key.encode_into(&mut out);
    out
}

/// Splits a storage key back into its hash and primary key, checking that
/// the hash is the partition key's.
pub fn decode_item_key(bytes: &[u8]) -> Result<(KeyHash, PrimaryKey), DecodeError> {
    let hash = hash_from_bytes(bytes).ok_or(DecodeError::Truncated)?;
    let key = PrimaryKey::decode(&bytes[HASH_BYTES..])?;
    if partition_hash(&key.partition) != hash {
        return Err(DecodeError::Malformed(
            "storage key hash is not the partition key's",
        ));
    }
    Ok((hash, key))
}
// ANCHOR_END: key_layout

/// Every storage key whose hash lies in `range`.
pub fn hash_range_keys(range: &HashRange) -> KeyRange {
    let start = Bound::Included(hash_bytes(range.start()).to_vec());
    let end = match range.end().checked_add(1) {
        Some(next) => Bound::Excluded(hash_bytes(next).to_vec()),
        None => Bound::Unbounded,
    };
    KeyRange::new(start, end)
}

/// The keys in both ranges.
pub fn intersect(a: &KeyRange, b: &KeyRange) -> KeyRange {
    let start = if start_cmp(&a.start, &b.start) == Ordering::Less {
        b.start.clone()
    } else {
        a.start.clone()
    };
    let end = if end_cmp(&a.end, &b.end) == Ordering::Greater {
        b.end.clone()
    } else {
        a.end.clone()
    };
    KeyRange::new(start, end)
}

/// Orders two start bounds by how restrictive they are: `Less` means `a`
/// admits more keys at the low end.
fn start_cmp(a: &Bound<Vec<u8>>, b: &Bound<Vec<u8>>) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Less,
        (_, Bound::Unbounded) => Ordering::Greater,
        (Bound::Included(x), Bound::Included(y)) | (Bound::Excluded(x), Bound::Excluded(y)) => {
            x.cmp(y)
        }
        // "> x" is stricter than ">= x".
        (Bound::Included(x), Bound::Excluded(y)) => x.cmp(y).then(Ordering::Less),
        (Bound::Excluded(x), Bound::Included(y)) => x.cmp(y).then(Ordering::Greater),
    }
}

/// Orders two end bounds: `Greater` means `a` admits more keys at the high
/// end.
fn end_cmp(a: &Bound<Vec<u8>>, b: &Bound<Vec<u8>>) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Greater,
        (_, Bound::Unbounded) => Ordering::Less,
        (Bound::Included(x), Bound::Included(y)) | (Bound::Excluded(x), Bound::Excluded(y)) => {
            x.cmp(y)
        }
        // "< x" is stricter than "<= x".
        (Bound::Included(x), Bound::Excluded(y)) => x.cmp(y).then(Ordering::Greater),
        (Bound::Excluded(x), Bound::Included(y)) => x.cmp(y).then(Ordering::Less),
    }
}

/// The hash of the first partition a walk over `range` in `direction` must
/// visit: no key of the range has a smaller hash (forward) or a larger one
/// (reverse). It may be too cautious by one partition; the walk then finds
/// nothing there and moves on.
pub fn first_hash(range: &KeyRange, direction: ScanDirection) -> KeyHash {
    let (bound, pad) = match direction {
        ScanDirection::Forward => (&range.start, 0x00),
        ScanDirection::Reverse => (&range.end, 0xFF),
    };
    match bound {
        Bound::Included(key) | Bound::Excluded(key) => {
            let mut first = [pad; HASH_BYTES];
            let len = key.len().min(HASH_BYTES);
            first[..len].copy_from_slice(&key[..len]);
            KeyHash::from_be_bytes(first)
        }
        Bound::Unbounded => match direction {
            ScanDirection::Forward => 0,
            ScanDirection::Reverse => KeyHash::MAX,
        },
    }
}

/// A Query's condition on the sort key, as DynamoDB's key condition
/// expressions allow it: one comparison, `BETWEEN`, or `begins_with`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum SortCondition {
    /// Every item of the collection.
    #[default]
    All,
    Eq(KeyValue),
    Lt(KeyValue),
    Le(KeyValue),
    Gt(KeyValue),
    Ge(KeyValue),
    /// `BETWEEN low AND high`, both included.
    Between(KeyValue, KeyValue),
    /// `begins_with(sk, prefix)`: strings and binaries only.
    BeginsWith(KeyValue),
}

impl SortCondition {
    /// The values the condition compares with (for type checks).
    pub fn operands(&self) -> Vec<&KeyValue> {
        match self {
            SortCondition::All => vec![],
            SortCondition::Eq(v)
            | SortCondition::Lt(v)
            | SortCondition::Le(v)
            | SortCondition::Gt(v)
            | SortCondition::Ge(v)
            | SortCondition::BeginsWith(v) => vec![v],
            SortCondition::Between(low, high) => vec![low, high],
        }
    }
}

/// The storage keys of the items of one collection that satisfy `condition`.
pub fn query_range(partition_key: &KeyValue, condition: &SortCondition) -> KeyRange {
    let prefix = collection_prefix(partition_key);
    let with = |sort: &KeyValue| {
        let mut key = prefix.clone();
        sort.encode_into(&mut key);
        key
    };
    let whole = KeyRange::prefix(&prefix);
    match condition {
        SortCondition::All => whole,
        SortCondition::Eq(v) => KeyRange::new(Bound::Included(with(v)), Bound::Included(with(v))),
        SortCondition::Lt(v) => KeyRange::new(whole.start, Bound::Excluded(with(v))),
        SortCondition::Le(v) => KeyRange::new(whole.start, Bound::Included(with(v))),
        SortCondition::Gt(v) => KeyRange::new(Bound::Excluded(with(v)), whole.end),
        SortCondition::Ge(v) => KeyRange::new(Bound::Included(with(v)), whole.end),
        SortCondition::Between(low, high) => {
            KeyRange::new(Bound::Included(with(low)), Bound::Included(with(high)))
        }
        SortCondition::BeginsWith(v) => {
            // The encoding of a string or binary is its escaped bytes and a
            // two-byte terminator; without the terminator it is a prefix of
            // the encoding of every value that starts with `v`.
            let mut key = with(v);
            if matches!(v, KeyValue::S(_) | KeyValue::B(_)) {
                key.truncate(key.len().saturating_sub(2));
            }
            KeyRange::prefix(&key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use step01_kv::number::Number;

    fn s(text: &str) -> KeyValue {
        KeyValue::S(text.to_string())
    }

    fn key(pk: &str, sk: &str) -> PrimaryKey {
        PrimaryKey {
            partition: s(pk),
            sort: Some(s(sk)),
        }
    }

    #[test]
    fn item_keys_round_trip_and_start_with_the_hash() {
        let keys = [
            key("alice", "2024"),
            PrimaryKey::partition_only(KeyValue::N(Number::parse("-1.5").unwrap())),
            PrimaryKey {
                partition: KeyValue::B(vec![0, 0xFF, 0]),
                sort: Some(KeyValue::N(Number::parse("7").unwrap())),
            },
        ];
        for k in keys {
            let bytes = item_key(&k);
            let hash = partition_hash(&k.partition);
            assert_eq!(hash_from_bytes(&bytes), Some(hash));
            assert_eq!(decode_item_key(&bytes), Ok((hash, k)));
        }
    }

    #[test]
    fn a_wrong_hash_is_detected_on_decode() {
        let mut bytes = item_key(&key("alice", "x"));
        bytes[0] ^= 1;
        assert!(decode_item_key(&bytes).is_err());
        assert_eq!(decode_item_key(&bytes[..3]), Err(DecodeError::Truncated));
    }

    #[test]
    fn a_collection_is_one_contiguous_run_sorted_by_sort_key() {
        let sorts = ["", "a", "a\u{0}", "ab", "b", "\u{7f}"];
        let mut keys: Vec<Vec<u8>> = sorts.iter().map(|sk| item_key(&key("p", sk))).collect();
        let in_order = keys.clone();
        keys.sort();
        assert_eq!(keys, in_order, "byte order is sort-key order");
        let prefix = KeyRange::prefix(&collection_prefix(&s("p")));
        assert!(keys.iter().all(|k| prefix.contains(k)));
        assert!(!prefix.contains(&item_key(&key("q", "a"))));
    }

    #[test]
    fn sort_conditions_select_the_right_keys() {
        let sorts = ["a", "ab", "abc", "b", "ba", "c"];
        let cases: Vec<(SortCondition, Vec<&str>)> = vec![
            (SortCondition::All, sorts.to_vec()),
            (SortCondition::Eq(s("ab")), vec!["ab"]),
            (SortCondition::Lt(s("b")), vec!["a", "ab", "abc"]),
            (SortCondition::Le(s("b")), vec!["a", "ab", "abc", "b"]),
            (SortCondition::Gt(s("b")), vec!["ba", "c"]),
            (SortCondition::Ge(s("b")), vec!["b", "ba", "c"]),
            (
                SortCondition::Between(s("ab"), s("b")),
                vec!["ab", "abc", "b"],
            ),
            (SortCondition::BeginsWith(s("ab")), vec!["ab", "abc"]),
            (SortCondition::BeginsWith(s("b")), vec!["b", "ba"]),
        ];
        for (condition, want) in cases {
            let range = query_range(&s("p"), &condition);
            let got: Vec<&str> = sorts
                .iter()
                .copied()
                .filter(|sk| range.contains(&item_key(&key("p", sk))))
                .collect();
            assert_eq!(got, want, "{condition:?}");
            assert!(!range.contains(&item_key(&key("other", "ab"))));
        }
    }

    #[test]
    fn hash_ranges_become_key_ranges() {
        let range = HashRange::new(5, 9).unwrap();
        let keys = hash_range_keys(&range);
        let at = |h: KeyHash, tail: &[u8]| [hash_bytes(h).as_slice(), tail].concat();
        assert!(!keys.contains(&at(4, b"\xff\xff")));
        assert!(keys.contains(&at(5, b"")));
        assert!(keys.contains(&at(9, b"\xff\xff")));
        assert!(!keys.contains(&at(10, b"")));
        let full = hash_range_keys(&HashRange::FULL);
        assert_eq!(full.start, Bound::Included(vec![0; HASH_BYTES]));
        assert_eq!(full.end, Bound::Unbounded);
    }

    #[test]
    fn intersection_keeps_the_stricter_bounds() {
        let k = |b: &[u8]| b.to_vec();
        let a = KeyRange::new(Bound::Included(k(b"b")), Bound::Excluded(k(b"f")));
        let b = KeyRange::new(Bound::Excluded(k(b"b")), Bound::Included(k(b"f")));
        let both = intersect(&a, &b);
        assert_eq!(both.start, Bound::Excluded(k(b"b")));
        assert_eq!(both.end, Bound::Excluded(k(b"f")));
        assert_eq!(intersect(&KeyRange::all(), &a), a);
        assert_eq!(intersect(&a, &KeyRange::all()), a);
        let disjoint = KeyRange::new(Bound::Included(k(b"x")), Bound::Unbounded);
        assert!(intersect(&a, &disjoint).is_empty());
    }

    #[test]
    fn first_hash_never_skips_a_key() {
        let key = item_key(&key("p", "s"));
        let hash = hash_from_bytes(&key).unwrap();
        let range = KeyRange::new(Bound::Excluded(key.clone()), Bound::Included(key));
        assert_eq!(first_hash(&range, ScanDirection::Forward), hash);
        assert_eq!(first_hash(&range, ScanDirection::Reverse), hash);
        assert_eq!(first_hash(&KeyRange::all(), ScanDirection::Forward), 0);
        assert_eq!(
            first_hash(&KeyRange::all(), ScanDirection::Reverse),
            KeyHash::MAX
        );
    }
}
