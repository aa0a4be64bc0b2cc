//! The binary item format: exact bytes, round trips, and hostile input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model_support;

use std::collections::{BTreeMap, BTreeSet};

use model_support::{bytes, item, num};
use proptest::prelude::*;
use step01_kv::codec::{ITEM_FORMAT_VERSION, decode_item, encode_item};
use step01_kv::error::{DecodeError, ValidationError};
use step01_kv::value::{AttributeValue as V, Item, item_from_json};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unhex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn the_documented_example() {
    let item = Item::from([("a".to_string(), V::N(num("-1.5")))]);
    assert_eq!(hex(&encode_item(&item)), "01 01 01 61 02 03 0F");
}

#[test]
fn every_type_has_a_fixed_layout() {
    let item = item_from_json(serde_json::json!({
        "b": {"B": "/w=="},
        "bs": {"BS": [""]},
        "f": {"BOOL": false},
        "l": {"L": [{"NULL": true}]},
        "m": {"M": {"t": {"BOOL": true}}},
        "n": {"N": "0"},
        "ns": {"NS": ["1", "-1"]},
        "s": {"S": "x"},
        "ss": {"SS": ["a"]}
    }))
    .unwrap();
    let expected = [
        "01 09",                      // version, 9 attributes
        "01 62 03 01 FF",             // b: B, 1 byte
        "02 62 73 0B 01 00",          // bs: BS, 1 member of 0 bytes
        "01 66 04",                   // f: false
        "01 6C 08 01 06",             // l: L, 1 element: NULL
        "01 6D 07 01 01 74 05",       // m: M, 1 entry: t = true
        "01 6E 02 00 00",             // n: N, head 0, coefficient 0
        "02 6E 73 0A 02 01 01 00 01", // ns: NS, -1 then 1
        "01 73 01 01 78",             // s: S "x"
        "02 73 73 09 01 01 61",       // ss: SS ["a"]
    ]
    .join(" ");
    let encoded = encode_item(&item);
    assert_eq!(hex(&encoded), expected);
    assert_eq!(decode_item(&encoded), Ok(item));
}

#[test]
fn the_empty_item() {
    assert_eq!(encode_item(&Item::new()), [ITEM_FORMAT_VERSION, 0]);
    assert_eq!(decode_item(&[1, 0]), Ok(Item::new()));
}

#[test]
fn equal_items_have_equal_bytes() {
    let a = item_from_json(serde_json::json!({"x": {"NS": ["2", "1.0"]}, "a": {"N": "1E3"}}));
    let b = item_from_json(serde_json::json!({"a": {"N": "1000"}, "x": {"NS": ["1", "2.00"]}}));
    assert_eq!(encode_item(&a.unwrap()), encode_item(&b.unwrap()));
}

#[test]
fn decoding_rejects_bad_input() {
    let cases: &[(&str, DecodeError)] = &[
        ("", DecodeError::Truncated),
        ("02 00", DecodeError::UnsupportedVersion(2)),
        ("00", DecodeError::UnsupportedVersion(0)),
        ("01", DecodeError::Truncated),
        ("01 00 00", DecodeError::Malformed("bytes after the item")),
        ("01 01 01 61", DecodeError::Truncated),
        (
            "01 01 01 61 0C",
            DecodeError::Malformed("unknown value tag"),
        ),
        ("01 01 05 61", DecodeError::Truncated),
        // A count far larger than the input: rejected before allocating.
        ("01 FF FF FF FF 0F", DecodeError::Truncated),
        (
            "01 01 01 61 08 FF FF FF FF FF FF FF FF FF 01",
            DecodeError::Truncated,
        ),
        (
            "01 01 01 FF 06",
            DecodeError::Malformed("string is not UTF-8"),
        ),
        (
            "01 01 00 06",
            DecodeError::Invalid(ValidationError::AttributeNameEmpty),
        ),
        (
            "01 02 01 62 06 01 61 06",
            DecodeError::Malformed("attribute names out of order"),
        ),
        (
            "01 02 01 61 06 01 61 06",
            DecodeError::Malformed("attribute names out of order"),
        ),
        (
            "01 01 01 61 09 00",
            DecodeError::Invalid(ValidationError::StringSetEmpty),
        ),
        (
            "01 01 01 61 0A 00",
            DecodeError::Invalid(ValidationError::NumberSetEmpty),
        ),
        (
            "01 01 01 61 0B 00",
            DecodeError::Invalid(ValidationError::BinarySetEmpty),
        ),
        (
            "01 01 01 61 09 02 01 61 01 61",
            DecodeError::Malformed("set members out of order"),
        ),
        (
            "01 01 01 61 0A 02 00 02 00 01",
            DecodeError::Malformed("set members out of order"),
        ),
        // 10 = 1 with a trailing zero; -0; zero with an exponent.
        (
            "01 01 01 61 02 00 0A",
            DecodeError::Malformed("number is not normalised"),
        ),
        (
            "01 01 01 61 02 01 00",
            DecodeError::Malformed("number is not normalised"),
        ),
        (
            "01 01 01 61 02 02 00",
            DecodeError::Malformed("number is not normalised"),
        ),
        // Exponent 126: out of range.
        (
            "01 01 01 61 02 F8 03 01",
            DecodeError::Invalid(ValidationError::NumberOverflow),
        ),
        (
            "01 01 01 61 02 80 00 01",
            DecodeError::Malformed("varint has a redundant zero byte"),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            decode_item(&unhex(input)).as_ref(),
            Err(expected),
            "{input}"
        );
    }
}

#[test]
fn nesting_is_bounded_even_for_hostile_input() {
    // 32 levels of lists decode; 33 do not.
    let nested = |levels: usize| {
        let mut value = V::Null;
        for _ in 0..levels {
            value = V::L(vec![value]);
        }
        Item::from([("a".to_string(), value)])
    };
    let ok = nested(32);
    assert_eq!(decode_item(&encode_item(&ok)), Ok(ok));
    assert_eq!(
        decode_item(&encode_item(&nested(33))),
        Err(DecodeError::Invalid(ValidationError::NestingTooDeep))
    );
    // A million nested list headers must fail fast, not overflow the stack.
    let mut hostile = unhex("01 01 01 61");
    for _ in 0..1_000_000 {
        hostile.extend([0x08, 0x01]);
    }
    assert!(decode_item(&hostile).is_err());
}

#[test]
fn every_proper_prefix_is_truncated() {
    let item = Item::from([
        (
            "a".to_string(),
            V::M(BTreeMap::from([("x".to_string(), V::from("y"))])),
        ),
        (
            "b".to_string(),
            V::Bs(BTreeSet::from([vec![1, 2], vec![3]])),
        ),
    ]);
    let encoded = encode_item(&item);
    assert_eq!(decode_item(&encoded), Ok(item));
    for len in 0..encoded.len() {
        assert_eq!(
            decode_item(&encoded[..len]),
            Err(DecodeError::Truncated),
            "prefix {len}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn items_round_trip(item in item()) {
        let encoded = encode_item(&item);
        prop_assert_eq!(encoded[0], ITEM_FORMAT_VERSION);
        prop_assert_eq!(decode_item(&encoded), Ok(item));
    }

    /// Arbitrary bytes (after a valid version byte, to get past it) never
    /// panic, and whatever decodes is the canonical encoding of its item.
    #[test]
    fn arbitrary_bytes_never_panic(body in bytes(0..48)) {
        let mut input = vec![ITEM_FORMAT_VERSION];
        input.extend_from_slice(&body);
        if let Ok(item) = decode_item(&input) {
            prop_assert_eq!(encode_item(&item), input);
        }
        let _ = decode_item(&body);
    }

    /// One corrupted byte in a valid encoding: an error, or an item whose
    /// encoding is exactly the corrupted bytes.
    #[test]
    fn corrupted_items_never_panic(
        item in item(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut encoded = encode_item(&item);
        let at = at.index(encoded.len());
        encoded[at] = byte;
        if let Ok(decoded) = decode_item(&encoded) {
            prop_assert_eq!(encode_item(&decoded), encoded.clone());
        }
        let cut = cut.index(encoded.len());
        let _ = decode_item(&encoded[..cut]);
    }
}
