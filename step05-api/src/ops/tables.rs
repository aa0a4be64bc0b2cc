//! The table operations: CreateTable, DescribeTable, UpdateTable,
//! DeleteTable, ListTables.
//!
//! CreateTable's rules, in the order they are checked:
//!
//! 1. model constraints (all at once): `TableName` pattern and length,
//!    `KeySchema` 1–2 elements, `KeyType` in `[HASH, RANGE]`, attribute
//!    types in `[B, N, S]`, capacity units ≥ 1, enum members;
//! 2. features of later steps (secondary indexes, streams) are refused;
//! 3. billing: `PROVISIONED` (the default) needs `ProvisionedThroughput`,
//!    `PAY_PER_REQUEST` forbids it;
//! 4. key schema: HASH first, RANGE second, two different names;
//! 5. attribute definitions: no duplicates, every key attribute defined,
//!    nothing else defined;
//! 6. tags;
//! 7. the name is free (`ResourceInUseException`).

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::describe::{TableStatus, table_description};
use super::tags::{check_create_tags, decode_tags};
use crate::catalog::meta::{
    AttributeDefinition, BillingMode, ScalarType, TableMeta, Throughput, epoch_seconds,
};
use crate::decode::{Checks, Members, enums};
use crate::error::ApiError;
use crate::registry::{Reply, RequestContext};

/// Key attribute names: 1 to 255 bytes.
pub const KEY_ATTRIBUTE_NAME_CHARS_MAX: usize = 255;
/// ListTables pages: 1 to 100 names, 100 by default.
pub const LIST_TABLES_LIMIT_MAX: usize = 100;
/// Provisioned capacity units above this are refused outright.
pub const CAPACITY_UNITS_MAX: i64 = 1_000_000_000_000;

const INVALID: &str = "One or more parameter values were invalid:";

/// A decoded `KeySchema` element.
struct KeyElement {
    name: String,
    key_type: String,
}

/// Decodes `AttributeDefinitions` (path `attributeDefinitions`).
fn decode_definitions(
    list: Vec<Members>,
    checks: &mut Checks,
) -> Result<Vec<(String, Option<ScalarType>)>, ApiError> {
    let mut definitions = Vec::with_capacity(list.len());
    for (index, mut member) in list.into_iter().enumerate() {
        let path = format!("attributeDefinitions.{}.member", index + 1);
        let name = member.string("AttributeName")?;
        let attribute_type = member.string("AttributeType")?;
        let name = checks.required(&format!("{path}.attributeName"), name);
        if let Some(name) = &name {
            checks.length(
                &format!("{path}.attributeName"),
                name,
                1,
                KEY_ATTRIBUTE_NAME_CHARS_MAX,
            );
        }
        let attribute_type = checks.required(&format!("{path}.attributeType"), attribute_type);
        if let Some(text) = &attribute_type {
            checks.one_of(
                &format!("{path}.attributeType"),
                text,
                enums::SCALAR_ATTRIBUTE_TYPE,
            );
        }
        if let Some(name) = name {
            definitions.push((name, attribute_type.as_deref().and_then(ScalarType::parse)));
        }
    }
    Ok(definitions)
}

/// Decodes `KeySchema` (path `keySchema`).
fn decode_key_schema(list: Vec<Members>, checks: &mut Checks) -> Result<Vec<KeyElement>, ApiError> {
    let mut elements = Vec::with_capacity(list.len());
    for (index, mut member) in list.into_iter().enumerate() {
        let path = format!("keySchema.{}.member", index + 1);
        let name = member.string("AttributeName")?;
        let key_type = member.string("KeyType")?;
        let name = checks.required(&format!("{path}.attributeName"), name);
        if let Some(name) = &name {
            checks.length(
                &format!("{path}.attributeName"),
                name,
                1,
                KEY_ATTRIBUTE_NAME_CHARS_MAX,
            );
        }
        let key_type = checks.required(&format!("{path}.keyType"), key_type);
        if let Some(key_type) = &key_type {
            checks.one_of(&format!("{path}.keyType"), key_type, enums::KEY_TYPE);
        }
        elements.push(KeyElement {
            name: name.unwrap_or_default(),
            key_type: key_type.unwrap_or_default(),
        });
    }
    Ok(elements)
}

/// Java's rendering of a key schema list, as DynamoDB quotes it.
fn render_key_schema(elements: &[KeyElement]) -> String {
    let inner: Vec<String> = elements
        .iter()
        .map(|e| {
            format!(
                "KeySchemaElement(attributeName={}, keyType={})",
                e.name, e.key_type
            )
        })
        .collect();
    format!("[{}]", inner.join(", "))
}

/// Decodes `ProvisionedThroughput` (path `provisionedThroughput`).
fn decode_throughput(
    input: &mut Members,
    checks: &mut Checks,
) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(mut throughput) = input.structure("ProvisionedThroughput")? else {
        return Ok(None);
    };
    let mut units = |member: &str, path: &str| -> Result<Option<u64>, ApiError> {
        let value = checks.required(path, throughput.long(member)?);
        if let Some(value) = value {
            checks.range(path, value, 1, i64::MAX);
        }
        Ok(value.and_then(|v| u64::try_from(v).ok()))
    };
    let read = units(
        "ReadCapacityUnits",
        "provisionedThroughput.readCapacityUnits",
    )?;
    let write = units(
        "WriteCapacityUnits",
        "provisionedThroughput.writeCapacityUnits",
    )?;
    Ok(Some((read.unwrap_or(1), write.unwrap_or(1))))
}

/// Capacity units beyond any sane quota.
fn check_units_bounds((read, write): (u64, u64)) -> Result<(), ApiError> {
    for (value, what) in [(read, "ReadCapacityUnits"), (write, "WriteCapacityUnits")] {
        if value > CAPACITY_UNITS_MAX as u64 {
            return Err(ApiError::validation(format!(
                "{INVALID} Given value {value} for {what} is out of bounds"
            )));
        }
    }
    Ok(())
}

/// `BillingMode`, validated.
fn decode_billing_mode(
    input: &mut Members,
    checks: &mut Checks,
) -> Result<Option<BillingMode>, ApiError> {
    let Some(text) = input.string("BillingMode")? else {
        return Ok(None);
    };
    checks.one_of("billingMode", &text, enums::BILLING_MODE);
    Ok(BillingMode::parse(&text))
}

/// `StreamSpecification`: validated; enabling a stream arrives in step 6.
fn decode_stream_enabled(input: &mut Members, checks: &mut Checks) -> Result<bool, ApiError> {
    let Some(mut spec) = input.structure("StreamSpecification")? else {
        return Ok(false);
    };
    let enabled = checks.required(
        "streamSpecification.streamEnabled",
        spec.boolean("StreamEnabled")?,
    );
    let _ = spec.string("StreamViewType")?;
    Ok(enabled.unwrap_or(false))
}

/// `TableClass`, validated.
fn decode_table_class(
    input: &mut Members,
    checks: &mut Checks,
) -> Result<Option<String>, ApiError> {
    let class = input.string("TableClass")?;
    if let Some(class) = &class {
        checks.one_of("tableClass", class, enums::TABLE_CLASS);
    }
    Ok(class)
}

/// The refusal of a feature that arrives in a later step.
fn not_yet(feature: &str) -> ApiError {
    ApiError::validation(format!("{feature} are not supported by this server yet"))
}

pub fn create_table(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let definitions = input.structures("AttributeDefinitions")?;
    let definitions = match checks.required("attributeDefinitions", definitions) {
        Some(list) => decode_definitions(list, &mut checks)?,
        None => Vec::new(),
    };
    let name = checks.required("tableName", input.string("TableName")?);
    if let Some(name) = &name {
        checks.name("tableName", name);
    }
    let key_schema = match checks.required("keySchema", input.structures("KeySchema")?) {
        Some(list) => {
            let elements = decode_key_schema(list, &mut checks)?;
            let rendered = render_key_schema(&elements);
            checks.list_length("keySchema", &rendered, elements.len(), 1, 2);
            elements
        }
        None => Vec::new(),
    };
    let local_indexes = input.list("LocalSecondaryIndexes")?;
    let global_indexes = input.list("GlobalSecondaryIndexes")?;
    let billing_mode = decode_billing_mode(&mut input, &mut checks)?;
    let throughput = decode_throughput(&mut input, &mut checks)?;
    let stream_enabled = decode_stream_enabled(&mut input, &mut checks)?;
    let _ = input.structure("SSESpecification")?;
    let tags = decode_tags(&mut input, &mut checks, "Tags", "tags")?;
    let table_class = decode_table_class(&mut input, &mut checks)?;
    let deletion_protection = input.boolean("DeletionProtectionEnabled")?;
    checks.finish()?;
    let Some(name) = name else {
        return Err(ApiError::internal("checks passed without a table name"));
    };

    if local_indexes.is_some() {
        return Err(not_yet("LocalSecondaryIndexes"));
    }
    if global_indexes.is_some() {
        return Err(not_yet("GlobalSecondaryIndexes"));
    }
    if stream_enabled {
        return Err(not_yet("Streams"));
    }
    let billing_mode = billing_mode.unwrap_or(BillingMode::Provisioned);
    let throughput = match (billing_mode, throughput) {
        (BillingMode::Provisioned, None) => {
            return Err(ApiError::validation(format!(
                "{INVALID} ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
            )));
        }
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(ApiError::validation(format!(
                "{INVALID} Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
            )));
        }
        (BillingMode::Provisioned, Some(units)) => {
            check_units_bounds(units)?;
            Throughput::new(units.0, units.1)
        }
        (BillingMode::PayPerRequest, None) => Throughput::default(),
    };
    let (partition_key, sort_key) = check_schema(&key_schema, &definitions)?;
    check_create_tags(&tags)?;

    let now = epoch_seconds();
    let meta = TableMeta {
        name,
        id: String::new(),
        partition_key,
        sort_key,
        attribute_definitions: definitions
            .into_iter()
            .filter_map(|(name, ty)| {
                ty.map(|attribute_type| AttributeDefinition {
                    name,
                    attribute_type,
                })
            })
            .collect(),
        billing_mode,
        throughput,
        pay_per_request_since: (billing_mode == BillingMode::PayPerRequest).then_some(now),
        created: now,
        tags: tags.into_iter().map(|t| (t.key, t.value)).collect(),
        deletion_protection: deletion_protection.unwrap_or(false),
        table_class,
    };
    let (meta, _) = ctx.backend.catalog.create(meta)?;
    let description = table_description(&ctx.backend, &meta, TableStatus::Creating, (0, 0));
    Ok(Reply::Json(json!({ "TableDescription": description })))
}

/// Key schema and attribute definitions against each other; returns the
/// partition and sort key definitions.
fn check_schema(
    key_schema: &[KeyElement],
    definitions: &[(String, Option<ScalarType>)],
) -> Result<(AttributeDefinition, Option<AttributeDefinition>), ApiError> {
    if key_schema.first().is_some_and(|e| e.key_type != "HASH") {
        return Err(ApiError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if let Some(second) = key_schema.get(1) {
        if second.key_type != "RANGE" {
            return Err(ApiError::validation(
                "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
            ));
        }
        if second.name == key_schema[0].name {
            return Err(ApiError::validation(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name",
            ));
        }
    }
    let mut defined: BTreeMap<&str, ScalarType> = BTreeMap::new();
    for (name, attribute_type) in definitions {
        let Some(attribute_type) = attribute_type else {
            continue;
        };
        if defined.insert(name, *attribute_type).is_some() {
            return Err(ApiError::validation(format!(
                "{INVALID} Duplicate AttributeName found in AttributeDefinitions: {name}"
            )));
        }
    }
    let keys: Vec<&str> = key_schema.iter().map(|e| e.name.as_str()).collect();
    if keys.iter().any(|key| !defined.contains_key(key)) {
        let names: Vec<&str> = definitions.iter().map(|(n, _)| n.as_str()).collect();
        return Err(ApiError::validation(format!(
            "{INVALID} Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            keys.join(", "),
            names.join(", ")
        )));
    }
    if defined.len() != keys.len() {
        return Err(ApiError::validation(format!(
            "{INVALID} Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"
        )));
    }
    let definition = |name: &str| -> Result<AttributeDefinition, ApiError> {
        let attribute_type = defined
            .get(name)
            .copied()
            .ok_or_else(|| ApiError::internal("a checked key attribute is undefined"))?;
        Ok(AttributeDefinition {
            name: name.to_string(),
            attribute_type,
        })
    };
    let partition = definition(keys[0])?;
    let sort = keys.get(1).map(|name| definition(name)).transpose()?;
    Ok((partition, sort))
}

/// `TableName` of a control-plane operation: a name or an ARN.
fn control_table_name(
    input: &mut Members,
    checks: &mut Checks,
) -> Result<Option<String>, ApiError> {
    super::shared::table_name(input, checks)
}

pub fn describe_table(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let requested = control_table_name(&mut input, &mut checks)?;
    checks.finish()?;
    let requested = requested.unwrap_or_default();
    let name = ctx.backend.resolve_name(&requested);
    let table = ctx
        .backend
        .catalog
        .get(name)?
        .ok_or_else(|| ApiError::table_not_found(name))?;
    let description = table_description(
        &ctx.backend,
        &table.meta()?,
        TableStatus::Active,
        table.size()?,
    );
    Ok(Reply::Json(json!({ "Table": description })))
}

pub fn delete_table(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let requested = control_table_name(&mut input, &mut checks)?;
    checks.finish()?;
    let requested = requested.unwrap_or_default();
    let name = ctx.backend.resolve_name(&requested);
    let table = ctx.backend.catalog.delete(name, |meta| {
        if meta.deletion_protection {
            return Err(ApiError::validation(
                "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
            ));
        }
        Ok(())
    })?;
    let description = table_description(
        &ctx.backend,
        &table.meta()?,
        TableStatus::Deleting,
        table.size()?,
    );
    Ok(Reply::Json(json!({ "TableDescription": description })))
}

pub fn update_table(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    if let Some(list) = input.structures("AttributeDefinitions")? {
        decode_definitions(list, &mut checks)?;
    }
    let requested = control_table_name(&mut input, &mut checks)?;
    let billing_mode = decode_billing_mode(&mut input, &mut checks)?;
    let throughput = decode_throughput(&mut input, &mut checks)?;
    let index_updates = input.list("GlobalSecondaryIndexUpdates")?;
    let stream = input.has("StreamSpecification");
    let stream_enabled = decode_stream_enabled(&mut input, &mut checks)?;
    let sse = input.structure("SSESpecification")?.is_some();
    let replicas = input.list("ReplicaUpdates")?.is_some();
    let table_class = decode_table_class(&mut input, &mut checks)?;
    let deletion_protection = input.boolean("DeletionProtectionEnabled")?;
    checks.finish()?;
    let requested = requested.unwrap_or_default();

    let changes_something = billing_mode.is_some()
        || throughput.is_some()
        || index_updates.is_some()
        || stream
        || sse
        || replicas
        || table_class.is_some()
        || deletion_protection.is_some();
    if !changes_something {
        return Err(ApiError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    if index_updates.is_some() {
        return Err(not_yet("GlobalSecondaryIndexUpdates"));
    }
    if stream_enabled {
        return Err(not_yet("Streams"));
    }
    if replicas {
        return Err(not_yet("ReplicaUpdates"));
    }
    if let Some(units) = throughput {
        check_units_bounds(units)?;
    }
    let name = ctx.backend.resolve_name(&requested);
    let meta = ctx.backend.catalog.update(name, |meta| {
        change_billing(meta, billing_mode, throughput, epoch_seconds())?;
        if let Some(class) = table_class {
            meta.table_class = Some(class);
        }
        if let Some(protect) = deletion_protection {
            meta.deletion_protection = protect;
        }
        Ok(())
    })?;
    let table = ctx
        .backend
        .catalog
        .get(name)?
        .ok_or_else(|| ApiError::table_not_found(name))?;
    let description = table_description(&ctx.backend, &meta, TableStatus::Updating, table.size()?);
    Ok(Reply::Json(json!({ "TableDescription": description })))
}

/// The billing part of UpdateTable, on the table's metadata.
fn change_billing(
    meta: &mut TableMeta,
    billing_mode: Option<BillingMode>,
    throughput: Option<(u64, u64)>,
    now: f64,
) -> Result<(), ApiError> {
    let target = billing_mode.unwrap_or(meta.billing_mode);
    match (target, throughput) {
        (BillingMode::PayPerRequest, Some(_)) => Err(ApiError::validation(format!(
            "{INVALID} Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
        ))),
        (BillingMode::PayPerRequest, None) => {
            if meta.billing_mode == BillingMode::Provisioned {
                meta.billing_mode = BillingMode::PayPerRequest;
                meta.pay_per_request_since = Some(now);
                meta.throughput.change(0, 0, now);
                meta.throughput.last_decrease = None;
                meta.throughput.decreases_today = 0;
            }
            Ok(())
        }
        (BillingMode::Provisioned, None) if meta.billing_mode == BillingMode::PayPerRequest => {
            Err(ApiError::validation(format!(
                "{INVALID} ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
            )))
        }
        (BillingMode::Provisioned, None) => Ok(()),
        (BillingMode::Provisioned, Some((read, write))) => {
            let current = &meta.throughput;
            if meta.billing_mode == BillingMode::Provisioned
                && (read, write) == (current.read_units, current.write_units)
            {
                return Err(ApiError::validation(format!(
                    "The provisioned throughput for the table will not change. The requested value equals the current value. \
                     Current ReadCapacityUnits provisioned for the table: {}. Requested ReadCapacityUnits: {read}. \
                     Current WriteCapacityUnits provisioned for the table: {}. Requested WriteCapacityUnits: {write}. \
                     Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
                    current.read_units, current.write_units
                )));
            }
            if meta.billing_mode == BillingMode::PayPerRequest {
                meta.billing_mode = BillingMode::Provisioned;
                meta.throughput = Throughput::new(read, write);
            } else {
                meta.throughput.change(read, write, now);
            }
            Ok(())
        }
    }
}

// ANCHOR: list_tables
pub fn list_tables(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let start = input.string("ExclusiveStartTableName")?;
    if let Some(start) = &start {
        checks.name("exclusiveStartTableName", start);
    }
    let limit = input.integer("Limit")?;
    if let Some(limit) = limit {
        checks.range("limit", limit, 1, LIST_TABLES_LIMIT_MAX as i64);
    }
    checks.finish()?;
    let limit = limit.map_or(LIST_TABLES_LIMIT_MAX, |l| l as usize);
    let names = ctx.backend.catalog.names()?;
    let (page, last) = page_of_names(&names, start.as_deref(), limit);
    let mut body = json!({ "TableNames": page });
    if let Some(last) = last {
        body["LastEvaluatedTableName"] = json!(last);
    }
    Ok(Reply::Json(body))
}

/// One page of `names` (sorted by bytes): up to `limit` names after
/// `exclusive_start`, and the last name of the page when more follow.
pub fn page_of_names(
    names: &[String],
    exclusive_start: Option<&str>,
    limit: usize,
) -> (Vec<String>, Option<String>) {
    // EXERCISE(05.3): return the names after exclusive_start (at most limit), and the page's last name if more names follow
    let first = match exclusive_start {
        Some(start) => names.partition_point(|name| name.as_str() <= start),
        None => 0,
    };
    let rest = &names[first..];
    let page: Vec<String> = rest.iter().take(limit).cloned().collect();
    let last = (rest.len() > page.len())
        .then(|| page.last().cloned())
        .flatten();
    (page, last)
    // END EXERCISE
}
// ANCHOR_END: list_tables

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ex05_3_list_tables_pages() {
        let all = names(&["Abc", "abc", "b.c", "b_c", "zzz"]);
        assert_eq!(
            page_of_names(&all, None, 100),
            (all.clone(), None),
            "everything fits: no LastEvaluatedTableName"
        );
        assert_eq!(
            page_of_names(&all, None, 2),
            (names(&["Abc", "abc"]), Some("abc".to_string()))
        );
        assert_eq!(
            page_of_names(&all, Some("abc"), 2),
            (names(&["b.c", "b_c"]), Some("b_c".to_string()))
        );
        assert_eq!(page_of_names(&all, Some("b_c"), 2), (names(&["zzz"]), None));
        assert_eq!(
            page_of_names(&all, Some("b_c"), 1),
            (names(&["zzz"]), None),
            "a page that ends exactly at the end is the last"
        );
        assert_eq!(
            page_of_names(&all, Some("b"), 1),
            (names(&["b.c"]), Some("b.c".to_string())),
            "the start need not be a table"
        );
        assert_eq!(page_of_names(&all, Some("zzzz"), 5), (vec![], None));
    }

    fn element(name: &str, key_type: &str) -> KeyElement {
        KeyElement {
            name: name.into(),
            key_type: key_type.into(),
        }
    }

    fn message(
        result: Result<(AttributeDefinition, Option<AttributeDefinition>), ApiError>,
    ) -> String {
        result.unwrap_err().message.unwrap()
    }

    #[test]
    fn schema_rules() {
        let defs = vec![
            ("a".to_string(), Some(ScalarType::S)),
            ("b".to_string(), Some(ScalarType::N)),
        ];
        let (partition, sort) =
            check_schema(&[element("a", "HASH"), element("b", "RANGE")], &defs).unwrap();
        assert_eq!(partition.name, "a");
        assert_eq!(sort.unwrap().attribute_type, ScalarType::N);
        assert_eq!(
            message(check_schema(&[element("a", "RANGE")], &defs[..1])),
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
        );
        assert_eq!(
            message(check_schema(
                &[element("a", "HASH"), element("b", "HASH")],
                &defs
            )),
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
        );
        assert_eq!(
            message(check_schema(
                &[element("a", "HASH"), element("a", "RANGE")],
                &defs
            )),
            "Both the Hash Key and the Range Key element in the KeySchema have the same name"
        );
        assert_eq!(
            message(check_schema(&[element("a", "HASH")], &defs)),
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"
        );
        assert_eq!(
            message(check_schema(&[element("c", "HASH")], &defs)),
            "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [c], AttributeDefinitions: [a, b]"
        );
    }

    #[test]
    fn billing_changes() {
        let mut meta = TableMeta {
            name: "t".into(),
            id: "id".into(),
            partition_key: AttributeDefinition {
                name: "a".into(),
                attribute_type: ScalarType::S,
            },
            sort_key: None,
            attribute_definitions: vec![],
            billing_mode: BillingMode::Provisioned,
            throughput: Throughput::new(5, 5),
            pay_per_request_since: None,
            created: 0.0,
            tags: BTreeMap::new(),
            deletion_protection: false,
            table_class: None,
        };
        let error = change_billing(&mut meta, None, Some((5, 5)), 10.0).unwrap_err();
        assert!(
            error
                .message
                .unwrap()
                .starts_with("The provisioned throughput for the table will not change.")
        );
        change_billing(&mut meta, None, Some((10, 2)), 10.0).unwrap();
        assert_eq!(meta.throughput.last_increase, Some(10.0));
        assert_eq!(meta.throughput.last_decrease, Some(10.0));
        change_billing(&mut meta, Some(BillingMode::PayPerRequest), None, 20.0).unwrap();
        assert_eq!(meta.billing_mode, BillingMode::PayPerRequest);
        assert_eq!(meta.pay_per_request_since, Some(20.0));
        assert_eq!(
            (meta.throughput.read_units, meta.throughput.write_units),
            (0, 0)
        );
        assert!(change_billing(&mut meta, None, Some((1, 1)), 30.0).is_err());
        assert!(change_billing(&mut meta, Some(BillingMode::Provisioned), None, 30.0).is_err());
        change_billing(
            &mut meta,
            Some(BillingMode::Provisioned),
            Some((1, 1)),
            30.0,
        )
        .unwrap();
        assert_eq!(meta.billing_mode, BillingMode::Provisioned);
    }
}
