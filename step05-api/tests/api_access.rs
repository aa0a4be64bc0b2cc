//! The router's two plug-ins seen through the SDK: SigV4 authentication
//! with policies (the `auth` module) and per-partition throttling (the
//! `throttle` module).
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::sync::Arc;

use api_common::{TestServer, assert_error, client_with_key, create_table, definition, key, s};
use aws_sdk_dynamodb::types::{KeyType, ProvisionedThroughput, ScalarAttributeType};
use step05_api::ServerConfig;
use step05_api::auth::policy::{Effect, Statement};
use step05_api::auth::{AuthMode, CredentialStore, Policy};

fn strict_store() -> CredentialStore {
    let mut store = CredentialStore::new(AuthMode::Strict);
    store.insert("ADMIN", "admin-secret", None).unwrap();
    let read_only = Policy::new(vec![Statement {
        effect: Effect::Allow,
        actions: vec!["dynamodb:Get*".into(), "dynamodb:Describe*".into()],
        tables: vec!["*".into()],
    }])
    .unwrap();
    store
        .insert("READER", "reader-secret", Some(read_only))
        .unwrap();
    store
}

#[tokio::test]
async fn strict_mode_checks_signatures_and_policies() {
    let config = ServerConfig {
        credentials: Arc::new(strict_store()),
        ..ServerConfig::in_memory()
    };
    let server = TestServer::with_config(config).await;
    let url = server.handle.endpoint_url();
    let admin = client_with_key(&url, "ADMIN", "admin-secret");
    create_table(&admin, "guarded", false).await;
    admin
        .put_item()
        .table_name("guarded")
        .item("pk", s("a"))
        .send()
        .await
        .unwrap();

    let reader = client_with_key(&url, "READER", "reader-secret");
    let item = reader
        .get_item()
        .table_name("guarded")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    assert!(item.item().is_some());
    let denied = reader
        .delete_item()
        .table_name("guarded")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap_err();
    let (code, message) = api_common::code_and_message(&denied);
    assert_eq!(code, "AccessDeniedException");
    assert!(message.contains("dynamodb:DeleteItem"), "{message}");

    let forged = client_with_key(&url, "ADMIN", "wrong-secret");
    assert_error(
        forged.list_tables().send().await,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
    );
    let stranger = client_with_key(&url, "NOBODY", "secret");
    assert_error(
        stranger.list_tables().send().await,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    server.stop().await;
}

#[tokio::test]
async fn local_mode_refuses_to_listen_beyond_loopback() {
    let config = ServerConfig {
        bind: "0.0.0.0:0".parse().unwrap(),
        ..ServerConfig::in_memory()
    };
    assert!(matches!(
        step05_api::Server::bind(config).await,
        Err(step05_api::StartError::Auth(_))
    ));
}

#[tokio::test]
async fn provisioned_tables_are_throttled_when_asked() {
    let config = ServerConfig {
        throttling: true,
        ..ServerConfig::in_memory()
    };
    let server = TestServer::with_config(config).await;
    let client = &server.client;
    client
        .create_table()
        .table_name("slow")
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // 100 KB items cost 100 write units each; one unit per second and
    // 300 seconds of burst credit run out within a few writes.
    let big = "x".repeat(100 * 1024);
    let mut throttled = None;
    for i in 0..10 {
        let result = client
            .put_item()
            .table_name("slow")
            .item("pk", s(&i.to_string()))
            .item("v", s(&big))
            .send()
            .await;
        if let Err(error) = result {
            throttled = Some(api_common::code_and_message(&error));
            break;
        }
    }
    assert_eq!(
        throttled,
        Some((
            "ProvisionedThroughputExceededException".to_string(),
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.".to_string()
        ))
    );
    // On-demand tables of the same server are not held back.
    create_table(client, "fast", false).await;
    for i in 0..5 {
        client
            .put_item()
            .table_name("fast")
            .item("pk", s(&i.to_string()))
            .item("v", s(&big))
            .send()
            .await
            .unwrap();
    }
    server.stop().await;
}

/// A write that overdraws its partition's bucket leaves the next one
/// throttled until the debt is paid back, a tenth of a second here: a
/// client with retries off sees the error, the SDK's default retries
/// (exponential backoff) get through.
#[tokio::test]
async fn a_throttled_write_fails_without_retries_and_succeeds_with_them() {
    use aws_sdk_dynamodb::config::retry::RetryConfig;

    let config = ServerConfig {
        throttling: true,
        ..ServerConfig::in_memory()
    };
    let server = TestServer::with_config(config).await;
    let client = &server.client;
    client
        .create_table()
        .table_name("tight")
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(40)
                .write_capacity_units(40)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    // 44 KB: 44 write units against one second (40 units) of credit.
    let big = "x".repeat(44 * 1024 - 16);
    client
        .put_item()
        .table_name("tight")
        .item("pk", s("first"))
        .item("v", s(&big))
        .send()
        .await
        .unwrap();

    let no_retries = aws_sdk_dynamodb::Client::from_conf(
        client
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let refused = no_retries
        .put_item()
        .table_name("tight")
        .item("pk", s("second"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        api_common::code_and_message(&refused).0,
        "ProvisionedThroughputExceededException"
    );

    client
        .put_item()
        .table_name("tight")
        .item("pk", s("second"))
        .send()
        .await
        .unwrap();
    server.stop().await;
}

/// The batches report what the throttle refused instead of failing: a
/// BatchWriteItem against a one-unit table writes what the bucket admits
/// and returns the rest in `UnprocessedItems`, exactly as sent; a
/// BatchGetItem does the same with `UnprocessedKeys`. Resending the
/// unprocessed part alone, after the bucket refills, finishes the job.
#[tokio::test]
async fn throttled_batch_entries_come_back_unprocessed() {
    use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
    use std::collections::HashMap;

    let config = ServerConfig {
        throttling: true,
        ..ServerConfig::in_memory()
    };
    let server = TestServer::with_config(config).await;
    let client = &server.client;
    client
        .create_table()
        .table_name("one-unit")
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .provisioned_throughput(
            ProvisionedThroughput::builder()
                .read_capacity_units(1)
                .write_capacity_units(1)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let names: Vec<String> = (0..10).map(|i| format!("item-{i}")).collect();
    let writes: Vec<WriteRequest> = names
        .iter()
        .map(|name| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", s(name))
                        .item("v", s(&"x".repeat(900)))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let output = client
        .batch_write_item()
        .request_items("one-unit", writes)
        .send()
        .await
        .unwrap();
    let unprocessed = output
        .unprocessed_items()
        .and_then(|items| items.get("one-unit"))
        .map_or(0, Vec::len);
    assert!(
        unprocessed > 0 && unprocessed < names.len(),
        "one unit of credit admits some writes and refuses others, got {unprocessed} unprocessed"
    );

    let keys = KeysAndAttributes::builder()
        .set_keys(Some(
            names
                .iter()
                .map(|name| HashMap::from([("pk".to_string(), s(name))]))
                .collect(),
        ))
        .consistent_read(true)
        .build()
        .unwrap();
    // The first read is admitted on the bucket's initial credit; the rest
    // of the keys wait.
    let output = client
        .batch_get_item()
        .request_items("one-unit", keys)
        .send()
        .await
        .unwrap();
    let unprocessed_keys = output
        .unprocessed_keys()
        .and_then(|keys| keys.get("one-unit"))
        .map_or(0, |k| k.keys().len());
    let returned = output
        .responses()
        .and_then(|r| r.get("one-unit"))
        .map_or(0, Vec::len);
    assert!(unprocessed_keys > 0, "the throttle leaves keys unprocessed");
    assert_eq!(
        returned + unprocessed_keys,
        names.len(),
        "each key is either answered or returned unprocessed"
    );
    server.stop().await;
}
