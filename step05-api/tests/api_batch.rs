//! BatchGetItem and BatchWriteItem through the official SDK: round trips
//! over several tables, consumed capacity per table, the 16 MB response
//! and its unprocessed keys, the limits of 100 keys and 25 writes,
//! duplicates, and the validation errors provoked on purpose.
// Code outside #[test] functions unwraps too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;
mod support_query;

use std::collections::{BTreeSet, HashMap};

use api_common::{assert_error, create_table, n, s};
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, ReturnConsumedCapacity,
    WriteRequest,
};
use support_query::{item, text, write_all};

type Item = HashMap<String, AttributeValue>;

fn put(item: Item) -> WriteRequest {
    WriteRequest::builder()
        .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
        .build()
}

fn delete(key: Item) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(DeleteRequest::builder().set_key(Some(key)).build().unwrap())
        .build()
}

fn keys(keys: Vec<Item>) -> KeysAndAttributes {
    KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .build()
        .unwrap()
}

fn pair(pk: &str, sk: i64) -> Item {
    item(&[("pk", s(pk)), ("sk", n(&sk.to_string()))])
}

#[tokio::test]
async fn write_then_get_over_two_tables() {
    let server = support_query::start().await;
    let client = &server.client;
    create_table(client, "orders", true).await;
    create_table(client, "users", false).await;
    let output = client
        .batch_write_item()
        .request_items(
            "orders",
            (0..10)
                .map(|i| {
                    let mut order = pair("o", i);
                    order.insert("total".into(), n(&(i * 10).to_string()));
                    put(order)
                })
                .collect(),
        )
        .request_items(
            "users",
            vec![
                put(item(&[("pk", s("ann")), ("blob", s(&"x".repeat(1500)))])),
                put(item(&[("pk", s("bob"))])),
                delete(item(&[("pk", s("nobody"))])),
            ],
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(output.unprocessed_items().unwrap().len(), 0);
    let consumed: HashMap<String, f64> = output
        .consumed_capacity()
        .iter()
        .map(|c| {
            (
                c.table_name().unwrap().to_string(),
                c.capacity_units().unwrap(),
            )
        })
        .collect();
    // 10 small puts; a 1.5 KB put (2), a small put (1), a delete of nothing (1).
    assert_eq!(consumed["orders"], 10.0);
    assert_eq!(consumed["users"], 4.0);

    let output = client
        .batch_get_item()
        .request_items(
            "orders",
            keys(vec![pair("o", 1), pair("o", 2), pair("o", 99)]),
        )
        .request_items(
            "users",
            KeysAndAttributes::builder()
                .keys(item(&[("pk", s("ann"))]))
                .keys(item(&[("pk", s("bob"))]))
                .projection_expression("#p")
                .expression_attribute_names("#p", "pk")
                .consistent_read(true)
                .build()
                .unwrap(),
        )
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    let responses = output.responses().unwrap();
    let orders: BTreeSet<String> = responses["orders"].iter().map(|i| text(i, "sk")).collect();
    assert_eq!(orders, ["1", "2"].map(String::from).into());
    assert!(responses["orders"].iter().all(|i| i.contains_key("total")));
    let users: BTreeSet<String> = responses["users"].iter().map(|i| text(i, "pk")).collect();
    assert_eq!(users, ["ann", "bob"].map(String::from).into());
    assert!(responses["users"].iter().all(|i| i.len() == 1), "projected");
    assert!(output.unprocessed_keys().unwrap().is_empty());
    let consumed: HashMap<String, f64> = output
        .consumed_capacity()
        .iter()
        .map(|c| {
            assert_eq!(c.table().unwrap().capacity_units(), c.capacity_units());
            (
                c.table_name().unwrap().to_string(),
                c.capacity_units().unwrap(),
            )
        })
        .collect();
    // Three eventually consistent reads (a miss costs the minimum); two
    // strongly consistent ones.
    assert_eq!(consumed["orders"], 1.5);
    assert_eq!(consumed["users"], 2.0);

    // A table with nothing found is still in Responses.
    let output = client
        .batch_get_item()
        .request_items("users", keys(vec![item(&[("pk", s("zed"))])]))
        .send()
        .await
        .unwrap();
    assert_eq!(output.responses().unwrap()["users"].len(), 0);
    assert!(output.consumed_capacity().is_empty());
    server.stop().await;
}

/// 200 KB of payload per item: 100 of them are 20 MB, over the 16 MB a
/// response may carry.
const BLOB_BYTES: usize = 200 * 1024;

#[tokio::test]
async fn a_full_response_leaves_unprocessed_keys_to_send_again() {
    let server = support_query::start().await;
    let client = &server.client;
    create_table(client, "media", true).await;
    let blob = "m".repeat(BLOB_BYTES);
    let items: Vec<Item> = (0..100)
        .map(|i| {
            let mut item = pair("m", i);
            item.insert("blob".into(), s(&blob));
            item
        })
        .collect();
    for chunk in items.chunks(20) {
        write_all(client, "media", chunk.to_vec()).await;
    }
    let mut request = Some(keys((0..100).map(|i| pair("m", i)).collect()));
    let mut seen = BTreeSet::new();
    let mut rounds = 0;
    while let Some(keys_and_attributes) = request.take() {
        rounds += 1;
        assert!(rounds <= 10, "the batch must make progress");
        let output = client
            .batch_get_item()
            .request_items("media", keys_and_attributes)
            .send()
            .await
            .unwrap();
        let served = &output.responses().unwrap()["media"];
        assert!(!served.is_empty());
        let bytes: usize = served.len() * BLOB_BYTES;
        assert!(bytes <= 16 * 1024 * 1024);
        for item in served {
            assert!(seen.insert(text(item, "sk")), "served twice");
        }
        request = output.unprocessed_keys().unwrap().get("media").cloned();
    }
    assert_eq!(seen.len(), 100);
    assert!(rounds >= 2, "20 MB cannot fit one response");
    server.stop().await;
}

#[tokio::test]
async fn limits_and_duplicates() {
    let server = support_query::start().await;
    let client = &server.client;
    create_table(client, "table1", true).await;
    create_table(client, "table2", true).await;
    let v = "ValidationException";

    // BatchGetItem: 100 keys in all.
    assert_error(
        client
            .batch_get_item()
            .request_items("table1", keys((0..60).map(|i| pair("a", i)).collect()))
            .request_items("table2", keys((0..41).map(|i| pair("a", i)).collect()))
            .send()
            .await,
        v,
        "Too many items requested for the BatchGetItem call",
    );
    let error = client
        .batch_get_item()
        .request_items("table1", keys((0..101).map(|i| pair("a", i)).collect()))
        .send()
        .await
        .unwrap_err();
    let (code, message) = api_common::code_and_message(&error);
    assert_eq!(code, v);
    assert!(
        message.starts_with("1 validation error detected: Value '"),
        "{message}"
    );
    assert!(
        message.ends_with("' at 'requestItems.table1.member.keys' failed to satisfy constraint: Member must have length less than or equal to 100"),
        "{message}"
    );
    // Exactly 100 is fine.
    client
        .batch_get_item()
        .request_items("table1", keys((0..50).map(|i| pair("a", i)).collect()))
        .request_items("table2", keys((0..50).map(|i| pair("a", i)).collect()))
        .send()
        .await
        .unwrap();
    assert_error(
        client
            .batch_get_item()
            .request_items(
                "table1",
                keys(vec![pair("a", 1), pair("a", 2), pair("a", 1)]),
            )
            .send()
            .await,
        v,
        "Provided list of item keys contains duplicates",
    );

    // BatchWriteItem: 25 requests in all.
    let error = client
        .batch_write_item()
        .request_items("table1", (0..26).map(|i| put(pair("a", i))).collect())
        .send()
        .await
        .unwrap_err();
    let (code, message) = api_common::code_and_message(&error);
    assert_eq!(code, v);
    assert!(
        message.ends_with("at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]"),
        "{message}"
    );
    assert_error(
        client
            .batch_write_item()
            .request_items("table1", (0..13).map(|i| put(pair("a", i))).collect())
            .request_items("table2", (0..13).map(|i| put(pair("a", i))).collect())
            .send()
            .await,
        v,
        "Too many items requested for the BatchWriteItem call",
    );
    // Two requests on one item, even a put and a delete, even 1 and 1.0.
    assert_error(
        client
            .batch_write_item()
            .request_items("table1", vec![put(pair("a", 1)), delete(pair("a", 1))])
            .send()
            .await,
        v,
        "Provided list of item keys contains duplicates",
    );
    assert_error(
        client
            .batch_write_item()
            .request_items(
                "table1",
                vec![
                    put(item(&[("pk", s("a")), ("sk", n("1"))])),
                    put(item(&[("pk", s("a")), ("sk", n("1.0"))])),
                ],
            )
            .send()
            .await,
        v,
        "Provided list of item keys contains duplicates",
    );
    // The same key in two tables is two items.
    client
        .batch_write_item()
        .request_items("table1", vec![put(pair("a", 1))])
        .request_items("table2", vec![put(pair("a", 1))])
        .send()
        .await
        .unwrap();
    // A rejected batch wrote nothing.
    let output = client
        .batch_get_item()
        .request_items("table1", keys((0..26).map(|i| pair("a", i)).collect()))
        .send()
        .await
        .unwrap();
    assert_eq!(output.responses().unwrap()["table1"].len(), 1);
    server.stop().await;
}

#[tokio::test]
async fn validation_errors() {
    let server = support_query::start().await;
    let client = &server.client;
    create_table(client, "table1", true).await;
    let v = "ValidationException";
    assert_error(
        client
            .batch_write_item()
            .request_items("table1", vec![delete(item(&[("pk", s("a"))]))])
            .send()
            .await,
        v,
        "The provided key element does not match the schema",
    );
    assert_error(
        client
            .batch_write_item()
            .request_items(
                "table1",
                vec![put(item(&[("pk", s("a")), ("other", n("1"))]))],
            )
            .send()
            .await,
        v,
        "The provided key element does not match the schema",
    );
    let mut huge = pair("a", 1);
    huge.insert("blob".into(), s(&"x".repeat(400 * 1024)));
    assert_error(
        client
            .batch_write_item()
            .request_items("table1", vec![put(huge)])
            .send()
            .await,
        v,
        "Item size has exceeded the maximum allowed size",
    );
    assert_error(
        client
            .batch_write_item()
            .request_items("missing", vec![put(pair("a", 1))])
            .send()
            .await,
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    assert_error(
        client
            .batch_write_item()
            .request_items("table1", vec![WriteRequest::builder().build()])
            .send()
            .await,
        v,
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
    );
    assert_error(
        client
            .batch_get_item()
            .request_items("table1", keys(vec![item(&[("pk", s("a"))])]))
            .send()
            .await,
        v,
        "The provided key element does not match the schema",
    );
    assert_error(
        client
            .batch_get_item()
            .request_items(
                "table1",
                KeysAndAttributes::builder()
                    .keys(pair("a", 1))
                    .projection_expression("pk")
                    .attributes_to_get("pk")
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
        v,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
    );
    assert_error(
        client
            .batch_get_item()
            .request_items(
                "table1",
                KeysAndAttributes::builder()
                    .keys(pair("a", 1))
                    .expression_attribute_names("#a", "a")
                    .build()
                    .unwrap(),
            )
            .send()
            .await,
        v,
        "ExpressionAttributeNames can only be specified when using expressions",
    );
    assert_error(
        client
            .batch_get_item()
            .request_items("nope", keys(vec![pair("a", 1)]))
            .request_items("table1", keys(vec![pair("a", 1)]))
            .send()
            .await,
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    server.stop().await;
}

#[tokio::test]
async fn consumed_capacity_lists_come_in_request_order_with_their_unit_kind() {
    let server = api_common::TestServer::start().await;
    let client = &server.client;
    for name in ["zeta", "alpha", "mid"] {
        create_table(client, name, false).await;
    }
    // Raw JSON: the SDK sends RequestItems in a hash map's order.
    let call = |operation: &str, body: &str| {
        let headers = api_common::api_headers(operation);
        let body = body.to_string();
        async move { api_common::raw(server.addr, "POST", &headers, body.as_bytes()).await }
    };
    let put =
        |table: &str| format!(r#""{table}":[{{"PutRequest":{{"Item":{{"pk":{{"S":"k"}}}}}}}}]"#);
    let body = format!(
        r#"{{"RequestItems":{{{},{},{}}},"ReturnConsumedCapacity":"TOTAL"}}"#,
        put("zeta"),
        put("alpha"),
        put("mid")
    );
    let written = call("BatchWriteItem", &body).await;
    assert_eq!(written.status, 200, "{}", written.text());
    assert_eq!(
        written.json()["ConsumedCapacity"],
        serde_json::json!([
            {"TableName": "zeta", "CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
            {"TableName": "alpha", "CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
            {"TableName": "mid", "CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
        ])
    );
    let get = |table: &str| format!(r#""{table}":{{"Keys":[{{"pk":{{"S":"k"}}}}]}}"#);
    let body = format!(
        r#"{{"RequestItems":{{{},{},{}}},"ReturnConsumedCapacity":"INDEXES"}}"#,
        get("mid"),
        get("zeta"),
        get("alpha")
    );
    let read = call("BatchGetItem", &body).await;
    assert_eq!(read.status, 200, "{}", read.text());
    let order: Vec<String> = read.json()["ConsumedCapacity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            assert_eq!(entry["ReadCapacityUnits"], 0.5);
            assert_eq!(entry["Table"]["ReadCapacityUnits"], 0.5);
            entry["TableName"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(order, ["mid", "zeta", "alpha"]);
    server.stop().await;
}
