//! Shared test helpers for the data-model tests: proptest strategies for
//! numbers, values, items and keys, and a `bigdecimal` oracle for DynamoDB's
//! number rules.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;

use bigdecimal::BigDecimal;
use proptest::prelude::*;
use step01_kv::error::ValidationError;
use step01_kv::key::{KeyValue, PrimaryKey};
use step01_kv::number::Number;
use step01_kv::value::{AttributeValue, Item};

/// Shorthand: parse a number that the test knows is valid.
pub fn num(text: &str) -> Number {
    Number::parse(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
}

/// `coefficient × 10^exponent`, built without the parser (so that tests of
/// other exercises do not depend on exercise 01.1).
pub fn dec(coefficient: i128, exponent: i64) -> Number {
    Number::from_parts(coefficient < 0, coefficient.unsigned_abs(), exponent).unwrap()
}

/// The exact value of a number, built from its parts (not from its Display).
pub fn big(number: &Number) -> BigDecimal {
    let sign = if number.is_negative() { "-" } else { "" };
    BigDecimal::from_str(&format!(
        "{sign}{}E{}",
        number.coefficient(),
        number.exponent()
    ))
    .unwrap()
}

/// DynamoDB's rules applied to an exact value: its canonical text, or the
/// error DynamoDB reports.
pub fn oracle(value: &BigDecimal) -> Result<String, ValidationError> {
    let value = value.normalized();
    if value.to_ref().is_zero() {
        return Ok("0".to_string());
    }
    if value.decimal_digit_count() > 38 {
        return Err(ValidationError::NumberTooPrecise);
    }
    let leading = value.order_of_magnitude();
    if leading > 125 {
        return Err(ValidationError::NumberOverflow);
    }
    if leading < -130 {
        return Err(ValidationError::NumberUnderflow);
    }
    Ok(value.to_plain_string())
}

/// The oracle for arithmetic: DynamoDB reports a result needing more than
/// 38 digits as an overflow.
pub fn arithmetic_oracle(value: &BigDecimal) -> Result<String, ValidationError> {
    oracle(value).map_err(|error| match error {
        ValidationError::NumberTooPrecise => ValidationError::NumberOverflow,
        other => other,
    })
}

/// `count` decimal digits, zeros favoured so that leading, trailing and
/// inner zeros all show up often.
pub fn digits(count: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![3 => Just('0'), 1 => Just('9'), 4 => prop::char::range('0', '9')],
        count,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Syntactically valid number literals in every shape DynamoDB accepts:
/// signs, leading `.5`, trailing `5.`, exponents with `e`/`E` and signs,
/// runs of zeros, and digit counts on both sides of the 38 limit.
pub fn number_literal() -> impl Strategy<Value = String> {
    let sign = prop_oneof![Just(""), Just("+"), Just("-")];
    let mantissa = prop_oneof![
        digits(1..=45),
        (digits(0..=25), digits(0..=25))
            .prop_filter("a digit on one side of the point", |(i, f)| !i.is_empty()
                || !f.is_empty())
            .prop_map(|(i, f)| format!("{i}.{f}")),
    ];
    let exponent = prop_oneof![
        2 => Just(String::new()),
        1 => (
            prop_oneof![Just("e"), Just("E")],
            prop_oneof![Just(""), Just("+"), Just("-")],
            -180i32..=180,
        )
            .prop_map(|(e, sign, value)| format!("{e}{sign}{}", value.unsigned_abs())),
    ];
    (sign, mantissa, exponent).prop_map(|(s, m, e)| format!("{s}{m}{e}"))
}

/// Valid numbers across the whole range, edges included.
pub fn number() -> impl Strategy<Value = Number> {
    let coefficient_digits = 1u32..=38;
    let random = (
        any::<bool>(),
        coefficient_digits,
        any::<u128>(),
        -167i64..=125,
    )
        .prop_filter_map("in range", |(negative, digits, seed, exponent)| {
            let coefficient = seed % 10u128.pow(digits);
            Number::from_parts(negative, coefficient, exponent).ok()
        });
    let small = (-1000i64..=1000).prop_map(Number::from);
    let fraction = (-100_000i64..=100_000, 0i64..=6).prop_map(|(value, places)| {
        Number::from_parts(value < 0, u128::from(value.unsigned_abs()), -places).unwrap()
    });
    let nines = 10i128.pow(38) - 1;
    let edge = prop::sample::select(vec![
        dec(0, 0),
        dec(1, 0),
        dec(-1, 0),
        dec(1, -130),
        dec(-1, -130),
        dec(nines, 88),
        dec(-nines, 88),
        dec(nines, 0),
        dec(1, -1),
        dec(1, 125),
    ]);
    prop_oneof![4 => random, 2 => small, 2 => fraction, 1 => edge]
}

/// Two numbers whose exponents are close, so that additions carry, cancel
/// and round-trip through every interesting path.
pub fn close_numbers() -> impl Strategy<Value = (Number, Number)> {
    (
        number(),
        any::<bool>(),
        1u32..=38,
        any::<u128>(),
        -45i64..=45,
    )
        .prop_filter_map("in range", |(a, negative, digits, seed, offset)| {
            let b = Number::from_parts(
                negative,
                seed % 10u128.pow(digits),
                i64::from(a.exponent()) + offset,
            )
            .ok()?;
            Some((a, b))
        })
}

/// Attribute names: short, sometimes non-ASCII, never empty.
pub fn name() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-z]{1,6}", 1 => "\\PC{1,4}"]
}

/// Bytes with zeros and 0xFF favoured (they matter to the key escaping).
pub fn bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![2 => Just(0u8), 1 => Just(0xFF), 1 => Just(1u8), 4 => any::<u8>()],
        len,
    )
}

/// Strings with NUL characters and multi-byte characters favoured.
pub fn string(len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            2 => Just('\0'),
            2 => prop::char::range('a', 'c'),
            1 => Just('\u{7f}'),
            1 => Just('é'),
            1 => Just('\u{10FFFF}'),
            1 => any::<char>(),
        ],
        0..len,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Any valid attribute value, with maps and lists nested up to 4 levels.
pub fn attribute_value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        string(8).prop_map(AttributeValue::S),
        number().prop_map(AttributeValue::N),
        bytes(0..8).prop_map(AttributeValue::B),
        any::<bool>().prop_map(AttributeValue::Bool),
        Just(AttributeValue::Null),
        prop::collection::btree_set(string(6), 1..5).prop_map(AttributeValue::Ss),
        prop::collection::btree_set(number(), 1..5).prop_map(AttributeValue::Ns),
        prop::collection::btree_set(bytes(0..6), 1..5).prop_map(AttributeValue::Bs),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(AttributeValue::L),
            prop::collection::btree_map(name(), inner, 0..5).prop_map(AttributeValue::M),
        ]
    })
}

/// Any valid item.
pub fn item() -> impl Strategy<Value = Item> {
    prop::collection::btree_map(name(), attribute_value(), 0..6)
}

/// Key values of all three types.
pub fn key_value() -> impl Strategy<Value = KeyValue> {
    prop_oneof![
        string(6).prop_map(KeyValue::S),
        number().prop_map(KeyValue::N),
        bytes(0..6).prop_map(KeyValue::B),
    ]
}

/// Primary keys with and without a sort key. Partition values come from a
/// small pool so that pairs often share a partition.
pub fn primary_key() -> impl Strategy<Value = PrimaryKey> {
    let partition = prop_oneof![
        1 => key_value(),
        2 => prop::sample::select(vec![
            KeyValue::S(String::new()),
            KeyValue::S("a".into()),
            KeyValue::S("a\0".into()),
            KeyValue::N(Number::ZERO),
            KeyValue::B(vec![0]),
        ]),
    ];
    (partition, prop::option::of(key_value()))
        .prop_map(|(partition, sort)| PrimaryKey { partition, sort })
}
