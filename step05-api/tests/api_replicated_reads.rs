//! Reads on a server whose partitions are three-replica groups: a
//! `GetItem` with the default, eventually consistent read right after a
//! `PutItem` always finds the item, although such reads may be served by
//! followers.
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::collections::HashMap;

use api_common::{TestServer, create_table, s};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use step05_api::ServerConfig;

async fn replicated_server() -> TestServer {
    TestServer::with_config(ServerConfig {
        replicas: 3,
        ..ServerConfig::in_memory()
    })
    .await
}

fn key(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), s(pk))])
}

async fn get_v(client: &Client, pk: &str, consistent: Option<bool>) -> Option<AttributeValue> {
    let got = client
        .get_item()
        .table_name("reads")
        .set_key(Some(key(pk)))
        .set_consistent_read(consistent)
        .send()
        .await
        .unwrap();
    got.item.and_then(|mut item| item.remove("v"))
}

#[tokio::test]
async fn a_default_get_right_after_a_put_always_finds_the_item() {
    const ROUNDS: usize = 500;
    let server = replicated_server().await;
    let client = &server.client;
    create_table(client, "reads", false).await;
    for i in 0..ROUNDS {
        // Half the rounds write a new item, half overwrite one item: a
        // stale replica would show nothing, or the previous value.
        let pk = if i % 2 == 0 {
            format!("item-{i}")
        } else {
            "same".to_string()
        };
        let value = format!("value-{i}");
        client
            .put_item()
            .table_name("reads")
            .item("pk", s(&pk))
            .item("v", s(&value))
            .send()
            .await
            .unwrap();
        assert_eq!(get_v(client, &pk, None).await, Some(s(&value)), "round {i}");
    }
    // The explicit levels agree.
    let last = format!("value-{}", ROUNDS - 1);
    assert_eq!(get_v(client, "same", Some(false)).await, Some(s(&last)));
    assert_eq!(get_v(client, "same", Some(true)).await, Some(s(&last)));
    server.stop().await;
}

#[tokio::test]
async fn a_default_scan_right_after_puts_sees_every_item() {
    let server = replicated_server().await;
    let client = &server.client;
    create_table(client, "reads", false).await;
    for i in 0..50 {
        client
            .put_item()
            .table_name("reads")
            .item("pk", s(&format!("item-{i}")))
            .item("v", s("x"))
            .send()
            .await
            .unwrap();
        let scanned = client.scan().table_name("reads").send().await.unwrap();
        assert_eq!(scanned.count, i + 1, "after put {i}");
    }
    server.stop().await;
}
