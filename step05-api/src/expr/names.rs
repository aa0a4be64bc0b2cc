//! The placeholders of one request: `ExpressionAttributeNames` and
//! `ExpressionAttributeValues`, and which of them its expressions used.
//!
//! One [`ExpressionContext`] lives for one request. The handler creates it
//! from the two maps, parses each expression of the request through it
//! (`parse_condition`, `parse_update`, `parse_projection`,
//! `parse_key_condition`), and then calls [`ExpressionContext::finish`],
//! because DynamoDB's "unused placeholder" rule is about the request as a
//! whole: a name used only by the ConditionExpression is not unused just
//! because the UpdateExpression ignores it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;
use step01_kv::error::{JsonType, ValidationError};
use step01_kv::value::{ATTRIBUTE_NAME_BYTES_MAX, AttributeValue};

use super::error::{ExprError, Result};

/// Which request parameter an expression came from. It names the
/// expression in error messages (`Invalid FilterExpression: …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpressionKind {
    Condition,
    Filter,
    KeyCondition,
    Update,
    Projection,
}

impl ExpressionKind {
    /// The request parameter: `ConditionExpression`, `FilterExpression`…
    pub fn parameter(self) -> &'static str {
        match self {
            ExpressionKind::Condition => "ConditionExpression",
            ExpressionKind::Filter => "FilterExpression",
            ExpressionKind::KeyCondition => "KeyConditionExpression",
            ExpressionKind::Update => "UpdateExpression",
            ExpressionKind::Projection => "ProjectionExpression",
        }
    }

    /// `message` as DynamoDB reports a problem in this expression.
    pub fn error(self, message: impl std::fmt::Display) -> ExprError {
        ExprError::validation(format!("Invalid {}: {message}", self.parameter()))
    }
}

/// The request's placeholder maps and their use so far.
#[derive(Clone, Debug, Default)]
pub struct ExpressionContext {
    names: Option<BTreeMap<String, String>>,
    values: Option<BTreeMap<String, AttributeValue>>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
    /// The kinds of the expressions parsed so far.
    parsed: Vec<ExpressionKind>,
}

impl ExpressionContext {
    /// Reads and checks the two maps (`None` or JSON `null`: not given).
    ///
    /// Errors: a map that is present but empty, a key that is not a
    /// well-formed placeholder, a name that is empty, a value that is not
    /// a valid AttributeValue, or a member of the wrong JSON type.
    pub fn new(names: Option<&Json>, values: Option<&Json>) -> Result<ExpressionContext> {
        let names = match names.filter(|json| !json.is_null()) {
            None => None,
            Some(json) => Some(read_names(json)?),
        };
        let values = match values.filter(|json| !json.is_null()) {
            None => None,
            Some(json) => Some(read_values(json)?),
        };
        Ok(ExpressionContext {
            names,
            values,
            ..ExpressionContext::default()
        })
    }

    /// The attribute name behind `#placeholder`, marking it used.
    pub(crate) fn name(&mut self, placeholder: &str) -> Option<String> {
        let name = self.names.as_ref()?.get(placeholder)?.clone();
        self.used_names.insert(placeholder.to_string());
        Some(name)
    }

    /// The value behind `:placeholder`, marking it used.
    pub(crate) fn value(&mut self, placeholder: &str) -> Option<AttributeValue> {
        let value = self.values.as_ref()?.get(placeholder)?.clone();
        self.used_values.insert(placeholder.to_string());
        Some(value)
    }

    /// Notes that an expression of this kind was parsed.
    pub(crate) fn record(&mut self, kind: ExpressionKind) {
        self.parsed.push(kind);
    }

    /// The request-level checks, once every expression has been parsed.
    ///
    /// `value_parameters` names the expression parameters of this
    /// operation that may use values (for UpdateItem:
    /// `["UpdateExpression", "ConditionExpression"]`); it is quoted when
    /// values were given but no such expression was.
    pub fn finish(&self, value_parameters: &[&str]) -> Result<()> {
        if self.names.is_some() && self.parsed.is_empty() {
            return Err(ExprError::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        let value_bearing = self
            .parsed
            .iter()
            .any(|kind| *kind != ExpressionKind::Projection);
        if self.values.is_some() && !value_bearing {
            let verb = if value_parameters.len() > 1 {
                "are"
            } else {
                "is"
            };
            return Err(ExprError::validation(format!(
                "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
                value_parameters.join(" and ")
            )));
        }
        if let Some(names) = &self.names {
            unused("ExpressionAttributeNames", names.keys(), &self.used_names)?;
        }
        if let Some(values) = &self.values {
            unused(
                "ExpressionAttributeValues",
                values.keys(),
                &self.used_values,
            )?;
        }
        Ok(())
    }
}

/// Fails with DynamoDB's message if some key was never used.
fn unused<'a>(
    parameter: &str,
    keys: impl Iterator<Item = &'a String>,
    used: &BTreeSet<String>,
) -> Result<()> {
    let unused: Vec<&str> = keys
        .filter(|key| !used.contains(*key))
        .map(String::as_str)
        .collect();
    if unused.is_empty() {
        return Ok(());
    }
    Err(ExprError::validation(format!(
        "Value provided in {parameter} unused in expressions: keys: {{{}}}",
        unused.join(", ")
    )))
}

/// Whether `key` is `sigil` followed by one or more `[A-Za-z0-9_]`.
fn is_placeholder(key: &str, sigil: char) -> bool {
    key.strip_prefix(sigil).is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
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

/// The SerializationException for a JSON value of the wrong type.
pub(crate) fn wrong_json_type(found: &Json, expected: JsonType) -> ExprError {
    ExprError::from(ValidationError::JsonType {
        found: json_type(found),
        expected,
    })
}

fn read_names(json: &Json) -> Result<BTreeMap<String, String>> {
    let Json::Object(members) = json else {
        return Err(wrong_json_type(json, JsonType::Map));
    };
    if members.is_empty() {
        return Err(ExprError::validation(
            "ExpressionAttributeNames must not be empty",
        ));
    }
    let mut names = BTreeMap::new();
    for (key, value) in members {
        if !is_placeholder(key, '#') {
            return Err(ExprError::validation(format!(
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
        let Json::String(name) = value else {
            return Err(wrong_json_type(value, JsonType::String));
        };
        if let Err(error) = check_attribute_name(name) {
            let reason = error.message().trim_start_matches(INVALID).trim_start();
            return Err(ExprError::validation(format!(
                "ExpressionAttributeNames contains invalid value: {reason} for key {key}"
            )));
        }
        names.insert(key.clone(), name.clone());
    }
    Ok(names)
}

/// The prefix of DynamoDB's messages about invalid parameter values.
const INVALID: &str = "One or more parameter values were invalid:";

/// An attribute name is 1 to 65,535 bytes, wherever it is written: in an
/// item, in a placeholder's value, in a legacy parameter's keys. (Key
/// attribute names are held to 255 bytes by the table's schema.)
pub fn check_attribute_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(ValidationError::AttributeNameEmpty.into());
    }
    if name.len() > ATTRIBUTE_NAME_BYTES_MAX {
        return Err(ValidationError::AttributeNameTooLong { length: name.len() }.into());
    }
    Ok(())
}

fn read_values(json: &Json) -> Result<BTreeMap<String, AttributeValue>> {
    let Json::Object(members) = json else {
        return Err(wrong_json_type(json, JsonType::Map));
    };
    if members.is_empty() {
        return Err(ExprError::validation(
            "ExpressionAttributeValues must not be empty",
        ));
    }
    let mut values = BTreeMap::new();
    for (key, json) in members {
        if !is_placeholder(key, ':') {
            return Err(ExprError::validation(format!(
                "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
            )));
        }
        let value =
            AttributeValue::from_json(json.clone()).map_err(|error| match error.exception() {
                step01_kv::error::Exception::Validation => ExprError::validation(format!(
                    "ExpressionAttributeValues contains invalid value: {error} for key {key}"
                )),
                _ => ExprError::from(error),
            })?;
        values.insert(key.clone(), value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(names: Json, values: Json) -> Result<ExpressionContext> {
        ExpressionContext::new(Some(&names), Some(&values))
    }

    #[test]
    fn rejects_malformed_placeholder_maps() {
        let table = [
            (
                json!({}),
                Json::Null,
                "ExpressionAttributeNames must not be empty",
            ),
            (
                Json::Null,
                json!({}),
                "ExpressionAttributeValues must not be empty",
            ),
            (
                json!({"#a-b": "x"}),
                Json::Null,
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"#a-b\"",
            ),
            (
                json!({"a": "x"}),
                Json::Null,
                "ExpressionAttributeNames contains invalid key: Syntax error; key: \"a\"",
            ),
            (
                Json::Null,
                json!({"v": {"S": "x"}}),
                "ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\"",
            ),
            (
                Json::Null,
                json!({":v": {"SS": []}}),
                "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :v",
            ),
            (
                Json::Null,
                json!({":v": {}}),
                "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, must contain exactly one of the supported datatypes for key :v",
            ),
        ];
        for (names, values, message) in table {
            let error = context(names, values).unwrap_err();
            assert_eq!(error.message(), message);
        }
    }

    #[test]
    fn a_number_where_a_name_belongs_is_a_serialization_error() {
        let error = context(json!({"#a": 5}), Json::Null).unwrap_err();
        assert_eq!(
            error.exception(),
            step01_kv::error::Exception::Serialization
        );
        assert_eq!(
            error.message(),
            "NUMBER_VALUE cannot be converted to String"
        );
    }

    #[test]
    fn finish_reports_unused_names_then_values() {
        let mut ctx = context(
            json!({"#a": "a", "#b": "b", "#c": "c"}),
            json!({":x": {"S": "x"}, ":y": {"S": "y"}}),
        )
        .unwrap();
        ctx.record(ExpressionKind::Condition);
        assert_eq!(ctx.name("#b").as_deref(), Some("b"));
        assert_eq!(
            ctx.finish(&["ConditionExpression"]).unwrap_err().message(),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #c}"
        );
        ctx.name("#a");
        ctx.name("#c");
        assert_eq!(ctx.value(":y"), Some(AttributeValue::S("y".into())));
        assert_eq!(
            ctx.finish(&["ConditionExpression"]).unwrap_err().message(),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:x}"
        );
        ctx.value(":x");
        assert_eq!(ctx.finish(&["ConditionExpression"]), Ok(()));
    }

    #[test]
    fn maps_without_expressions_are_refused() {
        let ctx = context(json!({"#a": "a"}), Json::Null).unwrap();
        assert_eq!(
            ctx.finish(&[]).unwrap_err().message(),
            "ExpressionAttributeNames can only be specified when using expressions"
        );
        let mut ctx = context(Json::Null, json!({":v": {"N": "1"}})).unwrap();
        assert_eq!(
            ctx.finish(&["UpdateExpression", "ConditionExpression"])
                .unwrap_err()
                .message(),
            "ExpressionAttributeValues can only be specified when using expressions: UpdateExpression and ConditionExpression are null"
        );
        ctx.record(ExpressionKind::Projection);
        assert_eq!(
            ctx.finish(&["ConditionExpression"]).unwrap_err().message(),
            "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null"
        );
    }
}
