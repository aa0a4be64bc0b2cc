//! Expressions against data: conditions, updates, projections, key
//! conditions and the legacy parameters, through the public API.
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use step01_kv::key::{KeyAttribute, KeySchema, KeyType, KeyValue};
use step01_kv::value::{Item, item_from_json};
use step03_partitioning::layout::SortCondition;
use step05_api::expr::{ExpressionContext, ExpressionKind, legacy, project};

fn item(json: Value) -> Item {
    item_from_json(json).unwrap()
}

fn values() -> Value {
    json!({
        ":one": {"N": "1"}, ":two": {"N": "2"}, ":x": {"S": "x"}, ":ab": {"SS": ["a", "b"]},
        ":a": {"SS": ["a"]}, ":l": {"L": [{"N": "9"}]}, ":empty": {"L": []}, ":big": {"N": "9E125"},
        ":S": {"S": "S"}, ":L": {"S": "L"},
    })
}

fn ctx() -> ExpressionContext {
    ExpressionContext::new(Some(&json!({"#dot": "a.b"})), Some(&values())).unwrap()
}

fn stored() -> Item {
    item(json!({
        "pk": {"S": "k"}, "n": {"N": "5"}, "s": {"S": "xyz"}, "ss": {"SS": ["a", "c"]},
        "l": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}, "m": {"M": {"x": {"S": "x"}}},
        "a.b": {"S": "dotted"},
    }))
}

fn key() -> Item {
    item(json!({"pk": {"S": "k"}}))
}

#[test]
fn conditions_evaluate_with_dynamodb_semantics() {
    let table = [
        ("n = :one", false),
        ("n > :one", true),
        ("n <> :x", true),
        ("absent <> :x", true),
        ("absent = :x", false),
        ("s > :one", false),
        ("NOT s > :one", true),
        ("n BETWEEN :one AND :two", false),
        ("l[0] BETWEEN :one AND :two", true),
        ("s IN (:one, :x)", false),
        ("m.x IN (:one, :x)", true),
        ("contains(s, :x)", true),
        ("contains(ss, :x)", false),
        ("contains(l, :two)", true),
        ("begins_with(s, :x)", true),
        ("size(l) = :one", false),
        ("size(m) = :one", true),
        ("size(n) = :one", false),
        ("attribute_type(s, :S)", true),
        ("attribute_type(l, :L)", true),
        ("attribute_exists(#dot) AND attribute_not_exists(a.b)", true),
        ("attribute_exists(l[3])", false),
    ];
    let stored = stored();
    for (text, expected) in table {
        let condition = ctx()
            .parse_condition(text, ExpressionKind::Condition)
            .unwrap();
        assert_eq!(condition.evaluate(Some(&stored)), Ok(expected), "{text}");
    }
    let insert_only = ctx()
        .parse_condition("attribute_not_exists(pk)", ExpressionKind::Condition)
        .unwrap();
    assert_eq!(insert_only.evaluate(None), Ok(true));
    assert_eq!(insert_only.evaluate(Some(&stored)), Ok(false));
}

fn update(text: &str, old: Option<&Item>) -> Result<Item, String> {
    let update = ctx()
        .parse_update(text)
        .map_err(|e| e.message().to_string())?;
    update
        .apply(old, &key())
        .map_err(|e| e.message().to_string())
}

fn attribute(item: &Item, name: &str) -> Value {
    serde_json::to_value(&item[name]).unwrap()
}

#[test]
fn updates_apply_each_action() {
    let old = stored();
    let cases: &[(&str, &str, Value)] = &[
        ("SET n = n + :two", "n", json!({"N": "7"})),
        ("SET n = :one - n", "n", json!({"N": "-4"})),
        (
            "SET l[1] = :x",
            "l",
            json!({"L": [{"N": "1"}, {"S": "x"}, {"N": "3"}]}),
        ),
        (
            "SET l[7] = :x, l[5] = :one",
            "l",
            json!({"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}, {"N": "1"}, {"S": "x"}]}),
        ),
        (
            "SET l = list_append(:l, l)",
            "l",
            json!({"L": [{"N": "9"}, {"N": "1"}, {"N": "2"}, {"N": "3"}]}),
        ),
        ("SET z = if_not_exists(z, :one)", "z", json!({"N": "1"})),
        ("SET n = if_not_exists(n, :one)", "n", json!({"N": "5"})),
        (
            "SET m.y = m.x",
            "m",
            json!({"M": {"x": {"S": "x"}, "y": {"S": "x"}}}),
        ),
        ("SET #dot = :x", "a.b", json!({"S": "x"})),
        ("REMOVE l[0], l[2]", "l", json!({"L": [{"N": "2"}]})),
        (
            "REMOVE l[9], m.nothing",
            "l",
            json!({"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}),
        ),
        ("ADD n :two", "n", json!({"N": "7"})),
        ("ADD ss :ab", "ss", json!({"SS": ["a", "b", "c"]})),
        ("ADD fresh :ab", "fresh", json!({"SS": ["a", "b"]})),
        ("DELETE ss :a", "ss", json!({"SS": ["c"]})),
    ];
    for (text, name, expected) in cases {
        let after = update(text, Some(&old)).unwrap();
        assert_eq!(&attribute(&after, name), expected, "{text}");
    }
}

#[test]
fn updates_read_the_old_item_and_remove_emptied_sets() {
    let old = stored();
    let after = update("SET n = s, s = n", Some(&old)).unwrap();
    assert_eq!(attribute(&after, "n"), json!({"S": "xyz"}));
    assert_eq!(attribute(&after, "s"), json!({"N": "5"}));
    let after = update(
        "DELETE ss :ab",
        Some(&item(json!({"pk": {"S": "k"}, "ss": {"SS": ["a"]}}))),
    )
    .unwrap();
    assert!(!after.contains_key("ss"));
    let created = update("SET a = :one ADD c :two REMOVE x.y", None).unwrap();
    assert_eq!(
        serde_json::to_value(&created).unwrap(),
        json!({"a": {"N": "1"}, "c": {"N": "2"}, "pk": {"S": "k"}})
    );
}

#[test]
fn updates_report_data_errors() {
    let old = stored();
    let table = [
        (
            "SET n = nothing + :one",
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            "SET n = s + :one",
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET l = list_append(s, :l)",
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "ADD s :one",
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "DELETE n :a",
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET nothing.x = :one",
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET s[0] = :one",
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "REMOVE nothing.x",
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET pk = :x",
            "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key",
        ),
        (
            "SET n = :big + :big",
            "Number overflow. Attempting to store a number with magnitude larger than supported range",
        ),
    ];
    for (text, message) in table {
        assert_eq!(update(text, Some(&old)).unwrap_err(), message, "{text}");
    }
}

#[test]
fn projections_keep_structure_and_compact_lists() {
    let paths = ctx()
        .parse_projection("m.x, l[2], l[0], #dot, absent, m.nope")
        .unwrap();
    let projected = project(&stored(), &paths);
    assert_eq!(
        serde_json::to_value(&projected).unwrap(),
        json!({
            "a.b": {"S": "dotted"},
            "l": {"L": [{"N": "1"}, {"N": "3"}]},
            "m": {"M": {"x": {"S": "x"}}},
        })
    );
}

fn schema(sort: Option<KeyType>) -> KeySchema {
    KeySchema {
        partition: KeyAttribute {
            name: "pk".into(),
            key_type: KeyType::S,
        },
        sort: sort.map(|key_type| KeyAttribute {
            name: "sk".into(),
            key_type,
        }),
    }
}

#[test]
fn key_conditions_become_a_partition_key_and_a_sort_condition() {
    let k = KeyValue::S("x".into());
    let one = KeyValue::N("1".parse().unwrap());
    let two = KeyValue::N("2".parse().unwrap());
    let table = [
        ("pk = :x", SortCondition::All),
        (":x = pk", SortCondition::All),
        ("pk = :x AND sk < :one", SortCondition::Lt(one.clone())),
        (":one < sk AND pk = :x", SortCondition::Gt(one.clone())),
        (
            "pk = :x AND sk BETWEEN :one AND :two",
            SortCondition::Between(one.clone(), two),
        ),
        ("(pk = :x) AND (sk >= :one)", SortCondition::Ge(one)),
    ];
    for (text, sort) in table {
        let got = ctx()
            .parse_key_condition(text, &schema(Some(KeyType::N)))
            .unwrap();
        assert_eq!(got.partition, k, "{text}");
        assert_eq!(got.sort, sort, "{text}");
    }
}

#[test]
fn key_conditions_report_dynamodb_messages() {
    let table = [
        (
            "pk = :x OR sk = :one",
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            "pk = :x AND attribute_exists(sk)",
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        ),
        (
            "pk = :x AND size(sk) = :one",
            "KeyConditionExpressions cannot contain nested operations",
        ),
        (
            "pk.a = :x",
            "KeyConditionExpressions cannot have conditions on nested attributes",
        ),
        (
            "pk = sk",
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        ),
        (
            ":x = :x",
            "Invalid condition in KeyConditionExpression: No key attribute specified",
        ),
        (
            "pk = :x AND pk = :x",
            "KeyConditionExpressions must only contain one condition per key",
        ),
        ("sk = :one", "Query condition missed key schema element: pk"),
        (
            "pk = :x AND extra = :one",
            "Query condition missed key schema element: sk",
        ),
        ("pk > :x", "Query key condition not supported"),
        (
            "pk = :one",
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        (
            "pk = :x AND begins_with(sk, :x)",
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        (
            "pk = :x AND begins_with(sk, :one)",
            "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        ),
        (
            "pk = :x AND sk = :x",
            "One or more parameter values were invalid: Condition parameter type does not match schema type",
        ),
        (
            "pk = :x AND :one BETWEEN sk AND :two",
            "Invalid condition in KeyConditionExpression: BETWEEN operator must have the key attribute as its first operand",
        ),
        (
            "pk = :x AND",
            "Invalid KeyConditionExpression: Syntax error; token: \"<EOF>\", near: \"AND\"",
        ),
    ];
    for (text, message) in table {
        let error = ctx()
            .parse_key_condition(text, &schema(Some(KeyType::N)))
            .unwrap_err();
        assert_eq!(error.message(), message, "{text}");
    }
    let error = ctx()
        .parse_key_condition("pk = :x AND sk = :one", &schema(None))
        .unwrap_err();
    assert_eq!(error.message(), "Query key condition not supported");
}

#[test]
fn legacy_expected_becomes_a_condition() {
    let expected = json!({
        "n": {"Value": {"N": "5"}},
        "gone": {"Exists": false},
        "s": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "xy"}]},
    });
    let condition = legacy::expected(&expected, None).unwrap().unwrap();
    assert_eq!(condition.evaluate(Some(&stored())), Ok(true));
    let or = legacy::expected(
        &json!({"n": {"Value": {"N": "6"}}, "s": {"ComparisonOperator": "NOT_NULL"}}),
        Some(&json!("OR")),
    )
    .unwrap()
    .unwrap();
    assert_eq!(or.evaluate(Some(&stored())), Ok(true));
    assert_eq!(
        legacy::expected(&json!({}), None).unwrap_err().message(),
        "One or more parameter values were invalid: Expected must not be empty"
    );
}

#[test]
fn legacy_parameters_report_dynamodb_messages() {
    let invalid = "One or more parameter values were invalid:";
    let expected_errors = [
        (json!({"a": {"Value": {"S": "x"}, "AttributeValueList": [{"S": "x"}]}}), format!("{invalid} Value and AttributeValueList cannot be used together for Attribute: a")),
        (json!({"a": {"Exists": true, "ComparisonOperator": "NULL"}}), format!("{invalid} Exists and ComparisonOperator cannot be used together for Attribute: a")),
        (json!({"a": {"Exists": true}}), format!("{invalid} Value must be provided when Exists is true for Attribute: a")),
        (json!({"a": {}}), format!("{invalid} Value must be provided when Exists is true for Attribute: a")),
        (json!({"a": {"Exists": false, "Value": {"S": "x"}}}), format!("{invalid} Value cannot be used when Exists is false for Attribute: a")),
        (json!({"a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}]}}), format!("{invalid} Invalid number of argument(s) for the BETWEEN ComparisonOperator")),
        (json!({"a": {"ComparisonOperator": "NULL", "AttributeValueList": [{"N": "1"}]}}), format!("{invalid} Invalid number of argument(s) for the NULL ComparisonOperator")),
        (json!({"a": {"ComparisonOperator": "IN", "AttributeValueList": []}}), format!("{invalid} Invalid number of argument(s) for the IN ComparisonOperator")),
        (json!({"a": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"SS": ["x"]}]}}), format!("{invalid} ComparisonOperator CONTAINS is not valid for SS AttributeValue type")),
        (json!({"a": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"N": "1"}]}}), format!("{invalid} ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type")),
        (json!({"a": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"S": "x"}]}}), format!("{invalid} AttributeValues inside AttributeValueList must be of same type")),
        (json!({"a": {"ComparisonOperator": "LIKE", "AttributeValueList": []}}), "1 validation error detected: Value 'LIKE' at 'expected.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]".to_string()),
    ];
    for (json, message) in expected_errors {
        assert_eq!(
            legacy::expected(&json, None).unwrap_err().message(),
            message,
            "{json}"
        );
    }
    assert_eq!(
        legacy::filter(
            &json!({"a": {"AttributeValueList": []}}),
            None,
            "ScanFilter"
        )
        .unwrap_err()
        .message(),
        "1 validation error detected: Value null at 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must not be null"
    );
    assert_eq!(
        legacy::check_mixing(&["Expected"], &["ConditionExpression"])
            .unwrap_err()
            .message(),
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    );
    assert_eq!(legacy::check_mixing(&[], &["ConditionExpression"]), Ok(()));
    assert_eq!(
        legacy::attributes_to_get(&json!(["a", "b", "a"]))
            .unwrap_err()
            .message(),
        format!("{invalid} Duplicate value in attribute name: a")
    );
    let kc = json!({"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "x"}]}, "sk": {"ComparisonOperator": "NE", "AttributeValueList": [{"N": "1"}]}});
    assert_eq!(
        legacy::key_conditions(&kc, &schema(Some(KeyType::N)))
            .unwrap_err()
            .message(),
        "Attempted conditional constraint is not an indexable operation"
    );
}

#[test]
fn legacy_filters_key_conditions_and_updates_work() {
    let filter = json!({
        "n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "9"}]},
        "ss": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "b"}]},
    });
    let condition = legacy::filter(&filter, None, "QueryFilter")
        .unwrap()
        .unwrap();
    assert_eq!(condition.evaluate(Some(&stored())), Ok(true));
    let kc = json!({
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "x"}]},
        "sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "ab"}]},
    });
    let got = legacy::key_conditions(&kc, &schema(Some(KeyType::S))).unwrap();
    assert_eq!(
        got.sort,
        SortCondition::BeginsWith(KeyValue::S("ab".into()))
    );
    let updates = json!({
        "n": {"Action": "ADD", "Value": {"N": "1"}},
        "l": {"Action": "ADD", "Value": {"L": [{"S": "z"}]}},
        "fresh": {"Action": "ADD", "Value": {"L": [{"S": "z"}]}},
        "s": {"Action": "DELETE"},
        "ss": {"Action": "DELETE", "Value": {"SS": ["a"]}},
        "m": {"Value": {"S": "put"}},
    });
    let update = legacy::attribute_updates(&updates).unwrap();
    let after = update.apply(Some(&stored()), &key()).unwrap();
    assert_eq!(attribute(&after, "n"), json!({"N": "6"}));
    assert_eq!(
        attribute(&after, "l"),
        json!({"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}, {"S": "z"}]})
    );
    assert_eq!(attribute(&after, "fresh"), json!({"L": [{"S": "z"}]}));
    assert_eq!(attribute(&after, "ss"), json!({"SS": ["c"]}));
    assert_eq!(attribute(&after, "m"), json!({"S": "put"}));
    assert!(!after.contains_key("s"));
    assert_eq!(
        legacy::attribute_updates(&json!({"a": {"Action": "PUT"}}))
            .unwrap_err()
            .message(),
        "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified"
    );
}
