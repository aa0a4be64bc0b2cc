//! Single-item operations, conditional writes, Query and Scan on a table
//! with several partitions, through the public API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use step01_kv::engine::ScanDirection;
use step01_kv::error::ValidationError;
use step01_kv::key::{KeyValue, PrimaryKey};
use step01_kv::value::AttributeValue;
use step03_partitioning::error::{ConditionalError, TableError};
use step03_partitioning::hash::partition_hash;
use step03_partitioning::layout::SortCondition;
use step03_partitioning::page::{PAGE_BYTES_MAX, QueryRequest, ScanRequest};
use step03_partitioning::range::HashRange;
use support::*;

#[test]
fn put_get_delete_and_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = options(4);
    let table = open_table(dir.path(), options);
    let first = table.put(item("alice", 1, "one")).unwrap();
    assert_eq!(first.old_item, None);
    assert_eq!(first.write_units, 1);
    assert_eq!(
        table.get(&key("alice", 1)).unwrap(),
        Some(item("alice", 1, "one"))
    );
    assert_eq!(table.get(&key("alice", 2)).unwrap(), None);

    let second = table.put(item("alice", 1, &"x".repeat(3000))).unwrap();
    assert_eq!(second.old_item, Some(item("alice", 1, "one")));
    assert_eq!(second.write_units, 3, "3 KB item: 3 write units");

    let deleted = table.delete(&key("alice", 1)).unwrap();
    assert_eq!(deleted.write_units, 3, "charged by the deleted item");
    assert_eq!(table.get(&key("alice", 1)).unwrap(), None);
    let missing = table.delete(&key("alice", 1)).unwrap();
    assert_eq!((missing.old_item, missing.write_units), (None, 1));
    assert_eq!(table.verify().unwrap().item_count, 0);
}

#[test]
fn keys_and_items_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    let mut no_sort = item("a", 1, "v");
    no_sort.remove("sk");
    assert!(matches!(
        table.put(no_sort),
        Err(TableError::Validation(ValidationError::KeyMissing { .. }))
    ));
    assert!(matches!(
        table.put(item("", 1, "v")),
        Err(TableError::Validation(
            ValidationError::KeyStringEmpty { .. }
        ))
    ));
    let too_big = item("a", 1, &"x".repeat(400 * 1024));
    assert!(matches!(
        table.put(too_big),
        Err(TableError::Validation(ValidationError::ItemTooLarge))
    ));
    let wrong_type = PrimaryKey {
        partition: num(1),
        sort: Some(num(1)),
    };
    assert!(matches!(
        table.get(&wrong_type),
        Err(TableError::Validation(
            ValidationError::KeyTypeMismatch { .. }
        ))
    ));
    let partial = PrimaryKey::partition_only(KeyValue::S("a".to_string()));
    let error = table.get(&partial).unwrap_err();
    assert_eq!(
        error.to_string(),
        "The provided key element does not match the schema"
    );
    assert_eq!(table.verify().unwrap().item_count, 0, "nothing was written");
}

#[test]
fn conditional_writes_check_the_current_item() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(2).0);
    let absent = |old: Option<&_>| if old.is_none() { Ok(()) } else { Err("exists") };
    table.put_if(item("k", 1, "first"), absent).unwrap();
    match table.put_if(item("k", 1, "second"), absent) {
        Err(ConditionalError::Condition("exists")) => {}
        other => panic!("the condition should fail: {other:?}"),
    }
    assert_eq!(
        value_of(&table.get(&key("k", 1)).unwrap().unwrap()),
        "first"
    );

    let holds = |wanted: &'static str| {
        move |old: Option<&step01_kv::value::Item>| match old {
            Some(item) if value_of(item) == wanted => Ok(()),
            _ => Err("mismatch"),
        }
    };
    assert!(matches!(
        table.delete_if(&key("k", 1), holds("other")),
        Err(ConditionalError::Condition("mismatch"))
    ));
    let deleted = table.delete_if(&key("k", 1), holds("first")).unwrap();
    assert_eq!(deleted.old_item, Some(item("k", 1, "first")));
    assert_eq!(table.get(&key("k", 1)).unwrap(), None);
}

#[test]
fn query_sort_conditions_directions_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(3).0);
    for sk in -5..15 {
        table.put(item("coll", sk, &format!("v{sk}"))).unwrap();
    }
    table.put(item("other", 3, "x")).unwrap();
    let sks = |items: Vec<step01_kv::value::Item>| -> Vec<i64> {
        items
            .iter()
            .map(|item| match item.get("sk") {
                Some(AttributeValue::N(n)) => n.to_string().parse().unwrap(),
                _ => panic!(),
            })
            .collect()
    };
    let all: Vec<i64> = (-5..15).collect();
    for limit in [None, Some(1), Some(3), Some(20), Some(21)] {
        let forward = query_all(
            &table,
            "coll",
            SortCondition::All,
            ScanDirection::Forward,
            limit,
        );
        assert_eq!(sks(forward), all, "limit {limit:?}");
        let reverse = query_all(
            &table,
            "coll",
            SortCondition::All,
            ScanDirection::Reverse,
            limit,
        );
        assert_eq!(sks(reverse), all.iter().rev().copied().collect::<Vec<_>>());
    }
    let cases = [
        (SortCondition::Eq(num(3)), vec![3]),
        (SortCondition::Lt(num(-3)), vec![-5, -4]),
        (SortCondition::Le(num(-3)), vec![-5, -4, -3]),
        (SortCondition::Gt(num(12)), vec![13, 14]),
        (SortCondition::Ge(num(12)), vec![12, 13, 14]),
        (SortCondition::Between(num(0), num(3)), vec![0, 1, 2, 3]),
    ];
    for (condition, want) in cases {
        let got = query_all(
            &table,
            "coll",
            condition.clone(),
            ScanDirection::Forward,
            Some(2),
        );
        assert_eq!(sks(got), want, "{condition:?}");
    }
    assert!(
        query_all(
            &table,
            "nobody",
            SortCondition::All,
            ScanDirection::Forward,
            None
        )
        .is_empty()
    );
}

#[test]
fn a_full_page_carries_a_last_evaluated_key_even_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    for sk in 0..4 {
        table.put(item("p", sk, "v")).unwrap();
    }
    let mut request = QueryRequest::new(KeyValue::S("p".to_string()));
    request.limit = Some(4);
    let page = table.query(&request).unwrap();
    assert_eq!(page.items.len(), 4);
    assert_eq!(page.last_evaluated_key, Some(key("p", 3)));
    request.exclusive_start_key = page.last_evaluated_key;
    let last = table.query(&request).unwrap();
    assert!(last.items.is_empty());
    assert_eq!(last.last_evaluated_key, None);
    assert_eq!(last.read_units, 1, "an empty page still costs the minimum");
}

#[test]
fn query_start_keys_and_parameters_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    let mut request = QueryRequest::new(KeyValue::S("p".to_string()));
    let message = |request: &QueryRequest| table.query(request).unwrap_err().to_string();

    request.exclusive_start_key = Some(key("q", 1));
    assert!(message(&request).contains("outside query boundaries"));
    request.sort = SortCondition::Lt(num(5));
    request.exclusive_start_key = Some(key("p", 7));
    assert!(message(&request).contains("does not match the range key predicate"));
    request.exclusive_start_key = Some(PrimaryKey::partition_only(KeyValue::S("p".to_string())));
    assert!(message(&request).contains("The provided starting key is invalid"));
    request.exclusive_start_key = None;
    request.sort = SortCondition::Eq(KeyValue::S("x".to_string()));
    assert!(message(&request).contains("does not match schema type"));
    request.sort = SortCondition::BeginsWith(num(1));
    assert!(message(&request).contains("begins_with"));
    request.sort = SortCondition::All;
    request.limit = Some(0);
    assert!(message(&request).contains("greater than or equal to 1"));
    request.limit = None;
    request.partition_key = num(1);
    assert!(matches!(
        table.query(&request),
        Err(TableError::Validation(_))
    ));
}

#[test]
fn pages_stop_at_one_megabyte_including_the_crossing_item() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(2).0);
    let big = "x".repeat(100 * 1024);
    for sk in 0..30 {
        table.put(item("big", sk, &big)).unwrap();
    }
    let page = table
        .query(&QueryRequest::new(KeyValue::S("big".to_string())))
        .unwrap();
    // Ten items are just under 1 MB; the eleventh crosses it and is kept.
    assert_eq!(page.items.len(), 11);
    assert!(page.scanned_bytes >= PAGE_BYTES_MAX);
    assert_eq!(page.last_evaluated_key, Some(key("big", 10)));
    assert_eq!(page.read_units, page.scanned_bytes.div_ceil(4096));
    let pages = scan_all(&table, 1, None);
    assert_eq!(pages[0].len(), 30, "the scan pages through all of them");
}

#[test]
fn scan_segments_are_disjoint_complete_and_in_hash_order() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(5).0);
    let mut model = Model::new();
    for i in 0..120 {
        let it = item(&format!("user#{}", i % 40), i / 40, &format!("{i}"));
        table.put(it.clone()).unwrap();
        model_insert(&mut model, it);
    }
    let want: Vec<_> = model.values().cloned().collect();
    for total in [1, 2, 3, 7, 64] {
        for limit in [None, Some(1), Some(5)] {
            let segments = scan_all(&table, total, limit);
            for (segment, items) in segments.iter().enumerate() {
                let range = HashRange::nth_of(segment as u32, total).unwrap();
                for item in items {
                    let pk = schema().key_of(item).unwrap().partition;
                    assert!(range.contains(partition_hash(&pk)), "segment {segment}");
                }
            }
            let all: Vec<_> = segments.into_iter().flatten().collect();
            assert_eq!(all, want, "{total} segments, limit {limit:?}");
        }
    }
}

#[test]
fn scan_parameters_and_start_keys_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(1).0);
    let bad_segment = ScanRequest {
        segment: 4,
        total_segments: 4,
        ..ScanRequest::default()
    };
    assert!(
        table
            .scan(&bad_segment)
            .unwrap_err()
            .to_string()
            .contains("Segment: 4 is not less than TotalSegments: 4")
    );
    // A start key from segment 0 of 2 is refused by segment 1.
    let pk = (0..)
        .map(|i| format!("k{i}"))
        .find(|pk| partition_hash(&KeyValue::S(pk.clone())) < u128::MAX / 2)
        .unwrap();
    let request = ScanRequest {
        segment: 1,
        total_segments: 2,
        limit: None,
        exclusive_start_key: Some(key(&pk, 1)),
        ..ScanRequest::default()
    };
    assert!(
        table
            .scan(&request)
            .unwrap_err()
            .to_string()
            .contains("segment")
    );
    let segment_zero = ScanRequest {
        segment: 0,
        ..request
    };
    assert!(table.scan(&segment_zero).is_ok());
}

#[test]
fn ex03_4_query_and_scan_pages_resume_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let table = open_table(dir.path(), options(3).0);
    let mut model = Model::new();
    for i in 0..60 {
        let it = item(&format!("p{}", i % 6), i, "v");
        table.put(it.clone()).unwrap();
        model_insert(&mut model, it);
    }
    let pages = scan_all(&table, 1, Some(7));
    assert_eq!(pages[0], model.values().cloned().collect::<Vec<_>>());
    let keys: BTreeSet<i64> = (0..60).filter(|i| i % 6 == 2).collect();
    let reverse = query_all(
        &table,
        "p2",
        SortCondition::All,
        ScanDirection::Reverse,
        Some(3),
    );
    let got: Vec<String> = reverse
        .iter()
        .map(|item| format!("{:?}", item.get("sk")))
        .collect();
    let want: Vec<String> = keys
        .iter()
        .rev()
        .map(|sk| format!("{:?}", Some(&AttributeValue::N((*sk).into()))))
        .collect();
    assert_eq!(got, want);
}
