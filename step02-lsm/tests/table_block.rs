//! Blocks: the exact encoding, prefix compression and restart points
//! (exercise 02.1), seeks, a model test against a `BTreeMap`, and a decoder
//! that survives arbitrary bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use step02_lsm::block::{Block, BlockBuilder, BlockIter, get_varint32, get_varint64, put_varint};

type KeyValue = (Vec<u8>, Vec<u8>);

fn build(entries: &[KeyValue], restart_interval: usize) -> Vec<u8> {
    let mut builder = BlockBuilder::new(restart_interval);
    for (key, value) in entries {
        builder.add(key, value);
    }
    builder.finish()
}

fn decode(bytes: Vec<u8>) -> Arc<Block> {
    Arc::new(Block::decode(bytes).unwrap())
}

fn kv(key: &str, value: &str) -> KeyValue {
    (key.as_bytes().to_vec(), value.as_bytes().to_vec())
}

/// The key and value at which a seek for `target` lands, if any.
fn seek(block: &Arc<Block>, target: &[u8]) -> Option<KeyValue> {
    let mut iter = BlockIter::new(Arc::clone(block));
    iter.seek(target).unwrap();
    iter.is_valid()
        .then(|| (iter.key().to_vec(), iter.value().to_vec()))
}

#[test]
fn ex02_1_encoding_shares_prefixes_and_restarts_every_interval() {
    let bytes = build(&[kv("apple", "1"), kv("apply", "2"), kv("b", "3")], 2);
    #[rustfmt::skip]
    let expected: Vec<u8> = [
        &[0, 5, 1][..], b"apple", b"1", // a restart point: the whole key
        &[4, 1, 1], b"y", b"2",         // shares "appl" with "apple"
        &[0, 1, 1], b"b", b"3",         // the second restart point
        &[0, 0, 0, 0], &[14, 0, 0, 0],  // restart offsets: 0 and 9 + 5
        &[2, 0, 0, 0],                  // restart count
    ]
    .concat();
    assert_eq!(bytes, expected);
}

#[test]
fn ex02_1_round_trip_keeps_every_entry_and_duplicate_keys() {
    let entries = vec![
        kv("", "empty key"),
        kv("a", ""),
        kv("a", "second version"),
        kv("a", "third version"),
        kv("ab", "x"),
        kv("abc", "y"),
        kv("b", "z"),
        (vec![0xff; 40], vec![7; 300]),
    ];
    for interval in [1, 2, 3, 16] {
        let block = decode(build(&entries, interval));
        assert_eq!(block.entries().unwrap(), entries, "interval {interval}");
    }
}

#[test]
fn ex02_1_one_restart_point_per_interval() {
    for (count, interval, restarts) in [
        (1, 16, 1),
        (16, 16, 1),
        (17, 16, 2),
        (100, 1, 100),
        (100, 7, 15),
    ] {
        let entries: Vec<KeyValue> = (0..count).map(|i| kv(&format!("k{i:04}"), "v")).collect();
        let block = decode(build(&entries, interval));
        assert_eq!(
            block.restart_count(),
            restarts,
            "{count} entries, interval {interval}"
        );
    }
}

#[test]
fn ex02_1_prefix_compression_makes_blocks_smaller() {
    let entries: Vec<KeyValue> = (0..64)
        .map(|i| kv(&format!("customer#00042/order#{i:06}"), "v"))
        .collect();
    let raw_key_bytes: usize = entries.iter().map(|(key, _)| key.len()).sum();
    let compressed = build(&entries, 16).len();
    let uncompressed = build(&entries, 1).len();
    // 26-byte keys sharing 24 bytes: about 2 bytes per key instead of 26.
    assert!(
        compressed < uncompressed / 2,
        "{compressed} vs {uncompressed}"
    );
    assert!(
        compressed < raw_key_bytes / 2,
        "{compressed} vs {raw_key_bytes} key bytes"
    );
}

#[test]
fn ex02_1_seek_finds_the_first_key_at_or_after_the_target() {
    let entries: Vec<KeyValue> = [
        ("b", "1"),
        ("d", "2"),
        ("d", "3"),
        ("d", "4"),
        ("f", "5"),
        ("h", "6"),
        ("h", "7"),
    ]
    .iter()
    .map(|(k, v)| kv(k, v))
    .collect();
    for interval in [1, 2, 3, 16] {
        let block = decode(build(&entries, interval));
        assert_eq!(seek(&block, b"a"), Some(kv("b", "1")));
        assert_eq!(seek(&block, b"b"), Some(kv("b", "1")));
        assert_eq!(seek(&block, b"c"), Some(kv("d", "2")));
        assert_eq!(
            seek(&block, b"d"),
            Some(kv("d", "2")),
            "the first of equal keys"
        );
        assert_eq!(seek(&block, b"e"), Some(kv("f", "5")));
        assert_eq!(seek(&block, b"h"), Some(kv("h", "6")));
        assert_eq!(seek(&block, b"i"), None);
    }
}

#[test]
fn empty_block_has_no_entries() {
    let block = decode(BlockBuilder::new(16).finish());
    assert!(block.is_empty());
    assert_eq!(block.entries().unwrap(), vec![]);
    assert_eq!(seek(&block, b""), None);
}

#[test]
#[should_panic(expected = "must not decrease")]
fn builder_refuses_decreasing_keys() {
    let mut builder = BlockBuilder::new(16);
    builder.add(b"b", b"");
    builder.add(b"a", b"");
}

#[test]
fn varints_round_trip_and_reject_bad_encodings() {
    for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
        let mut bytes = Vec::new();
        put_varint(&mut bytes, value);
        let mut offset = 0;
        assert_eq!(get_varint64(&bytes, &mut offset).unwrap(), value);
        assert_eq!(offset, bytes.len());
        let mut offset = 0;
        assert_eq!(
            get_varint32(&bytes, &mut offset).ok(),
            u32::try_from(value).ok()
        );
    }
    let mut offset = 0;
    assert!(
        get_varint64(&[0x80, 0x80], &mut offset).is_err(),
        "runs off the end"
    );
    assert!(get_varint64(&[0xff; 11], &mut offset).is_err(), "too long");
    assert!(
        get_varint64(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &mut offset
        )
        .is_err(),
        "overflows"
    );
    assert_eq!(offset, 0, "a failed read does not move the offset");
}

#[test]
fn decoder_rejects_bad_restart_arrays() {
    let good = build(&[kv("a", "1"), kv("b", "2"), kv("c", "3")], 2);
    assert!(Block::decode(good.clone()).is_ok());
    assert!(Block::decode(vec![]).is_err(), "no restart count");
    assert!(Block::decode(vec![0, 0, 0]).is_err(), "short restart count");
    assert!(
        Block::decode(vec![1, 0, 0, 0]).is_err(),
        "count larger than the block"
    );
    let mut bad = good.clone();
    let last = bad.len() - 4;
    bad[last] = 200;
    assert!(Block::decode(bad).is_err(), "count far too large");
    let mut bad = good.clone();
    let first_restart = good.len() - 12;
    bad[first_restart] = 1;
    assert!(Block::decode(bad).is_err(), "first restart not at 0");
    let mut bad = good;
    let second_restart = bad.len() - 8;
    bad[second_restart] = 0;
    assert!(Block::decode(bad).is_err(), "restarts not increasing");
}

#[test]
fn decoder_reports_entries_out_of_order_or_out_of_bounds() {
    // Hand-made blocks that pass the restart checks but lie in their entries.
    let out_of_order: Vec<u8> = [
        &[0, 1, 0][..],
        b"b",
        &[0, 1, 0],
        b"a",
        &[0, 0, 0, 0],
        &[1, 0, 0, 0],
    ]
    .concat();
    let block = decode(out_of_order);
    assert!(block.entries().is_err());
    let too_long: Vec<u8> = [&[0, 9, 0][..], b"ab", &[0, 0, 0, 0], &[1, 0, 0, 0]].concat();
    assert!(decode(too_long).entries().is_err());
    let shares_too_much: Vec<u8> = [&[3, 1, 0][..], b"x", &[0, 0, 0, 0], &[1, 0, 0, 0]].concat();
    let block = decode(shares_too_much);
    assert!(block.entries().is_err());
    let mut iter = BlockIter::new(block);
    assert!(iter.seek(b"x").is_err());
    assert!(!iter.is_valid(), "an error leaves the cursor past the end");
}

fn entries_strategy() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
    // Few distinct bytes: many shared prefixes and keys that prefix others.
    let key = prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'b', 0xff]), 0..12);
    let value = prop::collection::vec(any::<u8>(), 0..40);
    prop::collection::btree_map(key, value, 0..80)
}

proptest! {
    #[test]
    fn ex02_1_blocks_match_a_btreemap(
        model in entries_strategy(),
        interval in 1usize..20,
        targets in prop::collection::vec(prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', b'b', 0xff]), 0..12), 1..20),
    ) {
        let entries: Vec<KeyValue> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let block = decode(build(&entries, interval));
        prop_assert_eq!(block.entries().unwrap(), entries);
        prop_assert_eq!(block.restart_count(), model.len().div_ceil(interval));
        for target in targets {
            let expected = model.range(target.clone()..).next().map(|(k, v)| (k.clone(), v.clone()));
            prop_assert_eq!(seek(&block, &target), expected, "seek {:?}", target);
        }
    }

    #[test]
    fn decoder_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..200),
        target in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        if let Ok(block) = Block::decode(bytes) {
            let block = Arc::new(block);
            let _ = block.entries();
            let mut iter = BlockIter::new(block);
            let _ = iter.seek(&target);
            while iter.is_valid() && iter.advance().is_ok() {}
        }
    }

    #[test]
    fn decoder_never_panics_on_damaged_blocks(
        model in entries_strategy(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
        target in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let entries: Vec<KeyValue> = model.into_iter().collect();
        let mut bytes = build(&entries, 4);
        for (index, bit) in flips {
            let position = index.index(bytes.len());
            bytes[position] ^= 1 << bit;
        }
        if let Ok(block) = Block::decode(bytes) {
            let block = Arc::new(block);
            if let Ok(decoded) = block.entries() {
                prop_assert!(decoded.windows(2).all(|pair| pair[0].0 <= pair[1].0), "keys stay ordered");
            }
            let mut iter = BlockIter::new(block);
            let _ = iter.seek(&target);
        }
    }
}
