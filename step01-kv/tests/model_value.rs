//! Attribute values: DynamoDB JSON in and out, its validation errors, and
//! DynamoDB's equality.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod model_support;

use std::collections::{BTreeMap, BTreeSet};

use model_support::{attribute_value, item, num};
use proptest::prelude::*;
use serde_json::json;
use step01_kv::error::{Exception, ValidationError};
use step01_kv::value::{AttributeValue, Item, NESTING_DEPTH_MAX, item_from_json, validate_item};

fn parse(json: serde_json::Value) -> Result<AttributeValue, ValidationError> {
    AttributeValue::from_json(json)
}

/// The DynamoDB message for a value that must be rejected.
fn message(json: serde_json::Value) -> String {
    parse(json).unwrap_err().to_string()
}

#[test]
fn reads_every_type() {
    use AttributeValue as V;
    let cases = [
        (json!({"S": "Hello"}), V::S("Hello".into())),
        (json!({"S": ""}), V::S(String::new())),
        (json!({"N": "-12.5E3"}), V::N(num("-12500"))),
        (json!({"B": "AAEC"}), V::B(vec![0, 1, 2])),
        (json!({"B": ""}), V::B(vec![])),
        (json!({"BOOL": false}), V::Bool(false)),
        (json!({"NULL": true}), V::Null),
        (
            json!({"M": {"a": {"N": "1"}}}),
            V::M(BTreeMap::from([("a".to_string(), V::N(num("1")))])),
        ),
        (json!({"M": {}}), V::M(BTreeMap::new())),
        (
            json!({"L": [{"S": "x"}, {"N": "1"}]}),
            V::L(vec![V::S("x".into()), V::N(num("1"))]),
        ),
        (json!({"L": []}), V::L(vec![])),
        (
            json!({"SS": ["b", "a", ""]}),
            V::Ss(BTreeSet::from(["a".into(), "b".into(), String::new()])),
        ),
        (
            json!({"NS": ["1", "2.5"]}),
            V::Ns(BTreeSet::from([num("2.5"), num("1")])),
        ),
        (
            json!({"BS": ["AA==", "AQ=="]}),
            V::Bs(BTreeSet::from([vec![0], vec![1]])),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(input.clone()), Ok(expected), "{input}");
    }
}

#[test]
fn type_names_are_dynamodbs() {
    let names: Vec<_> = [
        json!({"S": "x"}),
        json!({"N": "1"}),
        json!({"B": "AA=="}),
        json!({"BOOL": true}),
        json!({"NULL": true}),
        json!({"M": {}}),
        json!({"L": []}),
        json!({"SS": ["a"]}),
        json!({"NS": ["1"]}),
        json!({"BS": ["AA=="]}),
    ]
    .into_iter()
    .map(|json| parse(json).unwrap().type_name())
    .collect();
    assert_eq!(
        names,
        ["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"]
    );
}

#[test]
fn writes_dynamodb_json() {
    let value = parse(json!({"M": {
        "n": {"N": "001.50"},
        "b": {"B": "AAEC"},
        "null": {"NULL": true},
        "ns": {"NS": ["10", "1e0", "-2"]},
        "bs": {"BS": ["AQ==", "AA=="]},
        "ss": {"SS": ["z", "a"]},
        "l": {"L": [{"BOOL": true}, {"S": ""}]}
    }}))
    .unwrap();
    assert_eq!(
        serde_json::to_value(&value).unwrap(),
        json!({"M": {
            "n": {"N": "1.5"},
            "b": {"B": "AAEC"},
            "null": {"NULL": true},
            "ns": {"NS": ["-2", "1", "10"]},
            "bs": {"BS": ["AA==", "AQ=="]},
            "ss": {"SS": ["a", "z"]},
            "l": {"L": [{"BOOL": true}, {"S": ""}]}
        }})
    );
}

#[test]
fn exactly_one_type_member() {
    assert_eq!(
        message(json!({})),
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
    );
    assert_eq!(
        message(json!({"S": "a", "N": "1"})),
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
    );
    // Unknown members are ignored and null members count as absent.
    assert_eq!(
        parse(json!({"S": "a", "Extra": 1})),
        Ok(AttributeValue::S("a".into()))
    );
    assert_eq!(
        parse(json!({"S": null, "N": "1"})),
        Ok(AttributeValue::N(num("1")))
    );
    assert_eq!(
        parse(json!({"s": "lower case"})),
        Err(ValidationError::AttributeValueEmpty)
    );
}

#[test]
fn null_must_be_true() {
    assert_eq!(
        message(json!({"NULL": false})),
        "One or more parameter values were invalid: Null attribute value types must have the value of true"
    );
}

#[test]
fn sets_must_be_non_empty() {
    assert_eq!(
        message(json!({"SS": []})),
        "One or more parameter values were invalid: An string set  may not be empty"
    );
    assert_eq!(
        message(json!({"NS": []})),
        "One or more parameter values were invalid: An number set  may not be empty"
    );
    assert_eq!(
        message(json!({"BS": []})),
        "One or more parameter values were invalid: Binary sets should not be empty"
    );
}

#[test]
fn sets_must_not_hold_duplicates() {
    assert_eq!(
        message(json!({"SS": ["a", "a"]})),
        "One or more parameter values were invalid: Input collection [a, a] contains duplicates."
    );
    // Numbers are compared by value.
    assert_eq!(
        parse(json!({"NS": ["1", "1.0"]})),
        Err(ValidationError::NumberSetDuplicates)
    );
    assert_eq!(
        parse(json!({"NS": ["1e3", "1000"]})),
        Err(ValidationError::NumberSetDuplicates)
    );
    assert_eq!(
        message(json!({"NS": ["1", "1.0"]})),
        "Input collection contains duplicates"
    );
    // Binaries are compared by decoded bytes.
    assert_eq!(
        parse(json!({"BS": ["AA==", "AA=="]})),
        Err(ValidationError::BinarySetDuplicates {
            members: vec!["AA==".into(), "AA==".into()]
        })
    );
    assert!(message(json!({"BS": ["AA==", "AA=="]})).contains("of type BS contains duplicates."));
    // Different strings that only look alike are different members.
    assert!(parse(json!({"SS": ["a", "A", "a "]})).is_ok());
}

#[test]
fn numbers_are_validated() {
    assert_eq!(
        message(json!({"N": "NaN"})),
        "The parameter cannot be converted to a numeric value: NaN"
    );
    assert_eq!(
        parse(json!({"N": "1e126"})),
        Err(ValidationError::NumberOverflow)
    );
    assert_eq!(
        parse(json!({"NS": ["1", "x"]})),
        Err(ValidationError::NumberNotNumeric { text: "x".into() })
    );
    assert_eq!(
        parse(json!({"L": [{"N": "1e-131"}]})),
        Err(ValidationError::NumberUnderflow)
    );
}

#[test]
fn wrong_json_types_are_serialization_errors() {
    let cases = [
        (
            json!({"N": 5}),
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            json!({"S": 5}),
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            json!({"S": true}),
            "TRUE_VALUE cannot be converted to String",
        ),
        (
            json!({"S": {}}),
            "Start of structure or map found where not expected",
        ),
        (json!({"S": []}), "Start of list found where not expected"),
        (
            json!({"BOOL": "true"}),
            "STRING_VALUE cannot be converted to Boolean",
        ),
        (
            json!({"NULL": 1}),
            "NUMBER_VALUE cannot be converted to Boolean",
        ),
        (
            json!({"NS": [1]}),
            "NUMBER_VALUE cannot be converted to String",
        ),
        (
            json!({"L": {}}),
            "Start of structure or map found where not expected",
        ),
        (json!({"M": []}), "Start of list found where not expected"),
        (json!({"M": "x"}), "Unexpected field type"),
        (json!("x"), "Unexpected field type"),
        (json!({"L": [null]}), "Unexpected null value"),
    ];
    for (input, expected) in cases {
        let error = parse(input.clone()).unwrap_err();
        assert_eq!(error.to_string(), expected, "{input}");
        assert_eq!(error.exception(), Exception::Serialization, "{input}");
    }
}

#[test]
fn base64_must_be_standard_and_padded() {
    let error = parse(json!({"B": "AAE"})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "Base64 encoded length is expected a multiple of 4 bytes but found: 3"
    );
    assert_eq!(error.exception().name(), "SerializationException");
    for bad in ["AA-_", "A===", "AA=A", "AA AA=="] {
        assert!(parse(json!({"B": bad})).is_err(), "{bad}");
        assert!(parse(json!({"BS": ["AA==", bad]})).is_err(), "{bad}");
    }
}

#[test]
fn names_must_be_non_empty_and_at_most_65535_bytes() {
    assert_eq!(
        parse(json!({"M": {"": {"S": "x"}}})),
        Err(ValidationError::AttributeNameEmpty)
    );
    assert_eq!(
        item_from_json(json!({"": {"S": "x"}})),
        Err(ValidationError::AttributeNameEmpty)
    );
    let named =
        |name: String| serde_json::Value::Object([(name, json!({"S": "x"}))].into_iter().collect());
    assert!(item_from_json(named("n".repeat(65535))).is_ok());
    assert_eq!(
        item_from_json(named("n".repeat(65536))),
        Err(ValidationError::AttributeNameTooLong { length: 65536 })
    );
}

/// A top-level value made of `levels` nested maps.
fn nested_maps(levels: usize) -> serde_json::Value {
    let mut value = json!({"S": "leaf"});
    for _ in 0..levels {
        value = json!({"M": {"m": value}});
    }
    value
}

#[test]
fn nesting_is_limited_to_32_levels() {
    assert_eq!(NESTING_DEPTH_MAX, 32);
    assert!(parse(nested_maps(31)).is_ok());
    let deepest = parse(nested_maps(32)).unwrap();
    assert_eq!(deepest.validate(), Ok(()));
    assert_eq!(
        message(nested_maps(33)),
        "Nesting Levels have exceeded supported limits"
    );
    let too_deep = AttributeValue::L(vec![parse(nested_maps(32)).unwrap()]);
    assert_eq!(too_deep.validate(), Err(ValidationError::NestingTooDeep));
    let mut list = json!({"S": "leaf"});
    for _ in 0..33 {
        list = json!({"L": [list]});
    }
    assert_eq!(parse(list), Err(ValidationError::NestingTooDeep));
}

#[test]
fn validate_catches_what_the_types_allow() {
    assert_eq!(
        AttributeValue::Ss(BTreeSet::new()).validate(),
        Err(ValidationError::StringSetEmpty)
    );
    assert_eq!(
        AttributeValue::L(vec![AttributeValue::Ns(BTreeSet::new())]).validate(),
        Err(ValidationError::NumberSetEmpty)
    );
    let bad_name = AttributeValue::M(BTreeMap::from([(String::new(), AttributeValue::Null)]));
    assert_eq!(
        bad_name.validate(),
        Err(ValidationError::AttributeNameEmpty)
    );
    let item = Item::from([("bs".to_string(), AttributeValue::Bs(BTreeSet::new()))]);
    assert_eq!(validate_item(&item), Err(ValidationError::BinarySetEmpty));
    let item = Item::from([(String::new(), AttributeValue::Null)]);
    assert_eq!(
        validate_item(&item),
        Err(ValidationError::AttributeNameEmpty)
    );
}

#[test]
fn equality_is_dynamodbs() {
    let eq = |a: serde_json::Value, b: serde_json::Value| parse(a).unwrap() == parse(b).unwrap();
    // Numbers by value, sets and maps regardless of order.
    assert!(eq(json!({"N": "1.0"}), json!({"N": "1"})));
    assert!(eq(json!({"NS": ["1", "2"]}), json!({"NS": ["2.0", "1"]})));
    assert!(eq(json!({"SS": ["a", "b"]}), json!({"SS": ["b", "a"]})));
    assert!(eq(
        json!({"M": {"a": {"N": "1"}, "b": {"M": {"x": {"S": "y"}, "z": {"NULL": true}}}}}),
        json!({"M": {"b": {"M": {"z": {"NULL": true}, "x": {"S": "y"}}}, "a": {"N": "1.00"}}})
    ));
    // Lists keep their order; types never mix.
    assert!(!eq(
        json!({"L": [{"N": "1"}, {"N": "2"}]}),
        json!({"L": [{"N": "2"}, {"N": "1"}]})
    ));
    assert!(!eq(json!({"S": "3"}), json!({"N": "3"})));
    assert!(!eq(json!({"N": "3"}), json!({"NS": ["3"]})));
    assert!(!eq(json!({"B": "AA=="}), json!({"BS": ["AA=="]})));
    assert!(!eq(json!({"L": []}), json!({"M": {}})));
}

#[test]
fn items_read_and_write_as_json_objects() {
    let item = item_from_json(json!({
        "shirt-color": {"S": "R"},
        "shirt-size": {"S": "M"}
    }))
    .unwrap();
    assert_eq!(item.len(), 2);
    assert_eq!(item["shirt-size"], AttributeValue::from("M"));
    assert_eq!(
        serde_json::to_string(&item).unwrap(),
        r#"{"shirt-color":{"S":"R"},"shirt-size":{"S":"M"}}"#
    );
    assert_eq!(
        item_from_json(json!([])),
        Err(ValidationError::JsonType {
            found: step01_kv::error::JsonType::List,
            expected: step01_kv::error::JsonType::Map
        })
    );
    // Through serde, errors keep DynamoDB's message.
    let error = serde_json::from_str::<Item>(r#"{"a":{"SS":[]}}"#).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("An string set  may not be empty")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_round_trips(value in attribute_value()) {
        prop_assert_eq!(value.validate(), Ok(()));
        let json = serde_json::to_value(&value).unwrap();
        prop_assert_eq!(AttributeValue::from_json(json.clone()), Ok(value.clone()));
        let text = serde_json::to_string(&value).unwrap();
        let back: AttributeValue = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, value);
    }

    #[test]
    fn item_json_round_trips(item in item()) {
        let json = serde_json::to_value(&item).unwrap();
        prop_assert_eq!(item_from_json(json), Ok(item.clone()));
        prop_assert_eq!(validate_item(&item), Ok(()));
    }
}
