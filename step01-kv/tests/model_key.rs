//! Primary keys: extraction from items, and the order-preserving encoding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model_support;

use model_support::{bytes, close_numbers, dec, key_value, num, number, primary_key};
use proptest::prelude::*;
use step01_kv::error::{DecodeError, ValidationError};
use step01_kv::key::{
    KeyAttribute, KeySchema, KeyType, KeyValue, PrimaryKey, decode_number, encode_number,
};
use step01_kv::number::Number;
use step01_kv::size::{KEY_PARTITION_BYTES_MAX, KEY_SORT_BYTES_MAX};
use step01_kv::value::{AttributeValue, Item};

fn number_bytes(number: Number) -> Vec<u8> {
    let mut out = Vec::new();
    encode_number(&number, &mut out);
    out
}

fn encode_number_of(n: &Number) -> Vec<u8> {
    number_bytes(*n)
}

fn encode_value(value: &KeyValue) -> Vec<u8> {
    let mut out = Vec::new();
    value.encode_into(&mut out);
    out
}

// The exercise 01.2 tests build numbers with `dec(coefficient, exponent)`
// rather than the parser, so they do not depend on exercise 01.1.

#[test]
fn ex01_2_number_encoding_snapshots() {
    // class, exponent of the leading digit + 130, digit pairs (2x+1, last 2x)
    assert_eq!(number_bytes(dec(0, 0)), [0x02]);
    assert_eq!(number_bytes(dec(1, 0)), [0x03, 0x82, 0x14]);
    assert_eq!(number_bytes(dec(100, 0)), [0x03, 0x84, 0x14]);
    assert_eq!(number_bytes(dec(15, -1)), [0x03, 0x82, 0x1E]); // 1.5
    assert_eq!(number_bytes(dec(12, -1)), [0x03, 0x82, 0x18]); // 1.2
    assert_eq!(number_bytes(dec(123, -2)), [0x03, 0x82, 0x19, 0x3C]); // 1.23
    assert_eq!(
        number_bytes(dec(1_000_001, -6)), // 1.000001
        [0x03, 0x82, 0x15, 0x01, 0x01, 0x14]
    );
    assert_eq!(number_bytes(dec(1, -130)), [0x03, 0x00, 0x14]);
    assert_eq!(number_bytes(dec(9, 125)), [0x03, 0xFF, 0xB4]);
    // Negatives: every byte after the class is 255 - b.
    assert_eq!(number_bytes(dec(-1, 0)), [0x01, 0x7D, 0xEB]);
    assert_eq!(number_bytes(dec(-123, -2)), [0x01, 0x7D, 0xE6, 0xC3]);
    let nines = 10i128.pow(38) - 1;
    let mut expected = vec![0x03, 130 + 37];
    expected.extend([199; 18]);
    expected.push(198);
    assert_eq!(number_bytes(dec(nines, 0)), expected);
}

#[test]
fn ex01_2_number_encoding_orders_a_ladder() {
    let nines = 10i128.pow(38) - 1;
    let ascending = [
        (-nines, 88), // the most negative number
        (-100, 0),
        (-99, 0),
        (-10, 0),
        (-123, -2),
        (-12, -1),
        (-1, 0),
        (-5, -1),
        (-1, -130),
        (0, 0),
        (1, -130),
        (5, -1),
        (1, 0),
        (1_000_001, -6),
        (12, -1),
        (123, -2),
        (10, 0),
        (99, 0),
        (100, 0),
        (nines, 88), // the largest number
    ];
    for pair in ascending.windows(2) {
        let (low, high) = (dec(pair[0].0, pair[0].1), dec(pair[1].0, pair[1].1));
        assert!(low < high, "the ladder itself is wrong at {low} < {high}");
        assert!(
            number_bytes(low) < number_bytes(high),
            "{low} should encode below {high}"
        );
    }
}

#[test]
fn number_decoding_rejects_non_canonical_bytes() {
    let bad: [&[u8]; 9] = [
        &[],
        &[0x04],
        &[0x03],
        &[0x03, 0x82],
        &[0x03, 0x82, 0x15], // never ends
        &[0x03, 0x82, 0x00], // ends with a zero pair
        &[0x03, 0x82, 0x02], // leading zero digit (05 for 0.5E0)
        &[0x03, 0x82, 0xC8], // pair 100
        &[0x01, 0x7D, 0x14], // negative: 0x14 flips to pair 117
    ];
    for bytes in bad {
        assert!(decode_number(bytes).is_err(), "{bytes:02X?}");
    }
    let too_long: Vec<u8> = [0x03, 0x82]
        .into_iter()
        .chain([0x15; 19])
        .chain([0x14])
        .collect();
    assert_eq!(
        decode_number(&too_long),
        Err(DecodeError::Malformed("number has too many digits"))
    );
}

#[test]
fn strings_sort_by_utf8_bytes_and_binaries_by_unsigned_bytes() {
    let s = |text: &str| encode_value(&KeyValue::S(text.to_string()));
    let b = |bytes: &[u8]| encode_value(&KeyValue::B(bytes.to_vec()));
    assert!(s("A") < s("a"));
    assert!(s("z") < s("¿"));
    assert!(s("") < s("\0"));
    assert!(s("a") < s("a\0"));
    assert!(s("a\0") < s("a\0\0"));
    assert!(s("a\0") < s("a\x01"));
    assert!(s("a\u{7f}") < s("aé"));
    assert!(b(&[]) < b(&[0]));
    assert!(b(&[0x7F]) < b(&[0x80]));
    assert!(b(&[0xFE, 0xFF]) < b(&[0xFF]));
    assert_eq!(s("a\0b"), [b'S', b'a', 0x00, 0xFF, b'b', 0x00, 0x01]);
    assert_eq!(b(&[]), [b'B', 0x00, 0x01]);
}

#[test]
fn a_partition_alone_sorts_before_its_sort_keys() {
    let p = KeyValue::S("user".into());
    let alone = PrimaryKey::partition_only(p.clone()).encode();
    let with_sort = PrimaryKey {
        partition: p.clone(),
        sort: Some(KeyValue::N(num("-5"))),
    }
    .encode();
    assert!(with_sort.starts_with(&alone));
    assert!(alone < with_sort);
    let next_partition = PrimaryKey::partition_only(KeyValue::S("user\0".into())).encode();
    assert!(with_sort < next_partition);
}

#[test]
fn key_decoding_rejects_malformed_bytes() {
    let key = PrimaryKey {
        partition: KeyValue::S("p".into()),
        sort: Some(KeyValue::B(vec![1])),
    };
    let encoded = key.encode();
    assert_eq!(PrimaryKey::decode(&encoded), Ok(key.clone()));
    // Every prefix is truncated, except the one that ends with the
    // partition part: that is a valid partition-only key.
    let boundary = 4;
    for len in 0..encoded.len() {
        let decoded = PrimaryKey::decode(&encoded[..len]);
        if len == boundary {
            assert_eq!(
                decoded,
                Ok(PrimaryKey::partition_only(key.partition.clone()))
            );
        } else {
            assert!(decoded.is_err(), "prefix {len}");
        }
    }
    let mut trailing = encoded.clone();
    trailing.push(b'S');
    assert!(PrimaryKey::decode(&trailing).is_err());
    assert_eq!(
        PrimaryKey::decode(b"Xabc"),
        Err(DecodeError::Malformed("unknown key type tag"))
    );
    assert_eq!(
        PrimaryKey::decode(&[b'S', b'a', 0x00, 0x02]),
        Err(DecodeError::Malformed("bad escape in key bytes"))
    );
    assert_eq!(
        PrimaryKey::decode(&[b'S', 0xFF, 0x00, 0x01]),
        Err(DecodeError::Malformed("key string is not UTF-8"))
    );
    assert_eq!(
        PrimaryKey::decode(&[b'S', b'a', 0x00]),
        Err(DecodeError::Truncated)
    );
}

fn schema(sort: Option<KeyType>) -> KeySchema {
    KeySchema {
        partition: KeyAttribute {
            name: "pk".into(),
            key_type: KeyType::S,
        },
        sort: sort.map(|key_type| KeyAttribute {
            name: "sk".into(),
            key_type,
        }),
    }
}

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect()
}

#[test]
fn key_of_extracts_and_checks_the_key() {
    let with_sort = schema(Some(KeyType::N));
    let found = with_sort.key_of(&item(&[
        ("pk", AttributeValue::from("p")),
        ("sk", AttributeValue::N(num("1e3"))),
        ("other", AttributeValue::Null),
    ]));
    assert_eq!(
        found,
        Ok(PrimaryKey {
            partition: KeyValue::S("p".into()),
            sort: Some(KeyValue::N(num("1000"))),
        })
    );
    let message = |schema: &KeySchema, item: Item| schema.key_of(&item).unwrap_err().to_string();
    assert_eq!(
        message(&with_sort, item(&[("pk", AttributeValue::from("p"))])),
        "One or more parameter values were invalid: Missing the key sk in the item"
    );
    assert_eq!(
        message(
            &with_sort,
            item(&[
                ("pk", AttributeValue::from("p")),
                ("sk", AttributeValue::from("1"))
            ])
        ),
        "One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"
    );
    assert_eq!(
        message(&with_sort, item(&[("pk", AttributeValue::from(""))])),
        "One or more parameter values were invalid: The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
    );
    let binary_sort = schema(Some(KeyType::B));
    assert_eq!(
        message(
            &binary_sort,
            item(&[
                ("pk", AttributeValue::from("p")),
                ("sk", AttributeValue::B(vec![]))
            ])
        ),
        "One or more parameter values were invalid: The AttributeValue for a key attribute cannot contain an empty binary value. Key: sk"
    );
}

#[test]
fn key_values_are_limited_to_2048_and_1024_bytes() {
    assert_eq!(KEY_PARTITION_BYTES_MAX, 2048);
    assert_eq!(KEY_SORT_BYTES_MAX, 1024);
    let with_sort = schema(Some(KeyType::B));
    let key = |pk: usize, sk: usize| {
        with_sort.key_of(&item(&[
            ("pk", AttributeValue::S("é".repeat(pk / 2))),
            ("sk", AttributeValue::B(vec![7; sk])),
        ]))
    };
    assert!(key(2048, 1024).is_ok());
    assert_eq!(key(2050, 1), Err(ValidationError::PartitionKeyTooLarge));
    assert_eq!(key(2, 1025), Err(ValidationError::SortKeyTooLarge));
    assert_eq!(
        ValidationError::PartitionKeyTooLarge.to_string(),
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"
    );
    assert_eq!(
        ValidationError::SortKeyTooLarge.to_string(),
        "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    );
    // Numbers are not length-checked.
    let numeric = schema(Some(KeyType::N));
    let long_number = num(&"9".repeat(38));
    let found = numeric.key_of(&item(&[
        ("pk", AttributeValue::from("p")),
        ("sk", AttributeValue::N(long_number)),
    ]));
    assert!(found.is_ok());
}

#[test]
fn only_strings_numbers_and_binaries_are_key_values() {
    assert_eq!(
        KeyValue::try_from(AttributeValue::from("x")),
        Ok(KeyValue::S("x".into()))
    );
    assert_eq!(
        KeyValue::try_from(AttributeValue::N(num("2"))),
        Ok(KeyValue::N(num("2")))
    );
    assert_eq!(
        KeyValue::try_from(AttributeValue::B(vec![1])),
        Ok(KeyValue::B(vec![1]))
    );
    assert_eq!(
        KeyValue::try_from(AttributeValue::Bool(true)),
        Err(ValidationError::KeyTypeInvalid { actual: "BOOL" })
    );
    assert_eq!(
        AttributeValue::from(KeyValue::B(vec![1])),
        AttributeValue::B(vec![1])
    );
    assert_eq!(KeyValue::N(num("1")).key_type(), KeyType::N);
    assert_eq!(KeyType::B.name(), "B");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn ex01_2_number_encoding_preserves_order(a in number(), b in number()) {
        prop_assert_eq!(encode_number_of(&a).cmp(&encode_number_of(&b)), a.cmp(&b));
    }

    #[test]
    fn ex01_2_number_encoding_preserves_order_of_close_numbers((a, b) in close_numbers()) {
        prop_assert_eq!(encode_number_of(&a).cmp(&encode_number_of(&b)), a.cmp(&b));
        let (a, b) = (a.negated(), b);
        prop_assert_eq!(encode_number_of(&a).cmp(&encode_number_of(&b)), a.cmp(&b));
    }

    #[test]
    fn ex01_2_number_encoding_round_trips(n in number(), tail in bytes(0..4)) {
        let mut encoded = encode_number_of(&n);
        prop_assert!(encoded.len() <= 2 + 19);
        encoded.extend_from_slice(&tail);
        let (decoded, rest) = decode_number(&encoded).unwrap();
        prop_assert_eq!(decoded, n);
        prop_assert_eq!(rest, &tail[..]);
    }

    #[test]
    fn key_value_encoding_preserves_order(a in key_value(), b in key_value()) {
        prop_assert_eq!(encode_value(&a).cmp(&encode_value(&b)), a.cmp(&b));
    }

    #[test]
    fn primary_key_encoding_preserves_order(a in primary_key(), b in primary_key()) {
        prop_assert_eq!(a.encode().cmp(&b.encode()), a.cmp(&b));
    }

    #[test]
    fn primary_key_encoding_round_trips(key in primary_key()) {
        let encoded = key.encode();
        prop_assert_eq!(PrimaryKey::decode(&encoded), Ok(key.clone()));
        let (partition, rest) = KeyValue::decode_prefix(&encoded).unwrap();
        prop_assert_eq!(partition, key.partition);
        prop_assert_eq!(rest.is_empty(), key.sort.is_none());
    }

    /// Decoding never panics, and whatever decodes is the one canonical
    /// encoding of its key.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(input in bytes(0..24)) {
        if let Ok(key) = PrimaryKey::decode(&input) {
            prop_assert_eq!(key.encode(), input.clone());
        }
        if let Ok((number, rest)) = decode_number(&input) {
            let mut again = encode_number_of(&number);
            again.extend_from_slice(rest);
            prop_assert_eq!(again, input);
        }
    }

    /// Corrupting one byte of a valid key either fails to decode or gives a
    /// key that encodes back to the corrupted bytes.
    #[test]
    fn decoding_corrupted_keys_never_panics(key in primary_key(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut encoded = key.encode();
        let at = at.index(encoded.len());
        encoded[at] = byte;
        if let Ok(decoded) = PrimaryKey::decode(&encoded) {
            prop_assert_eq!(&decoded.encode(), &encoded);
        }
        if let Ok((number, rest)) = decode_number(&encoded[1..]) {
            let mut again = encode_number_of(&number);
            again.extend_from_slice(rest);
            prop_assert_eq!(&again[..], &encoded[1..]);
        }
    }
}
