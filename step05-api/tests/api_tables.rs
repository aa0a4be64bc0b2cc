//! Table operations through the official SDK: the life cycle with the SDK's
//! waiters, descriptions, paging, updates, tags, and every error on purpose.
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::time::Duration;

use api_common::{TestServer, assert_error, create_table, definition, key};
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    BillingMode, KeyType, ProvisionedThroughput, ScalarAttributeType, TableStatus, Tag,
};

const WAIT: Duration = Duration::from_secs(30);

fn throughput(read: i64, write: i64) -> ProvisionedThroughput {
    ProvisionedThroughput::builder()
        .read_capacity_units(read)
        .write_capacity_units(write)
        .build()
        .unwrap()
}

#[tokio::test]
async fn life_cycle_with_the_sdk_waiters() {
    let server = TestServer::start().await;
    let client = &server.client;
    let created = client
        .create_table()
        .table_name("Music")
        .attribute_definitions(definition("Artist", ScalarAttributeType::S))
        .attribute_definitions(definition("Song", ScalarAttributeType::S))
        .key_schema(key("Artist", KeyType::Hash))
        .key_schema(key("Song", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let description = created.table_description().unwrap();
    assert_eq!(description.table_status(), Some(&TableStatus::Creating));
    assert_eq!(
        description.table_arn(),
        Some("arn:aws:dynamodb:us-east-1:000000000000:table/Music")
    );
    let id = description.table_id().unwrap().to_string();
    assert_eq!(id.len(), 36);

    client
        .wait_until_table_exists()
        .table_name("Music")
        .wait(WAIT)
        .await
        .unwrap();
    let table = client
        .describe_table()
        .table_name("Music")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(table.table_status(), Some(&TableStatus::Active));
    assert_eq!(table.table_id(), Some(id.as_str()));
    assert_eq!(table.key_schema().len(), 2);
    assert_eq!(table.attribute_definitions().len(), 2);
    assert_eq!(table.item_count(), Some(0));
    assert_eq!(table.table_size_bytes(), Some(0));
    assert_eq!(table.deletion_protection_enabled(), Some(false));
    let creation = table.creation_date_time().unwrap().as_secs_f64();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - creation).abs() < 60.0, "{creation} vs {now}");
    let summary = table.billing_mode_summary().unwrap();
    assert_eq!(summary.billing_mode(), Some(&BillingMode::PayPerRequest));
    assert!(summary.last_update_to_pay_per_request_date_time().is_some());
    let provisioned = table.provisioned_throughput().unwrap();
    assert_eq!(provisioned.read_capacity_units(), Some(0));
    assert_eq!(provisioned.number_of_decreases_today(), Some(0));

    // The ARN works wherever a table name does.
    let by_arn = client
        .describe_table()
        .table_name(table.table_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(by_arn.table.unwrap().table_name(), Some("Music"));

    let deleted = client
        .delete_table()
        .table_name("Music")
        .send()
        .await
        .unwrap();
    let description = deleted.table_description().unwrap();
    assert_eq!(description.table_status(), Some(&TableStatus::Deleting));
    assert!(description.key_schema().is_empty());
    client
        .wait_until_table_not_exists()
        .table_name("Music")
        .wait(WAIT)
        .await
        .unwrap();
    assert_error(
        client.describe_table().table_name("Music").send().await,
        "ResourceNotFoundException",
        "Requested resource not found: Table: Music not found",
    );
    // The name is free again; the new table is a new table.
    create_table(client, "Music", false).await;
    let again = client
        .describe_table()
        .table_name("Music")
        .send()
        .await
        .unwrap();
    assert_ne!(again.table.unwrap().table_id(), Some(id.as_str()));
    server.stop().await;
}

#[tokio::test]
async fn list_tables_pages_in_byte_order() {
    let server = TestServer::start().await;
    let client = &server.client;
    let names = ["b_t", "Abc", "a.b", "zzz", "B-1", "abc"];
    for name in names {
        create_table(client, name, false).await;
    }
    let mut expected: Vec<&str> = names.to_vec();
    expected.sort();
    let all = client.list_tables().send().await.unwrap();
    assert_eq!(all.table_names(), expected.as_slice());
    assert_eq!(all.last_evaluated_table_name(), None);

    let first = client.list_tables().limit(4).send().await.unwrap();
    assert_eq!(first.table_names(), &expected[..4]);
    assert_eq!(first.last_evaluated_table_name(), Some(expected[3]));
    let second = client
        .list_tables()
        .limit(4)
        .exclusive_start_table_name(expected[3])
        .send()
        .await
        .unwrap();
    assert_eq!(second.table_names(), &expected[4..]);
    assert_eq!(second.last_evaluated_table_name(), None);

    // The SDK's paginator follows LastEvaluatedTableName.
    let paged: Vec<String> = client
        .list_tables()
        .limit(1)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(paged, expected);

    assert_error(
        client.list_tables().limit(101).send().await,
        "ValidationException",
        "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100",
    );
    server.stop().await;
}

#[tokio::test]
async fn create_table_errors() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "taken", false).await;
    assert_error(
        client
            .create_table()
            .table_name("taken")
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(definition("pk", ScalarAttributeType::S))
            .key_schema(key("pk", KeyType::Hash))
            .send()
            .await,
        "ResourceInUseException",
        "Table already exists: taken",
    );
    let base = || {
        client
            .create_table()
            .table_name("tbl")
            .attribute_definitions(definition("pk", ScalarAttributeType::S))
            .key_schema(key("pk", KeyType::Hash))
    };
    assert_error(
        base().send().await,
        "ValidationException",
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
    );
    assert_error(
        base()
            .billing_mode(BillingMode::PayPerRequest)
            .provisioned_throughput(throughput(1, 1))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST",
    );
    assert_error(
        base()
            .table_name("a!")
            .provisioned_throughput(throughput(0, 1))
            .send()
            .await,
        "ValidationException",
        "3 validation errors detected: \
         Value 'a!' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value 'a!' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
         Value '0' at 'provisionedThroughput.readCapacityUnits' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    assert_error(
        base()
            .provisioned_throughput(throughput(1, 1))
            .attribute_definitions(definition("extra", ScalarAttributeType::N))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
    );
    assert_error(
        client
            .create_table()
            .table_name("tbl")
            .provisioned_throughput(throughput(1, 1))
            .attribute_definitions(definition("other", ScalarAttributeType::S))
            .key_schema(key("pk", KeyType::Hash))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]",
    );
    assert_error(
        base()
            .provisioned_throughput(throughput(1, 1))
            .key_schema(key("pk", KeyType::Range))
            .send()
            .await,
        "ValidationException",
        "Both the Hash Key and the Range Key element in the KeySchema have the same name",
    );
    assert_error(
        client
            .create_table()
            .table_name("tbl")
            .provisioned_throughput(throughput(1, 1))
            .attribute_definitions(definition("pk", ScalarAttributeType::S))
            .key_schema(key("pk", KeyType::Range))
            .send()
            .await,
        "ValidationException",
        "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
    );
    server.stop().await;
}

#[tokio::test]
async fn update_table_billing_and_throughput() {
    let server = TestServer::start().await;
    let client = &server.client;
    client
        .create_table()
        .table_name("prov")
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .provisioned_throughput(throughput(5, 5))
        .send()
        .await
        .unwrap();
    let table = client
        .describe_table()
        .table_name("prov")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert!(table.billing_mode_summary().is_none());
    assert_eq!(
        table
            .provisioned_throughput()
            .unwrap()
            .read_capacity_units(),
        Some(5)
    );

    assert_error(
        client
            .update_table()
            .table_name("prov")
            .provisioned_throughput(throughput(5, 5))
            .send()
            .await,
        "ValidationException",
        "The provisioned throughput for the table will not change. The requested value equals the current value. \
         Current ReadCapacityUnits provisioned for the table: 5. Requested ReadCapacityUnits: 5. \
         Current WriteCapacityUnits provisioned for the table: 5. Requested WriteCapacityUnits: 5. \
         Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
    );
    assert_error(
        client.update_table().table_name("prov").send().await,
        "ValidationException",
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
    );
    let updated = client
        .update_table()
        .table_name("prov")
        .provisioned_throughput(throughput(10, 2))
        .send()
        .await
        .unwrap();
    let description = updated.table_description().unwrap();
    assert_eq!(description.table_status(), Some(&TableStatus::Updating));
    let provisioned = description.provisioned_throughput().unwrap();
    assert_eq!(provisioned.read_capacity_units(), Some(10));
    assert_eq!(provisioned.write_capacity_units(), Some(2));
    assert!(provisioned.last_increase_date_time().is_some());
    assert!(provisioned.last_decrease_date_time().is_some());
    assert_eq!(provisioned.number_of_decreases_today(), Some(1));

    let on_demand = client
        .update_table()
        .table_name("prov")
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let description = on_demand.table_description().unwrap();
    assert_eq!(
        description.billing_mode_summary().unwrap().billing_mode(),
        Some(&BillingMode::PayPerRequest)
    );
    assert_error(
        client
            .update_table()
            .table_name("prov")
            .billing_mode(BillingMode::Provisioned)
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
    );
    assert_error(
        client
            .update_table()
            .table_name("missing")
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await,
        "ResourceNotFoundException",
        "Requested resource not found: Table: missing not found",
    );

    // Deletion protection is honoured.
    client
        .update_table()
        .table_name("prov")
        .deletion_protection_enabled(true)
        .send()
        .await
        .unwrap();
    let refused = client.delete_table().table_name("prov").send().await;
    assert_eq!(
        api_common::code_and_message(&refused.unwrap_err()).0,
        "ValidationException"
    );
    server.stop().await;
}

#[tokio::test]
async fn tags_limits_and_endpoints() {
    let server = TestServer::start().await;
    let client = &server.client;
    client
        .create_table()
        .table_name("tagged")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .tags(Tag::builder().key("team").value("a").build().unwrap())
        .send()
        .await
        .unwrap();
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/tagged";
    client
        .tag_resource()
        .resource_arn(arn)
        .tags(Tag::builder().key("env").value("test").build().unwrap())
        .tags(Tag::builder().key("team").value("b").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_of_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    let pairs: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
    assert_eq!(pairs, vec![("env", "test"), ("team", "b")]);
    client
        .untag_resource()
        .resource_arn(arn)
        .tag_keys("team")
        .send()
        .await
        .unwrap();
    let tags = client
        .list_tags_of_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().len(), 1);
    assert_error(
        client
            .list_tags_of_resource()
            .resource_arn("arn:aws:dynamodb:us-east-1:000000000000:table/nope")
            .send()
            .await,
        "ResourceNotFoundException",
        "Requested resource not found: ResourceArn: arn:aws:dynamodb:us-east-1:000000000000:table/nope not found",
    );
    let too_many = (0..51).fold(client.tag_resource().resource_arn(arn), |request, i| {
        request.tags(
            Tag::builder()
                .key(format!("k{i}"))
                .value("v")
                .build()
                .unwrap(),
        )
    });
    let error = too_many.send().await.unwrap_err();
    assert_eq!(
        api_common::code_and_message(&error).0,
        "LimitExceededException"
    );

    let limits = client.describe_limits().send().await.unwrap();
    assert_eq!(limits.account_max_read_capacity_units(), Some(80_000));
    assert_eq!(limits.table_max_write_capacity_units(), Some(40_000));
    let endpoints = client.describe_endpoints().send().await.unwrap();
    assert_eq!(endpoints.endpoints()[0].address(), server.addr.to_string());
    assert_eq!(endpoints.endpoints()[0].cache_period_in_minutes(), 1440);
    server.stop().await;
}

#[tokio::test]
async fn malformed_arns_and_too_many_or_too_long_tags_at_create() {
    let server = TestServer::start().await;
    let client = &server.client;
    let tag = |key: String, value: &str| Tag::builder().key(key).value(value).build().unwrap();
    assert_error(
        client
            .tag_resource()
            .resource_arn("not-an-arn")
            .tags(tag("k".into(), "v"))
            .send()
            .await,
        "AccessDeniedException",
        "Incorrect resource identifier",
    );
    let create = |name: &str| {
        client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(definition("pk", ScalarAttributeType::S))
            .key_schema(key("pk", KeyType::Hash))
    };
    let many = (0..51).fold(create("many"), |request, i| {
        request.tags(tag(format!("k{i}"), "v"))
    });
    assert_error(
        many.send().await,
        "ValidationException",
        "One or more parameter values were invalid: The number of tags exceeds the limit of 50 per resource: 51",
    );
    let long_key = create("longkey").tags(tag("k".repeat(129), "v"));
    let error = long_key.send().await.unwrap_err();
    let (code, message) = api_common::code_and_message(&error);
    assert_eq!(code, "ValidationException");
    assert!(
        message.contains("Member must have length less than or equal to 128"),
        "{message}"
    );
    let long_value = create("longvalue").tags(tag("k".into(), &"v".repeat(257)));
    let error = long_value.send().await.unwrap_err();
    assert_eq!(
        api_common::code_and_message(&error).0,
        "ValidationException"
    );
    // None of them was created.
    let names = client.list_tables().send().await.unwrap();
    assert!(names.table_names().is_empty(), "{names:?}");
    server.stop().await;
}
