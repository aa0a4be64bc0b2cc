//! Query: one page of one item collection.
//!
//! A Query names a partition key value (and optionally a condition on the
//! sort key); every item it can return lives in the one partition that
//! owns that value's hash, stored in sort-key order. So a Query is a
//! bounded range read in one partition, forward or backward
//! (`ScanIndexForward`), resumed after `ExclusiveStartKey`.
//!
//! The path, in DynamoDB's order of checks:
//!
//! 1. **validate** the members (types, then constraints, then the
//!    cross-member rules of [`ReadMembers::compile`] and `Select`);
//! 2. **look up** the table, and refuse an `IndexName` it does not have;
//! 3. **check** the key condition and the starting key against the key
//!    schema, and the filter against the key attributes;
//! 4. **admit** the page at the partition it reads, **read** it (step 3
//!    stops at `Limit` items or 1 MB), **meter** the bytes read;
//! 5. **filter, count, project** and answer ([`page_reply`]).

use serde_json::Value as Json;
use step01_kv::engine::ScanDirection;
use step03_partitioning::hash::partition_hash;
use step03_partitioning::page::QueryRequest;

use super::paging::{
    PageShape, ReadMembers, ReadOperation, Select, exclusive_start_item, page_reply, page_route,
    page_units, read_consistency, resolve_select, start_key,
};
use super::shared::table_name;
use crate::capacity::{self, Demand, ReturnConsumedCapacity, read_units};
use crate::decode::{Checks, Members};
use crate::error::ApiError;
use crate::registry::{Reply, RequestContext};

/// `Limit` is at least 1 (and at most what a Java `Integer` holds).
pub const LIMIT_MIN: i64 = 1;

/// The members of a Query or Scan that only shape the walk.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    pub table_name: Option<String>,
    pub index_name: Option<String>,
    pub select: Option<Select>,
    pub limit: Option<usize>,
    pub consistent: bool,
    pub capacity: ReturnConsumedCapacity,
    pub start: Option<step01_kv::value::Item>,
}

impl Common {
    /// Reads the members Query and Scan share.
    pub(crate) fn decode(input: &mut Members, checks: &mut Checks) -> Result<Common, ApiError> {
        let table_name = table_name(input, checks)?;
        let index_name = input.string("IndexName")?;
        if let Some(index) = &index_name {
            checks.name("indexName", index);
        }
        let select = Select::decode(input, checks)?;
        let limit = input.integer("Limit")?;
        if let Some(limit) = limit {
            checks.range("limit", limit, LIMIT_MIN, i64::from(i32::MAX));
        }
        let consistent = input.boolean("ConsistentRead")?.unwrap_or(false);
        let capacity = ReturnConsumedCapacity::decode(input, checks)?;
        let start = exclusive_start_item(input, checks)?;
        Ok(Common {
            table_name,
            index_name,
            select,
            limit: limit.and_then(|limit| usize::try_from(limit).ok()),
            consistent,
            capacity,
            start,
        })
    }
}

/// Indexes arrive in step 6: until then no table has any.
pub(crate) fn no_such_index(index: &str) -> ApiError {
    ApiError::validation(format!(
        "The table does not have the specified index: {index}"
    ))
}

// ANCHOR: query
pub fn query(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    // 1. Validate.
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let common = Common::decode(&mut input, &mut checks)?;
    let forward = input.boolean("ScanIndexForward")?.unwrap_or(true);
    let members = ReadMembers::decode(&mut input, &mut checks, ReadOperation::Query)?;
    checks.finish()?;
    let Some(table_name) = common.table_name.as_deref() else {
        return Err(ApiError::internal("checks passed without required members"));
    };
    let projection_member = members.projection_member();
    let compiled = members.compile(ReadOperation::Query)?;
    let select = resolve_select(
        common.select,
        projection_member,
        common.index_name.is_some(),
    )?;

    // 2. The table (and its index), 3. the key condition and start key.
    let table = ctx.backend.data_table(table_name)?;
    if let Some(index) = &common.index_name {
        return Err(no_such_index(index));
    }
    let schema = table.meta()?.key_schema();
    let key = compiled.key_condition(&schema)?;
    let exclusive_start_key = common
        .start
        .as_ref()
        .map(|item| start_key(&schema, item, ReadOperation::Query))
        .transpose()?;
    compiled.check_filter_keys(&schema)?;

    // 4. Admit, read and meter one page.
    let route = page_route(&table, partition_hash(&key.partition))?;
    let estimate = Demand::Read(read_units(0, common.consistent));
    capacity::admit(ctx, &table, &route, estimate)?;
    let page = table.table.query(&QueryRequest {
        partition_key: key.partition,
        sort: key.sort,
        direction: if forward {
            ScanDirection::Forward
        } else {
            ScanDirection::Reverse
        },
        limit: common.limit,
        exclusive_start_key,
        consistency: read_consistency(common.consistent),
    })?;
    let used = Demand::Read(page_units(&page, common.consistent));
    capacity::settle(ctx, &table, &route, used);

    // 5. Filter, count, project.
    page_reply(
        page,
        PageShape {
            select,
            filter: compiled.filter.as_ref(),
            projection: compiled.projection.as_deref(),
            schema: &schema,
            consistent: common.consistent,
            capacity: common.capacity,
            table_name,
        },
    )
}
// ANCHOR_END: query
