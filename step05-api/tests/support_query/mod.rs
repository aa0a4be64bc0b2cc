//! What the Query, Scan and batch tests share on top of `api_common`: a
//! server with one more operation, `SplitPartitionsForTests`, that splits
//! a table's partitions until it has the number asked for (so pages walk
//! many partitions), and functions to build items and write many at once.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, PutRequest, ScalarAttributeType, WriteRequest,
};
use serde_json::{Value as Json, json};
use step03_partitioning::split::SplitOutcome;
use step05_api::error::ApiError;
use step05_api::registry::{Reply, RequestContext};
use step05_api::wire::TARGET_PREFIX_DYNAMODB;
use step05_api::{Server, ServerConfig};

use crate::api_common::{self, TestServer, definition, key, raw};

/// The test-only operation that splits partitions.
pub const SPLIT_OPERATION: &str = "SplitPartitionsForTests";
/// Split passes before giving up on reaching the partitions asked for.
const SPLIT_PASSES_MAX: usize = 64;

/// `{"TableName": t, "Partitions": n}`: splits the partitions of `t` that
/// hold at least two item collections until it has `n` (or nothing is
/// left to split); answers `{"Partitions": count}`.
fn split_partitions(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let name = input["TableName"].as_str().unwrap_or_default();
    let wanted = input["Partitions"].as_u64().unwrap_or(1) as usize;
    let table = ctx.backend.data_table(name)?;
    for _ in 0..SPLIT_PASSES_MAX {
        let map = table.table.partition_map()?;
        if map.len() >= wanted {
            break;
        }
        let mut split_any = false;
        for entry in map.entries() {
            if let Ok(SplitOutcome::Split { .. }) = table.table.split_partition(entry.id) {
                split_any = true;
            }
            if table.table.partition_map()?.len() >= wanted {
                break;
            }
        }
        if !split_any {
            break;
        }
    }
    let count = table.table.partition_map()?.len();
    Ok(Reply::Json(json!({ "Partitions": count })))
}

/// An in-memory server whose registry also has [`SPLIT_OPERATION`].
pub async fn start() -> TestServer {
    let mut registry = step05_api::ops::registry();
    registry.register(TARGET_PREFIX_DYNAMODB, SPLIT_OPERATION, split_partitions);
    let (addr, handle) = Server::bind_with(ServerConfig::in_memory(), registry)
        .await
        .unwrap();
    let client = api_common::client(&handle.endpoint_url());
    TestServer {
        handle,
        addr,
        client,
    }
}

/// Splits `table` until it has `partitions` partitions; returns how many
/// it has.
pub async fn split(server: &TestServer, table: &str, partitions: usize) -> usize {
    let body = json!({ "TableName": table, "Partitions": partitions }).to_string();
    let response = raw(
        server.addr,
        "POST",
        &api_common::api_headers(SPLIT_OPERATION),
        body.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()["Partitions"].as_u64().unwrap() as usize
}

/// Creates an on-demand table with the given key attribute types.
pub async fn create_table_typed(
    client: &Client,
    name: &str,
    partition: ScalarAttributeType,
    sort: Option<ScalarAttributeType>,
) {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(definition("pk", partition))
        .key_schema(key("pk", KeyType::Hash));
    if let Some(sort) = sort {
        request = request
            .attribute_definitions(definition("sk", sort))
            .key_schema(key("sk", KeyType::Range));
    }
    request.send().await.unwrap();
}

/// An item from pairs.
pub fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Writes `items` with BatchWriteItem, 25 at a time, asserting nothing is
/// left unprocessed.
pub async fn write_all(client: &Client, table: &str, items: Vec<HashMap<String, AttributeValue>>) {
    for chunk in items.chunks(25) {
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        let output = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .unwrap();
        assert!(output.unprocessed_items().unwrap().is_empty());
    }
}

/// The string value of attribute `name`.
pub fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(text)) => text.clone(),
        Some(AttributeValue::N(number)) => number.clone(),
        other => panic!("{name} is {other:?}"),
    }
}
