//! The `TableDescription` every control-plane operation answers with.
//!
//! ```json
//! {"TableName":"Music","TableStatus":"ACTIVE","CreationDateTime":1.7e9,
//!  "TableArn":"arn:aws:dynamodb:us-east-1:000000000000:table/Music","TableId":"<uuid>",
//!  "KeySchema":[...],"AttributeDefinitions":[...],
//!  "ProvisionedThroughput":{"ReadCapacityUnits":0,"WriteCapacityUnits":0,"NumberOfDecreasesToday":0},
//!  "BillingModeSummary":{"BillingMode":"PAY_PER_REQUEST","LastUpdateToPayPerRequestDateTime":1.7e9},
//!  "TableSizeBytes":0,"ItemCount":0,"DeletionProtectionEnabled":false}
//! ```
//!
//! Times are epoch seconds as JSON numbers (with a fraction); capacity
//! units and counts are integers. `TableSizeBytes` and `ItemCount` are
//! exact here (DynamoDB refreshes them about every six hours); the size is
//! what the partitions store (keys plus encoded items).

use serde_json::{Map, Value as Json, json};

use crate::backend::Backend;
use crate::catalog::meta::{BillingMode, TableMeta};

/// A table's status as `DescribeTable` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableStatus {
    Creating,
    Updating,
    Deleting,
    Active,
}

impl TableStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TableStatus::Creating => "CREATING",
            TableStatus::Updating => "UPDATING",
            TableStatus::Deleting => "DELETING",
            TableStatus::Active => "ACTIVE",
        }
    }
}

/// The description of `meta` with `status`, `items` items of `bytes` bytes.
/// DeleteTable's description leaves out the key schema and attribute
/// definitions, as DynamoDB's does.
pub fn table_description(
    backend: &Backend,
    meta: &TableMeta,
    status: TableStatus,
    (items, bytes): (u64, u64),
) -> Json {
    let mut d = Map::new();
    d.insert("TableName".into(), json!(meta.name));
    d.insert("TableStatus".into(), json!(status.as_str()));
    d.insert("CreationDateTime".into(), json!(meta.created));
    d.insert("TableArn".into(), json!(backend.table_arn(&meta.name)));
    d.insert("TableId".into(), json!(meta.id));
    if status != TableStatus::Deleting {
        d.insert("KeySchema".into(), key_schema_json(meta));
        let definitions: Vec<Json> = meta
            .attribute_definitions
            .iter()
            .map(|a| json!({"AttributeName": a.name, "AttributeType": a.attribute_type.as_str()}))
            .collect();
        d.insert("AttributeDefinitions".into(), Json::Array(definitions));
    }
    let t = &meta.throughput;
    let mut throughput = Map::new();
    throughput.insert("ReadCapacityUnits".into(), json!(t.read_units));
    throughput.insert("WriteCapacityUnits".into(), json!(t.write_units));
    throughput.insert(
        "NumberOfDecreasesToday".into(),
        json!(t.decreases_on(crate::catalog::meta::epoch_seconds())),
    );
    if let Some(at) = t.last_increase {
        throughput.insert("LastIncreaseDateTime".into(), json!(at));
    }
    if let Some(at) = t.last_decrease {
        throughput.insert("LastDecreaseDateTime".into(), json!(at));
    }
    d.insert("ProvisionedThroughput".into(), Json::Object(throughput));
    // Present for on-demand tables, and for tables that once were.
    if meta.billing_mode == BillingMode::PayPerRequest || meta.pay_per_request_since.is_some() {
        let mut summary = Map::new();
        summary.insert("BillingMode".into(), json!(meta.billing_mode.as_str()));
        if let Some(at) = meta.pay_per_request_since {
            summary.insert("LastUpdateToPayPerRequestDateTime".into(), json!(at));
        }
        d.insert("BillingModeSummary".into(), Json::Object(summary));
    }
    if let Some(class) = &meta.table_class {
        d.insert("TableClassSummary".into(), json!({ "TableClass": class }));
    }
    d.insert("TableSizeBytes".into(), json!(bytes));
    d.insert("ItemCount".into(), json!(items));
    d.insert(
        "DeletionProtectionEnabled".into(),
        json!(meta.deletion_protection),
    );
    Json::Object(d)
}

fn key_schema_json(meta: &TableMeta) -> Json {
    let mut schema = vec![json!({"AttributeName": meta.partition_key.name, "KeyType": "HASH"})];
    if let Some(sort) = &meta.sort_key {
        schema.push(json!({"AttributeName": sort.name, "KeyType": "RANGE"}));
    }
    Json::Array(schema)
}
