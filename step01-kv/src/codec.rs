//! The binary format of an item, as stored in the log and on disk.
//!
//! JSON is how items travel; it is too large and too slow to parse to be how
//! they rest. This format is compact (a one-byte tag per value, variable
//! length integers) and *versioned*: the first byte names the format, so a
//! later layout can be introduced without rewriting old data.
//!
//! Layout of an item (all integers are unsigned LEB128 varints: seven bits
//! per byte, low bits first, high bit set on every byte but the last):
//!
//! | part | bytes |
//! |---|---|
//! | item | `01` (format version), attribute count, then per attribute: name, value |
//! | name, string, binary | length, then the UTF-8 or raw bytes |
//! | value | a tag byte, then the payload below |
//! | `01` S | string |
//! | `02` N | `zigzag(exponent) << 1 \| negative`, then the coefficient (see [`crate::number`]) |
//! | `03` B | binary |
//! | `04` BOOL false, `05` BOOL true, `06` NULL | nothing |
//! | `07` M | entry count, then per entry: name, value |
//! | `08` L | element count, then the values |
//! | `09` SS, `0A` NS, `0B` BS | member count, then the members (strings, numbers as in N, binaries) |
//!
//! Example: `{"a": {"N": "-1.5"}}` is `01 01 01 61 02 03 0F`: version 1,
//! one attribute, a name of length 1 (`61` = `a`), tag N, head `03`
//! (exponent -1 zigzags to 1, shifted left, plus 1 for the minus sign) and
//! the coefficient 15.
//!
//! The encoding is canonical: names and set members are written in
//! ascending order and numbers normalised, so equal items have equal bytes.
//! The decoder accepts nothing else. It treats its input as hostile: every
//! length is checked against the bytes left, nesting is bounded, strings
//! must be UTF-8, numbers and sets must obey DynamoDB's rules, and any
//! violation is a [`DecodeError`], never a panic.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{DecodeError, ValidationError};
use crate::number::Number;
use crate::value::{AttributeValue, Item, NESTING_DEPTH_MAX, check_name};

/// The format version this code writes, and the only one it reads.
pub const ITEM_FORMAT_VERSION: u8 = 1;

// ANCHOR: tags
// One tag byte per value, then its payload. `len` and `count` are varints.
const TAG_S: u8 = 0x01; //     len, UTF-8 bytes
const TAG_N: u8 = 0x02; //     zigzag(exponent) << 1 | negative, coefficient
const TAG_B: u8 = 0x03; //     len, raw bytes
const TAG_FALSE: u8 = 0x04; // (nothing)
const TAG_TRUE: u8 = 0x05; //  (nothing)
const TAG_NULL: u8 = 0x06; //  (nothing)
const TAG_M: u8 = 0x07; //     count, then (name, value) in ascending name order
const TAG_L: u8 = 0x08; //     count, then the values in list order
const TAG_SS: u8 = 0x09; //    count >= 1, then strings in ascending byte order
const TAG_NS: u8 = 0x0A; //    count >= 1, then numbers (as N) in ascending order
const TAG_BS: u8 = 0x0B; //    count >= 1, then binaries in ascending byte order
// ANCHOR_END: tags

/// Longest LEB128 encoding of a u128: ceil(128 / 7) bytes.
const VARINT_BYTES_MAX: usize = 19;

/// Encodes an item. The item is expected to be valid (as checked by
/// [`crate::value::validate_item`]); an invalid one, such as one holding an
/// empty set, encodes to bytes that [`decode_item`] rejects.
pub fn encode_item(item: &Item) -> Vec<u8> {
    let mut out = Vec::new();
    encode_item_into(item, &mut out);
    out
}

// ANCHOR: encode
/// Appends the encoding of `item` to `out`.
pub fn encode_item_into(item: &Item, out: &mut Vec<u8>) {
    out.push(ITEM_FORMAT_VERSION);
    encode_map(item, out);
}

fn encode_map(map: &BTreeMap<String, AttributeValue>, out: &mut Vec<u8>) {
    write_len(map.len(), out);
    for (name, value) in map {
        write_bytes(name.as_bytes(), out);
        encode_value(value, out);
    }
}

fn encode_value(value: &AttributeValue, out: &mut Vec<u8>) {
    match value {
        AttributeValue::S(text) => {
            out.push(TAG_S);
            write_bytes(text.as_bytes(), out);
        }
        AttributeValue::N(number) => {
            out.push(TAG_N);
            write_number(number, out);
        }
        AttributeValue::B(bytes) => {
            out.push(TAG_B);
            write_bytes(bytes, out);
        }
        AttributeValue::Bool(false) => out.push(TAG_FALSE),
        AttributeValue::Bool(true) => out.push(TAG_TRUE),
        AttributeValue::Null => out.push(TAG_NULL),
        AttributeValue::M(map) => {
            out.push(TAG_M);
            encode_map(map, out);
        }
        AttributeValue::L(list) => {
            out.push(TAG_L);
            write_len(list.len(), out);
            list.iter().for_each(|value| encode_value(value, out));
        }
        AttributeValue::Ss(set) => {
            out.push(TAG_SS);
            write_len(set.len(), out);
            set.iter()
                .for_each(|text| write_bytes(text.as_bytes(), out));
        }
        AttributeValue::Ns(set) => {
            out.push(TAG_NS);
            write_len(set.len(), out);
            set.iter().for_each(|number| write_number(number, out));
        }
        AttributeValue::Bs(set) => {
            out.push(TAG_BS);
            write_len(set.len(), out);
            set.iter().for_each(|bytes| write_bytes(bytes, out));
        }
    }
}

/// A number as two varints: the exponent zigzagged (0, -1, 1, -2... as
/// 0, 1, 2, 3...) and shifted left to make room for the sign bit, then the
/// coefficient.
fn write_number(number: &Number, out: &mut Vec<u8>) {
    let exponent = number.exponent();
    let zigzag = ((exponent << 1) ^ (exponent >> 31)) as u32;
    let head = (u128::from(zigzag) << 1) | u128::from(number.is_negative());
    write_varint(head, out);
    write_varint(number.coefficient(), out);
}
// ANCHOR_END: encode

fn write_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    write_len(bytes.len(), out);
    out.extend_from_slice(bytes);
}

fn write_len(len: usize, out: &mut Vec<u8>) {
    write_varint(len as u128, out);
}

// ANCHOR: varint
/// Unsigned LEB128: seven bits at a time, low first; the high bit says
/// "more bytes follow".
fn write_varint(mut value: u128, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}
// ANCHOR_END: varint

/// Decodes an item, checking the version, every length, tag and value, and
/// that nothing follows it.
pub fn decode_item(bytes: &[u8]) -> Result<Item, DecodeError> {
    let mut reader = Reader { bytes };
    let version = reader.byte()?;
    if version != ITEM_FORMAT_VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let item = reader.map(1)?;
    if !reader.bytes.is_empty() {
        return Err(DecodeError::Malformed("bytes after the item"));
    }
    Ok(item)
}

/// A cursor over untrusted bytes. Every read checks the bounds first.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let (&byte, rest) = self.bytes.split_first().ok_or(DecodeError::Truncated)?;
        self.bytes = rest;
        Ok(byte)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if len > self.bytes.len() {
            return Err(DecodeError::Truncated);
        }
        let (taken, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(taken)
    }

    fn varint(&mut self) -> Result<u128, DecodeError> {
        let mut value: u128 = 0;
        for index in 0..VARINT_BYTES_MAX {
            let byte = self.byte()?;
            let bits = u128::from(byte & 0x7F);
            let shift = 7 * index as u32;
            // The last of 19 bytes may only hold the top 2 bits of a u128.
            if (bits << shift) >> shift != bits {
                return Err(DecodeError::Malformed("varint overflows 128 bits"));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                if byte == 0 && index > 0 {
                    return Err(DecodeError::Malformed("varint has a redundant zero byte"));
                }
                return Ok(value);
            }
        }
        Err(DecodeError::Malformed("varint longer than 19 bytes"))
    }

    /// A length or count. Each counted thing takes at least one byte, so a
    /// count larger than the bytes left is a truncation, caught before
    /// anything is allocated for it.
    fn len(&mut self) -> Result<usize, DecodeError> {
        let len = usize::try_from(self.varint()?).map_err(|_| DecodeError::Truncated)?;
        if len > self.bytes.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(len)
    }

    fn binary(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.len()?;
        Ok(self.take(len)?.to_vec())
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        String::from_utf8(self.binary()?).map_err(|_| DecodeError::Malformed("string is not UTF-8"))
    }

    fn number(&mut self) -> Result<Number, DecodeError> {
        let head = self.varint()?;
        let negative = head & 1 == 1;
        let zigzag = u32::try_from(head >> 1)
            .map_err(|_| DecodeError::Malformed("number exponent out of range"))?;
        let exponent = i64::from(zigzag >> 1) ^ -i64::from(zigzag & 1);
        let coefficient = self.varint()?;
        let number = Number::from_parts(negative, coefficient, exponent)?;
        // Only the normalised form is valid: no trailing zeros, no -0, and
        // zero only with exponent 0.
        if number.coefficient() != coefficient
            || i64::from(number.exponent()) != exponent
            || number.is_negative() != negative
        {
            return Err(DecodeError::Malformed("number is not normalised"));
        }
        Ok(number)
    }

    /// A map (or the item itself): names strictly ascending, so unique.
    fn map(&mut self, depth: usize) -> Result<BTreeMap<String, AttributeValue>, DecodeError> {
        let count = self.len()?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let name = self.string()?;
            check_name(&name)?;
            if map.last_key_value().is_some_and(|(last, _)| *last >= name) {
                return Err(DecodeError::Malformed("attribute names out of order"));
            }
            let value = self.value(depth)?;
            map.insert(name, value);
        }
        Ok(map)
    }

    /// A set: at least one member, strictly ascending, so unique.
    fn set<T: Ord>(
        &mut self,
        empty: ValidationError,
        mut member: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<BTreeSet<T>, DecodeError> {
        let count = self.len()?;
        if count == 0 {
            return Err(DecodeError::Invalid(empty));
        }
        let mut set = BTreeSet::new();
        for _ in 0..count {
            let value = member(self)?;
            if set.last().is_some_and(|last| *last >= value) {
                return Err(DecodeError::Malformed("set members out of order"));
            }
            set.insert(value);
        }
        Ok(set)
    }

    /// A value at nesting level `depth` (1 for a top-level attribute).
    fn value(&mut self, depth: usize) -> Result<AttributeValue, DecodeError> {
        let tag = self.byte()?;
        if matches!(tag, TAG_M | TAG_L) && depth > NESTING_DEPTH_MAX {
            return Err(DecodeError::Invalid(ValidationError::NestingTooDeep));
        }
        Ok(match tag {
            TAG_S => AttributeValue::S(self.string()?),
            TAG_N => AttributeValue::N(self.number()?),
            TAG_B => AttributeValue::B(self.binary()?),
            TAG_FALSE => AttributeValue::Bool(false),
            TAG_TRUE => AttributeValue::Bool(true),
            TAG_NULL => AttributeValue::Null,
            TAG_M => AttributeValue::M(self.map(depth + 1)?),
            TAG_L => {
                let count = self.len()?;
                let mut list = Vec::with_capacity(count);
                for _ in 0..count {
                    list.push(self.value(depth + 1)?);
                }
                AttributeValue::L(list)
            }
            TAG_SS => AttributeValue::Ss(self.set(ValidationError::StringSetEmpty, Self::string)?),
            TAG_NS => AttributeValue::Ns(self.set(ValidationError::NumberSetEmpty, Self::number)?),
            TAG_BS => AttributeValue::Bs(self.set(ValidationError::BinarySetEmpty, Self::binary)?),
            _ => return Err(DecodeError::Malformed("unknown value tag")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint_bytes(value: u128) -> Vec<u8> {
        let mut out = Vec::new();
        write_varint(value, &mut out);
        out
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        for value in [0, 1, 127, 128, 300, u128::from(u64::MAX), u128::MAX] {
            let bytes = varint_bytes(value);
            let mut reader = Reader { bytes: &bytes };
            assert_eq!(reader.varint().unwrap(), value);
            assert!(reader.bytes.is_empty());
        }
        assert_eq!(varint_bytes(300), [0xAC, 0x02]);
        assert_eq!(varint_bytes(u128::MAX).len(), VARINT_BYTES_MAX);
    }

    #[test]
    fn varints_reject_overflow_and_redundant_bytes() {
        let mut too_big = vec![0xFF; 18];
        too_big.push(0x04); // bit 128
        assert!(Reader { bytes: &too_big }.varint().is_err());
        let too_long = [0x80; 20];
        assert!(Reader { bytes: &too_long }.varint().is_err());
        assert!(
            Reader {
                bytes: &[0x80, 0x00]
            }
            .varint()
            .is_err()
        );
        assert!(Reader { bytes: &[0x80] }.varint().is_err());
    }
}
