//! Throttling: token buckets that hold each partition to its share of a
//! table's throughput, as DynamoDB does.
//!
//! | module | holds |
//! |---|---|
//! | [`bucket`] | one token bucket: exact refill, burst credit, admit-then-debit; `CapacityUnits` |
//! | [`partition_buckets`] | one table: read and write buckets per partition, provisioned or on-demand, re-splitting, counters, the throttling error |
//!
//! Sans-IO: every call takes the current time as a `Duration` since a fixed
//! origin (step 3's `Clock::now()`), so tests and the simulator drive time
//! by hand.
//!
//! The router asks before it runs a request (`PartitionBuckets::admit`,
//! with the part of the cost it already knows: one write unit, half a read
//! unit) and charges the rest once the consumed capacity is known
//! (`PartitionBuckets::charge`). Throttling is opt-in in the server, as
//! the reference recommends for a local DynamoDB; capacity is always
//! accounted.

pub mod bucket;
pub mod partition_buckets;

pub use bucket::{Admission, BURST_SECONDS, CapacityUnits, TokenBucket};
pub use partition_buckets::{CapacityMode, Kind, PartitionBuckets, ThrottleCounters, Throttled};
