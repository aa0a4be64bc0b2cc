//! DynamoDB numbers: exact decimals of at most 38 significant digits.
//!
//! A DynamoDB `N` travels as a string (`{"N":"-12.5E3"}`) and is stored as
//! an exact decimal, never a float: `0.1 + 0.2` is `0.3`, and `1000` and
//! `1e3` are the same key. The rules:
//!
//! * at most [`NUMBER_DIGITS_MAX`] (38) significant digits. Leading zeros and
//!   trailing zeros are not significant: `100` has one digit, `0.0012` two;
//! * a magnitude of zero or between 1E-130 and 9.99…9E+125 (38 nines);
//! * anything else is an error, never a silent rounding.
//!
//! [`Number`] keeps a value as `(sign, coefficient, exponent)`, meaning
//! `±coefficient × 10^exponent`, and always *normalised*: the coefficient has
//! no trailing zeros and zero has one representation. Normalising makes the
//! derived `Eq` and `Hash` numeric (`1.50 == 1.5`) and gives every number one
//! canonical text form, which is what DynamoDB returns to clients.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::ValidationError;

/// Most significant decimal digits a number may have.
pub const NUMBER_DIGITS_MAX: u32 = 38;
/// Smallest decimal exponent of a number's leading digit: 1E-130.
pub const NUMBER_EXPONENT_MIN: i32 = -130;
/// Largest decimal exponent of a number's leading digit: 9.99…E+125.
pub const NUMBER_EXPONENT_MAX: i32 = 125;

/// Exponents written in the text beyond this are clamped to it while
/// parsing: every such number is out of range (or zero) anyway, and the
/// clamp keeps the arithmetic on exponents far from `i64` overflow.
const LITERAL_EXPONENT_LIMIT: i64 = 1 << 40;

// ANCHOR: number
/// An exact DynamoDB number: `±coefficient × 10^exponent`.
///
/// Invariants (established by every constructor, relied on everywhere):
/// * zero is `{ negative: false, coefficient: 0, exponent: 0 }`;
/// * otherwise `coefficient % 10 != 0` (no trailing zeros) and it has at most
///   [`NUMBER_DIGITS_MAX`] digits;
/// * the leading digit's exponent, `exponent + digits - 1`, lies in
///   `NUMBER_EXPONENT_MIN..=NUMBER_EXPONENT_MAX`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    coefficient: u128,
    exponent: i32,
}
// ANCHOR_END: number

impl Number {
    /// The number zero.
    pub const ZERO: Number = Number {
        negative: false,
        coefficient: 0,
        exponent: 0,
    };

    /// Builds `±coefficient × 10^exponent`, normalising it and checking
    /// DynamoDB's limits. The coefficient may carry trailing zeros; they do
    /// not count towards the 38 digits.
    pub fn from_parts(
        negative: bool,
        coefficient: u128,
        exponent: i64,
    ) -> Result<Number, ValidationError> {
        if coefficient == 0 {
            return Ok(Number::ZERO);
        }
        let (mut coefficient, mut exponent) = (coefficient, exponent);
        while coefficient % 10 == 0 {
            coefficient /= 10;
            exponent = exponent.saturating_add(1);
        }
        let digits = digit_count(coefficient);
        if digits > NUMBER_DIGITS_MAX {
            return Err(ValidationError::NumberTooPrecise);
        }
        let leading = exponent.saturating_add(i64::from(digits) - 1);
        if leading > i64::from(NUMBER_EXPONENT_MAX) {
            return Err(ValidationError::NumberOverflow);
        }
        if leading < i64::from(NUMBER_EXPONENT_MIN) {
            return Err(ValidationError::NumberUnderflow);
        }
        // In range now, so the exponent fits an i32 with room to spare.
        let exponent = i32::try_from(exponent).map_err(|_| ValidationError::NumberOverflow)?;
        Ok(Number {
            negative,
            coefficient,
            exponent,
        })
    }

    /// Parses DynamoDB's number syntax: an optional sign, digits with an
    /// optional decimal point (`.5` and `5.` are fine), and an optional
    /// exponent (`e`/`E`, optional sign, digits). No spaces, no `NaN`, no
    /// `Infinity`, no hex.
    pub fn parse(text: &str) -> Result<Number, ValidationError> {
        let literal = scan(text).ok_or_else(|| ValidationError::NumberNotNumeric {
            text: text.to_string(),
        })?;
        normalize(&literal)
    }

    /// True for zero (which is never negative).
    pub fn is_zero(&self) -> bool {
        self.coefficient == 0
    }

    /// True for numbers below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The digits without sign or trailing zeros: 15 for `-1.50`.
    pub fn coefficient(&self) -> u128 {
        self.coefficient
    }

    /// The power of ten the coefficient is scaled by: -1 for `-1.50`.
    pub fn exponent(&self) -> i32 {
        self.exponent
    }

    /// Number of significant digits: 2 for `-1.50`, 1 for `1000` and for 0.
    pub fn significant_digits(&self) -> u32 {
        digit_count(self.coefficient)
    }

    /// The exponent of the leading digit, as in scientific notation: 0 for
    /// `1.5`, 3 for `1000`, -2 for `0.012`. Zero reports 0.
    pub fn leading_exponent(&self) -> i32 {
        // Both terms are small (|exponent| <= 167, digits <= 38).
        self.exponent + self.significant_digits() as i32 - 1
    }

    /// The same magnitude with the opposite sign (zero stays zero).
    pub fn negated(&self) -> Number {
        Number {
            negative: !self.negative && !self.is_zero(),
            ..*self
        }
    }

    // ANCHOR: checked_add
    /// `self + other`, exactly, as DynamoDB's `ADD` and `SET a = a + :n` do.
    ///
    /// Fails when the exact result is out of range or needs more than 38
    /// digits (`1E+50 + 1`); like DynamoDB, both cases report
    /// [`ValidationError::NumberOverflow`] (underflow keeps its own error).
    pub fn checked_add(&self, other: &Number) -> Result<Number, ValidationError> {
        if self.is_zero() {
            return Ok(*other);
        }
        if other.is_zero() {
            return Ok(*self);
        }
        // Line both coefficients up on the smaller exponent.
        let (high, low) = if self.exponent >= other.exponent {
            (self, other)
        } else {
            (other, self)
        };
        let shift = high.exponent.abs_diff(low.exponent);
        // If aligning `high` overflows a u128 (> 3.4E+38), the exact result
        // is more than 10^38 units of 10^low.exponent and its last digit
        // (low's last digit, as shift > 0) is not zero: over 38 digits.
        let scaled = 10u128
            .checked_pow(shift)
            .and_then(|power| high.coefficient.checked_mul(power))
            .ok_or(ValidationError::NumberOverflow)?;
        let (negative, magnitude) = if high.negative == low.negative {
            let sum = scaled.checked_add(low.coefficient);
            (high.negative, sum.ok_or(ValidationError::NumberOverflow)?)
        } else if scaled >= low.coefficient {
            (high.negative, scaled - low.coefficient)
        } else {
            (low.negative, low.coefficient - scaled)
        };
        Number::from_parts(negative, magnitude, i64::from(low.exponent)).map_err(
            |error| match error {
                ValidationError::NumberTooPrecise => ValidationError::NumberOverflow,
                other => other,
            },
        )
    }
    // ANCHOR_END: checked_add

    /// `self - other`, exactly; errors as [`Number::checked_add`].
    pub fn checked_sub(&self, other: &Number) -> Result<Number, ValidationError> {
        self.checked_add(&other.negated())
    }

    /// -1, 0 or 1.
    fn signum(&self) -> i8 {
        match (self.is_zero(), self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }

    /// The coefficient padded with zeros to exactly 38 digits, so that two
    /// numbers with the same leading exponent compare digit by digit.
    fn aligned_coefficient(&self) -> u128 {
        let padding = NUMBER_DIGITS_MAX.saturating_sub(self.significant_digits());
        // At most 38 digits after padding: never overflows a u128.
        self.coefficient
            .saturating_mul(10u128.saturating_pow(padding))
    }

    /// A normalised number from an integer of at most 38 digits.
    fn from_integer(negative: bool, coefficient: u128) -> Number {
        if coefficient == 0 {
            return Number::ZERO;
        }
        let (mut coefficient, mut exponent) = (coefficient, 0);
        while coefficient % 10 == 0 {
            coefficient /= 10;
            exponent += 1;
        }
        Number {
            negative,
            coefficient,
            exponent,
        }
    }
}

/// Number of decimal digits of `value`; 1 for zero.
fn digit_count(value: u128) -> u32 {
    value.checked_ilog10().map_or(1, |log| log + 1)
}

/// A syntactically valid number, split into its parts but not yet checked
/// against any limit.
#[derive(Debug)]
struct Literal<'a> {
    negative: bool,
    /// ASCII digits before the decimal point (possibly none).
    integer: &'a [u8],
    /// ASCII digits after the decimal point (possibly none).
    fraction: &'a [u8],
    /// The written exponent, clamped to ±`LITERAL_EXPONENT_LIMIT`.
    exponent: i64,
}

// ANCHOR: scan
/// Checks the syntax `[+-] digits [. digits] [(e|E) [+-] digits]` (with at
/// least one mantissa digit on either side of the point) and splits it.
fn scan(text: &str) -> Option<Literal<'_>> {
    let (negative, rest) = match text.as_bytes().split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text.as_bytes()),
    };
    let (integer, rest) = split_digits(rest);
    let (fraction, rest) = match rest.split_first() {
        Some((b'.', after_point)) => split_digits(after_point),
        _ => (&rest[..0], rest),
    };
    if integer.is_empty() && fraction.is_empty() {
        return None;
    }
    let exponent = match rest.split_first() {
        None => 0,
        Some((b'e' | b'E', written)) => scan_exponent(written)?,
        Some(_) => return None,
    };
    Some(Literal {
        negative,
        integer,
        fraction,
        exponent,
    })
}

/// Splits the leading ASCII digits off `bytes`.
fn split_digits(bytes: &[u8]) -> (&[u8], &[u8]) {
    let count = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    bytes.split_at(count)
}

/// Parses `[+-] digits` (and nothing after), clamping the value.
fn scan_exponent(bytes: &[u8]) -> Option<i64> {
    let (negative, rest) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    if rest.is_empty() || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = rest.iter().fold(0i64, |value, digit| {
        (value * 10 + i64::from(digit - b'0')).min(LITERAL_EXPONENT_LIMIT)
    });
    Some(if negative { -magnitude } else { magnitude })
}
// ANCHOR_END: scan

// ANCHOR: normalize
/// Turns the digits of a literal into a normalised [`Number`].
///
/// The digits can be arbitrarily many (`0.000…0001`, `1000…000`), so they
/// cannot be collected into an integer first: only the significant ones
/// are. Zeros after the first non-zero digit are held back until another
/// non-zero digit proves they are significant; zeros still held back at the
/// end are trailing zeros and only move the exponent.
fn normalize(literal: &Literal<'_>) -> Result<Number, ValidationError> {
    // EXERCISE(01.1): turn the literal's digits into a coefficient of at most 38 significant digits and an exponent (leading and trailing zeros are not significant), then call Number::from_parts
    let mut coefficient: u128 = 0;
    let mut digits: u64 = 0;
    let mut held_zeros: u64 = 0;
    for &byte in literal.integer.iter().chain(literal.fraction) {
        let digit = u128::from(byte - b'0');
        if digit == 0 {
            if digits > 0 {
                held_zeros += 1;
            }
            continue;
        }
        digits += held_zeros + 1;
        if digits > u64::from(NUMBER_DIGITS_MAX) {
            return Err(ValidationError::NumberTooPrecise);
        }
        // `digits` <= 38, so the shifted coefficient fits a u128.
        for _ in 0..held_zeros {
            coefficient *= 10;
        }
        coefficient = coefficient * 10 + digit;
        held_zeros = 0;
    }
    // Value = digits × 10^(exponent − number of fraction digits); the held
    // back zeros were dropped from the end of the digits.
    let fraction_digits = i64::try_from(literal.fraction.len()).unwrap_or(i64::MAX);
    let held_zeros = i64::try_from(held_zeros).unwrap_or(i64::MAX);
    let exponent = literal
        .exponent
        .saturating_sub(fraction_digits)
        .saturating_add(held_zeros);
    Number::from_parts(literal.negative, coefficient, exponent)
    // END EXERCISE
}
// ANCHOR_END: normalize

// ANCHOR: order
impl Ord for Number {
    /// Numeric order: by sign, then (for equal signs) by the leading digit's
    /// exponent, then digit by digit; reversed for negative numbers.
    fn cmp(&self, other: &Number) -> Ordering {
        let by_sign = self.signum().cmp(&other.signum());
        if by_sign != Ordering::Equal || self.is_zero() {
            return by_sign;
        }
        let magnitude = self
            .leading_exponent()
            .cmp(&other.leading_exponent())
            .then_with(|| self.aligned_coefficient().cmp(&other.aligned_coefficient()));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}
// ANCHOR_END: order

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

// ANCHOR: display
impl fmt::Display for Number {
    /// DynamoDB's canonical form: plain decimal notation, never an exponent,
    /// no `+`, no leading or trailing zeros beyond the one before a point:
    /// `1E+3` → `1000`, `.50` → `0.5`, `-0` → `0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.coefficient.to_string();
        let mut text = String::with_capacity(digits.len() + 170);
        if self.negative {
            text.push('-');
        }
        if self.exponent >= 0 {
            text.push_str(&digits);
            text.extend(std::iter::repeat_n(
                '0',
                self.exponent.unsigned_abs() as usize,
            ));
        } else {
            let fraction_len = self.exponent.unsigned_abs() as usize;
            match digits.len().checked_sub(fraction_len) {
                Some(integer_len) if integer_len > 0 => {
                    let (integer, fraction) = digits.split_at(integer_len);
                    text.push_str(integer);
                    text.push('.');
                    text.push_str(fraction);
                }
                _ => {
                    text.push_str("0.");
                    let zeros = fraction_len - digits.len();
                    text.extend(std::iter::repeat_n('0', zeros));
                    text.push_str(&digits);
                }
            }
        }
        f.pad(&text)
    }
}
// ANCHOR_END: display

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({self})")
    }
}

impl FromStr for Number {
    type Err = ValidationError;

    fn from_str(text: &str) -> Result<Number, ValidationError> {
        Number::parse(text)
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        Number::from_integer(value < 0, u128::from(value.unsigned_abs()))
    }
}

impl From<u64> for Number {
    fn from(value: u64) -> Number {
        Number::from_integer(false, u128::from(value))
    }
}

/// Numbers serialise as their canonical text, as in DynamoDB JSON.
impl serde::Serialize for Number {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Number, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Number::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_splits_the_parts() {
        let literal = scan("-12.50e-3").unwrap();
        assert!(literal.negative);
        assert_eq!(literal.integer, b"12");
        assert_eq!(literal.fraction, b"50");
        assert_eq!(literal.exponent, -3);
    }

    #[test]
    fn huge_written_exponents_are_clamped() {
        let literal = scan("1e99999999999999999999999999").unwrap();
        assert_eq!(literal.exponent, LITERAL_EXPONENT_LIMIT);
        let literal = scan("1e-99999999999999999999999999").unwrap();
        assert_eq!(literal.exponent, -LITERAL_EXPONENT_LIMIT);
    }

    #[test]
    fn aligned_coefficients_have_38_digits() {
        let n = Number::parse("1.5").unwrap();
        assert_eq!(n.aligned_coefficient(), 15 * 10u128.pow(36));
        let n = Number::parse("99999999999999999999999999999999999999").unwrap();
        assert_eq!(n.aligned_coefficient(), 10u128.pow(38) - 1);
    }
}
