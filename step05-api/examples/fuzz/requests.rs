//! Request bodies for every operation: the operation's real shape (table
//! names, keys, items, expressions, legacy parameters, paging members),
//! then mutated member by member (wrong JSON types, huge and negative
//! numbers, deep nesting, unknown members) and byte by byte (truncation,
//! invalid UTF-8, duplicated keys, a body that is not an object).

use serde_json::{Map, Value as Json, json};

use crate::legacy;
use crate::rng::Rng;
use crate::text::{self, Language};
use crate::values::{self, KeyShape};

/// Tables created before the first case; requests mostly name these.
pub const FIXTURES: [(&str, KeyShape); 3] = [
    (
        "fz_hash",
        KeyShape {
            hash: ("pk", "S"),
            range: None,
        },
    ),
    (
        "fz_range",
        KeyShape {
            hash: ("pk", "S"),
            range: Some(("sk", "N")),
        },
    ),
    (
        "fz_bin",
        KeyShape {
            hash: ("pk", "B"),
            range: Some(("sk", "S")),
        },
    ),
];

/// Tables that cases may create, change and delete: a small pool, so the
/// number of tables stays bounded however long the run.
const SCRATCH_TABLES: &[&str] = &["fz_tmp_0", "fz_tmp_1", "fz_tmp_2"];

/// Names that are no table, or no valid name.
const ODD_TABLE_NAMES: &[&str] = &[
    "",
    "ab",
    "fz_missing",
    "bad name!",
    "fz_hash ",
    "FZ_HASH",
    "arn:aws:dynamodb:us-east-1:000000000000:table/",
    "arn:aws:dynamodb:us-east-1:000000000000:table/fz_hash/index/x",
    "arn:aws:dynamodb:eu-west-1:000000000000:table/fz_hash",
    "arn:",
    "é",
];

/// What a raw JSON number marker looks like once serialized: see [`raw`].
const RAW_MARKER: &str = "\\u0001raw:";

/// A member whose JSON text is `text` exactly, even where `serde_json`
/// cannot hold the value (`1e400`, 40-digit integers, `-0`). The body is
/// serialized with the marker, then [`splice_raw`] swaps the text in.
pub fn raw(text: &str) -> Json {
    Json::String(format!("\u{1}raw:{text}"))
}

/// Replaces every raw marker string by its text.
pub fn splice_raw(serialized: &str) -> String {
    let mut out = String::with_capacity(serialized.len());
    let mut rest = serialized;
    // Bounded: each turn consumes at least the marker.
    while let Some(start) = rest.find(&format!("\"{RAW_MARKER}")) {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1 + RAW_MARKER.len()..];
        let Some(end) = after.find('"') else {
            out.push_str(&rest[start..]);
            return out;
        };
        out.push_str(&after[..end]);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// An integer member: usually sensible, often at or past a limit.
fn integer(rng: &mut Rng) -> Json {
    match rng.below(12) {
        0 => raw(rng.pick::<&str>(&[
            "1e400",
            "-1e400",
            "123456789012345678901234567890",
            "-0",
            "1.0",
            "1e2",
            "0.5",
            "9223372036854775808",
            "-9223372036854775809",
            "18446744073709551616",
        ])),
        1 => json!(rng.between(i64::MIN, i64::MAX)),
        2 => json!(*rng.pick(&[0, -1, 2147483647, 2147483648_i64, 40000, 1000000])),
        3 => values::any_json(rng, 1),
        _ => json!(rng.between(1, 10)),
    }
}

fn boolean(rng: &mut Rng) -> Json {
    if rng.chance(1, 10) {
        values::any_json(rng, 1)
    } else {
        json!(rng.chance(1, 2))
    }
}

/// An enum member: one of `valid`, or something else.
fn enumeration(rng: &mut Rng, valid: &[&str]) -> Json {
    match rng.below(10) {
        0 => values::any_json(rng, 1),
        1 => json!(rng.pick(&["", "none", "ALL", "TOTAL ", "x"])),
        _ => json!(*rng.pick(valid)),
    }
}

/// A table name for an operation that reads or writes items.
fn table_name(rng: &mut Rng) -> (Json, KeyShape) {
    let (name, shape) = *rng.pick(&FIXTURES);
    let json = match rng.below(20) {
        0 => json!(*rng.pick(ODD_TABLE_NAMES)),
        1 => json!(format!(
            "arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
        )),
        2 => json!(*rng.pick(SCRATCH_TABLES)),
        3 => values::any_json(rng, 1),
        4 => json!("t".repeat(rng.below(1100))),
        _ => json!(name),
    };
    (json, shape)
}

/// A table name for an operation that creates, changes or deletes tables:
/// scratch tables only, so the fixtures survive.
fn scratch_table_name(rng: &mut Rng) -> Json {
    match rng.below(12) {
        0 => json!(*rng.pick(ODD_TABLE_NAMES)),
        1 => values::any_json(rng, 1),
        2 => json!(format!(
            "arn:aws:dynamodb:us-east-1:000000000000:table/{}",
            rng.pick(SCRATCH_TABLES)
        )),
        _ => json!(*rng.pick(SCRATCH_TABLES)),
    }
}

/// A resource ARN for the tagging operations.
fn resource_arn(rng: &mut Rng) -> Json {
    match rng.below(8) {
        0 => json!(*rng.pick(ODD_TABLE_NAMES)),
        1 => values::any_json(rng, 1),
        2 => json!(format!(
            "arn:aws:dynamodb:us-east-1:000000000000:table/{}",
            rng.pick(&FIXTURES).0
        )),
        _ => json!(format!(
            "arn:aws:dynamodb:us-east-1:000000000000:table/{}",
            rng.pick(SCRATCH_TABLES)
        )),
    }
}

/// Adds a condition: expression-style, legacy, both (refused), or none.
fn condition_members(rng: &mut Rng, body: &mut Map<String, Json>, uses_values: &mut bool) {
    match rng.below(6) {
        0 | 1 => {
            body.insert(
                "ConditionExpression".into(),
                json!(text::text(rng, Language::Condition)),
            );
            *uses_values = true;
        }
        2 => {
            body.insert("Expected".into(), legacy::expected(rng));
            if let Some(operator) = legacy::conditional_operator(rng) {
                body.insert("ConditionalOperator".into(), operator);
            }
        }
        3 if rng.chance(1, 4) => {
            body.insert(
                "ConditionExpression".into(),
                json!(text::text(rng, Language::Condition)),
            );
            body.insert("Expected".into(), legacy::expected(rng));
        }
        _ => {}
    }
}

/// Adds a projection, expression-style or legacy.
fn projection_members(rng: &mut Rng, body: &mut Map<String, Json>, uses_names: &mut bool) {
    match rng.below(5) {
        0 | 1 => {
            body.insert(
                "ProjectionExpression".into(),
                json!(text::text(rng, Language::Projection)),
            );
            *uses_names = true;
        }
        2 => {
            body.insert("AttributesToGet".into(), legacy::attributes_to_get(rng));
        }
        _ => {}
    }
}

/// The expression members a body may have.
const EXPRESSION_MEMBERS: [&str; 5] = [
    "ConditionExpression",
    "UpdateExpression",
    "ProjectionExpression",
    "KeyConditionExpression",
    "FilterExpression",
];

/// Adds the placeholder maps for the body's expressions when it has any
/// (and, now and then, when it has none).
fn placeholder_members(rng: &mut Rng, body: &mut Map<String, Json>, used: bool) {
    if used || rng.chance(1, 10) {
        let texts: Vec<&str> = EXPRESSION_MEMBERS
            .iter()
            .filter_map(|member| body.get(*member)?.as_str())
            .collect();
        let (names, values) = text::maps_for(rng, &texts);
        if let Some(names) = names {
            body.insert("ExpressionAttributeNames".into(), names);
        }
        if let Some(values) = values {
            body.insert("ExpressionAttributeValues".into(), values);
        }
    }
}

fn return_members(rng: &mut Rng, body: &mut Map<String, Json>) {
    if rng.chance(1, 3) {
        body.insert(
            "ReturnValues".into(),
            enumeration(
                rng,
                &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
            ),
        );
    }
    if rng.chance(1, 3) {
        body.insert(
            "ReturnConsumedCapacity".into(),
            enumeration(rng, &["INDEXES", "TOTAL", "NONE"]),
        );
    }
    if rng.chance(1, 5) {
        body.insert(
            "ReturnItemCollectionMetrics".into(),
            enumeration(rng, &["SIZE", "NONE"]),
        );
    }
    if rng.chance(1, 5) {
        body.insert(
            "ReturnValuesOnConditionCheckFailure".into(),
            enumeration(rng, &["ALL_OLD", "NONE"]),
        );
    }
}

/// The members Query and Scan share.
fn read_members(rng: &mut Rng, body: &mut Map<String, Json>, shape: KeyShape, used: &mut bool) {
    projection_members(rng, body, used);
    if rng.chance(1, 3) {
        body.insert("Limit".into(), integer(rng));
    }
    if rng.chance(1, 4) {
        body.insert(
            "Select".into(),
            enumeration(
                rng,
                &[
                    "ALL_ATTRIBUTES",
                    "ALL_PROJECTED_ATTRIBUTES",
                    "SPECIFIC_ATTRIBUTES",
                    "COUNT",
                ],
            ),
        );
    }
    if rng.chance(1, 4) {
        body.insert("ConsistentRead".into(), boolean(rng));
    }
    if rng.chance(1, 5) {
        body.insert(
            "ExclusiveStartKey".into(),
            Json::Object(values::key(rng, shape)),
        );
    }
    if rng.chance(1, 12) {
        body.insert("IndexName".into(), json!(*rng.pick(&["idx", "", "a"])));
    }
    if let Some(operator) = legacy::conditional_operator(rng)
        && rng.chance(1, 3)
    {
        body.insert("ConditionalOperator".into(), operator);
    }
}

fn key_schema_element(rng: &mut Rng, name: &str, key_type: &str) -> Json {
    let mut element = Map::new();
    if !rng.chance(1, 20) {
        element.insert("AttributeName".into(), json!(name));
    }
    if !rng.chance(1, 20) {
        element.insert("KeyType".into(), enumeration(rng, &[key_type]));
    }
    Json::Object(element)
}

fn create_table(rng: &mut Rng, body: &mut Map<String, Json>) {
    body.insert("TableName".into(), scratch_table_name(rng));
    let hash = *rng.pick(&["pk", "id", "pk", ""]);
    let range = rng.chance(1, 2).then(|| *rng.pick(&["sk", "pk", "ts"]));
    let mut definitions = vec![json!({
        "AttributeName": hash,
        "AttributeType": enumeration(rng, &["S", "N", "B"]),
    })];
    let mut schema = vec![key_schema_element(rng, hash, "HASH")];
    if let Some(range) = range {
        definitions.push(json!({
            "AttributeName": range,
            "AttributeType": enumeration(rng, &["S", "N", "B"]),
        }));
        schema.push(key_schema_element(rng, range, "RANGE"));
    }
    if rng.chance(1, 8) {
        definitions.push(json!({ "AttributeName": "extra", "AttributeType": "S" }));
    }
    if rng.chance(1, 10) {
        schema.reverse();
    }
    body.insert("AttributeDefinitions".into(), json!(definitions));
    body.insert("KeySchema".into(), json!(schema));
    billing_members(rng, body);
    if rng.chance(1, 6) {
        body.insert("Tags".into(), tags(rng));
    }
    if rng.chance(1, 10) {
        let member = *rng.pick(&[
            "LocalSecondaryIndexes",
            "GlobalSecondaryIndexes",
            "StreamSpecification",
            "SSESpecification",
            "TableClass",
            "DeletionProtectionEnabled",
        ]);
        body.insert(member.into(), values::any_json(rng, 2));
    }
}

fn billing_members(rng: &mut Rng, body: &mut Map<String, Json>) {
    if rng.chance(2, 3) {
        body.insert(
            "BillingMode".into(),
            enumeration(rng, &["PAY_PER_REQUEST", "PROVISIONED"]),
        );
    }
    if rng.chance(1, 2) {
        body.insert(
            "ProvisionedThroughput".into(),
            json!({
                "ReadCapacityUnits": integer(rng),
                "WriteCapacityUnits": integer(rng),
            }),
        );
    }
}

fn tags(rng: &mut Rng) -> Json {
    let count = rng.below(4);
    let list: Vec<Json> = (0..count)
        .map(|_| {
            let key = match rng.below(6) {
                0 => json!(""),
                1 => json!("k".repeat(rng.below(200))),
                2 => values::any_json(rng, 0),
                _ => json!(*rng.pick(&["env", "team", "aws:x", "é"])),
            };
            json!({ "Key": key, "Value": values::string(rng) })
        })
        .collect();
    Json::Array(list)
}

/// The body of a well-shaped request for `operation`.
fn shaped(rng: &mut Rng, operation: &str) -> Map<String, Json> {
    let mut body = Map::new();
    let mut used = false;
    match operation {
        "PutItem" => {
            let (table, shape) = table_name(rng);
            body.insert("TableName".into(), table);
            body.insert("Item".into(), Json::Object(values::item(rng, shape)));
            condition_members(rng, &mut body, &mut used);
            return_members(rng, &mut body);
        }
        "GetItem" => {
            let (table, shape) = table_name(rng);
            body.insert("TableName".into(), table);
            body.insert("Key".into(), Json::Object(values::key(rng, shape)));
            projection_members(rng, &mut body, &mut used);
            if rng.chance(1, 3) {
                body.insert("ConsistentRead".into(), boolean(rng));
            }
        }
        "UpdateItem" => {
            let (table, shape) = table_name(rng);
            body.insert("TableName".into(), table);
            body.insert("Key".into(), Json::Object(values::key(rng, shape)));
            if rng.chance(3, 4) {
                body.insert(
                    "UpdateExpression".into(),
                    json!(text::text(rng, Language::Update)),
                );
                used = true;
            } else {
                body.insert("AttributeUpdates".into(), legacy::attribute_updates(rng));
            }
            condition_members(rng, &mut body, &mut used);
            return_members(rng, &mut body);
        }
        "DeleteItem" => {
            let (table, shape) = table_name(rng);
            body.insert("TableName".into(), table);
            body.insert("Key".into(), Json::Object(values::key(rng, shape)));
            condition_members(rng, &mut body, &mut used);
            return_members(rng, &mut body);
        }
        "Query" => {
            let (table, shape) = table_name(rng);
            body.insert("TableName".into(), table);
            if rng.chance(3, 4) {
                body.insert(
                    "KeyConditionExpression".into(),
                    json!(text::text(rng, Language::KeyCondition)),
                );
                used = true;
            } else {
                body.insert("KeyConditions".into(), legacy::key_conditions(rng));
            }
            match rng.below(4) {
                0 => {
                    body.insert(
                        "FilterExpression".into(),
                        json!(text::text(rng, Language::Condition)),
                    );
                    used = true;
                }
                1 => {
                    body.insert("QueryFilter".into(), legacy::filter(rng));
                }
                _ => {}
            }
            if rng.chance(1, 4) {
                body.insert("ScanIndexForward".into(), boolean(rng));
            }
            read_members(rng, &mut body, shape, &mut used);
        }
        "Scan" => {
            let (table, shape) = table_name(rng);
            body.insert("TableName".into(), table);
            match rng.below(4) {
                0 => {
                    body.insert(
                        "FilterExpression".into(),
                        json!(text::text(rng, Language::Condition)),
                    );
                    used = true;
                }
                1 => {
                    body.insert("ScanFilter".into(), legacy::filter(rng));
                }
                _ => {}
            }
            if rng.chance(1, 4) {
                let (segment, total) = if rng.chance(1, 4) {
                    (integer(rng), integer(rng))
                } else {
                    (
                        json!(*rng.pick(&[0, 1, 2, 999_999, 1_000_000, -1])),
                        json!(*rng.pick(&[1, 2, 3, 1_000_000, 1_000_001, 0])),
                    )
                };
                body.insert("Segment".into(), segment);
                body.insert("TotalSegments".into(), total);
            }
            read_members(rng, &mut body, shape, &mut used);
        }
        "BatchGetItem" => {
            let mut tables = Map::new();
            for _ in 0..rng.below(3) {
                let (table, shape) = table_name(rng);
                let name = table.as_str().unwrap_or("fz_hash").to_string();
                let keys: Vec<Json> = (0..rng.below(4))
                    .map(|_| Json::Object(values::key(rng, shape)))
                    .collect();
                let mut entry = Map::new();
                entry.insert("Keys".into(), json!(keys));
                let mut entry_used = false;
                projection_members(rng, &mut entry, &mut entry_used);
                if entry_used && rng.chance(3, 4) {
                    let projection = entry
                        .get("ProjectionExpression")
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_string();
                    if let (Some(names), _) = text::maps_for(rng, &[&projection]) {
                        entry.insert("ExpressionAttributeNames".into(), names);
                    }
                }
                if rng.chance(1, 4) {
                    entry.insert("ConsistentRead".into(), boolean(rng));
                }
                tables.insert(name, Json::Object(entry));
            }
            body.insert("RequestItems".into(), Json::Object(tables));
            return_members(rng, &mut body);
        }
        "BatchWriteItem" => {
            let mut tables = Map::new();
            for _ in 0..rng.below(3) {
                let (table, shape) = table_name(rng);
                let name = table.as_str().unwrap_or("fz_hash").to_string();
                let writes: Vec<Json> = (0..rng.below(5))
                    .map(|_| match rng.below(5) {
                        0 | 1 => json!({ "PutRequest": { "Item": values::item(rng, shape) } }),
                        2 | 3 => json!({ "DeleteRequest": { "Key": values::key(rng, shape) } }),
                        _ => json!({
                            "PutRequest": { "Item": values::item(rng, shape) },
                            "DeleteRequest": { "Key": values::key(rng, shape) },
                        }),
                    })
                    .collect();
                tables.insert(name, json!(writes));
            }
            body.insert("RequestItems".into(), Json::Object(tables));
            return_members(rng, &mut body);
        }
        "CreateTable" => create_table(rng, &mut body),
        "UpdateTable" => {
            body.insert("TableName".into(), scratch_table_name(rng));
            billing_members(rng, &mut body);
            if rng.chance(1, 6) {
                body.insert("DeletionProtectionEnabled".into(), boolean(rng));
            }
        }
        "DeleteTable" => {
            body.insert("TableName".into(), scratch_table_name(rng));
        }
        "DescribeTable" => {
            let (table, _) = table_name(rng);
            body.insert("TableName".into(), table);
        }
        "ListTables" => {
            if rng.chance(1, 2) {
                body.insert("Limit".into(), integer(rng));
            }
            if rng.chance(1, 3) {
                let (table, _) = table_name(rng);
                body.insert("ExclusiveStartTableName".into(), table);
            }
        }
        "TagResource" => {
            body.insert("ResourceArn".into(), resource_arn(rng));
            body.insert("Tags".into(), tags(rng));
        }
        "UntagResource" => {
            body.insert("ResourceArn".into(), resource_arn(rng));
            let keys: Vec<Json> = (0..rng.below(3))
                .map(|_| json!(*rng.pick(&["env", "team", "", "aws:x"])))
                .collect();
            body.insert("TagKeys".into(), json!(keys));
        }
        "ListTagsOfResource" => {
            body.insert("ResourceArn".into(), resource_arn(rng));
            if rng.chance(1, 4) {
                body.insert("NextToken".into(), values::any_json(rng, 0));
            }
        }
        _ => {
            // DescribeLimits, DescribeEndpoints, and operations of later
            // steps: no members, so only mutations give them any.
        }
    }
    placeholder_members(rng, &mut body, used);
    body
}

/// Member-level damage: a member of the wrong type, removed, unknown,
/// deeply nested or huge.
fn mutate_members(rng: &mut Rng, body: &mut Map<String, Json>) {
    let keys: Vec<String> = body.keys().cloned().collect();
    let target = (!keys.is_empty()).then(|| keys[rng.below(keys.len())].clone());
    match (rng.below(7), target) {
        (0, Some(key)) => {
            body.insert(key, values::any_json(rng, 2));
        }
        (1, Some(key)) => {
            body.remove(&key);
        }
        (2, Some(key)) => {
            let mut value = json!(1);
            for _ in 0..rng.below(140) {
                value = if rng.chance(1, 2) {
                    json!([value])
                } else {
                    json!({ "a": value })
                };
            }
            body.insert(key, value);
        }
        (3, Some(key)) => {
            body.insert(key, json!("x".repeat(rng.below(500_000))));
        }
        (4, Some(key)) => {
            body.insert(key, integer(rng));
        }
        _ => {
            body.insert(
                (*rng.pick(&["Unknown", "tableName", "", "__type"])).to_string(),
                values::any_json(rng, 1),
            );
        }
    }
}

/// Byte-level damage to a serialized body.
fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) {
    match rng.below(8) {
        0 => {
            let at = rng.below(bytes.len() + 1);
            bytes.truncate(at);
        }
        1 => {
            if !bytes.is_empty() {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next_u64() as u8;
            }
        }
        2 => {
            let at = rng.below(bytes.len() + 1);
            let insert: &[u8] = rng.pick::<&[u8]>(&[
                b"\xff".as_slice(),
                b"\xc3",
                b"\xed\xa0\x80",
                b"\\ud800",
                b"\"",
                b"}",
                b",",
                b"\0",
            ]);
            bytes.splice(at..at, insert.iter().copied());
        }
        3 => {
            // A duplicated member: the later one wins in serde_json.
            if bytes.first() == Some(&b'{') {
                let member: &[u8] = rng.pick::<&[u8]>(&[
                    b"\"TableName\":\"fz_hash\",".as_slice(),
                    b"\"TableName\":1,",
                    b"\"Key\":{},",
                ]);
                bytes.splice(1..1, member.iter().copied());
            }
        }
        4 => {
            bytes.splice(0..0, b"\xef\xbb\xbf".iter().copied());
        }
        5 => {
            *bytes = rng
                .pick::<&[u8]>(&[
                    b"[]".as_slice(),
                    b"1",
                    b"\"x\"",
                    b"null",
                    b"",
                    b"   ",
                    b"{",
                    b"{}}",
                    b"{\"a\":1e999999}",
                    b"{\"TableName\":\"\\ud800\"}",
                ])
                .to_vec();
        }
        6 => {
            let depth = 100 + rng.below(60);
            let mut nested = Vec::new();
            nested.extend(std::iter::repeat_n(b'[', depth));
            nested.extend(std::iter::repeat_n(b']', depth));
            *bytes = nested;
        }
        _ => {
            let len = rng.below(64);
            *bytes = (0..len).map(|_| rng.next_u64() as u8).collect();
        }
    }
}

/// A whole body for `operation`: shaped, then maybe damaged.
pub fn body(rng: &mut Rng, operation: &str) -> Vec<u8> {
    let mut members = shaped(rng, operation);
    if rng.chance(1, 4) {
        for _ in 0..(1 + rng.below(2)) {
            mutate_members(rng, &mut members);
        }
    }
    let mut bytes = splice_raw(&Json::Object(members).to_string()).into_bytes();
    if rng.chance(1, 12) {
        mutate_bytes(rng, &mut bytes);
    }
    bytes
}

/// The fixture tables' creation requests, in order.
pub fn fixture_requests() -> Vec<(&'static str, Json)> {
    FIXTURES
        .iter()
        .map(|(name, shape)| {
            let mut definitions = vec![json!({
                "AttributeName": shape.hash.0, "AttributeType": shape.hash.1,
            })];
            let mut schema = vec![json!({ "AttributeName": shape.hash.0, "KeyType": "HASH" })];
            if let Some((range, range_type)) = shape.range {
                definitions.push(json!({ "AttributeName": range, "AttributeType": range_type }));
                schema.push(json!({ "AttributeName": range, "KeyType": "RANGE" }));
            }
            (
                "CreateTable",
                json!({
                    "TableName": name,
                    "AttributeDefinitions": definitions,
                    "KeySchema": schema,
                    "BillingMode": "PAY_PER_REQUEST",
                }),
            )
        })
        .collect()
}
