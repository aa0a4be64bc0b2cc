//! Bloom filters (exercise 02.2): no false negatives, and a false-positive
//! rate that matches theory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use step02_lsm::bloom::{
    BloomFilter, BloomFilterBuilder, hash_count, theoretical_false_positive_rate,
};

/// Keys shaped like the engine's: a common prefix and a counter, so that a
/// weak hash would show up as clustering.
fn key(i: u32) -> Vec<u8> {
    format!("customer#{i:08}/profile").into_bytes()
}

fn filter_of(keys: impl Iterator<Item = Vec<u8>>, bits_per_key: usize) -> BloomFilter {
    let mut builder = BloomFilterBuilder::new(bits_per_key);
    for key in keys {
        builder.add_key(&key);
    }
    BloomFilter::decode(&builder.finish()).unwrap()
}

#[test]
fn ex02_2_every_added_key_is_found() {
    for bits_per_key in [1, 4, 10, 20] {
        let filter = filter_of((0..5_000).map(key), bits_per_key);
        let missing = (0..5_000).filter(|&i| !filter.may_contain(&key(i))).count();
        assert_eq!(missing, 0, "false negatives at {bits_per_key} bits per key");
    }
    let filter = filter_of(std::iter::once(Vec::new()), 10);
    assert!(filter.may_contain(b""), "the empty key is a key");
}

#[test]
fn ex02_2_absent_keys_are_mostly_rejected() {
    let filter = filter_of((0..1_000).map(key), 10);
    let rejected = (1_000..2_000)
        .filter(|&i| !filter.may_contain(&key(i)))
        .count();
    assert!(
        rejected > 950,
        "only {rejected} of 1000 absent keys rejected"
    );
}

/// Measures the false-positive rate over many absent keys and compares it to
/// `(1 - e^{-kn/m})^k` for the filter's actual `m` and `k`.
#[test]
fn ex02_2_false_positive_rate_is_close_to_theory() {
    const KEYS: u32 = 20_000;
    const PROBES: u32 = 200_000;
    for bits_per_key in [6, 10, 14] {
        let filter = filter_of((0..KEYS).map(key), bits_per_key);
        assert_eq!(filter.hash_count(), hash_count(bits_per_key));
        let false_positives = (KEYS..KEYS + PROBES)
            .filter(|&i| filter.may_contain(&key(i)))
            .count();
        let measured = false_positives as f64 / f64::from(PROBES);
        let theory = theoretical_false_positive_rate(
            filter.bit_count(),
            u64::from(KEYS),
            filter.hash_count(),
        );
        println!(
            "{bits_per_key} bits/key, k = {}: measured {:.4}%, theory {:.4}%",
            filter.hash_count(),
            measured * 100.0,
            theory * 100.0
        );
        // At 14 bits per key theory predicts ~0.1%: 200 hits out of 200,000,
        // so a 25% band is several standard deviations wide.
        assert!(
            (measured - theory).abs() <= 0.25 * theory,
            "{bits_per_key} bits per key: measured {measured:.5}, theory {theory:.5}"
        );
    }
}

#[test]
fn more_bits_per_key_mean_fewer_false_positives() {
    let rate = |bits_per_key| {
        let filter = filter_of((0..5_000).map(key), bits_per_key);
        (5_000..55_000)
            .filter(|&i| filter.may_contain(&key(i)))
            .count()
    };
    let (four, eight, sixteen) = (rate(4), rate(8), rate(16));
    assert!(four > eight && eight > sixteen, "{four} {eight} {sixteen}");
}

#[test]
fn a_filter_round_trips_through_its_encoding() {
    let mut builder = BloomFilterBuilder::new(10);
    for i in 0..100 {
        builder.add_key(&key(i));
    }
    assert_eq!(builder.len(), 100);
    let encoded = builder.finish();
    assert_eq!(encoded.len(), 1000 / 8 + 1, "m = 1000 bits, then k");
    assert_eq!(*encoded.last().unwrap(), 7, "k = round(10 ln 2)");
    let filter = BloomFilter::decode(&encoded).unwrap();
    assert_eq!(filter.bit_count(), 1000);
    assert_eq!(filter.hash_count(), 7);
}
