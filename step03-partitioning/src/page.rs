//! Query and Scan: reading a table one page at a time.
//!
//! Both walk storage keys in order and stop when the page is full — after
//! `Limit` items, or once the items read reach 1 MB ([`PAGE_BYTES_MAX`]; the
//! item that crosses the line is included). A full page carries a
//! *last evaluated key*: the primary key of its last item. The client sends
//! it back as the *exclusive start key* of the next request, and the walk
//! resumes strictly after it. No last evaluated key means the walk is done.
//! Like DynamoDB, a page that stops exactly at `Limit` carries a last
//! evaluated key even when nothing follows; the next page is then empty.
//!
//! * A **Query** walks one item collection: the keys with the prefix
//!   `hash ++ partition key`, narrowed by the sort-key condition, forward
//!   or in reverse. The collection lives in one partition.
//! * A **Scan** walks a parallel-scan *segment* — a range of hashes, see
//!   [`HashRange::segment`] — forward, partition after partition.
//!
//! Why pages stay exact while partitions split: the position to resume from
//! is a storage key, and storage keys are ordered by (hash, partition key,
//! sort key) whatever the map says (see [`crate::layout`]). Resuming looks
//! up whichever partition owns that position *now*. A split in the middle
//! of a page is just a `WrongPartition` on the next read, after which the
//! walk re-routes and continues from the same position.
//!
//! Invariants: items come back in storage-key order (reversed for a reverse
//! Query); every item of the range is on exactly one page; a page never
//! holds more than `Limit` items.

use std::ops::Bound;

use step01_kv::engine::{KeyRange, ReadConsistency, ScanDirection, StorageEngine};
use step01_kv::key::{KeyValue, PrimaryKey};
use step01_kv::size::item_size;
use step01_kv::value::Item;

use crate::error::{Result, TableError};
use crate::hash::{hash_bytes, partition_hash};
use crate::layout::{SortCondition, first_hash, hash_range_keys, intersect, item_key, query_range};
use crate::partition::SCAN_CHUNK_ITEMS;
use crate::range::HashRange;
use crate::stats::read_units;
use crate::table::Table;

/// A page stops once the items read reach 1 MB, like DynamoDB's.
pub const PAGE_BYTES_MAX: u64 = 1024 * 1024;
/// How many times one page may re-route after splits before giving up.
pub const PAGE_REROUTES_MAX: u32 = 16;

/// A Query: one item collection, optionally narrowed by a sort-key
/// condition.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryRequest {
    pub partition_key: KeyValue,
    pub sort: SortCondition,
    /// `Forward` is DynamoDB's `ScanIndexForward: true` (the default).
    pub direction: ScanDirection,
    /// At most this many items per page (`None`: only the 1 MB bound).
    pub limit: Option<usize>,
    pub exclusive_start_key: Option<PrimaryKey>,
    /// DynamoDB's `ConsistentRead`. DynamoDB defaults to eventually
    /// consistent reads; this layer defaults to `Strong`, the only level a
    /// single-copy engine has, and leaves the choice of default to the API
    /// layer (step 5).
    pub consistency: ReadConsistency,
}

impl QueryRequest {
    /// Every item with this partition key, ascending, one page.
    pub fn new(partition_key: KeyValue) -> QueryRequest {
        QueryRequest {
            partition_key,
            sort: SortCondition::All,
            direction: ScanDirection::Forward,
            limit: None,
            exclusive_start_key: None,
            consistency: ReadConsistency::Strong,
        }
    }
}

/// A Scan of one parallel-scan segment (segment 0 of 1: the whole table).
#[derive(Clone, Debug, PartialEq)]
pub struct ScanRequest {
    pub segment: u32,
    pub total_segments: u32,
    pub limit: Option<usize>,
    pub exclusive_start_key: Option<PrimaryKey>,
    /// DynamoDB's `ConsistentRead`, as in [`QueryRequest::consistency`].
    pub consistency: ReadConsistency,
}

impl Default for ScanRequest {
    fn default() -> Self {
        ScanRequest {
            segment: 0,
            total_segments: 1,
            limit: None,
            exclusive_start_key: None,
            consistency: ReadConsistency::Strong,
        }
    }
}

/// One page of results.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Where the next page starts; `None` when the walk is done.
    pub last_evaluated_key: Option<PrimaryKey>,
    /// The DynamoDB size of the items read.
    pub scanned_bytes: u64,
    /// Strongly consistent read units: the page's bytes, rounded up once.
    pub read_units: u64,
}

// ANCHOR: resume
/// The part of `range` that a walk in `direction` has still to visit after
/// the storage key `exclusive_start` (all of it when there is none).
pub fn resume_range(
    range: &KeyRange,
    direction: ScanDirection,
    exclusive_start: Option<&[u8]>,
) -> KeyRange {
    // EXERCISE(03.4): resume after the exclusive start key: keep only the keys strictly beyond it in the walk's direction
    let Some(start) = exclusive_start else {
        return range.clone();
    };
    let beyond = match direction {
        ScanDirection::Forward => KeyRange::new(Bound::Excluded(start.to_vec()), Bound::Unbounded),
        ScanDirection::Reverse => KeyRange::new(Bound::Unbounded, Bound::Excluded(start.to_vec())),
    };
    intersect(range, &beyond)
    // END EXERCISE
}
// ANCHOR_END: resume

impl<E: StorageEngine> Table<E> {
    /// One page of a Query.
    pub fn query(&self, request: &QueryRequest) -> Result<Page> {
        let limit = check_limit(request.limit)?;
        let pk = &request.partition_key;
        let schema = self.schema();
        self.check_partition_key(pk)?;
        match &schema.sort {
            None if request.sort != SortCondition::All => {
                return Err(invalid("Query key condition not supported"));
            }
            Some(attribute) => {
                for operand in request.sort.operands() {
                    if operand.key_type() != attribute.key_type {
                        return Err(invalid(
                            "One or more parameter values were invalid: Condition parameter type does not match schema type",
                        ));
                    }
                }
                if let SortCondition::BeginsWith(KeyValue::N(_)) = request.sort {
                    return Err(invalid(
                        "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                    ));
                }
            }
            None => {}
        }
        let range = query_range(pk, &request.sort);
        let start = match &request.exclusive_start_key {
            None => None,
            Some(key) => {
                self.check_start_key(key)?;
                if key.partition != *pk {
                    return Err(invalid(
                        "The provided starting key is outside query boundaries based on provided conditions",
                    ));
                }
                let bytes = item_key(key);
                if !range.contains(&bytes) {
                    return Err(invalid(
                        "The provided starting key does not match the range key predicate",
                    ));
                }
                Some(bytes)
            }
        };
        let range = resume_range(&range, request.direction, start.as_deref());
        self.read_page(range, request.direction, limit, request.consistency)
    }

    /// One page of a Scan segment.
    pub fn scan(&self, request: &ScanRequest) -> Result<Page> {
        let limit = check_limit(request.limit)?;
        let segment = HashRange::segment(request.segment, request.total_segments)
            .map_err(TableError::InvalidRequest)?;
        let range = hash_range_keys(&segment);
        let start = match &request.exclusive_start_key {
            None => None,
            Some(key) => {
                self.check_start_key(key)?;
                if !segment.contains(partition_hash(&key.partition)) {
                    return Err(invalid(
                        "The provided starting key is invalid: Exclusive start key does not map to the provided segment",
                    ));
                }
                Some(item_key(key))
            }
        };
        let range = resume_range(&range, ScanDirection::Forward, start.as_deref());
        self.read_page(range, ScanDirection::Forward, limit, request.consistency)
    }

    // ANCHOR: pagination
    /// Reads one page of `range` in `direction`: partition after partition,
    /// a chunk at a time, re-routing after splits, until the page is full
    /// or the range is exhausted.
    fn read_page(
        &self,
        range: KeyRange,
        direction: ScanDirection,
        limit: usize,
        consistency: ReadConsistency,
    ) -> Result<Page> {
        let mut page = Page::default();
        // What is left to read, and the hash of the partition to read it from.
        let mut rest = range;
        let mut hash = first_hash(&rest, direction);
        let mut reroutes = 0;
        // Every turn reads at least one item, leaves a partition behind for
        // good, or counts a re-route: all three are bounded.
        while !rest.is_empty() {
            let routing = self.routing()?;
            let partition = routing.partition_for(hash);
            let owned = intersect(&rest, &hash_range_keys(&partition.range()));
            let want = (limit - page.items.len()).min(SCAN_CHUNK_ITEMS);
            let chunk = match partition.read_chunk(
                routing.map.epoch(),
                &owned,
                direction,
                want,
                consistency,
                self.now(),
            ) {
                Err(error) if error.is_retriable() && reroutes < PAGE_REROUTES_MAX => {
                    reroutes += 1;
                    continue;
                }
                result => result?,
            };
            let exhausted = chunk.len() < want;
            for (key, value) in chunk {
                let (item_hash, primary, item) = self.decode_stored(&key, &value)?;
                page.scanned_bytes += item_size(&item) as u64;
                page.items.push(item);
                rest = resume_range(&rest, direction, Some(&key));
                hash = item_hash;
                if page.items.len() >= limit || page.scanned_bytes >= PAGE_BYTES_MAX {
                    page.last_evaluated_key = Some(primary);
                    page.read_units = read_units(page.scanned_bytes);
                    return Ok(page);
                }
            }
            if exhausted {
                // Nothing more here: continue in the neighbouring partition.
                let Some((next_hash, beyond)) = beyond_partition(&partition.range(), direction)
                else {
                    break;
                };
                hash = next_hash;
                rest = intersect(&rest, &beyond);
            }
        }
        page.read_units = read_units(page.scanned_bytes);
        Ok(page)
    }
    // ANCHOR_END: pagination

    /// An exclusive start key must be a complete key of this table.
    fn check_start_key(&self, key: &PrimaryKey) -> Result<()> {
        self.check_key(key).map_err(|_| {
            invalid("The provided starting key is invalid: The provided key element does not match the schema")
        })
    }
}

/// The hash of the next partition a walk visits after `range`, and the keys
/// beyond `range` in the walk's direction; `None` at the end of the ring.
fn beyond_partition(range: &HashRange, direction: ScanDirection) -> Option<(u128, KeyRange)> {
    match direction {
        ScanDirection::Forward => {
            let next = range.end().checked_add(1)?;
            let from = Bound::Included(hash_bytes(next).to_vec());
            Some((next, KeyRange::new(from, Bound::Unbounded)))
        }
        ScanDirection::Reverse => {
            let previous = range.start().checked_sub(1)?;
            let below = Bound::Excluded(hash_bytes(range.start()).to_vec());
            Some((previous, KeyRange::new(Bound::Unbounded, below)))
        }
    }
}

/// `Limit` must be at least 1; absent means "only the 1 MB bound".
fn check_limit(limit: Option<usize>) -> Result<usize> {
    match limit {
        Some(0) => Err(invalid(
            "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
        )),
        Some(limit) => Ok(limit),
        None => Ok(usize::MAX),
    }
}

fn invalid(message: &str) -> TableError {
    TableError::InvalidRequest(message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bytes: &[u8]) -> Vec<u8> {
        bytes.to_vec()
    }

    fn keys_in(range: &KeyRange, all: &[&[u8]]) -> Vec<Vec<u8>> {
        all.iter()
            .filter(|k| range.contains(k))
            .map(|k| key(k))
            .collect()
    }

    const ALL: [&[u8]; 6] = [b"a", b"b", b"c", b"d", b"e", b"f"];

    #[test]
    fn ex03_4_forward_resumes_strictly_after_the_start_key() {
        let range = KeyRange::new(Bound::Included(key(b"b")), Bound::Included(key(b"e")));
        let rest = resume_range(&range, ScanDirection::Forward, Some(b"c"));
        assert_eq!(keys_in(&rest, &ALL), vec![key(b"d"), key(b"e")]);
        // A start key between stored keys works the same.
        let rest = resume_range(&range, ScanDirection::Forward, Some(b"c0"));
        assert_eq!(keys_in(&rest, &ALL), vec![key(b"d"), key(b"e")]);
        // The last key: nothing left.
        let rest = resume_range(&range, ScanDirection::Forward, Some(b"e"));
        assert!(keys_in(&rest, &ALL).is_empty());
    }

    #[test]
    fn ex03_4_reverse_resumes_strictly_before_the_start_key() {
        let range = KeyRange::new(Bound::Included(key(b"b")), Bound::Included(key(b"e")));
        let rest = resume_range(&range, ScanDirection::Reverse, Some(b"d"));
        assert_eq!(keys_in(&rest, &ALL), vec![key(b"b"), key(b"c")]);
        let rest = resume_range(&range, ScanDirection::Reverse, Some(b"b"));
        assert!(keys_in(&rest, &ALL).is_empty());
    }

    #[test]
    fn ex03_4_no_start_key_keeps_the_range_and_the_bounds_stay() {
        let range = KeyRange::new(Bound::Excluded(key(b"b")), Bound::Excluded(key(b"e")));
        assert_eq!(resume_range(&range, ScanDirection::Forward, None), range);
        assert_eq!(resume_range(&range, ScanDirection::Reverse, None), range);
        // A start key before the range does not widen it.
        let rest = resume_range(&range, ScanDirection::Forward, Some(b"a"));
        assert_eq!(keys_in(&rest, &ALL), vec![key(b"c"), key(b"d")]);
        let rest = resume_range(&range, ScanDirection::Reverse, Some(b"z"));
        assert_eq!(keys_in(&rest, &ALL), vec![key(b"c"), key(b"d")]);
    }

    #[test]
    fn limits_must_be_positive() {
        assert!(check_limit(Some(0)).is_err());
        assert_eq!(check_limit(Some(3)).unwrap(), 3);
        assert_eq!(check_limit(None).unwrap(), usize::MAX);
    }
}
