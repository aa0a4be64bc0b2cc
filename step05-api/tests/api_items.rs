//! Item operations through the official SDK: every ReturnValues, consumed
//! capacity, conditions, key and size errors, and concurrent updates.
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use std::collections::HashMap;
use std::sync::Arc;

use api_common::{TestServer, assert_error, create_table, n, s};
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeValue, AttributeValueUpdate, ReturnConsumedCapacity, ReturnValue,
    ReturnValuesOnConditionCheckFailure,
};

fn item(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[tokio::test]
async fn put_get_delete_with_return_values_and_capacity() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "items", true).await;
    let key = item(&[("pk", s("a")), ("sk", n("1"))]);

    let put = client
        .put_item()
        .table_name("items")
        .set_item(Some(item(&[
            ("pk", s("a")),
            ("sk", n("1.0")),
            ("v", s("one")),
        ])))
        .return_values(ReturnValue::AllOld)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(put.attributes(), None);
    let consumed = put.consumed_capacity().unwrap();
    assert_eq!(consumed.table_name(), Some("items"));
    assert_eq!(consumed.capacity_units(), Some(1.0));
    assert!(consumed.table().is_none());

    let replaced = client
        .put_item()
        .table_name("items")
        .set_item(Some(item(&[
            ("pk", s("a")),
            ("sk", n("1")),
            ("v", s("two")),
        ])))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(
        replaced.attributes().unwrap().get("v"),
        Some(&s("one")),
        "1.0 and 1 are the same key"
    );
    assert_eq!(
        replaced.attributes().unwrap().get("sk"),
        Some(&n("1")),
        "numbers come back canonical"
    );

    let strong = client
        .get_item()
        .table_name("items")
        .set_key(Some(key.clone()))
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    assert_eq!(strong.item().unwrap().get("v"), Some(&s("two")));
    let consumed = strong.consumed_capacity().unwrap();
    assert_eq!(consumed.capacity_units(), Some(1.0));
    assert_eq!(consumed.table().unwrap().capacity_units(), Some(1.0));
    let eventual = client
        .get_item()
        .table_name("items")
        .set_key(Some(item(&[("pk", s("a")), ("sk", n("2"))])))
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert!(eventual.item().is_none(), "a missing item has no Item");
    assert_eq!(
        eventual.consumed_capacity().unwrap().capacity_units(),
        Some(0.5)
    );
    let projected = client
        .get_item()
        .table_name("items")
        .set_key(Some(key.clone()))
        .attributes_to_get("v")
        .send()
        .await
        .unwrap();
    assert_eq!(projected.item().unwrap().len(), 1);
    let projected = client
        .get_item()
        .table_name("items")
        .set_key(Some(key.clone()))
        .projection_expression("#v")
        .expression_attribute_names("#v", "v")
        .send()
        .await
        .unwrap();
    assert_eq!(projected.item().unwrap().len(), 1);

    // A 3 KB item costs 3 write units, and its delete as much.
    let big = "x".repeat(3000);
    client
        .put_item()
        .table_name("items")
        .set_item(Some(item(&[
            ("pk", s("big")),
            ("sk", n("0")),
            ("v", s(&big)),
        ])))
        .send()
        .await
        .unwrap();
    let deleted = client
        .delete_item()
        .table_name("items")
        .key("pk", s("big"))
        .key("sk", n("0"))
        .return_values(ReturnValue::AllOld)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.attributes().unwrap().get("v"), Some(&s(&big)));
    assert_eq!(
        deleted.consumed_capacity().unwrap().capacity_units(),
        Some(3.0)
    );
    let again = client
        .delete_item()
        .table_name("items")
        .key("pk", s("big"))
        .key("sk", n("0"))
        .return_values(ReturnValue::AllOld)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(again.attributes(), None);
    assert_eq!(
        again.consumed_capacity().unwrap().capacity_units(),
        Some(1.0)
    );

    let table = client
        .describe_table()
        .table_name("items")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(table.item_count(), Some(1));
    server.stop().await;
}

#[tokio::test]
async fn update_item_with_every_return_value() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "upd", false).await;
    let update = |value: &str, return_values: ReturnValue| {
        client
            .update_item()
            .table_name("upd")
            .key("pk", s("k"))
            .attribute_updates(
                "a",
                AttributeValueUpdate::builder()
                    .action(AttributeAction::Put)
                    .value(s(value))
                    .build(),
            )
            .attribute_updates(
                "count",
                AttributeValueUpdate::builder()
                    .action(AttributeAction::Add)
                    .value(n("1"))
                    .build(),
            )
            .return_values(return_values)
            .send()
    };
    // Upsert: no old item.
    let created = update("v1", ReturnValue::AllOld).await.unwrap();
    assert_eq!(created.attributes(), None);
    let out = update("v2", ReturnValue::UpdatedOld).await.unwrap();
    assert_eq!(
        out.attributes().unwrap(),
        &item(&[("a", s("v1")), ("count", n("1"))])
    );
    let out = update("v3", ReturnValue::AllNew).await.unwrap();
    assert_eq!(
        out.attributes().unwrap(),
        &item(&[("pk", s("k")), ("a", s("v3")), ("count", n("3"))])
    );
    let out = update("v4", ReturnValue::UpdatedNew).await.unwrap();
    assert_eq!(
        out.attributes().unwrap(),
        &item(&[("a", s("v4")), ("count", n("4"))])
    );
    let out = update("v5", ReturnValue::AllOld).await.unwrap();
    assert_eq!(
        out.attributes().unwrap(),
        &item(&[("pk", s("k")), ("a", s("v4")), ("count", n("4"))])
    );
    let out = update("v6", ReturnValue::None).await.unwrap();
    assert_eq!(out.attributes(), None);

    // UpdateExpression with a condition.
    let out = client
        .update_item()
        .table_name("upd")
        .key("pk", s("k"))
        .update_expression("SET #a = :new REMOVE #c")
        .condition_expression("#a = :old")
        .expression_attribute_names("#a", "a")
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":new", s("v7"))
        .expression_attribute_values(":old", s("v6"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.attributes().unwrap(),
        &item(&[("pk", s("k")), ("a", s("v7"))])
    );
    // An update with nothing to do creates a key-only item.
    client
        .update_item()
        .table_name("upd")
        .key("pk", s("bare"))
        .send()
        .await
        .unwrap();
    let bare = client
        .get_item()
        .table_name("upd")
        .key("pk", s("bare"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.item().unwrap(), &item(&[("pk", s("bare"))]));
    // Removing from a missing item creates nothing.
    client
        .update_item()
        .table_name("upd")
        .key("pk", s("ghost"))
        .update_expression("REMOVE a")
        .send()
        .await
        .unwrap();
    let ghost = client
        .get_item()
        .table_name("upd")
        .key("pk", s("ghost"))
        .send()
        .await
        .unwrap();
    assert!(ghost.item().is_none());
    server.stop().await;
}

#[tokio::test]
async fn conditions_fail_with_the_old_item_when_asked() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "cond", false).await;
    client
        .put_item()
        .table_name("cond")
        .item("pk", s("k"))
        .item("v", n("1"))
        .send()
        .await
        .unwrap();
    let failed = client
        .put_item()
        .table_name("cond")
        .item("pk", s("k"))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err();
    let service = failed.into_service_error();
    assert!(service.is_conditional_check_failed_exception());
    let aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) =
        service
    else {
        unreachable!()
    };
    assert_eq!(e.message(), Some("The conditional request failed"));
    assert_eq!(e.item().unwrap().get("v"), Some(&n("1")));

    assert_error(
        client
            .delete_item()
            .table_name("cond")
            .key("pk", s("k"))
            .condition_expression("v > :two")
            .expression_attribute_values(":two", n("2"))
            .send()
            .await,
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    assert_error(
        client
            .update_item()
            .table_name("cond")
            .key("pk", s("k"))
            .update_expression("SET v = :x")
            .condition_expression("attribute_not_exists(v)")
            .expression_attribute_values(":x", n("9"))
            .send()
            .await,
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    // Legacy Expected works too.
    client
        .delete_item()
        .table_name("cond")
        .key("pk", s("k"))
        .expected(
            "v",
            aws_sdk_dynamodb::types::ExpectedAttributeValue::builder()
                .value(n("1"))
                .build(),
        )
        .send()
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn key_size_and_request_errors() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "errs", true).await;
    assert_error(
        client
            .get_item()
            .table_name("nope")
            .key("pk", s("a"))
            .send()
            .await,
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    assert_error(
        client
            .get_item()
            .table_name("errs")
            .key("pk", s("a"))
            .send()
            .await,
        "ValidationException",
        "The provided key element does not match the schema",
    );
    assert_error(
        client
            .get_item()
            .table_name("errs")
            .key("pk", n("1"))
            .key("sk", n("1"))
            .send()
            .await,
        "ValidationException",
        "The provided key element does not match the schema",
    );
    assert_error(
        client
            .put_item()
            .table_name("errs")
            .item("pk", s("a"))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: Missing the key sk in the item",
    );
    assert_error(
        client
            .put_item()
            .table_name("errs")
            .item("pk", n("1"))
            .item("sk", n("1"))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N",
    );
    assert_error(
        client
            .put_item()
            .table_name("errs")
            .item("pk", s(""))
            .item("sk", n("1"))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk",
    );
    assert_error(
        client
            .get_item()
            .table_name("errs")
            .key("pk", s(&"x".repeat(2049)))
            .key("sk", n("1"))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
    );
    assert_error(
        client
            .put_item()
            .table_name("errs")
            .item("pk", s("a"))
            .item("sk", n("1"))
            .item("big", s(&"x".repeat(400 * 1024)))
            .send()
            .await,
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
    );
    assert_error(
        client
            .put_item()
            .table_name("errs")
            .item("pk", s("a"))
            .item("sk", n("1"))
            .return_values(ReturnValue::AllNew)
            .send()
            .await,
        "ValidationException",
        "ReturnValues can only be ALL_OLD or NONE",
    );
    assert_error(
        client
            .put_item()
            .table_name("errs")
            .item("pk", s("a"))
            .item("sk", n("1"))
            .return_values(ReturnValue::from("EVERYTHING"))
            .send()
            .await,
        "ValidationException",
        "1 validation error detected: Value 'EVERYTHING' at 'returnValues' failed to satisfy constraint: \
         Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]",
    );
    assert_error(
        client
            .put_item()
            .table_name("errs")
            .item("pk", s("a"))
            .item("sk", n("1"))
            .item("set", AttributeValue::Ss(vec![]))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: An string set  may not be empty",
    );
    assert_error(
        client
            .update_item()
            .table_name("errs")
            .key("pk", s("a"))
            .key("sk", n("1"))
            .update_expression("SET pk = :v")
            .expression_attribute_values(":v", s("b"))
            .send()
            .await,
        "ValidationException",
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key",
    );
    assert_error(
        client
            .get_item()
            .table_name("errs")
            .key("pk", s("a"))
            .key("sk", n("1"))
            .attributes_to_get("a")
            .projection_expression("a")
            .send()
            .await,
        "ValidationException",
        "Can not use both expression and non-expression parameters in the same request: \
         Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_adds_lose_no_increment() {
    const TASKS: usize = 16;
    const ADDS_PER_TASK: usize = 20;
    let server = TestServer::start().await;
    create_table(&server.client, "counter", false).await;
    let client = Arc::new(server.client.clone());
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let client = Arc::clone(&client);
        tasks.push(tokio::spawn(async move {
            for i in 0..ADDS_PER_TASK {
                // Half legacy ADD, half UpdateExpression ADD.
                let request = client.update_item().table_name("counter").key("pk", s("c"));
                let request = if (task + i) % 2 == 0 {
                    request.attribute_updates(
                        "n",
                        AttributeValueUpdate::builder()
                            .action(AttributeAction::Add)
                            .value(n("1"))
                            .build(),
                    )
                } else {
                    request
                        .update_expression("ADD n :one")
                        .expression_attribute_values(":one", n("1"))
                };
                request.send().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let counter = client
        .get_item()
        .table_name("counter")
        .key("pk", s("c"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        counter.item().unwrap().get("n"),
        Some(&n(&(TASKS * ADDS_PER_TASK).to_string()))
    );
    server.stop().await;
}

#[tokio::test]
async fn an_update_without_actions_creates_the_key_only_item() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "upserts", false).await;
    // An empty AttributeUpdates, and no update at all: both create the
    // item with just its key, which ALL_NEW returns.
    for (key, updates) in [("empty", Some(HashMap::new())), ("none", None)] {
        let reply = client
            .update_item()
            .table_name("upserts")
            .key("pk", s(key))
            .set_attribute_updates(updates)
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.attributes.unwrap(), item(&[("pk", s(key))]), "{key}");
        let stored = client
            .get_item()
            .table_name("upserts")
            .key("pk", s(key))
            .send()
            .await
            .unwrap();
        assert_eq!(stored.item.unwrap(), item(&[("pk", s(key))]), "{key}");
    }
    server.stop().await;
}

#[tokio::test]
async fn set_add_and_delete_of_another_set_type_are_a_mismatch() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "sets", false).await;
    client
        .put_item()
        .table_name("sets")
        .item("pk", s("k"))
        .item("tags", AttributeValue::Ss(vec!["a".into()]))
        .send()
        .await
        .unwrap();
    for action in ["ADD", "DELETE"] {
        assert_error(
            client
                .update_item()
                .table_name("sets")
                .key("pk", s("k"))
                .update_expression(format!("{action} tags :v"))
                .expression_attribute_values(":v", AttributeValue::Ns(vec!["1".into()]))
                .send()
                .await,
            "ValidationException",
            "Type mismatch for attribute to update",
        );
    }
    // The legacy parameter says the same.
    assert_error(
        client
            .update_item()
            .table_name("sets")
            .key("pk", s("k"))
            .attribute_updates(
                "tags",
                AttributeValueUpdate::builder()
                    .action(AttributeAction::Add)
                    .value(AttributeValue::Bs(vec![vec![1u8].into()]))
                    .build(),
            )
            .send()
            .await,
        "ValidationException",
        "Type mismatch for attribute to update",
    );
    server.stop().await;
}

#[tokio::test]
async fn attribute_names_are_1_to_65535_bytes_wherever_they_are_written() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "names", false).await;
    let longest = "n".repeat(65_535);
    let too_long = "n".repeat(65_536);
    client
        .put_item()
        .table_name("names")
        .item("pk", s("k"))
        .item(&longest, n("1"))
        .send()
        .await
        .unwrap();
    let too_long_message = "Attribute name is too long: 65536 bytes, the limit is 65535 bytes";
    let put = refusal(
        client
            .put_item()
            .table_name("names")
            .item("pk", s("k"))
            .item(&too_long, n("1"))
            .send()
            .await,
    );
    // Read through a placeholder, or named by a legacy parameter: still
    // refused.
    let projected = refusal(
        client
            .get_item()
            .table_name("names")
            .key("pk", s("k"))
            .projection_expression("#n")
            .expression_attribute_names("#n", &too_long)
            .send()
            .await,
    );
    let listed = refusal(
        client
            .get_item()
            .table_name("names")
            .key("pk", s("k"))
            .attributes_to_get(&too_long)
            .send()
            .await,
    );
    for (code, text) in [put, projected, listed] {
        assert_eq!(code, "ValidationException");
        assert!(text.contains(too_long_message), "{text}");
    }
    // Empty names, in an item and in legacy parameters' keys.
    let empty = (
        "ValidationException".to_string(),
        "One or more parameter values were invalid: Empty attribute name".to_string(),
    );
    let put = refusal(
        client
            .put_item()
            .table_name("names")
            .item("pk", s("k"))
            .item("", n("1"))
            .send()
            .await,
    );
    let listed = refusal(
        client
            .get_item()
            .table_name("names")
            .key("pk", s("k"))
            .attributes_to_get("")
            .send()
            .await,
    );
    let expected = refusal(
        client
            .delete_item()
            .table_name("names")
            .key("pk", s("k"))
            .expected(
                "",
                aws_sdk_dynamodb::types::ExpectedAttributeValue::builder()
                    .exists(false)
                    .build(),
            )
            .send()
            .await,
    );
    for refused in [put, listed, expected] {
        assert_eq!(refused, empty);
    }
    server.stop().await;
}

/// The code and message of a call that must fail.
fn refusal<T: std::fmt::Debug, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> (String, String)
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    api_common::code_and_message(&result.expect_err("the call should fail"))
}

#[tokio::test]
async fn expressions_past_the_limits_get_dynamodb_errors() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "limits", false).await;
    let projection = |text: String| {
        client
            .get_item()
            .table_name("limits")
            .key("pk", s("k"))
            .projection_expression(text)
            .send()
    };
    // 32 steps are the deepest path; 33 are refused.
    projection(format!("a{}", ".b".repeat(31))).await.unwrap();
    assert_error(
        projection(format!("a{}", ".b".repeat(32))).await,
        "ValidationException",
        "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33",
    );
    assert_error(
        projection("a[x]".to_string()).await,
        "ValidationException",
        "Invalid ProjectionExpression: Syntax error; token: \"x\", near: \"[x]\"",
    );
    let condition = |text: String| {
        client
            .put_item()
            .table_name("limits")
            .item("pk", s("k"))
            .condition_expression(text)
            .expression_attribute_values(":v", n("1"))
            .send()
    };
    // Deep nesting breaks DynamoDB's own rules first.
    assert_error(
        condition(format!("{}a = :v{}", "(".repeat(200), ")".repeat(200))).await,
        "ValidationException",
        "Invalid ConditionExpression: The expression has redundant parentheses;",
    );
    assert_error(
        condition(format!("{}a = :v", "NOT ".repeat(400))).await,
        "ValidationException",
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 401",
    );
    assert_error(
        condition(format!(
            "{}a = :v{}",
            "(a = :v AND ".repeat(160),
            ")".repeat(160)
        ))
        .await,
        "ValidationException",
        "Invalid ConditionExpression: The expression contains too many operators; operator count: 321",
    );
    // An update knows its two functions by name: another is a syntax error.
    assert_error(
        client
            .update_item()
            .table_name("limits")
            .key("pk", s("k"))
            .update_expression("SET a = frobnicate(b)")
            .send()
            .await,
        "ValidationException",
        "Invalid UpdateExpression: Syntax error; token: \"(\", near: \"frobnicate(b\"",
    );
    server.stop().await;
}

#[tokio::test]
async fn expected_refuses_its_edge_cases() {
    use aws_sdk_dynamodb::types::{
        ComparisonOperator, ConditionalOperator, ExpectedAttributeValue,
    };
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "expected", false).await;
    let put = || client.put_item().table_name("expected").item("pk", s("k"));
    let compare = |operator: ComparisonOperator, values: &[&str]| {
        ExpectedAttributeValue::builder()
            .comparison_operator(operator)
            .set_attribute_value_list(Some(values.iter().map(|v| s(v)).collect()))
            .build()
    };
    let invalid = "One or more parameter values were invalid:";
    for (operator, values) in [
        (ComparisonOperator::NotContains, &["a", "b"][..]),
        (ComparisonOperator::Between, &["a"][..]),
        (ComparisonOperator::Between, &["a", "b", "c"][..]),
    ] {
        let name = operator.as_str().to_string();
        assert_error(
            put().expected("a", compare(operator, values)).send().await,
            "ValidationException",
            &format!("{invalid} Invalid number of argument(s) for the {name} ComparisonOperator"),
        );
    }
    assert_error(
        put()
            .expected("a", compare(ComparisonOperator::Between, &["z", "a"]))
            .send()
            .await,
        "ValidationException",
        "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
    );
    assert_error(
        put().set_expected(Some(HashMap::new())).send().await,
        "ValidationException",
        &format!("{invalid} Expected must not be empty"),
    );
    for expected in [None, Some(HashMap::new())] {
        assert_error(
            put()
                .set_expected(expected)
                .conditional_operator(ConditionalOperator::Or)
                .send()
                .await,
            "ValidationException",
            &format!("{invalid} ConditionalOperator can only be used when Expected is present"),
        );
    }
    server.stop().await;
}
