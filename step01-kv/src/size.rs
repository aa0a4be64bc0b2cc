//! How big DynamoDB says an item is.
//!
//! The size is not the length of any encoding we choose: it is DynamoDB's
//! published accounting, and it decides three things clients can observe —
//! whether an item fits the 400 KB limit, how many capacity units a read or
//! write consumes, and where a 1 MB Query or Scan page ends. So we compute it
//! by DynamoDB's rules, separately from our own binary format:
//!
//! | part | bytes |
//! |---|---|
//! | each top-level attribute | UTF-8 length of its name + size of its value |
//! | `S` | UTF-8 length |
//! | `B` | number of raw (decoded) bytes |
//! | `N` | 1 + one per pair of digits, aligned on the decimal point (+1 if negative); zero is 1 |
//! | `BOOL`, `NULL` | 1 |
//! | `SS`, `NS`, `BS` | sum of the members' sizes |
//! | `L` | 3 + for each element: 1 + its size |
//! | `M` | 3 + for each entry: 1 + name length + value size |
//!
//! Example: `{"shirt-color":{"S":"R"},"shirt-size":{"S":"M"}}` is
//! 11 + 1 + 10 + 1 = 23 bytes.
//!
//! Numbers: DynamoDB documents "about one byte per two significant digits,
//! plus one". The finer model here (stored like a base-100 decimal: one
//! exponent byte, one byte per base-100 digit with the digit pairs aligned on
//! the decimal point, one terminator byte for negatives) matches DynamoDB's
//! observed consumption and stays within a byte of the documented estimate.

use crate::error::ValidationError;
use crate::number::Number;
use crate::value::{AttributeValue, Item};

/// Largest item DynamoDB stores: 400 KB, names and values included.
pub const ITEM_SIZE_BYTES_MAX: usize = 400 * 1024;
/// Largest partition key value (S: UTF-8 bytes, B: raw bytes).
pub const KEY_PARTITION_BYTES_MAX: usize = 2048;
/// Largest sort key value (S: UTF-8 bytes, B: raw bytes).
pub const KEY_SORT_BYTES_MAX: usize = 1024;
/// What a list or a map adds to the size of its elements.
pub const CONTAINER_OVERHEAD_BYTES: usize = 3;
/// What each element of a list or entry of a map adds.
pub const ELEMENT_OVERHEAD_BYTES: usize = 1;

/// The size of an item: its attribute names plus their values.
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

/// The size of an item, or [`ValidationError::ItemTooLarge`] when it is
/// over [`ITEM_SIZE_BYTES_MAX`].
pub fn check_item_size(item: &Item) -> Result<usize, ValidationError> {
    let size = item_size(item);
    if size > ITEM_SIZE_BYTES_MAX {
        return Err(ValidationError::ItemTooLarge);
    }
    Ok(size)
}

// ANCHOR: value_size
/// The size of one attribute value, without its name.
pub fn value_size(value: &AttributeValue) -> usize {
    // EXERCISE(01.3): compute a value's size by DynamoDB's rules (see the table in the module docs)
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number_size(number),
        AttributeValue::B(bytes) => bytes.len(),
        AttributeValue::Bool(_) | AttributeValue::Null => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(number_size).sum(),
        AttributeValue::Bs(set) => set.iter().map(Vec::len).sum(),
        AttributeValue::L(list) => {
            let elements: usize = list
                .iter()
                .map(|element| ELEMENT_OVERHEAD_BYTES + value_size(element))
                .sum();
            CONTAINER_OVERHEAD_BYTES + elements
        }
        AttributeValue::M(map) => {
            let entries: usize = map
                .iter()
                .map(|(name, value)| ELEMENT_OVERHEAD_BYTES + name.len() + value_size(value))
                .sum();
            CONTAINER_OVERHEAD_BYTES + entries
        }
    }
    // END EXERCISE
}
// ANCHOR_END: value_size

// ANCHOR: number_size
/// The size of a number: one exponent byte, one byte per base-100 digit
/// (digit pairs aligned on the decimal point, so `15` is one pair while
/// `1.5` and `150` straddle two), and one more for negatives.
pub fn number_size(number: &Number) -> usize {
    if number.is_zero() {
        return 1;
    }
    // Positions of the highest and lowest significant digit; position p
    // belongs to the base-100 digit p.div_euclid(2).
    let highest = number.leading_exponent();
    let lowest = number.exponent();
    let pairs = highest.div_euclid(2) - lowest.div_euclid(2) + 1;
    1 + pairs.unsigned_abs() as usize + usize::from(number.is_negative())
}
// ANCHOR_END: number_size
