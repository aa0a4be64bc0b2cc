//! Members many operations share (reference §5.1): the table name, keys and
//! items, and `ReturnValues`.

use serde_json::{Map, Value as Json};
use step01_kv::error::ValidationError;
use step01_kv::key::{KeySchema, PrimaryKey};
use step01_kv::value::{AttributeValue, Item, item_from_json};

use crate::decode::{Checks, Members, enums};
use crate::error::ApiError;

/// The `TableName` member of an item operation: required, a name or an ARN.
pub fn table_name(input: &mut Members, checks: &mut Checks) -> Result<Option<String>, ApiError> {
    let name = checks.required("tableName", input.string("TableName")?);
    if let Some(name) = &name {
        checks.table_name_or_arn("tableName", name);
    }
    Ok(name)
}

/// An item-shaped member (`Item`, `Key`): type errors at once, semantic
/// errors (an empty set, a bad number) deferred until the model checks
/// pass.
pub fn item_member(
    input: &mut Members,
    checks: &mut Checks,
    member: &str,
    path: &str,
) -> Result<Option<Item>, ApiError> {
    let Some(map) = checks.required(path, input.map(member)?) else {
        return Ok(None);
    };
    checks.deferred(parse_item(map))
}

/// DynamoDB JSON to an item, with step 1's checks.
pub fn parse_item(map: Map<String, Json>) -> Result<Item, ApiError> {
    Ok(item_from_json(Json::Object(map))?)
}

/// An item as DynamoDB JSON.
pub fn item_json(item: &Item) -> Result<Json, ApiError> {
    serde_json::to_value(item).map_err(ApiError::internal)
}

// ANCHOR: key_check
/// The primary key in a `Key` member: exactly the schema's attributes, of
/// the schema's types, non-empty and within the size limits.
pub fn primary_key(schema: &KeySchema, key: &Item) -> Result<PrimaryKey, ApiError> {
    let mismatch = || ApiError::validation("The provided key element does not match the schema");
    let expected = 1 + usize::from(schema.sort.is_some());
    if key.len() != expected {
        return Err(mismatch());
    }
    for attribute in std::iter::once(&schema.partition).chain(schema.sort.as_ref()) {
        let matches = match key.get(&attribute.name) {
            Some(AttributeValue::S(_)) => attribute.key_type.name() == "S",
            Some(AttributeValue::N(_)) => attribute.key_type.name() == "N",
            Some(AttributeValue::B(_)) => attribute.key_type.name() == "B",
            _ => false,
        };
        if !matches {
            return Err(mismatch());
        }
    }
    Ok(schema.key_of(key)?)
}
// ANCHOR_END: key_check

/// The primary key of a whole item (`PutItem`): DynamoDB words the empty
/// key errors slightly differently here.
pub fn item_key(schema: &KeySchema, item: &Item) -> Result<PrimaryKey, ApiError> {
    schema.key_of(item).map_err(|error| match error {
        ValidationError::KeyStringEmpty { name } => ApiError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {name}"
        )),
        ValidationError::KeyBinaryEmpty { name } => ApiError::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: {name}"
        )),
        other => other.into(),
    })
}

/// The key attributes of an item, as an item.
pub fn key_item(schema: &KeySchema, item: &Item) -> Item {
    std::iter::once(&schema.partition)
        .chain(schema.sort.as_ref())
        .filter_map(|attribute| {
            item.get(&attribute.name)
                .map(|value| (attribute.name.clone(), value.clone()))
        })
        .collect()
}

/// `ReturnValues`: which image of the item the response carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReturnValues {
    #[default]
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

impl ReturnValues {
    pub fn decode(input: &mut Members, checks: &mut Checks) -> Result<ReturnValues, ApiError> {
        let Some(text) = input.string("ReturnValues")? else {
            return Ok(ReturnValues::None);
        };
        checks.one_of("returnValues", &text, enums::RETURN_VALUE);
        Ok(match text.as_str() {
            "ALL_OLD" => ReturnValues::AllOld,
            "UPDATED_OLD" => ReturnValues::UpdatedOld,
            "ALL_NEW" => ReturnValues::AllNew,
            "UPDATED_NEW" => ReturnValues::UpdatedNew,
            _ => ReturnValues::None,
        })
    }

    /// `PutItem` and `DeleteItem` accept only `NONE` and `ALL_OLD`.
    pub fn only_old(self) -> Result<ReturnValues, ApiError> {
        match self {
            ReturnValues::None | ReturnValues::AllOld => Ok(self),
            _ => Err(ApiError::validation(
                "ReturnValues can only be ALL_OLD or NONE",
            )),
        }
    }
}

/// `ReturnValuesOnConditionCheckFailure`: whether a failed condition
/// returns the item it failed on.
pub fn return_old_on_failure(input: &mut Members, checks: &mut Checks) -> Result<bool, ApiError> {
    let Some(text) = input.string("ReturnValuesOnConditionCheckFailure")? else {
        return Ok(false);
    };
    checks.one_of(
        "returnValuesOnConditionCheckFailure",
        &text,
        enums::RETURN_VALUES_ON_CONDITION_CHECK_FAILURE,
    );
    Ok(text == "ALL_OLD")
}

/// `ReturnItemCollectionMetrics`: validated; it only has output for
/// tables with local secondary indexes (step 6).
pub fn item_collection_metrics(input: &mut Members, checks: &mut Checks) -> Result<(), ApiError> {
    if let Some(text) = input.string("ReturnItemCollectionMetrics")? {
        checks.one_of(
            "returnItemCollectionMetrics",
            &text,
            enums::RETURN_ITEM_COLLECTION_METRICS,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use step01_kv::key::{KeyAttribute, KeyType};

    fn schema() -> KeySchema {
        KeySchema {
            partition: KeyAttribute {
                name: "pk".into(),
                key_type: KeyType::S,
            },
            sort: Some(KeyAttribute {
                name: "sk".into(),
                key_type: KeyType::N,
            }),
        }
    }

    fn item(json: Json) -> Item {
        parse_item(json.as_object().unwrap().clone()).unwrap()
    }

    #[test]
    fn keys_must_match_the_schema_exactly() {
        let good = item(json!({"pk": {"S": "a"}, "sk": {"N": "1"}}));
        assert!(primary_key(&schema(), &good).is_ok());
        for bad in [
            json!({"pk": {"S": "a"}}),
            json!({"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}}),
            json!({"pk": {"N": "1"}, "sk": {"N": "1"}}),
            json!({"pk": {"S": "a"}, "other": {"N": "1"}}),
        ] {
            let error = primary_key(&schema(), &item(bad)).unwrap_err();
            assert_eq!(
                error.message.as_deref(),
                Some("The provided key element does not match the schema")
            );
        }
        let empty = item(json!({"pk": {"S": ""}, "sk": {"N": "1"}}));
        assert_eq!(
            primary_key(&schema(), &empty)
                .unwrap_err()
                .message
                .as_deref(),
            Some(
                "One or more parameter values were invalid: The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"
            )
        );
    }

    #[test]
    fn put_item_key_messages() {
        let missing = item(json!({"pk": {"S": "a"}}));
        assert_eq!(
            item_key(&schema(), &missing)
                .unwrap_err()
                .message
                .as_deref(),
            Some("One or more parameter values were invalid: Missing the key sk in the item")
        );
        let wrong = item(json!({"pk": {"N": "1"}, "sk": {"N": "1"}}));
        assert_eq!(
            item_key(&schema(), &wrong).unwrap_err().message.as_deref(),
            Some(
                "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"
            )
        );
        let empty = item(json!({"pk": {"S": ""}, "sk": {"N": "1"}}));
        assert!(
            item_key(&schema(), &empty)
                .unwrap_err()
                .message
                .unwrap()
                .starts_with("One or more parameter values are not valid.")
        );
    }
}
