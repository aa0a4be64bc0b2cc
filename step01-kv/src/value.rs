//! Attribute values and items: DynamoDB's data model, and its JSON form.
//!
//! An item is a map from attribute names to values. A value has one of ten
//! types, written on the wire as a one-member JSON object whose key names the
//! type:
//!
//! | type | JSON | Rust |
//! |---|---|---|
//! | `S` | `{"S":"hello"}` | `S(String)` |
//! | `N` | `{"N":"-12.5E3"}` (a string!) | `N(Number)` |
//! | `B` | `{"B":"AAEC"}` (base64) | `B(Vec<u8>)` |
//! | `BOOL` | `{"BOOL":true}` | `Bool(bool)` |
//! | `NULL` | `{"NULL":true}` | `Null` |
//! | `M` | `{"M":{"a":{"N":"1"}}}` | `M(BTreeMap<String, AttributeValue>)` |
//! | `L` | `{"L":[{"S":"x"},{"N":"1"}]}` | `L(Vec<AttributeValue>)` |
//! | `SS` | `{"SS":["a","b"]}` | `Ss(BTreeSet<String>)` |
//! | `NS` | `{"NS":["1","2.5"]}` | `Ns(BTreeSet<Number>)` |
//! | `BS` | `{"BS":["AA=="]}` | `Bs(BTreeSet<Vec<u8>>)` |
//!
//! The Rust types are chosen so that the derived `==` *is* DynamoDB's
//! equality: maps and sets ignore order (ordered containers compare their
//! sorted contents), numbers compare numerically (a [`Number`] is
//! normalised), and values of different types are never equal. Ordered
//! containers also make every item iterate in one order, so its binary
//! encoding is deterministic.
//!
//! What the types cannot express is checked when values arrive: sets are
//! never empty and never hold duplicates, `NULL` is always `true`, attribute
//! names are 1 to 65535 bytes, and maps and lists nest at most 32 levels.
//! [`AttributeValue::from_json`] checks all of it and reports DynamoDB's
//! errors; [`validate_item`] checks values built in code.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::ser::SerializeMap as _;
use serde_json::Value as Json;

use crate::error::{JsonType, ValidationError};
use crate::number::Number;

/// Deepest nesting of maps and lists: a top-level `M` or `L` is level 1.
pub const NESTING_DEPTH_MAX: usize = 32;
/// Longest attribute name, in UTF-8 bytes (names are never empty).
pub const ATTRIBUTE_NAME_BYTES_MAX: usize = 65535;

// ANCHOR: attribute_value
/// One DynamoDB value. See the module docs for the JSON form of each type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttributeValue {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, AttributeValue>),
    L(Vec<AttributeValue>),
    Ss(BTreeSet<String>),
    Ns(BTreeSet<Number>),
    Bs(BTreeSet<Vec<u8>>),
}

/// An item: attribute names to values, kept in name order.
pub type Item = BTreeMap<String, AttributeValue>;
// ANCHOR_END: attribute_value

impl AttributeValue {
    /// DynamoDB's name for the type: `"S"`, `"N"`, `"B"`, `"BOOL"`, `"NULL"`,
    /// `"M"`, `"L"`, `"SS"`, `"NS"` or `"BS"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null => "NULL",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }

    /// Reads a value from DynamoDB JSON, checking every rule of the module
    /// docs. The value is taken as a top-level attribute value (nesting
    /// level 1 if it is a map or list).
    pub fn from_json(json: Json) -> Result<AttributeValue, ValidationError> {
        value_from_json(json, 1)
    }

    /// Checks the rules the Rust type cannot express (non-empty sets, valid
    /// names in maps, nesting depth), for a value at the top level.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_value(self, 1)
    }
}

/// Reads an item (a JSON object of name → value) from DynamoDB JSON.
pub fn item_from_json(json: Json) -> Result<Item, ValidationError> {
    let Json::Object(members) = json else {
        return Err(wrong_type(&json, JsonType::Map));
    };
    let mut item = Item::new();
    for (name, value) in members {
        check_name(&name)?;
        item.insert(name, AttributeValue::from_json(value)?);
    }
    Ok(item)
}

/// Checks an item built in code: names and every value (see
/// [`AttributeValue::validate`]). Size is checked separately, by
/// [`crate::size::check_item_size`].
pub fn validate_item(item: &Item) -> Result<(), ValidationError> {
    for (name, value) in item {
        check_name(name)?;
        value.validate()?;
    }
    Ok(())
}

/// Attribute names are 1 to [`ATTRIBUTE_NAME_BYTES_MAX`] bytes.
pub(crate) fn check_name(name: &str) -> Result<(), ValidationError> {
    if name.is_empty() {
        return Err(ValidationError::AttributeNameEmpty);
    }
    if name.len() > ATTRIBUTE_NAME_BYTES_MAX {
        return Err(ValidationError::AttributeNameTooLong { length: name.len() });
    }
    Ok(())
}

fn validate_value(value: &AttributeValue, depth: usize) -> Result<(), ValidationError> {
    match value {
        AttributeValue::M(map) => {
            check_depth(depth)?;
            for (name, value) in map {
                check_name(name)?;
                validate_value(value, depth + 1)?;
            }
        }
        AttributeValue::L(list) => {
            check_depth(depth)?;
            for value in list {
                validate_value(value, depth + 1)?;
            }
        }
        AttributeValue::Ss(set) if set.is_empty() => return Err(ValidationError::StringSetEmpty),
        AttributeValue::Ns(set) if set.is_empty() => return Err(ValidationError::NumberSetEmpty),
        AttributeValue::Bs(set) if set.is_empty() => return Err(ValidationError::BinarySetEmpty),
        _ => {}
    }
    Ok(())
}

/// A map or list at nesting level `depth` (1 = top-level attribute).
fn check_depth(depth: usize) -> Result<(), ValidationError> {
    if depth > NESTING_DEPTH_MAX {
        return Err(ValidationError::NestingTooDeep);
    }
    Ok(())
}

// ANCHOR: from_json
/// Reads one value at nesting level `depth`.
fn value_from_json(json: Json, depth: usize) -> Result<AttributeValue, ValidationError> {
    let Json::Object(members) = json else {
        return Err(wrong_type(&json, JsonType::Map));
    };
    // Like DynamoDB, ignore members that are not type names, and treat
    // `null` members as absent; then exactly one must remain.
    let mut typed = members
        .into_iter()
        .filter(|(key, value)| !value.is_null() && TYPE_NAMES.contains(&key.as_str()));
    let Some((type_name, payload)) = typed.next() else {
        return Err(ValidationError::AttributeValueEmpty);
    };
    if typed.next().is_some() {
        return Err(ValidationError::AttributeValueMultipleTypes);
    }
    match type_name.as_str() {
        "S" => Ok(AttributeValue::S(json_string(payload)?)),
        "N" => Ok(AttributeValue::N(Number::parse(&json_string(payload)?)?)),
        "B" => Ok(AttributeValue::B(decode_base64(&json_string(payload)?)?)),
        "BOOL" => Ok(AttributeValue::Bool(json_bool(&payload)?)),
        "NULL" if json_bool(&payload)? => Ok(AttributeValue::Null),
        "NULL" => Err(ValidationError::NullNotTrue),
        "M" => {
            check_depth(depth)?;
            let Json::Object(members) = payload else {
                return Err(wrong_type(&payload, JsonType::Map));
            };
            let mut map = BTreeMap::new();
            for (name, value) in members {
                check_name(&name)?;
                map.insert(name, value_from_json(value, depth + 1)?);
            }
            Ok(AttributeValue::M(map))
        }
        "L" => {
            check_depth(depth)?;
            let list = json_list(payload)?
                .into_iter()
                .map(|value| value_from_json(value, depth + 1))
                .collect::<Result<_, _>>()?;
            Ok(AttributeValue::L(list))
        }
        "SS" => string_set(json_strings(payload)?),
        "NS" => number_set(json_strings(payload)?),
        _ => binary_set(json_strings(payload)?),
    }
}
// ANCHOR_END: from_json

/// Every type name, as it appears as a JSON key.
const TYPE_NAMES: [&str; 10] = ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];

fn string_set(members: Vec<String>) -> Result<AttributeValue, ValidationError> {
    if members.is_empty() {
        return Err(ValidationError::StringSetEmpty);
    }
    let set: BTreeSet<String> = members.iter().cloned().collect();
    if set.len() != members.len() {
        return Err(ValidationError::StringSetDuplicates { members });
    }
    Ok(AttributeValue::Ss(set))
}

fn number_set(members: Vec<String>) -> Result<AttributeValue, ValidationError> {
    if members.is_empty() {
        return Err(ValidationError::NumberSetEmpty);
    }
    let set = members
        .iter()
        .map(|text| Number::parse(text))
        .collect::<Result<BTreeSet<_>, _>>()?;
    // Uniqueness is numeric: "1" and "1.0" are the same member.
    if set.len() != members.len() {
        return Err(ValidationError::NumberSetDuplicates);
    }
    Ok(AttributeValue::Ns(set))
}

fn binary_set(members: Vec<String>) -> Result<AttributeValue, ValidationError> {
    if members.is_empty() {
        return Err(ValidationError::BinarySetEmpty);
    }
    let set = members
        .iter()
        .map(|text| decode_base64(text))
        .collect::<Result<BTreeSet<_>, _>>()?;
    if set.len() != members.len() {
        return Err(ValidationError::BinarySetDuplicates { members });
    }
    Ok(AttributeValue::Bs(set))
}

/// Standard alphabet, padded: the only base64 DynamoDB accepts.
fn decode_base64(text: &str) -> Result<Vec<u8>, ValidationError> {
    if !text.len().is_multiple_of(4) {
        return Err(ValidationError::Base64Length { length: text.len() });
    }
    BASE64
        .decode(text)
        .map_err(|_| ValidationError::Base64Invalid)
}

fn json_type(json: &Json) -> JsonType {
    match json {
        Json::Null => JsonType::Null,
        Json::Bool(true) => JsonType::True,
        Json::Bool(false) => JsonType::False,
        Json::Number(_) => JsonType::Number,
        Json::String(_) => JsonType::String,
        Json::Array(_) => JsonType::List,
        Json::Object(_) => JsonType::Map,
    }
}

fn wrong_type(found: &Json, expected: JsonType) -> ValidationError {
    ValidationError::JsonType {
        found: json_type(found),
        expected,
    }
}

fn json_string(json: Json) -> Result<String, ValidationError> {
    match json {
        Json::String(text) => Ok(text),
        other => Err(wrong_type(&other, JsonType::String)),
    }
}

fn json_bool(json: &Json) -> Result<bool, ValidationError> {
    match json {
        Json::Bool(value) => Ok(*value),
        other => Err(wrong_type(other, JsonType::True)),
    }
}

fn json_list(json: Json) -> Result<Vec<Json>, ValidationError> {
    match json {
        Json::Array(values) => Ok(values),
        other => Err(wrong_type(&other, JsonType::List)),
    }
}

fn json_strings(json: Json) -> Result<Vec<String>, ValidationError> {
    json_list(json)?.into_iter().map(json_string).collect()
}

// ANCHOR: to_json
/// Writes DynamoDB JSON: `{"<type>": <payload>}`, numbers in canonical
/// text, binaries in padded standard base64, sets in their sorted order.
impl serde::Serialize for AttributeValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        let key = self.type_name();
        match self {
            AttributeValue::S(text) => map.serialize_entry(key, text)?,
            AttributeValue::N(number) => map.serialize_entry(key, number)?,
            AttributeValue::B(bytes) => map.serialize_entry(key, &Base64(bytes))?,
            AttributeValue::Bool(value) => map.serialize_entry(key, value)?,
            AttributeValue::Null => map.serialize_entry(key, &true)?,
            AttributeValue::M(entries) => map.serialize_entry(key, entries)?,
            AttributeValue::L(values) => map.serialize_entry(key, values)?,
            AttributeValue::Ss(set) => map.serialize_entry(key, set)?,
            AttributeValue::Ns(set) => map.serialize_entry(key, set)?,
            AttributeValue::Bs(set) => map.serialize_entry(key, &Base64Set(set))?,
        }
        map.end()
    }
}
// ANCHOR_END: to_json

/// Bytes serialised as a base64 string.
struct Base64<'a>(&'a [u8]);

impl serde::Serialize for Base64<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(self.0))
    }
}

/// A binary set serialised as a list of base64 strings.
struct Base64Set<'a>(&'a BTreeSet<Vec<u8>>);

impl serde::Serialize for Base64Set<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|bytes| Base64(bytes)))
    }
}

/// Reads DynamoDB JSON with every check of [`AttributeValue::from_json`];
/// the error's text is the DynamoDB message. (Use `from_json` directly to
/// keep the typed [`ValidationError`].)
impl<'de> serde::Deserialize<'de> for AttributeValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = Json::deserialize(deserializer)?;
        AttributeValue::from_json(json).map_err(serde::de::Error::custom)
    }
}

impl From<&str> for AttributeValue {
    fn from(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_string())
    }
}

impl From<String> for AttributeValue {
    fn from(text: String) -> AttributeValue {
        AttributeValue::S(text)
    }
}

impl From<Number> for AttributeValue {
    fn from(number: Number) -> AttributeValue {
        AttributeValue::N(number)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> AttributeValue {
        AttributeValue::Bool(value)
    }
}
