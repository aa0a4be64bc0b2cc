//! The pre-2014 parameters as JSON: `Expected`, `QueryFilter`/`ScanFilter`,
//! `KeyConditions`, `AttributesToGet`, `AttributeUpdates` and
//! `ConditionalOperator`, with the members each may carry, valid or not.

use serde_json::{Map, Value as Json, json};

use crate::rng::Rng;
use crate::values;

const OPERATORS: &[&str] = &[
    "EQ",
    "NE",
    "LT",
    "LE",
    "GT",
    "GE",
    "IN",
    "BETWEEN",
    "NULL",
    "NOT_NULL",
    "CONTAINS",
    "NOT_CONTAINS",
    "BEGINS_WITH",
    "eq",
    "",
    "LIKE",
];

/// A list of 0 to 3 values, usually of one type (operators demand it).
fn value_list(rng: &mut Rng) -> Json {
    if rng.chance(1, 20) {
        return values::any_json(rng, 1);
    }
    let count = rng.below(4);
    let same = rng.chance(3, 4);
    let first = values::attribute_value(rng, 2);
    let list: Vec<Json> = (0..count)
        .map(|_| {
            if same {
                first.clone()
            } else {
                values::attribute_value(rng, 2)
            }
        })
        .collect();
    Json::Array(list)
}

/// One `{ComparisonOperator, AttributeValueList}`.
fn comparison(rng: &mut Rng) -> Json {
    let mut entry = Map::new();
    if !rng.chance(1, 15) {
        let operator = if rng.chance(1, 20) {
            values::any_json(rng, 0)
        } else {
            json!(*rng.pick(OPERATORS))
        };
        entry.insert("ComparisonOperator".into(), operator);
    }
    if !rng.chance(1, 6) {
        entry.insert("AttributeValueList".into(), value_list(rng));
    }
    Json::Object(entry)
}

/// Names for a legacy map: from the pool, and now and then a key name.
fn legacy_names(rng: &mut Rng) -> Vec<String> {
    let count = rng.below(4);
    (0..count).map(|_| values::attribute_name(rng)).collect()
}

/// `Expected`.
pub fn expected(rng: &mut Rng) -> Json {
    let mut map = Map::new();
    for name in legacy_names(rng) {
        let mut entry = Map::new();
        match rng.below(4) {
            0 => {
                if let Json::Object(comparison) = comparison(rng) {
                    entry = comparison;
                }
            }
            1 => {
                entry.insert("Exists".into(), json!(false));
            }
            _ => {
                entry.insert("Value".into(), values::attribute_value(rng, 2));
            }
        }
        if rng.chance(1, 6) {
            entry.insert("Exists".into(), values::any_json(rng, 0));
        }
        if rng.chance(1, 8) {
            entry.insert("Value".into(), values::attribute_value(rng, 1));
        }
        map.insert(name, Json::Object(entry));
    }
    if rng.chance(1, 20) {
        return values::any_json(rng, 1);
    }
    Json::Object(map)
}

/// `QueryFilter` or `ScanFilter`.
pub fn filter(rng: &mut Rng) -> Json {
    if rng.chance(1, 20) {
        return values::any_json(rng, 1);
    }
    let mut map = Map::new();
    for name in legacy_names(rng) {
        map.insert(name, comparison(rng));
    }
    Json::Object(map)
}

/// `KeyConditions`, mostly on the fixture tables' key names.
pub fn key_conditions(rng: &mut Rng) -> Json {
    if rng.chance(1, 20) {
        return values::any_json(rng, 1);
    }
    let mut map = Map::new();
    let count = rng.below(4);
    for _ in 0..count {
        let name = (*rng.pick(&["pk", "sk", "pk", "sk", "a"])).to_string();
        map.insert(name, comparison(rng));
    }
    Json::Object(map)
}

/// `AttributesToGet`.
pub fn attributes_to_get(rng: &mut Rng) -> Json {
    if rng.chance(1, 15) {
        return values::any_json(rng, 1);
    }
    let mut names: Vec<Json> = legacy_names(rng).into_iter().map(Json::String).collect();
    if rng.chance(1, 10) {
        names.push(values::any_json(rng, 0));
    }
    Json::Array(names)
}

/// `AttributeUpdates`.
pub fn attribute_updates(rng: &mut Rng) -> Json {
    if rng.chance(1, 20) {
        return values::any_json(rng, 1);
    }
    let mut map = Map::new();
    for name in legacy_names(rng) {
        let mut entry = Map::new();
        if !rng.chance(1, 4) {
            let action = if rng.chance(1, 20) {
                values::any_json(rng, 0)
            } else {
                json!(*rng.pick(&["PUT", "ADD", "DELETE", "put", "REPLACE"]))
            };
            entry.insert("Action".into(), action);
        }
        if !rng.chance(1, 4) {
            entry.insert("Value".into(), values::attribute_value(rng, 2));
        }
        map.insert(name, Json::Object(entry));
    }
    Json::Object(map)
}

/// `ConditionalOperator`, or none.
pub fn conditional_operator(rng: &mut Rng) -> Option<Json> {
    match rng.below(8) {
        0 => Some(json!("OR")),
        1 => Some(json!("AND")),
        2 => Some(values::any_json(rng, 0)),
        _ => None,
    }
}
