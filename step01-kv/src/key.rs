//! Primary keys, and a byte encoding of them that sorts like DynamoDB.
//!
//! A table's primary key is a partition key, optionally followed by a sort
//! key; each is a string, a number or a binary ([`KeyValue`]). DynamoDB keeps
//! the items of a partition in sort-key order: strings by UTF-8 bytes,
//! binaries by unsigned bytes, numbers numerically.
//!
//! A storage engine only knows bytes, and it compares them with `memcmp`. So
//! a key is stored as an *order-preserving* encoding: for any two keys `a`
//! and `b`, `a.encode().cmp(&b.encode()) == a.cmp(&b)`. Then a range of keys
//! is a range of bytes, and "all items of partition `p`" is "all byte
//! strings starting with the encoding of `p`".
//!
//! Each part of the key is a type tag followed by the value:
//!
//! | value | bytes |
//! |---|---|
//! | `B` | `0x42`, the bytes with `00` escaped as `00 FF`, then `00 01` |
//! | `N` | `0x4E`, a class byte (`01` negative, `02` zero, `03` positive), then for non-zero numbers an exponent byte and base-100 digits (see [`encode_number`]) |
//! | `S` | `0x53`, the UTF-8 bytes escaped and terminated like `B` |
//!
//! Every part is *self-delimiting* (no encoding is a proper prefix of
//! another), so the concatenation `partition ++ sort` compares partition
//! first and can be split again unambiguously; a key without a sort part is
//! a prefix of, and so sorts before, the keys that extend it.
//!
//! Values of different types never meet in one table (a key attribute has
//! one declared type), but the order must still be total: types sort by tag,
//! `B` < `N` < `S`.

use std::cmp::Ordering;

use crate::error::{DecodeError, ValidationError};
use crate::number::{NUMBER_DIGITS_MAX, NUMBER_EXPONENT_MIN, Number};
use crate::size::{KEY_PARTITION_BYTES_MAX, KEY_SORT_BYTES_MAX};
use crate::value::{AttributeValue, Item};

/// Type tags, chosen as the ASCII letters of the type so dumps are readable.
pub const KEY_TAG_BINARY: u8 = b'B';
pub const KEY_TAG_NUMBER: u8 = b'N';
pub const KEY_TAG_STRING: u8 = b'S';

/// Number classes: every negative sorts below zero, zero below positives.
const NUMBER_NEGATIVE: u8 = 0x01;
const NUMBER_ZERO: u8 = 0x02;
const NUMBER_POSITIVE: u8 = 0x03;

/// In strings and binaries, `00` is written `00 FF`; `00 01` ends the value.
const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

/// The type of a key attribute, as declared in a table's key schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    S,
    N,
    B,
}

impl KeyType {
    /// `"S"`, `"N"` or `"B"`.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
            KeyType::B => "B",
        }
    }
}

// ANCHOR: key_types
/// The value of one key attribute: only strings, numbers and binaries can be
/// keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyValue {
    S(String),
    N(Number),
    B(Vec<u8>),
}

/// A table's primary key: the partition key, and the sort key if the table
/// has one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PrimaryKey {
    pub partition: KeyValue,
    pub sort: Option<KeyValue>,
}
// ANCHOR_END: key_types

impl KeyValue {
    /// The type of this value.
    pub fn key_type(&self) -> KeyType {
        match self {
            KeyValue::S(_) => KeyType::S,
            KeyValue::N(_) => KeyType::N,
            KeyValue::B(_) => KeyType::B,
        }
    }

    /// The tag that starts this value's encoding.
    fn tag(&self) -> u8 {
        match self {
            KeyValue::S(_) => KEY_TAG_STRING,
            KeyValue::N(_) => KEY_TAG_NUMBER,
            KeyValue::B(_) => KEY_TAG_BINARY,
        }
    }

    /// Appends the order-preserving encoding of this value to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.tag());
        match self {
            KeyValue::S(text) => encode_bytes(text.as_bytes(), out),
            KeyValue::N(number) => encode_number(number, out),
            KeyValue::B(bytes) => encode_bytes(bytes, out),
        }
    }

    /// Decodes one value from the start of `bytes`, returning it and the
    /// bytes after it.
    pub fn decode_prefix(bytes: &[u8]) -> Result<(KeyValue, &[u8]), DecodeError> {
        let (&tag, rest) = bytes.split_first().ok_or(DecodeError::Truncated)?;
        match tag {
            KEY_TAG_STRING => {
                let (raw, rest) = decode_bytes(rest)?;
                let text = String::from_utf8(raw)
                    .map_err(|_| DecodeError::Malformed("key string is not UTF-8"))?;
                Ok((KeyValue::S(text), rest))
            }
            KEY_TAG_NUMBER => {
                let (number, rest) = decode_number(rest)?;
                Ok((KeyValue::N(number), rest))
            }
            KEY_TAG_BINARY => {
                let (raw, rest) = decode_bytes(rest)?;
                Ok((KeyValue::B(raw), rest))
            }
            _ => Err(DecodeError::Malformed("unknown key type tag")),
        }
    }

    /// The size counted against the key limits: UTF-8 bytes of a string,
    /// raw bytes of a binary. Numbers are not length-checked (0).
    pub fn limited_size(&self) -> usize {
        match self {
            KeyValue::S(text) => text.len(),
            KeyValue::N(_) => 0,
            KeyValue::B(bytes) => bytes.len(),
        }
    }
}

impl Ord for KeyValue {
    /// Within a type, DynamoDB's order; across types, by tag (`B < N < S`).
    fn cmp(&self, other: &KeyValue) -> Ordering {
        match (self, other) {
            (KeyValue::S(a), KeyValue::S(b)) => a.as_bytes().cmp(b.as_bytes()),
            (KeyValue::N(a), KeyValue::N(b)) => a.cmp(b),
            (KeyValue::B(a), KeyValue::B(b)) => a.cmp(b),
            _ => self.tag().cmp(&other.tag()),
        }
    }
}

impl PartialOrd for KeyValue {
    fn partial_cmp(&self, other: &KeyValue) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<AttributeValue> for KeyValue {
    type Error = ValidationError;

    /// Accepts `S`, `N` and `B`; other types can never be keys.
    fn try_from(value: AttributeValue) -> Result<KeyValue, ValidationError> {
        match value {
            AttributeValue::S(text) => Ok(KeyValue::S(text)),
            AttributeValue::N(number) => Ok(KeyValue::N(number)),
            AttributeValue::B(bytes) => Ok(KeyValue::B(bytes)),
            other => Err(ValidationError::KeyTypeInvalid {
                actual: other.type_name(),
            }),
        }
    }
}

impl From<KeyValue> for AttributeValue {
    fn from(value: KeyValue) -> AttributeValue {
        match value {
            KeyValue::S(text) => AttributeValue::S(text),
            KeyValue::N(number) => AttributeValue::N(number),
            KeyValue::B(bytes) => AttributeValue::B(bytes),
        }
    }
}

/// One attribute of a key schema: its name and declared type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    pub key_type: KeyType,
}

/// A table's key schema: the partition key attribute and the optional sort
/// key attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySchema {
    pub partition: KeyAttribute,
    pub sort: Option<KeyAttribute>,
}

/// Which part of a primary key a value is; the limits differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyRole {
    Partition,
    Sort,
}

impl KeySchema {
    /// Extracts and checks an item's primary key: both attributes present,
    /// of the declared types, non-empty, and within the size limits.
    pub fn key_of(&self, item: &Item) -> Result<PrimaryKey, ValidationError> {
        let partition = key_attribute(item, &self.partition, KeyRole::Partition)?;
        let sort = match &self.sort {
            Some(attribute) => Some(key_attribute(item, attribute, KeyRole::Sort)?),
            None => None,
        };
        Ok(PrimaryKey { partition, sort })
    }
}

fn key_attribute(
    item: &Item,
    attribute: &KeyAttribute,
    role: KeyRole,
) -> Result<KeyValue, ValidationError> {
    let name = &attribute.name;
    let value = item
        .get(name)
        .ok_or_else(|| ValidationError::KeyMissing { name: name.clone() })?;
    let value = match (attribute.key_type, value) {
        (KeyType::S, AttributeValue::S(text)) if text.is_empty() => {
            return Err(ValidationError::KeyStringEmpty { name: name.clone() });
        }
        (KeyType::B, AttributeValue::B(bytes)) if bytes.is_empty() => {
            return Err(ValidationError::KeyBinaryEmpty { name: name.clone() });
        }
        (KeyType::S, AttributeValue::S(text)) => KeyValue::S(text.clone()),
        (KeyType::N, AttributeValue::N(number)) => KeyValue::N(*number),
        (KeyType::B, AttributeValue::B(bytes)) => KeyValue::B(bytes.clone()),
        (expected, actual) => {
            return Err(ValidationError::KeyTypeMismatch {
                name: name.clone(),
                expected: expected.name(),
                actual: actual.type_name(),
            });
        }
    };
    match role {
        KeyRole::Partition if value.limited_size() > KEY_PARTITION_BYTES_MAX => {
            Err(ValidationError::PartitionKeyTooLarge)
        }
        KeyRole::Sort if value.limited_size() > KEY_SORT_BYTES_MAX => {
            Err(ValidationError::SortKeyTooLarge)
        }
        _ => Ok(value),
    }
}

// ANCHOR: primary_key_encoding
impl PrimaryKey {
    /// A key of a table without a sort key.
    pub fn partition_only(partition: KeyValue) -> PrimaryKey {
        PrimaryKey {
            partition,
            sort: None,
        }
    }

    /// The order-preserving encoding: partition part, then sort part.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the encoding to `out` (after a prefix of the caller's, say).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        self.partition.encode_into(out);
        if let Some(sort) = &self.sort {
            sort.encode_into(out);
        }
    }

    /// Decodes exactly one key: a partition part, an optional sort part, and
    /// nothing after.
    pub fn decode(bytes: &[u8]) -> Result<PrimaryKey, DecodeError> {
        let (partition, rest) = KeyValue::decode_prefix(bytes)?;
        if rest.is_empty() {
            return Ok(PrimaryKey::partition_only(partition));
        }
        let (sort, rest) = KeyValue::decode_prefix(rest)?;
        if !rest.is_empty() {
            return Err(DecodeError::Malformed("bytes after the sort key"));
        }
        Ok(PrimaryKey {
            partition,
            sort: Some(sort),
        })
    }
}
// ANCHOR_END: primary_key_encoding

// ANCHOR: bytes_encoding
/// Writes `bytes` so that byte order is kept and the end is marked: each
/// `00` becomes `00 FF`, and `00 01` terminates. At the end of the shorter
/// of two values with a common prefix, `00 01` is below anything the longer
/// one can continue with (`00 FF` or a byte `>= 01`), so shorter sorts first.
fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &byte in bytes {
        out.push(byte);
        if byte == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}
// ANCHOR_END: bytes_encoding

/// Reads what [`encode_bytes`] wrote, returning the bytes and the rest.
fn decode_bytes(encoded: &[u8]) -> Result<(Vec<u8>, &[u8]), DecodeError> {
    let mut raw = Vec::new();
    let mut rest = encoded;
    loop {
        let (&byte, after) = rest.split_first().ok_or(DecodeError::Truncated)?;
        rest = after;
        if byte != ESCAPE {
            raw.push(byte);
            continue;
        }
        let (&next, after) = rest.split_first().ok_or(DecodeError::Truncated)?;
        rest = after;
        match next {
            ESCAPED_ZERO => raw.push(ESCAPE),
            TERMINATOR => return Ok((raw, rest)),
            _ => return Err(DecodeError::Malformed("bad escape in key bytes")),
        }
    }
}

// ANCHOR: number_encoding
/// Appends a number so that byte order is numeric order.
///
/// * A class byte: `01` negative < `02` zero < `03` positive. Zero ends here.
/// * The exponent of the leading digit plus 130, one byte: the range
///   -130..=125 is exactly 256 values. A larger exponent means a larger
///   magnitude, whatever the digits.
/// * The digits in pairs from the leading one (the last pair padded with a
///   0), each pair `x` in 0..=99 written as `2x + 1` if more pairs follow and
///   `2x` if it is the last. For equal pairs a continuing byte is larger than
///   an ending one, so `1.2` (`18`) sorts before `1.23` (`19 3C`); the even
///   last byte also marks where the number ends.
///
/// Negative numbers write every byte after the class as `255 - b`: larger
/// magnitudes then sort first, as they must below zero.
pub fn encode_number(number: &Number, out: &mut Vec<u8>) {
    // EXERCISE(01.2): encode a number so that byte order equals numeric order (class byte, biased exponent byte, base-100 digit pairs; negatives complemented)
    if number.is_zero() {
        out.push(NUMBER_ZERO);
        return;
    }
    let negative = number.is_negative();
    out.push(if negative {
        NUMBER_NEGATIVE
    } else {
        NUMBER_POSITIVE
    });
    let flip = |byte: u8| if negative { 255 - byte } else { byte };
    // The exponent is in -130..=125 by Number's invariant.
    let biased = (number.leading_exponent() - NUMBER_EXPONENT_MIN) as u8;
    out.push(flip(biased));
    // Pad to an even number of digits so the pairs start at the leading one.
    let digits = number.significant_digits();
    let mut padded = number.coefficient();
    if digits % 2 == 1 {
        padded *= 10;
    }
    let pairs = digits.div_ceil(2);
    for index in (0..pairs).rev() {
        let pair = (padded / 100u128.pow(index) % 100) as u8;
        let byte = if index == 0 { 2 * pair } else { 2 * pair + 1 };
        out.push(flip(byte));
    }
    // END EXERCISE
}
// ANCHOR_END: number_encoding

/// Reads what [`encode_number`] wrote, returning the number and the rest.
/// Rejects every byte string `encode_number` cannot produce, so each number
/// has exactly one encoding.
pub fn decode_number(bytes: &[u8]) -> Result<(Number, &[u8]), DecodeError> {
    let (&class, rest) = bytes.split_first().ok_or(DecodeError::Truncated)?;
    let negative = match class {
        NUMBER_ZERO => return Ok((Number::ZERO, rest)),
        NUMBER_NEGATIVE => true,
        NUMBER_POSITIVE => false,
        _ => return Err(DecodeError::Malformed("unknown number class")),
    };
    let flip = |byte: u8| if negative { 255 - byte } else { byte };
    let (&biased, mut rest) = rest.split_first().ok_or(DecodeError::Truncated)?;
    let leading = i64::from(flip(biased)) + i64::from(NUMBER_EXPONENT_MIN);
    let mut coefficient: u128 = 0;
    let mut pairs: u32 = 0;
    loop {
        let (&byte, after) = rest.split_first().ok_or(DecodeError::Truncated)?;
        rest = after;
        let byte = flip(byte);
        let pair = u128::from(byte / 2);
        if pair > 99 {
            return Err(DecodeError::Malformed("number digit pair above 99"));
        }
        pairs += 1;
        if pairs * 2 > NUMBER_DIGITS_MAX {
            return Err(DecodeError::Malformed("number has too many digits"));
        }
        if pairs == 1 && pair < 10 {
            return Err(DecodeError::Malformed("number has a leading zero digit"));
        }
        coefficient = coefficient * 100 + pair;
        if byte % 2 == 0 {
            if pair == 0 {
                return Err(DecodeError::Malformed("number ends in a zero pair"));
            }
            break;
        }
    }
    // The coefficient holds 2 * pairs digits, the first at `leading`.
    let exponent = leading - i64::from(2 * pairs) + 1;
    let number = Number::from_parts(negative, coefficient, exponent)?;
    Ok((number, rest))
}
