//! Reading a request's members with DynamoDB's two kinds of complaint.
//!
//! DynamoDB checks a request body in two passes, and a client can tell them
//! apart (reference §1.5, steps 13 and 14):
//!
//! 1. **Types.** Every member must have the JSON type of the API model: a
//!    string where a string belongs, an object for a structure. The first
//!    mismatch ends the request with a `SerializationException`, in the
//!    wording of DynamoDB's Java front end (`NUMBER_VALUE cannot be
//!    converted to String`, `Start of list found where not expected`).
//! 2. **Constraints.** Required members, lengths, ranges, patterns and enum
//!    sets are then checked *all together*; up to ten violations come back
//!    in one `ValidationException`:
//!
//! ```text
//! 2 validation errors detected: Value 'ab' at 'tableName' failed to satisfy
//! constraint: Member must have length greater than or equal to 3; Value '0'
//! at 'limit' failed to satisfy constraint: Member must have value greater
//! than or equal to 1
//! ```
//!
//! [`Members`] does pass 1: its getters return `Err` at the first type
//! mismatch, so a handler simply uses `?`. [`Checks`] collects pass 2: its
//! methods record violations and let the handler carry on, and
//! [`Checks::finish`] turns them into one error. A semantic error found
//! while decoding (an empty set inside an item, say) is *deferred* with
//! [`Checks::defer`]: it is reported only if the model constraints pass,
//! as DynamoDB does.
//!
//! Paths in messages are lowerCamelCase, list elements 1-based with
//! `.member` (`keySchema.1.member.keyType`). An explicit JSON `null` is the
//! same as an absent member.

use serde_json::{Map, Value as Json};

use crate::error::ApiError;

/// At most this many violations are listed in one message.
pub const VIOLATIONS_LISTED_MAX: usize = 10;
/// Table and index names: 3 to 255 characters of this pattern.
pub const TABLE_NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";
pub const TABLE_NAME_CHARS_MIN: usize = 3;
pub const TABLE_NAME_CHARS_MAX: usize = 255;
/// A `TableName` member may also hold a table ARN of up to this length.
pub const TABLE_ARN_CHARS_MAX: usize = 1024;

/// The Java type a member has in the API model, for type-error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelType {
    String,
    Boolean,
    Integer,
    Long,
    Double,
    /// A structure or a map: a JSON object.
    Structure,
    List,
}

impl ModelType {
    fn name(self) -> &'static str {
        match self {
            ModelType::String => "String",
            ModelType::Boolean => "Boolean",
            ModelType::Integer => "Integer",
            ModelType::Long => "Long",
            ModelType::Double => "Double",
            ModelType::Structure => "Structure",
            ModelType::List => "List",
        }
    }
}

// ANCHOR: type_error
/// The `SerializationException` for `found` where the model wants
/// `expected`, worded as DynamoDB's front end words it.
pub fn type_error(found: &Json, expected: ModelType) -> ApiError {
    let scalar = !matches!(expected, ModelType::Structure | ModelType::List);
    let message = match found {
        Json::Object(_) if expected != ModelType::Structure => {
            "Start of structure or map found where not expected".to_string()
        }
        Json::Array(_) if expected != ModelType::List => {
            "Start of list found where not expected".to_string()
        }
        _ if !scalar => "Unexpected field type".to_string(),
        Json::Number(number) if number.is_f64() && !matches!(expected, ModelType::Double) => {
            format!("DECIMAL_VALUE cannot be converted to {}", expected.name())
        }
        Json::Number(_) => format!("NUMBER_VALUE cannot be converted to {}", expected.name()),
        Json::String(_) => format!("STRING_VALUE cannot be converted to {}", expected.name()),
        Json::Bool(true) => format!("TRUE_VALUE cannot be converted to {}", expected.name()),
        Json::Bool(false) => format!("FALSE_VALUE cannot be converted to {}", expected.name()),
        _ => "Unexpected field type".to_string(),
    };
    ApiError::serialization(message)
}
// ANCHOR_END: type_error

/// A JSON structure whose members are read, and type-checked, one by one.
/// Members are *taken*: whatever is left at the end was not in the model
/// and is ignored, as DynamoDB ignores unknown members.
#[derive(Debug, Default)]
pub struct Members {
    members: Map<String, Json>,
}

impl Members {
    /// A request body or a nested structure: must be a JSON object.
    pub fn from_json(json: Json) -> Result<Members, ApiError> {
        match json {
            Json::Object(members) => Ok(Members { members }),
            other => Err(type_error(&other, ModelType::Structure)),
        }
    }

    /// Whether a member is present and not `null`.
    pub fn has(&self, name: &str) -> bool {
        self.members.get(name).is_some_and(|value| !value.is_null())
    }

    /// The raw member, `null` read as absent.
    pub fn take(&mut self, name: &str) -> Option<Json> {
        self.members.remove(name).filter(|value| !value.is_null())
    }

    pub fn string(&mut self, name: &str) -> Result<Option<String>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::String(text)) => Ok(Some(text)),
            Some(other) => Err(type_error(&other, ModelType::String)),
        }
    }

    pub fn boolean(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::Bool(value)) => Ok(Some(value)),
            Some(other) => Err(type_error(&other, ModelType::Boolean)),
        }
    }

    /// A Java `Integer` member: a JSON integer within `i32`.
    pub fn integer(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        self.whole_number(
            name,
            ModelType::Integer,
            i64::from(i32::MIN)..=i64::from(i32::MAX),
        )
    }

    /// A Java `Long` member: a JSON integer within `i64`.
    pub fn long(&mut self, name: &str) -> Result<Option<i64>, ApiError> {
        self.whole_number(name, ModelType::Long, i64::MIN..=i64::MAX)
    }

    fn whole_number(
        &mut self,
        name: &str,
        model: ModelType,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i64>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::Number(number)) => match number.as_i64() {
                Some(value) if range.contains(&value) => Ok(Some(value)),
                Some(_) => Err(ApiError::serialization(format!(
                    "Numeric value ({number}) out of range of {}",
                    model.name()
                ))),
                None => Err(type_error(&Json::Number(number), model)),
            },
            Some(other) => Err(type_error(&other, model)),
        }
    }

    /// A nested structure.
    pub fn structure(&mut self, name: &str) -> Result<Option<Members>, ApiError> {
        self.take(name).map(Members::from_json).transpose()
    }

    /// A map member (JSON object of arbitrary keys).
    pub fn map(&mut self, name: &str) -> Result<Option<Map<String, Json>>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::Object(map)) => Ok(Some(map)),
            Some(other) => Err(type_error(&other, ModelType::Structure)),
        }
    }

    pub fn list(&mut self, name: &str) -> Result<Option<Vec<Json>>, ApiError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::Array(list)) => Ok(Some(list)),
            Some(other) => Err(type_error(&other, ModelType::List)),
        }
    }

    /// A list of structures.
    pub fn structures(&mut self, name: &str) -> Result<Option<Vec<Members>>, ApiError> {
        self.list(name)?
            .map(|list| list.into_iter().map(Members::from_json).collect())
            .transpose()
    }

    /// A list of strings.
    pub fn strings(&mut self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        self.list(name)?
            .map(|list| {
                list.into_iter()
                    .map(|value| match value {
                        Json::String(text) => Ok(text),
                        other => Err(type_error(&other, ModelType::String)),
                    })
                    .collect()
            })
            .transpose()
    }
}

// ANCHOR: checks
/// The constraint violations of one request, and the first deferred
/// semantic error.
#[derive(Debug, Default)]
pub struct Checks {
    violations: Vec<String>,
    deferred: Option<ApiError>,
}

impl Checks {
    /// Records `Value '<value>' at '<path>' failed to satisfy constraint:
    /// <constraint>`; `value: None` renders as `Value null`.
    pub fn violation(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let value = match value {
            Some(text) => format!("'{text}'"),
            None => "null".to_string(),
        };
        self.violations.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// The violations and deferred error so far, as the error to answer.
    pub fn finish(self) -> Result<(), ApiError> {
        if !self.violations.is_empty() {
            let listed = &self.violations[..self.violations.len().min(VIOLATIONS_LISTED_MAX)];
            let count = listed.len();
            let plural = if count == 1 { "error" } else { "errors" };
            return Err(ApiError::validation(format!(
                "{count} validation {plural} detected: {}",
                listed.join("; ")
            )));
        }
        match self.deferred {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
    // ANCHOR_END: checks

    /// Whether anything is wrong so far.
    pub fn failed(&self) -> bool {
        !self.violations.is_empty() || self.deferred.is_some()
    }

    /// Keeps the first semantic error to report after the model checks.
    pub fn defer(&mut self, error: ApiError) {
        if self.deferred.is_none() {
            self.deferred = Some(error);
        }
    }

    /// Unwraps a decoding result whose semantic errors wait for
    /// [`Checks::finish`]; type errors (`SerializationException`) are
    /// returned at once.
    pub fn deferred<T>(&mut self, result: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.kind == crate::error::ErrorKind::Serialization => Err(error),
            Err(error) => {
                self.defer(error);
                Ok(None)
            }
        }
    }

    /// A required member: records `Member must not be null` when absent.
    pub fn required<T>(&mut self, path: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.violation(None, path, "Member must not be null");
        }
        value
    }

    /// Length in characters (Java counts UTF-16 units; for the names
    /// checked here the two agree).
    pub fn length(&mut self, path: &str, value: &str, min: usize, max: usize) {
        let chars = value.chars().count();
        if chars < min {
            self.violation(
                Some(value),
                path,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if chars > max {
            self.violation(
                Some(value),
                path,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// The number of elements of a list.
    pub fn list_length(&mut self, path: &str, rendered: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.violation(
                Some(rendered),
                path,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if len > max {
            self.violation(
                Some(rendered),
                path,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A numeric range.
    pub fn range(&mut self, path: &str, value: i64, min: i64, max: i64) {
        if value < min {
            self.violation(
                Some(&value.to_string()),
                path,
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
        if value > max {
            self.violation(
                Some(&value.to_string()),
                path,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// An enum member: `set` in the order DynamoDB lists it in messages.
    /// Returns whether the value is in the set.
    pub fn one_of(&mut self, path: &str, value: &str, set: &[&str]) -> bool {
        if set.contains(&value) {
            return true;
        }
        self.violation(
            Some(value),
            path,
            &format!("Member must satisfy enum value set: [{}]", set.join(", ")),
        );
        false
    }

    /// A table or index name: the pattern, then the length.
    pub fn name(&mut self, path: &str, name: &str) {
        if !is_table_name_pattern(name) {
            self.violation(
                Some(name),
                path,
                &format!("Member must satisfy regular expression pattern: {TABLE_NAME_PATTERN}"),
            );
        }
        self.length(path, name, TABLE_NAME_CHARS_MIN, TABLE_NAME_CHARS_MAX);
    }

    /// A `TableName` member of an operation that also accepts a table ARN.
    pub fn table_name_or_arn(&mut self, path: &str, name: &str) {
        if name.starts_with("arn:") {
            self.length(path, name, 1, TABLE_ARN_CHARS_MAX);
        } else {
            self.name(path, name);
        }
    }
}

/// Whether every character is in `[a-zA-Z0-9_.-]` (and there is one).
pub fn is_table_name_pattern(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The enum sets, in the order DynamoDB lists them in messages.
pub mod enums {
    pub const RETURN_VALUE: &[&str] = &["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"];
    pub const RETURN_CONSUMED_CAPACITY: &[&str] = &["INDEXES", "TOTAL", "NONE"];
    pub const RETURN_ITEM_COLLECTION_METRICS: &[&str] = &["SIZE", "NONE"];
    pub const RETURN_VALUES_ON_CONDITION_CHECK_FAILURE: &[&str] = &["ALL_OLD", "NONE"];
    pub const BILLING_MODE: &[&str] = &["PROVISIONED", "PAY_PER_REQUEST"];
    pub const KEY_TYPE: &[&str] = &["HASH", "RANGE"];
    pub const SCALAR_ATTRIBUTE_TYPE: &[&str] = &["B", "N", "S"];
    pub const ATTRIBUTE_ACTION: &[&str] = &["ADD", "PUT", "DELETE"];
    pub const CONDITIONAL_OPERATOR: &[&str] = &["AND", "OR"];
    pub const TABLE_CLASS: &[&str] = &["STANDARD", "STANDARD_INFREQUENT_ACCESS"];
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn members(json: Json) -> Members {
        Members::from_json(json).unwrap()
    }

    #[test]
    fn type_errors_use_dynamodb_wording() {
        let mut m = members(json!({
            "A": 5, "B": {"x": 1}, "C": [1], "D": true, "E": "x", "F": 1.5, "G": false
        }));
        let message = |e: ApiError| {
            assert_eq!(e.kind, ErrorKind::Serialization);
            e.message.unwrap()
        };
        assert_eq!(
            message(m.string("A").unwrap_err()),
            "NUMBER_VALUE cannot be converted to String"
        );
        assert_eq!(
            message(m.string("B").unwrap_err()),
            "Start of structure or map found where not expected"
        );
        assert_eq!(
            message(m.string("C").unwrap_err()),
            "Start of list found where not expected"
        );
        assert_eq!(
            message(m.integer("D").unwrap_err()),
            "TRUE_VALUE cannot be converted to Integer"
        );
        assert_eq!(
            message(m.boolean("E").unwrap_err()),
            "STRING_VALUE cannot be converted to Boolean"
        );
        assert_eq!(
            message(m.integer("F").unwrap_err()),
            "DECIMAL_VALUE cannot be converted to Integer"
        );
        assert_eq!(message(m.list("G").unwrap_err()), "Unexpected field type");
    }

    #[test]
    fn null_is_absent_and_unknown_members_are_ignored() {
        let mut m = members(json!({"TableName": null, "Whatever": 1}));
        assert_eq!(m.string("TableName").unwrap(), None);
        assert!(!m.has("TableName"));
    }

    #[test]
    fn integers_are_range_checked() {
        let mut m = members(json!({"Limit": 3_000_000_000_i64, "L": 3_000_000_000_i64}));
        assert!(m.integer("Limit").is_err());
        assert_eq!(m.long("L").unwrap(), Some(3_000_000_000));
    }

    #[test]
    fn one_violation() {
        let mut checks = Checks::default();
        checks.one_of("returnValues", "X", enums::RETURN_VALUE);
        assert_eq!(
            checks.finish().unwrap_err().message.unwrap(),
            "1 validation error detected: Value 'X' at 'returnValues' failed to satisfy constraint: \
             Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
        );
    }

    #[test]
    fn violations_are_aggregated_and_capped() {
        let mut checks = Checks::default();
        checks.name("tableName", "a;");
        checks.required::<()>("key", None);
        let message = checks.finish().unwrap_err().message.unwrap();
        assert_eq!(
            message,
            "3 validation errors detected: \
             Value 'a;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value 'a;' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
             Value null at 'key' failed to satisfy constraint: Member must not be null"
        );
        let mut checks = Checks::default();
        for _ in 0..15 {
            checks.range("limit", 0, 1, 100);
        }
        let message = checks.finish().unwrap_err().message.unwrap();
        assert!(message.starts_with("10 validation errors detected: "));
        assert_eq!(message.matches("; ").count(), 9);
    }

    #[test]
    fn deferred_errors_come_after_violations() {
        let mut checks = Checks::default();
        checks.defer(ApiError::validation("semantic"));
        checks.range("limit", 0, 1, 100);
        assert!(
            checks
                .finish()
                .unwrap_err()
                .message
                .unwrap()
                .starts_with("1 validation error")
        );
        let mut checks = Checks::default();
        checks.defer(ApiError::validation("semantic"));
        checks.defer(ApiError::validation("second"));
        assert_eq!(
            checks.finish().unwrap_err().message.as_deref(),
            Some("semantic")
        );
    }

    #[test]
    fn table_names() {
        for good in ["abc", "a.b-c_D9", &"x".repeat(255)] {
            let mut checks = Checks::default();
            checks.name("tableName", good);
            assert!(checks.finish().is_ok(), "{good}");
        }
        for bad in ["ab", "abc!", "", &"x".repeat(256)] {
            let mut checks = Checks::default();
            checks.name("tableName", bad);
            assert!(checks.finish().is_err(), "{bad}");
        }
        let mut checks = Checks::default();
        checks.table_name_or_arn(
            "tableName",
            "arn:aws:dynamodb:us-east-1:000000000000:table/Music",
        );
        assert!(checks.finish().is_ok());
    }
}
