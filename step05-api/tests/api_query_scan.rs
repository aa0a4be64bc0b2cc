//! Query and Scan through the official SDK: paging through thousands of
//! items over many partitions in both directions, the 1 MB page, every
//! sort-key condition, filters with Count and ScannedCount, Select,
//! projections, parallel scan segments, consumed capacity, and the
//! validation errors provoked on purpose.
// Code outside #[test] functions unwraps too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;
mod support_query;

use std::collections::{BTreeSet, HashMap};

use api_common::{TestServer, assert_error, create_table, n, s};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, ComparisonOperator, Condition, ReturnConsumedCapacity, ScalarAttributeType,
    Select,
};
use support_query::{create_table_typed, item, split, text, write_all};

type Item = HashMap<String, AttributeValue>;

/// Collections in the shared data set, and items per collection.
const COLLECTIONS: usize = 40;
const ITEMS_PER_COLLECTION: usize = 60;
const PARTITIONS: usize = 8;

fn collection(index: usize) -> String {
    format!("user-{index:03}")
}

/// 2,400 items in 40 collections, split over 8 partitions.
async fn populated() -> TestServer {
    let server = support_query::start().await;
    let client = &server.client;
    create_table(client, "events", true).await;
    let mut items = Vec::new();
    for c in 0..COLLECTIONS {
        for i in 0..ITEMS_PER_COLLECTION {
            items.push(item(&[
                ("pk", s(&collection(c))),
                ("sk", n(&i.to_string())),
                ("parity", s(if i % 2 == 0 { "even" } else { "odd" })),
                ("n", n(&i.to_string())),
            ]));
        }
    }
    write_all(client, "events", items).await;
    assert!(split(&server, "events", PARTITIONS).await >= PARTITIONS);
    server
}

/// Every page of a Query with `limit`, in one direction.
async fn query_pages(
    client: &Client,
    pk: &str,
    limit: i32,
    forward: bool,
) -> Vec<(Vec<Item>, Option<Item>)> {
    let mut pages = Vec::new();
    let mut start = None;
    for _ in 0..1000 {
        let output = client
            .query()
            .table_name("events")
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .limit(limit)
            .scan_index_forward(forward)
            .set_exclusive_start_key(start.clone())
            .send()
            .await
            .unwrap();
        let last = output.last_evaluated_key().cloned();
        assert_eq!(output.count() as usize, output.items().len());
        assert_eq!(output.scanned_count(), output.count());
        pages.push((output.items().to_vec(), last.clone()));
        match last {
            Some(key) => start = Some(key),
            None => return pages,
        }
    }
    panic!("a Query that never ends");
}

fn sort_keys(items: &[Item]) -> Vec<i64> {
    items
        .iter()
        .map(|item| text(item, "sk").parse().unwrap())
        .collect()
}

#[tokio::test]
async fn query_pages_through_collections_in_both_directions() {
    let server = populated().await;
    let client = &server.client;
    for c in [0, 7, 19, 33] {
        let pk = collection(c);
        for (limit, forward) in [(7, true), (7, false), (1, true), (60, true), (13, false)] {
            let pages = query_pages(client, &pk, limit, forward).await;
            let keys: Vec<i64> = pages
                .iter()
                .flat_map(|(items, _)| sort_keys(items))
                .collect();
            let mut expected: Vec<i64> = (0..ITEMS_PER_COLLECTION as i64).collect();
            if !forward {
                expected.reverse();
            }
            assert_eq!(keys, expected, "{pk} limit {limit} forward {forward}");
            for (items, last) in &pages {
                assert!(items.len() <= limit as usize);
                // A page that stopped at Limit names its last item.
                if items.len() == limit as usize {
                    let last = last.as_ref().unwrap();
                    assert_eq!(last.len(), 2);
                    assert_eq!(Some(last), items.last().map(key_of).as_ref());
                }
            }
            // 60 items in full pages of 1, 60: the last full page still
            // carries a key, and the page after it is empty.
            if ITEMS_PER_COLLECTION.is_multiple_of(limit as usize) {
                let (items, last) = pages.last().unwrap();
                assert!(items.is_empty() && last.is_none());
            }
        }
    }
    // A collection that does not exist: one empty page.
    let pages = query_pages(client, "nobody", 5, true).await;
    assert_eq!(pages.len(), 1);
    assert!(pages[0].0.is_empty());
    server.stop().await;
}

fn key_of(item: &Item) -> Item {
    item.iter()
        .filter(|(name, _)| *name == "pk" || *name == "sk")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Every page of a Scan (segment `segment` of `total`, or the table).
async fn scan_all(client: &Client, limit: i32, segment: Option<(i32, i32)>) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    let mut scanned = 0;
    for _ in 0..10_000 {
        let output = client
            .scan()
            .table_name("events")
            .limit(limit)
            .set_segment(segment.map(|(s, _)| s))
            .set_total_segments(segment.map(|(_, t)| t))
            .set_exclusive_start_key(start.clone())
            .send()
            .await
            .unwrap();
        assert!(output.items().len() <= limit as usize);
        scanned += output.scanned_count();
        items.extend(output.items().iter().cloned());
        match output.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => {
                assert_eq!(scanned as usize, items.len());
                return items;
            }
        }
    }
    panic!("a Scan that never ends");
}

fn all_keys() -> BTreeSet<(String, i64)> {
    (0..COLLECTIONS)
        .flat_map(|c| (0..ITEMS_PER_COLLECTION as i64).map(move |i| (collection(c), i)))
        .collect()
}

fn keys(items: &[Item]) -> Vec<(String, i64)> {
    items
        .iter()
        .map(|item| (text(item, "pk"), text(item, "sk").parse().unwrap()))
        .collect()
}

#[tokio::test]
async fn scan_and_parallel_scan_see_every_item_exactly_once() {
    let server = populated().await;
    let client = &server.client;
    let expected = all_keys();

    let whole = keys(&scan_all(client, 97, None).await);
    assert_eq!(whole.len(), expected.len(), "no item twice");
    assert_eq!(whole.iter().cloned().collect::<BTreeSet<_>>(), expected);

    for total in [1, 3, 7, 64] {
        let mut seen = Vec::new();
        for segment in 0..total {
            seen.extend(keys(&scan_all(client, 150, Some((segment, total))).await));
        }
        assert_eq!(
            seen.len(),
            expected.len(),
            "{total} segments: no item twice"
        );
        assert_eq!(
            seen.into_iter().collect::<BTreeSet<_>>(),
            expected,
            "{total} segments: every item"
        );
    }

    // A starting key from another segment is refused.
    let first = client
        .scan()
        .table_name("events")
        .segment(0)
        .total_segments(2)
        .limit(1)
        .send()
        .await
        .unwrap();
    let start = first.last_evaluated_key().unwrap().clone();
    assert_error(
        client
            .scan()
            .table_name("events")
            .segment(1)
            .total_segments(2)
            .set_exclusive_start_key(Some(start))
            .send()
            .await,
        "ValidationException",
        "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: 2 Segment: 1",
    );
    server.stop().await;
}

#[tokio::test]
async fn filters_count_what_they_keep_and_limit_counts_what_is_read() {
    let server = populated().await;
    let client = &server.client;
    let output = client
        .query()
        .table_name("events")
        .key_condition_expression("pk = :pk")
        .filter_expression("parity = :p AND #n >= :min")
        .expression_attribute_names("#n", "n")
        .expression_attribute_values(":pk", s(&collection(3)))
        .expression_attribute_values(":p", s("even"))
        .expression_attribute_values(":min", n("10"))
        .limit(20)
        .send()
        .await
        .unwrap();
    assert_eq!(output.scanned_count(), 20);
    assert_eq!(output.count(), 5, "10, 12, 14, 16, 18");
    assert_eq!(sort_keys(output.items()), vec![10, 12, 14, 16, 18]);
    assert!(output.last_evaluated_key().is_some());

    // A filter that keeps nothing: empty pages that still go on.
    let output = client
        .query()
        .table_name("events")
        .key_condition_expression("pk = :pk")
        .filter_expression("parity = :p")
        .expression_attribute_values(":pk", s(&collection(3)))
        .expression_attribute_values(":p", s("neither"))
        .limit(10)
        .send()
        .await
        .unwrap();
    assert_eq!((output.count(), output.scanned_count()), (0, 10));
    assert!(output.items().is_empty());
    assert!(output.last_evaluated_key().is_some());

    // Select COUNT: counts, no Items member.
    let output = client
        .scan()
        .table_name("events")
        .select(Select::Count)
        .filter_expression("parity = :p")
        .expression_attribute_values(":p", s("odd"))
        .send()
        .await
        .unwrap();
    assert_eq!(output.items, None);
    assert_eq!(
        output.scanned_count() as usize,
        COLLECTIONS * ITEMS_PER_COLLECTION
    );
    assert_eq!(
        output.count() as usize,
        COLLECTIONS * ITEMS_PER_COLLECTION / 2
    );

    // Legacy QueryFilter with ConditionalOperator OR.
    let output = client
        .query()
        .table_name("events")
        .key_conditions(
            "pk",
            condition(ComparisonOperator::Eq, vec![s(&collection(5))]),
        )
        .query_filter("n", condition(ComparisonOperator::Lt, vec![n("2")]))
        .query_filter("parity", condition(ComparisonOperator::Eq, vec![s("zzz")]))
        .conditional_operator(aws_sdk_dynamodb::types::ConditionalOperator::Or)
        .send()
        .await
        .unwrap();
    assert_eq!((output.count(), output.scanned_count()), (2, 60));
    server.stop().await;
}

fn condition(operator: ComparisonOperator, values: Vec<AttributeValue>) -> Condition {
    Condition::builder()
        .comparison_operator(operator)
        .set_attribute_value_list(Some(values))
        .build()
        .unwrap()
}

#[tokio::test]
async fn projections_and_select() {
    let server = populated().await;
    let client = &server.client;
    let output = client
        .query()
        .table_name("events")
        .key_condition_expression("pk = :pk AND sk < :three")
        .projection_expression("#n, parity, nothing")
        .expression_attribute_names("#n", "n")
        .expression_attribute_values(":pk", s(&collection(1)))
        .expression_attribute_values(":three", n("3"))
        .send()
        .await
        .unwrap();
    assert_eq!(output.count(), 3);
    for item in output.items() {
        let mut names: Vec<&String> = item.keys().collect();
        names.sort();
        assert_eq!(names, vec!["n", "parity"], "keys are not added");
    }
    // The LastEvaluatedKey still has the key attributes.
    let output = client
        .query()
        .table_name("events")
        .key_condition_expression("pk = :pk")
        .projection_expression("parity")
        .expression_attribute_values(":pk", s(&collection(1)))
        .limit(2)
        .send()
        .await
        .unwrap();
    assert_eq!(output.last_evaluated_key().unwrap().len(), 2);

    let output = client
        .scan()
        .table_name("events")
        .attributes_to_get("pk")
        .select(Select::SpecificAttributes)
        .limit(5)
        .send()
        .await
        .unwrap();
    assert!(output.items().iter().all(|item| item.len() == 1));

    assert_error(
        client
            .scan()
            .table_name("events")
            .select(Select::Count)
            .projection_expression("pk")
            .send()
            .await,
        "ValidationException",
        "1 validation error detected: Cannot specify the ProjectionExpression when choosing to get only the Count",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .select(Select::AllProjectedAttributes)
            .send()
            .await,
        "ValidationException",
        "1 validation error detected: ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .select(Select::SpecificAttributes)
            .send()
            .await,
        "ValidationException",
        "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
    );
    server.stop().await;
}

/// Sort keys of a Query on collection 2 with `condition` on `sk`.
async fn matching(client: &Client, condition: &str, values: &[(&str, AttributeValue)]) -> Vec<i64> {
    let mut request = client
        .query()
        .table_name("events")
        .key_condition_expression(format!("pk = :pk AND {condition}"))
        .expression_attribute_values(":pk", s(&collection(2)));
    for (name, value) in values {
        request = request.expression_attribute_values(*name, value.clone());
    }
    sort_keys(request.send().await.unwrap().items())
}

#[tokio::test]
async fn every_sort_key_condition() {
    let server = populated().await;
    let client = &server.client;
    let range = |from: i64, to: i64| (from..to).collect::<Vec<i64>>();
    assert_eq!(
        matching(client, "sk = :v", &[(":v", n("7"))]).await,
        vec![7]
    );
    assert_eq!(
        matching(client, "sk < :v", &[(":v", n("3"))]).await,
        range(0, 3)
    );
    assert_eq!(
        matching(client, "sk <= :v", &[(":v", n("3"))]).await,
        range(0, 4)
    );
    assert_eq!(
        matching(client, "sk > :v", &[(":v", n("56"))]).await,
        range(57, 60)
    );
    assert_eq!(
        matching(client, "sk >= :v", &[(":v", n("56"))]).await,
        range(56, 60)
    );
    assert_eq!(
        matching(client, ":v > sk", &[(":v", n("2"))]).await,
        range(0, 2)
    );
    assert_eq!(
        matching(
            client,
            "sk BETWEEN :a AND :b",
            &[(":a", n("10")), (":b", n("12.5"))]
        )
        .await,
        range(10, 13)
    );
    assert!(
        matching(client, "sk = :v", &[(":v", n("1000"))])
            .await
            .is_empty()
    );

    // begins_with needs a string (or binary) sort key.
    create_table_typed(
        client,
        "words",
        ScalarAttributeType::S,
        Some(ScalarAttributeType::S),
    )
    .await;
    let words = ["apple", "apricot", "banana", "app", "ap", "b"];
    write_all(
        client,
        "words",
        words
            .iter()
            .map(|w| item(&[("pk", s("w")), ("sk", s(w))]))
            .collect(),
    )
    .await;
    let output = client
        .query()
        .table_name("words")
        .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
        .expression_attribute_values(":pk", s("w"))
        .expression_attribute_values(":p", s("app"))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    let found: Vec<String> = output.items().iter().map(|i| text(i, "sk")).collect();
    assert_eq!(found, vec!["apple", "app"]);
    // The same through legacy KeyConditions.
    let output = client
        .query()
        .table_name("words")
        .key_conditions("pk", condition(ComparisonOperator::Eq, vec![s("w")]))
        .key_conditions(
            "sk",
            condition(ComparisonOperator::BeginsWith, vec![s("ap")]),
        )
        .send()
        .await
        .unwrap();
    let found: Vec<String> = output.items().iter().map(|i| text(i, "sk")).collect();
    assert_eq!(found, vec!["ap", "app", "apple", "apricot"]);
    assert_error(
        client
            .query()
            .table_name("events")
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", s("x"))
            .expression_attribute_values(":p", n("1"))
            .send()
            .await,
        "ValidationException",
        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
    );
    server.stop().await;
}

/// 100 KB of payload per item: ten and a bit make a megabyte.
const BLOB_BYTES: usize = 100 * 1024;

#[tokio::test]
async fn pages_stop_at_one_megabyte_and_charge_the_bytes_read() {
    let server = support_query::start().await;
    let client = &server.client;
    create_table_typed(
        client,
        "big",
        ScalarAttributeType::S,
        Some(ScalarAttributeType::S),
    )
    .await;
    let blob = "x".repeat(BLOB_BYTES);
    for i in 0..30 {
        client
            .put_item()
            .table_name("big")
            .set_item(Some(item(&[
                ("pk", s("big")),
                ("sk", s(&format!("{i:04}"))),
                ("blob", s(&blob)),
            ])))
            .send()
            .await
            .unwrap();
    }
    // pk + "big" + sk + 4 digits + "blob" + the blob.
    let item_bytes = 2 + 3 + 2 + 4 + 4 + BLOB_BYTES;
    let mut pages = Vec::new();
    let mut start = None;
    for _ in 0..10 {
        let output = client
            .query()
            .table_name("big")
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("big"))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .set_exclusive_start_key(start.clone())
            .send()
            .await
            .unwrap();
        let count = output.items().len();
        let units = output
            .consumed_capacity()
            .unwrap()
            .capacity_units()
            .unwrap();
        // Rounded up once per page, halved (eventually consistent).
        let expected = (count * item_bytes).div_ceil(4096) as f64 / 2.0;
        assert_eq!(units, expected, "page {}", pages.len());
        pages.push(count);
        match output.last_evaluated_key() {
            Some(key) => start = Some(key.clone()),
            None => break,
        }
    }
    // The item that crosses 1 MB is the last of its page.
    assert_eq!(pages, vec![11, 11, 8]);

    // The same for a Scan, strongly consistent; Limit wins when smaller.
    let output = client
        .scan()
        .table_name("big")
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .unwrap();
    assert_eq!(output.count(), 11);
    let consumed = output.consumed_capacity().unwrap();
    let expected = (11 * item_bytes).div_ceil(4096) as f64;
    assert_eq!(consumed.capacity_units(), Some(expected));
    assert_eq!(consumed.table().unwrap().capacity_units(), Some(expected));
    let output = client
        .scan()
        .table_name("big")
        .limit(3)
        .send()
        .await
        .unwrap();
    assert_eq!(output.count(), 3);
    server.stop().await;
}

#[tokio::test]
async fn small_pages_cost_the_minimum() {
    let server = support_query::start().await;
    let client = &server.client;
    create_table(client, "tiny", true).await;
    let output = client
        .query()
        .table_name("tiny")
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", s("nobody"))
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let consumed = output.consumed_capacity().unwrap();
    assert_eq!(consumed.table_name(), Some("tiny"));
    assert_eq!(consumed.capacity_units(), Some(1.0));
    let output = client
        .scan()
        .table_name("tiny")
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    assert_eq!(
        output.consumed_capacity().unwrap().capacity_units(),
        Some(0.5)
    );
    assert_eq!((output.count(), output.scanned_count()), (0, 0));
    assert_eq!(output.last_evaluated_key(), None);
    server.stop().await;
}

#[tokio::test]
async fn validation_errors() {
    let server = populated().await;
    let client = &server.client;
    let v = "ValidationException";
    let query = || {
        client
            .query()
            .table_name("events")
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&collection(0)))
    };
    assert_error(
        query().limit(0).send().await,
        v,
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    assert_error(
        client.query().table_name("events").send().await,
        v,
        "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
    );
    assert_error(
        query()
            .key_conditions("pk", condition(ComparisonOperator::Eq, vec![s("a")]))
            .send()
            .await,
        v,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}",
    );
    assert_error(
        query().index_name("byParity").send().await,
        v,
        "The table does not have the specified index: byParity",
    );
    assert_error(
        query()
            .filter_expression("sk > :z")
            .expression_attribute_values(":z", n("0"))
            .send()
            .await,
        v,
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk",
    );
    assert_error(
        query()
            .expression_attribute_values(":unused", n("0"))
            .send()
            .await,
        v,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}",
    );
    assert_error(
        query()
            .exclusive_start_key("pk", s(&collection(0)))
            .send()
            .await,
        v,
        "The provided starting key is invalid",
    );
    assert_error(
        query()
            .exclusive_start_key("pk", s(&collection(1)))
            .exclusive_start_key("sk", n("3"))
            .send()
            .await,
        v,
        "The provided starting key is outside query boundaries based on provided conditions",
    );
    assert_error(
        query()
            .exclusive_start_key("pk", s(&collection(0)))
            .exclusive_start_key("sk", s("3"))
            .send()
            .await,
        v,
        "The provided starting key is invalid: The provided key element does not match the schema",
    );
    assert_error(
        client
            .query()
            .table_name("events")
            .key_condition_expression("pk = :pk OR sk = :pk")
            .expression_attribute_values(":pk", s("a"))
            .send()
            .await,
        v,
        "Invalid operator used in KeyConditionExpression: OR",
    );
    assert_error(
        client
            .query()
            .table_name("events")
            .key_condition_expression("sk = :v")
            .expression_attribute_values(":v", n("1"))
            .send()
            .await,
        v,
        "Query condition missed key schema element: pk",
    );
    assert_error(
        client
            .query()
            .table_name("missing")
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("a"))
            .send()
            .await,
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    // Scan.
    assert_error(
        client.scan().table_name("events").segment(0).send().await,
        v,
        "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .total_segments(4)
            .send()
            .await,
        v,
        "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .segment(4)
            .total_segments(4)
            .send()
            .await,
        v,
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is not less than TotalSegments: 4",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .segment(0)
            .total_segments(1_000_001)
            .send()
            .await,
        v,
        "1 validation error detected: Value '1000001' at 'totalSegments' failed to satisfy constraint: Member must have value less than or equal to 1000000",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .exclusive_start_key("pk", s("a"))
            .send()
            .await,
        v,
        "The provided starting key is invalid: The provided key element does not match the schema",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .expression_attribute_names("#a", "a")
            .send()
            .await,
        v,
        "ExpressionAttributeNames can only be specified when using expressions",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .projection_expression("pk")
            .expression_attribute_values(":a", n("1"))
            .send()
            .await,
        v,
        "ExpressionAttributeValues can only be specified when using expressions: FilterExpression is null",
    );
    assert_error(
        client
            .scan()
            .table_name("events")
            .scan_filter("n", condition(ComparisonOperator::Eq, vec![n("1")]))
            .filter_expression("n = :one")
            .expression_attribute_values(":one", n("1"))
            .send()
            .await,
        v,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {ScanFilter} Expression parameters: {FilterExpression}",
    );
    server.stop().await;
}

#[tokio::test]
async fn start_keys_must_fit_the_schema_and_legacy_between_bounds_be_ordered() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "flat", false).await;
    // A sort key on a table that has none.
    assert_error(
        client
            .query()
            .table_name("flat")
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s("a"))
            .exclusive_start_key("pk", s("a"))
            .exclusive_start_key("sk", n("1"))
            .send()
            .await,
        "ValidationException",
        "The provided starting key is invalid",
    );
    let reversed = condition(ComparisonOperator::Between, vec![n("5"), n("1")]);
    assert_error(
        client
            .query()
            .table_name("flat")
            .key_conditions("pk", condition(ComparisonOperator::Eq, vec![s("a")]))
            .query_filter("v", reversed.clone())
            .send()
            .await,
        "ValidationException",
        "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
    );
    assert_error(
        client
            .scan()
            .table_name("flat")
            .scan_filter("v", reversed)
            .send()
            .await,
        "ValidationException",
        "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
    );
    // Equal bounds are a range of one value.
    client
        .scan()
        .table_name("flat")
        .scan_filter(
            "v",
            condition(ComparisonOperator::Between, vec![n("1"), n("1")]),
        )
        .send()
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test]
async fn scan_rounds_the_total_of_the_items_read_once() {
    let server = TestServer::start().await;
    let client = &server.client;
    create_table(client, "small", false).await;
    // Ten items of about 1.5 KB: 15 KB read is 4 units, where rounding
    // each item up would make 10.
    for i in 0..10 {
        client
            .put_item()
            .table_name("small")
            .item("pk", s(&format!("k{i}")))
            .item("v", s(&"x".repeat(1500)))
            .send()
            .await
            .unwrap();
    }
    for (consistent, units) in [(true, 4.0), (false, 2.0)] {
        let page = client
            .scan()
            .table_name("small")
            .consistent_read(consistent)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .unwrap();
        assert_eq!(page.count(), 10);
        let consumed = page.consumed_capacity().unwrap();
        assert_eq!(consumed.capacity_units(), Some(units), "{consumed:?}");
        assert_eq!(consumed.read_capacity_units(), Some(units), "{consumed:?}");
    }
    server.stop().await;
}
