//! A bloom filter: a few bits per key that answer "is this key possibly in
//! the table?" without reading the table.
//!
//! Most point reads in an LSM tree ask tables that do not hold the key: a
//! key lives in one table per level at most, and a read looks through every
//! level until it finds it. Each of those misses would cost a block read. A
//! bloom filter turns almost all of them into a few memory probes.
//!
//! How it works: the filter is an array of `m` bits, all zero at first. Adding
//! a key sets `k` bits, at positions chosen by hashing the key. Probing a key
//! checks the same `k` positions: if any is zero, the key was never added
//! ("definitely absent"); if all are set, it probably was ("maybe present").
//! There are no false negatives, and with `n` keys the chance of a false
//! positive is about `(1 - e^{-kn/m})^k`, smallest when `k = (m/n) ln 2`.
//!
//! Instead of `k` independent hash functions, the filter computes one 64-bit
//! hash and derives the `k` positions by *double hashing*:
//! `position_i = h1 + i * h2 (mod m)`. Kirsch and Mitzenmacher showed this
//! keeps the false-positive rate of truly independent hashes.
//!
//! # Encoding
//!
//! ```text
//! +---------------------------------------+--------+
//! | bit array: m bits, m a multiple of 8  | k: u8  |
//! +---------------------------------------+--------+
//! ```
//!
//! Bit `i` is bit `i % 8` of byte `i / 8`. The hash function is part of the
//! format: changing it makes every existing filter answer wrongly, so it is
//! written here by hand rather than taken from a library that may change it.
//!
//! Invariants: `k` is in `1..=`[`HASH_COUNT_MAX`] and `m >= 8`; a decoded
//! filter with anything else is rejected as corrupt.

/// The fewest bits a filter has, however few keys it holds: a filter for one
/// key still needs room for its bits to be spread out.
pub const FILTER_BITS_MIN: u64 = 64;
/// The most hash probes per key. Beyond about 30 bits per key a filter gains
/// nothing measurable, and a corrupt `k` must not make probes slow.
pub const HASH_COUNT_MAX: u32 = 30;
/// The most bits per key a filter may be configured with.
pub const BITS_PER_KEY_MAX: usize = 64;

/// The number of probes `k` for a filter with `bits_per_key` bits per key:
/// `bits_per_key * ln 2`, rounded, which minimises the false-positive rate.
pub fn hash_count(bits_per_key: usize) -> u32 {
    let k = (bits_per_key as f64 * std::f64::consts::LN_2).round() as u32;
    k.clamp(1, HASH_COUNT_MAX)
}

/// The false-positive rate theory predicts for a filter of `bits` bits with
/// `keys` keys and `hashes` probes per key: `(1 - e^{-k n / m})^k`.
pub fn theoretical_false_positive_rate(bits: u64, keys: u64, hashes: u32) -> f64 {
    let (m, n, k) = (bits as f64, keys as f64, f64::from(hashes));
    (1.0 - (-k * n / m).exp()).powf(k)
}

/// A 64-bit hash of `key`, fixed forever because filters on disk depend on it.
///
/// Eight bytes at a time are folded in with a multiply and a rotate; a final
/// avalanche step (the finaliser from MurmurHash3) makes every input bit
/// affect every output bit, which double hashing needs.
pub fn key_hash(key: &[u8]) -> u64 {
    const SEED: u64 = 0x6d69_6e69_6479_6e61; // "minidyna"
    const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15; // 2^64 divided by the golden ratio, odd
    let mut hash = SEED ^ (key.len() as u64).wrapping_mul(MULTIPLIER);
    for chunk in key.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        hash = (hash.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(MULTIPLIER);
    }
    avalanche(hash)
}

fn avalanche(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// The step between two probe positions of a key, from the high half of its
/// hash. It is odd, so it is never zero.
fn probe_step(hash: u64) -> u64 {
    (hash >> 32) | 1
}

/// Collects the keys of a table being written and encodes their filter.
#[derive(Debug)]
pub struct BloomFilterBuilder {
    bits_per_key: usize,
    /// One hash per key: 8 bytes each, whatever the key's length.
    hashes: Vec<u64>,
}

impl BloomFilterBuilder {
    pub fn new(bits_per_key: usize) -> Self {
        assert!(
            (1..=BITS_PER_KEY_MAX).contains(&bits_per_key),
            "bits per key must be in 1..={BITS_PER_KEY_MAX}"
        );
        Self {
            bits_per_key,
            hashes: Vec::new(),
        }
    }

    /// Adds a key. Adding a key twice costs a little space, nothing else.
    pub fn add_key(&mut self, key: &[u8]) {
        self.hashes.push(key_hash(key));
    }

    /// The number of keys added.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The size of the encoded filter if it were finished now.
    pub fn estimated_bytes(&self) -> usize {
        filter_bits(self.hashes.len(), self.bits_per_key).div_ceil(8) as usize + 1
    }

    /// Encodes the filter: the bit array, then `k`.
    pub fn finish(self) -> Vec<u8> {
        let bits = filter_bits(self.hashes.len(), self.bits_per_key);
        let hashes = hash_count(self.bits_per_key);
        let mut encoded = vec![0u8; (bits / 8) as usize];
        for hash in &self.hashes {
            let mut position = *hash;
            let step = probe_step(*hash);
            for _ in 0..hashes {
                let bit = position % bits;
                encoded[(bit / 8) as usize] |= 1 << (bit % 8);
                position = position.wrapping_add(step);
            }
        }
        encoded.push(hashes as u8); // Fits: HASH_COUNT_MAX < 256.
        encoded
    }
}

/// The size of the bit array for `keys` keys: a multiple of 8, at least
/// [`FILTER_BITS_MIN`].
fn filter_bits(keys: usize, bits_per_key: usize) -> u64 {
    let bits = (keys as u64).saturating_mul(bits_per_key as u64);
    bits.max(FILTER_BITS_MIN).next_multiple_of(8)
}

/// A decoded filter, ready to be probed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BloomFilter {
    bits: Vec<u8>,
    hashes: u32,
}

impl BloomFilter {
    /// Decodes a filter written by [`BloomFilterBuilder::finish`]. The bytes
    /// must already have passed their checksum; this checks the shape.
    pub fn decode(encoded: &[u8]) -> Result<BloomFilter, String> {
        let Some((&hashes, bits)) = encoded.split_last() else {
            return Err("empty bloom filter".to_string());
        };
        let hashes = u32::from(hashes);
        if !(1..=HASH_COUNT_MAX).contains(&hashes) {
            return Err(format!(
                "bloom filter probe count {hashes} not in 1..={HASH_COUNT_MAX}"
            ));
        }
        if (bits.len() as u64) * 8 < FILTER_BITS_MIN {
            return Err(format!("bloom filter of {} bytes is too short", bits.len()));
        }
        Ok(BloomFilter {
            bits: bits.to_vec(),
            hashes,
        })
    }

    /// The number of bits `m` in the array.
    pub fn bit_count(&self) -> u64 {
        self.bits.len() as u64 * 8
    }

    /// The number of probes `k` per key.
    pub fn hash_count(&self) -> u32 {
        self.hashes
    }

    // ANCHOR: bloom_probe
    /// False if `key` was certainly never added; true if it probably was.
    pub fn may_contain(&self, key: &[u8]) -> bool {
        // EXERCISE(02.2): probe the k bit positions of the key (double hashing)
        let bits = self.bit_count();
        let hash = key_hash(key);
        let step = probe_step(hash);
        let mut position = hash;
        for _ in 0..self.hashes {
            let bit = position % bits;
            let byte = self.bits.get((bit / 8) as usize).copied().unwrap_or(0);
            if byte & (1 << (bit % 8)) == 0 {
                return false;
            }
            position = position.wrapping_add(step);
        }
        true
        // END EXERCISE
    }
    // ANCHOR_END: bloom_probe
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_count_follows_bits_per_key() {
        assert_eq!(hash_count(1), 1);
        assert_eq!(hash_count(6), 4);
        assert_eq!(hash_count(10), 7);
        assert_eq!(hash_count(16), 11);
        assert_eq!(hash_count(BITS_PER_KEY_MAX), HASH_COUNT_MAX);
    }

    #[test]
    fn the_hash_is_fixed() {
        // Filters on disk depend on these exact values: if this test fails,
        // the format changed and the version in the footer must change too.
        assert_eq!(key_hash(b""), 0x69e5_db2f_aa63_b7f5);
        assert_eq!(key_hash(b"a"), 0x8d67_9a75_234c_f6b5);
        assert_ne!(key_hash(b"a"), key_hash(b"a\0"));
    }

    #[test]
    fn decode_rejects_bad_shapes() {
        assert!(BloomFilter::decode(&[]).is_err());
        assert!(BloomFilter::decode(&[0; 9]).is_err(), "k = 0");
        let mut too_many = vec![0; 8];
        too_many.push(31);
        assert!(BloomFilter::decode(&too_many).is_err(), "k > max");
        assert!(BloomFilter::decode(&[0, 0, 7]).is_err(), "too few bits");
        let mut fine = vec![0; 8];
        fine.push(7);
        assert!(BloomFilter::decode(&fine).is_ok());
    }

    #[test]
    fn sizes_round_up_to_whole_bytes() {
        assert_eq!(filter_bits(0, 10), FILTER_BITS_MIN);
        assert_eq!(filter_bits(1000, 10), 10_000);
        assert_eq!(filter_bits(1001, 3), 3008);
        let mut builder = BloomFilterBuilder::new(10);
        for i in 0..1000u32 {
            builder.add_key(&i.to_be_bytes());
        }
        let estimate = builder.estimated_bytes();
        assert_eq!(builder.finish().len(), estimate);
    }
}
