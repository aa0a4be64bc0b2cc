//! Account-level operations: DescribeLimits and DescribeEndpoints.

use serde_json::{Value as Json, json};

use crate::decode::Members;
use crate::error::ApiError;
use crate::registry::{Reply, RequestContext};

/// DynamoDB's default quotas, in capacity units.
pub const ACCOUNT_MAX_CAPACITY_UNITS: u64 = 80_000;
pub const TABLE_MAX_CAPACITY_UNITS: u64 = 40_000;
/// How long clients may cache the endpoint list (what emulators answer).
pub const ENDPOINT_CACHE_MINUTES: u64 = 1440;

pub fn describe_limits(_: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    Members::from_json(input)?;
    Ok(Reply::Json(json!({
        "AccountMaxReadCapacityUnits": ACCOUNT_MAX_CAPACITY_UNITS,
        "AccountMaxWriteCapacityUnits": ACCOUNT_MAX_CAPACITY_UNITS,
        "TableMaxReadCapacityUnits": TABLE_MAX_CAPACITY_UNITS,
        "TableMaxWriteCapacityUnits": TABLE_MAX_CAPACITY_UNITS,
    })))
}

/// The one endpoint is the one the client reached: its `Host` header, no
/// scheme.
pub fn describe_endpoints(ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
    Members::from_json(input)?;
    let address = ctx
        .host
        .clone()
        .unwrap_or_else(|| format!("dynamodb.{}.amazonaws.com", ctx.backend.region));
    Ok(Reply::Json(json!({
        "Endpoints": [{"Address": address, "CachePeriodInMinutes": ENDPOINT_CACHE_MINUTES}]
    })))
}
