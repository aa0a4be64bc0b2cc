//! The two ways data can be wrong: a client sent something DynamoDB rejects
//! ([`ValidationError`]), or bytes we read back are not what we wrote
//! ([`DecodeError`]).
//!
//! They are different on purpose. A validation error is the client's fault:
//! it becomes an HTTP 400 with the message DynamoDB itself would send, so the
//! `Display` text below is copied from DynamoDB wherever its wording is known.
//! A decode error means a disk or a peer handed us garbage: it is our fault,
//! becomes an internal error, and must never be shown as the client's.
//!
//! Neither type knows about HTTP: a later layer maps [`ValidationError::exception`]
//! to the `__type` of the error response.

use std::fmt;

/// The DynamoDB exception a [`ValidationError`] is reported as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exception {
    /// `ValidationException`: the request is well-formed but breaks a rule.
    Validation,
    /// `SerializationException`: the request is not the right JSON shape
    /// (a JSON number where a string belongs, bad base64, ...).
    Serialization,
}

impl Exception {
    /// The name used after the `#` in the error's `__type`.
    pub fn name(self) -> &'static str {
        match self {
            Exception::Validation => "ValidationException",
            Exception::Serialization => "SerializationException",
        }
    }
}

/// The JSON type found where another one was expected (for
/// [`ValidationError::JsonType`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonType {
    Null,
    True,
    False,
    Number,
    String,
    List,
    Map,
}

/// Something a client sent that DynamoDB would refuse.
///
/// `Display` is the message of DynamoDB's error response. Messages marked
/// "(sic)" keep DynamoDB's own typos, because clients and tests match them.
/// Where DynamoDB's exact wording is not known (invalid base64 characters,
/// over-long names, non-key types as keys) the message is ours, written in
/// the same style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidationError {
    // --- Numbers -----------------------------------------------------------
    /// Not a number at all: `NaN`, `Infinity`, `1 000`, `0x10`, ``.
    NumberNotNumeric {
        text: String,
    },
    /// More than 38 significant digits.
    NumberTooPrecise,
    /// Magnitude above 9.99…E+125. DynamoDB also uses this message when an
    /// arithmetic *result* would need more than 38 digits.
    NumberOverflow,
    /// Magnitude below 1E-130 (and not zero).
    NumberUnderflow,

    // --- The shape of an AttributeValue --------------------------------------
    /// `{}`: no data type member.
    AttributeValueEmpty,
    /// `{"S":"a","N":"1"}`: more than one data type member.
    AttributeValueMultipleTypes,
    /// `{"NULL":false}`.
    NullNotTrue,
    /// A JSON value of the wrong type, e.g. `{"S":5}` or `{"L":{}}`.
    JsonType {
        found: JsonType,
        expected: JsonType,
    },
    /// Base64 text whose length is not a multiple of 4.
    Base64Length {
        length: usize,
    },
    /// Base64 text with a character outside the standard alphabet, or
    /// misplaced padding.
    Base64Invalid,

    // --- Sets --------------------------------------------------------------
    StringSetEmpty,
    NumberSetEmpty,
    BinarySetEmpty,
    /// The members as the client sent them, for the message.
    StringSetDuplicates {
        members: Vec<String>,
    },
    NumberSetDuplicates,
    /// The members as the client sent them (base64), for the message.
    BinarySetDuplicates {
        members: Vec<String>,
    },

    // --- Names, nesting and size -------------------------------------------
    AttributeNameEmpty,
    AttributeNameTooLong {
        length: usize,
    },
    /// Maps and lists nested deeper than 32 levels.
    NestingTooDeep,
    /// The item is larger than 400 KB by DynamoDB's size rules.
    ItemTooLarge,

    // --- Keys --------------------------------------------------------------
    /// An item lacks one of the table's key attributes.
    KeyMissing {
        name: String,
    },
    /// A key attribute has the wrong type for the table's key schema.
    KeyTypeMismatch {
        name: String,
        expected: &'static str,
        actual: &'static str,
    },
    /// A value that can never be a key (only S, N and B can).
    KeyTypeInvalid {
        actual: &'static str,
    },
    KeyStringEmpty {
        name: String,
    },
    KeyBinaryEmpty {
        name: String,
    },
    /// Partition key value over 2048 bytes.
    PartitionKeyTooLarge,
    /// Sort key value over 1024 bytes.
    SortKeyTooLarge,
}

/// The prefix DynamoDB puts on most semantic validation messages.
const INVALID: &str = "One or more parameter values were invalid:";

impl ValidationError {
    /// Which DynamoDB exception carries this error.
    pub fn exception(&self) -> Exception {
        match self {
            ValidationError::JsonType { .. }
            | ValidationError::Base64Length { .. }
            | ValidationError::Base64Invalid => Exception::Serialization,
            _ => Exception::Validation,
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ValidationError as E;
        match self {
            E::NumberNotNumeric { text } if text.is_empty() => {
                f.write_str("The parameter cannot be converted to a numeric value")
            }
            E::NumberNotNumeric { text } => write!(
                f,
                "The parameter cannot be converted to a numeric value: {text}"
            ),
            E::NumberTooPrecise => {
                f.write_str("Attempting to store more than 38 significant digits in a Number")
            }
            E::NumberOverflow => f.write_str(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ),
            E::NumberUnderflow => f.write_str(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ),
            E::AttributeValueEmpty => f.write_str(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ),
            E::AttributeValueMultipleTypes => f.write_str(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ),
            E::NullNotTrue => write!(
                f,
                "{INVALID} Null attribute value types must have the value of true"
            ),
            E::JsonType { found, expected } => write_json_type(f, *found, *expected),
            E::Base64Length { length } => write!(
                f,
                "Base64 encoded length is expected a multiple of 4 bytes but found: {length}"
            ),
            E::Base64Invalid => f.write_str("Invalid Base64 encoding"),
            // (sic): two spaces before "may".
            E::StringSetEmpty => write!(f, "{INVALID} An string set  may not be empty"),
            E::NumberSetEmpty => write!(f, "{INVALID} An number set  may not be empty"),
            E::BinarySetEmpty => write!(f, "{INVALID} Binary sets should not be empty"),
            E::StringSetDuplicates { members } => write!(
                f,
                "{INVALID} Input collection [{}] contains duplicates.",
                members.join(", ")
            ),
            E::NumberSetDuplicates => f.write_str("Input collection contains duplicates"),
            E::BinarySetDuplicates { members } => write!(
                f,
                "{INVALID} Input collection [{}] of type BS contains duplicates.",
                members.join(", ")
            ),
            E::AttributeNameEmpty => write!(f, "{INVALID} Empty attribute name"),
            E::AttributeNameTooLong { length } => write!(
                f,
                "{INVALID} Attribute name is too long: {length} bytes, the limit is 65535 bytes"
            ),
            E::NestingTooDeep => f.write_str("Nesting Levels have exceeded supported limits"),
            E::ItemTooLarge => f.write_str("Item size has exceeded the maximum allowed size"),
            E::KeyMissing { name } => write!(f, "{INVALID} Missing the key {name} in the item"),
            E::KeyTypeMismatch {
                name,
                expected,
                actual,
            } => write!(
                f,
                "{INVALID} Type mismatch for key {name} expected: {expected} actual: {actual}"
            ),
            E::KeyTypeInvalid { actual } => write!(
                f,
                "{INVALID} Key attributes must be of type S, N or B, found: {actual}"
            ),
            E::KeyStringEmpty { name } => write!(
                f,
                "{INVALID} The AttributeValue for a key attribute cannot contain an empty string value. Key: {name}"
            ),
            E::KeyBinaryEmpty { name } => write!(
                f,
                "{INVALID} The AttributeValue for a key attribute cannot contain an empty binary value. Key: {name}"
            ),
            // (sic): no space in "of2048".
            E::PartitionKeyTooLarge => write!(
                f,
                "{INVALID} Size of hashkey has exceeded the maximum size limit of2048 bytes"
            ),
            E::SortKeyTooLarge => write!(
                f,
                "{INVALID} Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
            ),
        }
    }
}

/// DynamoDB's (Java-flavoured) wording for a JSON value of the wrong type.
fn write_json_type(f: &mut fmt::Formatter<'_>, found: JsonType, expected: JsonType) -> fmt::Result {
    let target = match expected {
        JsonType::String => "String",
        JsonType::True | JsonType::False => "Boolean",
        _ => "",
    };
    match found {
        JsonType::Map => f.write_str("Start of structure or map found where not expected"),
        JsonType::List => f.write_str("Start of list found where not expected"),
        JsonType::Null => f.write_str("Unexpected null value"),
        _ if target.is_empty() => f.write_str("Unexpected field type"),
        JsonType::Number => write!(f, "NUMBER_VALUE cannot be converted to {target}"),
        JsonType::String => write!(f, "STRING_VALUE cannot be converted to {target}"),
        JsonType::True => write!(f, "TRUE_VALUE cannot be converted to {target}"),
        JsonType::False => write!(f, "FALSE_VALUE cannot be converted to {target}"),
    }
}

impl std::error::Error for ValidationError {}

/// Bytes that do not decode: a key or an item read back from a disk or a
/// peer that is truncated, corrupt, or written by a format we do not know.
///
/// Decoders return this instead of panicking, whatever the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended in the middle of a value.
    Truncated,
    /// The leading format-version byte is not one this code can read.
    UnsupportedVersion(u8),
    /// A byte that cannot appear where it was found; the text says what was
    /// being decoded.
    Malformed(&'static str),
    /// Well-formed bytes describing a value DynamoDB would reject (a number
    /// out of range, an empty set...).
    Invalid(ValidationError),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("truncated input"),
            DecodeError::UnsupportedVersion(v) => write!(f, "unsupported format version {v}"),
            DecodeError::Malformed(what) => write!(f, "malformed input: {what}"),
            DecodeError::Invalid(error) => write!(f, "invalid value: {error}"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Invalid(error) => Some(error),
            _ => None,
        }
    }
}

impl From<ValidationError> for DecodeError {
    fn from(error: ValidationError) -> Self {
        DecodeError::Invalid(error)
    }
}
