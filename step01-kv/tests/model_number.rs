//! DynamoDB numbers: parsing, canonical text, order and exact arithmetic,
//! checked case by case and against `bigdecimal` as an oracle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model_support;

use std::cmp::Ordering;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use model_support::{arithmetic_oracle, big, close_numbers, num, number, number_literal, oracle};
use proptest::prelude::*;
use step01_kv::error::ValidationError;
use step01_kv::number::{NUMBER_DIGITS_MAX, Number};

/// Parses and prints, or shows the error message.
fn canonical(text: &str) -> Result<String, ValidationError> {
    Number::parse(text).map(|n| n.to_string())
}

/// Rewrites a literal DynamoDB accepts into the stricter syntax
/// `bigdecimal` parses (no `+`, a digit on both sides of a point).
fn for_bigdecimal(text: &str) -> String {
    let text = text.strip_prefix('+').unwrap_or(text);
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let (sign, digits) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits = match (digits.starts_with('.'), digits.ends_with('.')) {
        (true, _) => format!("0{digits}"),
        (_, true) => format!("{digits}0"),
        _ => digits.to_string(),
    };
    let exponent = exponent.replace("e+", "e").replace("E+", "E");
    format!("{sign}{digits}{exponent}")
}

#[test]
fn ex01_1_parses_to_canonical_text() {
    let cases = [
        ("0", "0"),
        ("-0", "0"),
        ("+0.000", "0"),
        ("0.0e126", "0"),
        ("1", "1"),
        ("+5", "5"),
        ("5.", "5"),
        (".5", "0.5"),
        ("-.5", "-0.5"),
        ("1.50", "1.5"),
        ("00012.3400", "12.34"),
        ("1e3", "1000"),
        ("1E+3", "1000"),
        ("-12.5E3", "-12500"),
        ("1.23e-1", "0.123"),
        ("123e-1", "12.3"),
        ("1e-20", "0.00000000000000000001"),
        ("0.000120", "0.00012"),
        ("5.e2", "500"),
        ("100", "100"),
    ];
    for (text, expected) in cases {
        assert_eq!(canonical(text).as_deref(), Ok(expected), "{text:?}");
    }
    let big_one = format!("1{}", "0".repeat(125));
    assert_eq!(canonical("1e125").unwrap(), big_one);
}

#[test]
fn ex01_1_counts_only_significant_digits() {
    let digits = |text: &str| num(text).significant_digits();
    assert_eq!(digits("100"), 1);
    assert_eq!(digits("0.0012"), 2);
    assert_eq!(digits("1.50"), 2);
    assert_eq!(digits("1.0000001"), 8);
    assert_eq!(digits("0"), 1);

    // 38 digits, however many zeros surround them, are fine; 39 are not.
    let thirty_eight = "12345678901234567890123456789012345678";
    assert_eq!(canonical(thirty_eight).as_deref(), Ok(thirty_eight));
    assert!(Number::parse(&format!("000{thirty_eight}00")).is_ok());
    assert!(Number::parse(&format!("0.0000{thirty_eight}")).is_ok());
    assert!(Number::parse(&format!("{}{}", "1", "0".repeat(120))).is_ok());
    assert_eq!(
        Number::parse(&format!("{thirty_eight}9")),
        Err(ValidationError::NumberTooPrecise)
    );
    assert_eq!(
        Number::parse(&format!("0.{thirty_eight}1")),
        Err(ValidationError::NumberTooPrecise)
    );
    // Inner zeros are significant.
    assert_eq!(
        Number::parse(&format!("1{}1", "0".repeat(37))),
        Err(ValidationError::NumberTooPrecise)
    );
    assert!(Number::parse(&format!("1{}1", "0".repeat(36))).is_ok());
    assert_eq!(NUMBER_DIGITS_MAX, 38);
}

#[test]
fn ex01_1_enforces_the_magnitude_range() {
    let max = "9.9999999999999999999999999999999999999E+125";
    assert!(Number::parse(max).is_ok());
    assert!(Number::parse(&format!("-{max}")).is_ok());
    assert!(Number::parse("1E-130").is_ok());
    assert!(Number::parse("-0.1E-129").is_ok());
    assert!(Number::parse("1.5E-130").is_ok());
    for text in ["1E+126", "10E+125", "-1e126", "1e99999999999999999999999"] {
        assert_eq!(
            Number::parse(text),
            Err(ValidationError::NumberOverflow),
            "{text}"
        );
    }
    for text in ["1E-131", "-0.9E-130", "1e-99999999999999999999999"] {
        assert_eq!(
            Number::parse(text),
            Err(ValidationError::NumberUnderflow),
            "{text}"
        );
    }
    // Precision is checked before magnitude.
    assert_eq!(
        Number::parse("1.00000000000000000000000000000000000001e200"),
        Err(ValidationError::NumberTooPrecise)
    );
}

#[test]
fn number_rejects_what_is_not_a_number() {
    let not_numbers = [
        "",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        " 1",
        "1 ",
        "1 000",
        "0x10",
        ".",
        "-",
        "+",
        "e5",
        ".e5",
        "1e",
        "1e+",
        "1e-",
        "1.2.3",
        "1e5.5",
        "--1",
        "+-1",
        "1_000",
        "1,5",
        "１",
        "1e5e5",
        "1d5",
    ];
    for text in not_numbers {
        assert_eq!(
            Number::parse(text),
            Err(ValidationError::NumberNotNumeric {
                text: text.to_string()
            }),
            "{text:?}"
        );
    }
}

#[test]
fn number_errors_carry_dynamodb_messages() {
    let message = |text: &str| Number::parse(text).unwrap_err().to_string();
    assert_eq!(
        message("abc"),
        "The parameter cannot be converted to a numeric value: abc"
    );
    assert_eq!(
        message(""),
        "The parameter cannot be converted to a numeric value"
    );
    assert_eq!(
        message(&"1".repeat(39)),
        "Attempting to store more than 38 significant digits in a Number"
    );
    assert_eq!(
        message("1e126"),
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    );
    assert_eq!(
        message("1e-131"),
        "Number underflow. Attempting to store a number with magnitude smaller than supported range"
    );
}

#[test]
fn numbers_are_equal_by_value() {
    assert_eq!(num("1.50"), num("1.5"));
    assert_eq!(num("1000"), num("1e3"));
    assert_eq!(num("-0"), Number::ZERO);
    assert!(!num("-0").is_negative());
    assert_eq!(Number::from(-1500i64), num("-1.5e3"));
    assert_eq!(Number::from(i64::MIN).to_string(), i64::MIN.to_string());
    assert_eq!(Number::from(u64::MAX).to_string(), u64::MAX.to_string());
    assert_eq!(num("-12.50").coefficient(), 125);
    assert_eq!(num("-12.50").exponent(), -1);
    assert_eq!(num("0.012").leading_exponent(), -2);
    assert_eq!(num("1000").leading_exponent(), 3);
}

#[test]
fn numbers_order_numerically() {
    let ascending = [
        "-9.9999999999999999999999999999999999999E+125",
        "-1e3",
        "-999",
        "-1.5",
        "-1.25",
        "-1",
        "-1e-130",
        "0",
        "1e-130",
        "0.1",
        "0.99",
        "1",
        "1.2",
        "1.23",
        "9",
        "10",
        "99999999999999999999999999999999999999",
        "1e38",
        "9.9999999999999999999999999999999999999E+125",
    ];
    for pair in ascending.windows(2) {
        assert_eq!(num(pair[0]).cmp(&num(pair[1])), Ordering::Less, "{pair:?}");
        assert_eq!(
            num(pair[1]).cmp(&num(pair[0])),
            Ordering::Greater,
            "{pair:?}"
        );
    }
}

#[test]
fn arithmetic_is_exact_and_checked() {
    let add = |a: &str, b: &str| num(a).checked_add(&num(b)).map(|n| n.to_string());
    let sub = |a: &str, b: &str| num(a).checked_sub(&num(b)).map(|n| n.to_string());
    assert_eq!(add("0.1", "0.2").as_deref(), Ok("0.3"));
    assert_eq!(add("1.5", "-1.5").as_deref(), Ok("0"));
    assert_eq!(sub("1.000001", "1").as_deref(), Ok("0.000001"));
    assert_eq!(sub("-5", "-7").as_deref(), Ok("2"));
    assert_eq!(add("99", "1").as_deref(), Ok("100"));
    // 1E+50 + 1 needs 51 digits: DynamoDB calls that an overflow.
    assert_eq!(add("1e50", "1"), Err(ValidationError::NumberOverflow));
    assert_eq!(
        add("99999999999999999999999999999999999999", "1").as_deref(),
        Ok("100000000000000000000000000000000000000")
    );
    assert_eq!(
        add("99999999999999999999999999999999999999", "0.1"),
        Err(ValidationError::NumberOverflow)
    );
    let max = "9.9999999999999999999999999999999999999E+125";
    assert_eq!(add(max, "1e88"), Err(ValidationError::NumberOverflow));
    assert_eq!(sub(max, max).as_deref(), Ok("0"));
    assert_eq!(
        sub("1.5e-130", "1.4e-130"),
        Err(ValidationError::NumberUnderflow)
    );
    assert_eq!(sub(max, "1e-130"), Err(ValidationError::NumberOverflow));
}

#[test]
fn numbers_serialise_as_canonical_strings() {
    assert_eq!(serde_json::to_string(&num("1.50")).unwrap(), "\"1.5\"");
    let back: Number = serde_json::from_str("\"1E3\"").unwrap();
    assert_eq!(back, num("1000"));
    assert!(serde_json::from_str::<Number>("\"NaN\"").is_err());
    assert_eq!(format!("[{:>5}]", num("1.5")), "[  1.5]");
    assert_eq!(format!("{:?}", num("-1.5")), "Number(-1.5)");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn ex01_1_parse_matches_bigdecimal(text in number_literal()) {
        let exact = BigDecimal::from_str(&for_bigdecimal(&text)).unwrap();
        prop_assert_eq!(canonical(&text), oracle(&exact), "{}", text);
    }

    #[test]
    fn canonical_text_round_trips(n in number()) {
        let text = n.to_string();
        prop_assert!(!text.contains(['e', 'E', '+']));
        prop_assert_eq!(Number::parse(&text), Ok(n));
        prop_assert_eq!(Ok(text), oracle(&big(&n)));
    }

    #[test]
    fn order_matches_bigdecimal(a in number(), b in number()) {
        prop_assert_eq!(a.cmp(&b), big(&a).cmp(&big(&b)));
        prop_assert_eq!(a == b, big(&a) == big(&b));
    }

    #[test]
    fn order_of_close_numbers_matches_bigdecimal((a, b) in close_numbers()) {
        prop_assert_eq!(a.cmp(&b), big(&a).cmp(&big(&b)));
        prop_assert_eq!(a.negated().cmp(&b), big(&a.negated()).cmp(&big(&b)));
    }

    #[test]
    fn addition_matches_bigdecimal((a, b) in close_numbers()) {
        let sum = a.checked_add(&b).map(|n| n.to_string());
        prop_assert_eq!(sum, arithmetic_oracle(&(big(&a) + big(&b))));
        let difference = a.checked_sub(&b).map(|n| n.to_string());
        prop_assert_eq!(difference, arithmetic_oracle(&(big(&a) - big(&b))));
    }

    #[test]
    fn addition_of_distant_numbers_matches_bigdecimal(a in number(), b in number()) {
        let sum = a.checked_add(&b).map(|n| n.to_string());
        prop_assert_eq!(sum, arithmetic_oracle(&(big(&a) + big(&b))));
        let difference = b.checked_sub(&a).map(|n| n.to_string());
        prop_assert_eq!(difference, arithmetic_oracle(&(big(&b) - big(&a))));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn parse_never_panics(text in "[-+0-9.eE ]{0,12}|\\PC{0,8}") {
        if let Ok(n) = Number::parse(&text) {
            prop_assert_eq!(Number::parse(&n.to_string()), Ok(n));
        }
    }
}
