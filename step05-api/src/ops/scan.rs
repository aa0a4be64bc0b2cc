//! Scan: one page of a whole table, or of one parallel-scan segment.
//!
//! Storage keys begin with the MD5 hash of the partition key, so the table
//! in storage-key order is the hash ring walked from 0 to 2¹²⁸ − 1,
//! partition after partition. A *segment* of a parallel scan is one of
//! `TotalSegments` equal slices of that ring ([`HashRange::segment`]):
//! slices are disjoint and cover the ring, so workers that each scan one
//! segment to its end see every item exactly once, whatever the
//! partitions are and however they split meanwhile.
//!
//! Everything after the read — `Limit` and the 1 MB page, filter, counts,
//! projection, metering — is the same as Query's ([`super::paging`]).
//!
//! [`HashRange::segment`]: step03_partitioning::range::HashRange::segment

use serde_json::Value as Json;
use step03_partitioning::hash::partition_hash;
use step03_partitioning::page::ScanRequest;
use step03_partitioning::range::HashRange;

use super::paging::{
    PageShape, ReadMembers, ReadOperation, page_reply, page_route, page_units, read_consistency,
    resolve_select, start_key,
};
use super::query::{Common, no_such_index};
use crate::capacity::{self, Demand, read_units};
use crate::decode::{Checks, Members};
use crate::error::ApiError;
use crate::registry::{Reply, RequestContext};

/// `Segment` is zero-based and below 1,000,000.
pub const SEGMENT_MAX: i64 = 999_999;
/// `TotalSegments` is 1 to 1,000,000.
pub const TOTAL_SEGMENTS_MAX: i64 = 1_000_000;

// ANCHOR: segments
/// The parallel-scan members: both or neither, and the segment below the
/// total. Neither means the whole table: segment 0 of 1.
pub fn segment_of(segment: Option<i64>, total: Option<i64>) -> Result<(u32, u32), ApiError> {
    let (segment, total) = match (segment, total) {
        (None, None) => return Ok((0, 1)),
        (Some(_), None) => {
            return Err(ApiError::validation(
                "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
            ));
        }
        (Some(segment), Some(total)) => (segment, total),
    };
    if segment >= total {
        return Err(ApiError::validation(format!(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        )));
    }
    match (u32::try_from(segment), u32::try_from(total)) {
        (Ok(segment), Ok(total)) => Ok((segment, total)),
        _ => Err(ApiError::internal("segment bounds passed unchecked")),
    }
}
// ANCHOR_END: segments

pub fn scan(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    // 1. Validate.
    let mut input = Members::from_json(input)?;
    let mut checks = Checks::default();
    let common = Common::decode(&mut input, &mut checks)?;
    let segment = input.integer("Segment")?;
    let total = input.integer("TotalSegments")?;
    if let Some(segment) = segment {
        checks.range("segment", segment, 0, SEGMENT_MAX);
    }
    if let Some(total) = total {
        checks.range("totalSegments", total, 1, TOTAL_SEGMENTS_MAX);
    }
    let members = ReadMembers::decode(&mut input, &mut checks, ReadOperation::Scan)?;
    checks.finish()?;
    let Some(table_name) = common.table_name.as_deref() else {
        return Err(ApiError::internal("checks passed without required members"));
    };
    let (segment, total_segments) = segment_of(segment, total)?;
    let projection_member = members.projection_member();
    let compiled = members.compile(ReadOperation::Scan)?;
    let select = resolve_select(
        common.select,
        projection_member,
        common.index_name.is_some(),
    )?;

    // 2. The table, 3. the starting key, inside the segment.
    let table = ctx.backend.data_table(table_name)?;
    if let Some(index) = &common.index_name {
        return Err(no_such_index(index));
    }
    let schema = table.meta()?.key_schema();
    let range = HashRange::segment(segment, total_segments).map_err(ApiError::validation)?;
    let exclusive_start_key = common
        .start
        .as_ref()
        .map(|item| start_key(&schema, item, ReadOperation::Scan))
        .transpose()?;
    let start_hash = match &exclusive_start_key {
        Some(key) => {
            let hash = partition_hash(&key.partition);
            if !range.contains(hash) {
                return Err(ApiError::validation(format!(
                    "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use ExclusiveStartKey with correct Segment. TotalSegments: {total_segments} Segment: {segment}"
                )));
            }
            hash
        }
        None => range.start(),
    };

    // 4. Admit, read and meter one page.
    let route = page_route(&table, start_hash)?;
    capacity::admit(
        ctx,
        &table,
        &route,
        Demand::Read(read_units(0, common.consistent)),
    )?;
    let page = table.table.scan(&ScanRequest {
        segment,
        total_segments,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_come_in_pairs() {
        assert_eq!(segment_of(None, None).unwrap(), (0, 1));
        assert_eq!(segment_of(Some(2), Some(3)).unwrap(), (2, 3));
        let message = |s, t| segment_of(s, t).unwrap_err().message.unwrap();
        assert!(message(Some(0), None).starts_with("The TotalSegments parameter is required"));
        assert!(message(None, Some(4)).starts_with("The Segment parameter is required"));
        assert_eq!(
            message(Some(3), Some(3)),
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 3 is not less than TotalSegments: 3"
        );
    }
}
