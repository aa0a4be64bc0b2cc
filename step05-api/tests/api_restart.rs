//! Tables, their metadata and their items survive a restart on the same
//! data directory; deleted tables stay deleted.
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{TestServer, create_table, n, s};
use aws_sdk_dynamodb::types::BillingMode;

#[tokio::test]
async fn tables_and_items_are_back_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();

    let server = TestServer::start_in(dir.path()).await;
    create_table(&server.client, "kept", true).await;
    create_table(&server.client, "dropped", false).await;
    for i in 0..50 {
        server
            .client
            .put_item()
            .table_name("kept")
            .item("pk", s(&format!("p{}", i % 5)))
            .item("sk", n(&i.to_string()))
            .item("v", s("x"))
            .send()
            .await
            .unwrap();
    }
    server
        .client
        .tag_resource()
        .resource_arn("arn:aws:dynamodb:us-east-1:000000000000:table/kept")
        .tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key("k")
                .value("v")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let before = server
        .client
        .describe_table()
        .table_name("kept")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    server.stop().await;

    let server = TestServer::start_in(dir.path()).await;
    let after = server
        .client
        .describe_table()
        .table_name("kept")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(after.table_id(), before.table_id());
    assert_eq!(after.creation_date_time(), before.creation_date_time());
    assert_eq!(after.key_schema(), before.key_schema());
    assert_eq!(after.item_count(), Some(50));
    assert_eq!(
        after.billing_mode_summary().unwrap().billing_mode(),
        Some(&BillingMode::PayPerRequest)
    );
    let item = server
        .client
        .get_item()
        .table_name("kept")
        .key("pk", s("p3"))
        .key("sk", n("13"))
        .send()
        .await
        .unwrap();
    assert_eq!(item.item().unwrap().get("v"), Some(&s("x")));
    let tags = server
        .client
        .list_tags_of_resource()
        .resource_arn("arn:aws:dynamodb:us-east-1:000000000000:table/kept")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);

    server
        .client
        .delete_table()
        .table_name("dropped")
        .send()
        .await
        .unwrap();
    server.stop().await;

    let server = TestServer::start_in(dir.path()).await;
    let names = server.client.list_tables().send().await.unwrap();
    assert_eq!(names.table_names(), ["kept"]);
    // Only the live table's directory is left.
    let dirs = std::fs::read_dir(dir.path().join("tables"))
        .unwrap()
        .count();
    assert_eq!(dirs, 1);
    server.stop().await;
}

#[tokio::test]
async fn a_directory_the_catalog_does_not_name_is_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path()).await;
    create_table(&server.client, "real", false).await;
    server.stop().await;
    // A create cut short by a crash: data directory, no catalog entry.
    let orphan = dir.path().join("tables").join("orphan");
    std::fs::create_dir_all(orphan.join("partition-00000000")).unwrap();
    let server = TestServer::start_in(dir.path()).await;
    assert!(!orphan.exists());
    let names = server.client.list_tables().send().await.unwrap();
    assert_eq!(names.table_names(), ["real"]);
    server.stop().await;
}

#[tokio::test]
async fn two_servers_cannot_share_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path()).await;
    let second =
        step05_api::Server::bind(step05_api::ServerConfig::with_data_dir(dir.path()).port(0)).await;
    assert!(second.is_err());
    server.stop().await;
}
