//! MD5 spreads partition keys evenly over the ring: a chi-square test of
//! goodness of fit against the uniform distribution.
//!
//! 100,000 keys fall into 256 equal hash ranges (by the top 8 bits of the
//! hash). With uniform hashing each range expects 390.625 keys, and the
//! statistic `sum((observed - expected)^2 / expected)` follows a chi-square
//! distribution with 255 degrees of freedom. Its 99.9th percentile is
//! 330.52: a good hash stays below it except once in a thousand key sets;
//! the keys here are fixed, so the test is deterministic. The control test
//! shows that a poor "hash" fails the same check, so the check can fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use step01_kv::key::KeyValue;
use step01_kv::number::Number;
use step03_partitioning::hash::{KeyHash, partition_hash};

const KEYS: u32 = 100_000;
const BUCKETS: usize = 256;
/// The chi-square critical value for 255 degrees of freedom at p = 0.001.
const CHI_SQUARE_CRITICAL_DF255_P001: f64 = 330.52;

/// The chi-square statistic of the hashes' top 8 bits against uniform.
fn chi_square(hashes: impl Iterator<Item = KeyHash>) -> f64 {
    let mut counts = [0u64; BUCKETS];
    let mut total = 0u64;
    for hash in hashes {
        counts[(hash >> 120) as usize] += 1;
        total += 1;
    }
    let expected = total as f64 / BUCKETS as f64;
    counts
        .iter()
        .map(|&observed| (observed as f64 - expected).powi(2) / expected)
        .sum()
}

#[test]
fn ex03_1_string_keys_are_uniform_by_chi_square() {
    let statistic =
        chi_square((0..KEYS).map(|i| partition_hash(&KeyValue::S(format!("user#{i}")))));
    assert!(
        statistic < CHI_SQUARE_CRITICAL_DF255_P001,
        "chi-square {statistic:.1} >= {CHI_SQUARE_CRITICAL_DF255_P001}"
    );
}

#[test]
fn ex03_1_number_keys_are_uniform_by_chi_square() {
    let statistic =
        chi_square((0..KEYS).map(|i| partition_hash(&KeyValue::N(Number::from(u64::from(i))))));
    assert!(
        statistic < CHI_SQUARE_CRITICAL_DF255_P001,
        "chi-square {statistic:.1} >= {CHI_SQUARE_CRITICAL_DF255_P001}"
    );
}

#[test]
fn a_poor_hash_fails_the_same_test() {
    // The key's own bytes as the position: all of "user#..." lands in one
    // range, which is why DynamoDB hashes at all.
    let statistic = chi_square((0..KEYS).map(|i| {
        let mut bytes = [0u8; 16];
        let text = format!("user#{i}");
        let len = text.len().min(16);
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        KeyHash::from_be_bytes(bytes)
    }));
    assert!(statistic > CHI_SQUARE_CRITICAL_DF255_P001, "{statistic}");
}
