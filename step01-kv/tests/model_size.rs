//! Item sizes by DynamoDB's accounting rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model_support;

use std::collections::{BTreeMap, BTreeSet};

use model_support::{attribute_value, dec, name, num, number};
use proptest::prelude::*;
use step01_kv::error::ValidationError;
use step01_kv::size::{ITEM_SIZE_BYTES_MAX, check_item_size, item_size, number_size, value_size};
use step01_kv::value::{AttributeValue as V, Item, item_from_json};

/// `coefficient × 10^exponent` as a value, built without the parser (so
/// that the exercise 01.3 tests do not depend on exercise 01.1).
fn n(coefficient: i128, exponent: i64) -> V {
    V::N(dec(coefficient, exponent))
}

#[test]
fn ex01_3_the_documented_example_is_23_bytes() {
    let item = item_from_json(serde_json::json!({
        "shirt-color": {"S": "R"},
        "shirt-size": {"S": "M"}
    }))
    .unwrap();
    assert_eq!(item_size(&item), 23);
}

#[test]
fn ex01_3_scalars_count_their_bytes() {
    assert_eq!(value_size(&V::from("abc")), 3);
    assert_eq!(value_size(&V::from("")), 0);
    assert_eq!(value_size(&V::from("é€")), 5);
    assert_eq!(value_size(&V::B(vec![0, 1, 2])), 3);
    assert_eq!(value_size(&V::Bool(true)), 1);
    assert_eq!(value_size(&V::Null), 1);
    assert_eq!(value_size(&n(0, 0)), 1);
    assert_eq!(value_size(&n(12345, 0)), 4);
    assert_eq!(value_size(&n(-1, 0)), 3);
}

#[test]
fn ex01_3_sets_sum_their_members() {
    let ss = V::Ss(BTreeSet::from(["a".to_string(), "bc".to_string()]));
    assert_eq!(value_size(&ss), 3);
    let ns = V::Ns(BTreeSet::from([dec(1, 0), dec(15, 0), dec(15, -1)]));
    assert_eq!(value_size(&ns), 2 + 2 + 3);
    let bs = V::Bs(BTreeSet::from([vec![0], vec![1, 2]]));
    assert_eq!(value_size(&bs), 3);
}

#[test]
fn ex01_3_lists_and_maps_add_overheads() {
    assert_eq!(value_size(&V::L(vec![])), 3);
    assert_eq!(value_size(&V::M(BTreeMap::new())), 3);
    // 3 + (1 + 1) + (1 + 2)
    assert_eq!(value_size(&V::L(vec![V::from("a"), n(1, 0)])), 8);
    // 3 + (1 + "a" + "xy")
    let map = V::M(BTreeMap::from([("a".to_string(), V::from("xy"))]));
    assert_eq!(value_size(&map), 7);
    // 3 + (1 + "l" + (3 + (1 + 1)))
    let nested = V::M(BTreeMap::from([("l".to_string(), V::L(vec![V::Null]))]));
    assert_eq!(value_size(&nested), 10);
    let item = Item::from([("doc".to_string(), nested)]);
    assert_eq!(item_size(&item), 3 + 10);
}

#[test]
fn number_sizes_follow_digit_pairs_aligned_on_the_point() {
    let cases = [
        ("0", 1),
        ("1", 2),
        ("15", 2),
        ("1.5", 3),
        ("150", 3),
        ("0.001", 2),
        ("0.0015", 2),
        ("123.45", 4),
        ("-1", 3),
        ("-1e-130", 3),
        ("99999999999999999999999999999999999999", 20),
        ("9.9999999999999999999999999999999999999E+125", 20),
        ("1E+125", 2),
        ("1E+124", 2),
    ];
    for (text, size) in cases {
        assert_eq!(number_size(&num(text)), size, "{text}");
    }
}

#[test]
fn the_item_limit_is_400_kb() {
    assert_eq!(ITEM_SIZE_BYTES_MAX, 409_600);
    let item = |len: usize| Item::from([("a".to_string(), V::S("x".repeat(len)))]);
    assert_eq!(check_item_size(&item(409_599)), Ok(409_600));
    let error = check_item_size(&item(409_600)).unwrap_err();
    assert_eq!(error, ValidationError::ItemTooLarge);
    assert_eq!(
        error.to_string(),
        "Item size has exceeded the maximum allowed size"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// An independent statement of the number rule: DynamoDB's documented
    /// estimate of 1 + ceil(digits / 2), one more when an even number of
    /// digits starts at an even power of ten, one more for negatives.
    #[test]
    fn number_size_matches_the_documented_estimate(number in number()) {
        let expected = if number.is_zero() {
            1
        } else {
            let digits = number.significant_digits() as usize;
            let straddles = digits.is_multiple_of(2) && number.leading_exponent() % 2 == 0;
            1 + digits.div_ceil(2) + usize::from(straddles) + usize::from(number.is_negative())
        };
        prop_assert_eq!(number_size(&number), expected);
    }

    #[test]
    fn ex01_3_wrapping_adds_the_container_overheads(value in attribute_value(), name in name()) {
        let size = value_size(&value);
        prop_assert_eq!(value_size(&V::L(vec![value.clone(), value.clone()])), 3 + 2 * (1 + size));
        let map = V::M(BTreeMap::from([(name.clone(), value.clone())]));
        prop_assert_eq!(value_size(&map), 3 + 1 + name.len() + size);
        let item = Item::from([(name.clone(), value)]);
        prop_assert_eq!(item_size(&item), name.len() + size);
    }
}
