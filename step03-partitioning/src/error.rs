//! What can go wrong in a partitioned table, and which failures a caller may
//! simply retry.
//!
//! Three families, kept apart because the layers above treat them
//! differently:
//!
//! * **The client's fault** — [`TableError::Validation`] (an item or key
//!   breaks DynamoDB's rules) and [`TableError::InvalidRequest`] (a bad
//!   `Limit`, `Segment` or `ExclusiveStartKey`, with DynamoDB's message).
//!   Step 5 turns them into a `ValidationException`.
//! * **Routing races** — [`TableError::WrongPartition`]: the request was
//!   routed with a map that a split has since replaced. Nothing was applied;
//!   route again ([`TableError::is_retriable`]). The table retries these
//!   itself, a bounded number of times.
//! * **Our fault** — storage failures, corrupt bytes, poisoned locks: an
//!   internal server error, never shown as the client's.

use std::fmt;

use step01_kv::engine::StorageError;
use step01_kv::error::{DecodeError, ValidationError};

use crate::map::PartitionId;
use crate::split::CrashPoint;

/// The result of every table operation.
pub type Result<T> = std::result::Result<T, TableError>;

/// Everything a table operation can fail with.
#[derive(Debug)]
pub enum TableError {
    /// The item or key breaks one of DynamoDB's rules.
    Validation(ValidationError),
    /// A request parameter is not acceptable; the text is DynamoDB's message.
    InvalidRequest(String),
    /// The route named a partition that no longer owns the key: a split
    /// replaced it after the route was taken. Nothing was applied.
    WrongPartition {
        partition: PartitionId,
        route_epoch: u64,
        current_epoch: u64,
    },
    /// Routing lost the race with splits this many times in a row.
    RoutingRetriesExhausted { attempts: u32 },
    /// No partition with this id in the current map.
    PartitionNotFound(PartitionId),
    /// The storage engine or the file system failed.
    Storage(StorageError),
    /// Bytes read back are not what was written: an item or key that does
    /// not decode, or a key stored in a partition that does not own it.
    Corrupt { what: String },
    /// A thread panicked while holding one of the table's locks.
    Failed { reason: String },
    /// Fault injection: a split stopped dead at this point, as in a crash.
    CrashInjected(CrashPoint),
}

impl TableError {
    /// True for errors where routing again may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(self, TableError::WrongPartition { .. })
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> TableError {
        TableError::Corrupt { what: what.into() }
    }

    pub(crate) fn poisoned(lock: &str) -> TableError {
        TableError::Failed {
            reason: format!("a thread panicked while holding the {lock} lock"),
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Validation(error) => write!(f, "{error}"),
            TableError::InvalidRequest(message) => f.write_str(message),
            TableError::WrongPartition {
                partition,
                route_epoch,
                current_epoch,
            } => write!(
                f,
                "partition {partition} no longer owns the key (routed at epoch {route_epoch}, map is at epoch {current_epoch})"
            ),
            TableError::RoutingRetriesExhausted { attempts } => {
                write!(f, "routing failed {attempts} times while partitions split")
            }
            TableError::PartitionNotFound(id) => write!(f, "no partition {id} in the map"),
            TableError::Storage(error) => write!(f, "{error}"),
            TableError::Corrupt { what } => write!(f, "corrupt table data: {what}"),
            TableError::Failed { reason } => f.write_str(reason),
            TableError::CrashInjected(point) => write!(f, "crash injected at {point:?}"),
        }
    }
}

impl std::error::Error for TableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TableError::Validation(error) => Some(error),
            TableError::Storage(error) => Some(error),
            _ => None,
        }
    }
}

impl From<ValidationError> for TableError {
    fn from(error: ValidationError) -> Self {
        TableError::Validation(error)
    }
}

impl From<StorageError> for TableError {
    fn from(error: StorageError) -> Self {
        TableError::Storage(error)
    }
}

impl From<DecodeError> for TableError {
    fn from(error: DecodeError) -> Self {
        TableError::Corrupt {
            what: error.to_string(),
        }
    }
}

/// The failure of a conditional write: the caller's check refused it, or
/// the table failed.
#[derive(Debug)]
pub enum ConditionalError<C> {
    /// The check returned this error; nothing was written.
    Condition(C),
    Table(TableError),
}

impl<C> From<TableError> for ConditionalError<C> {
    fn from(error: TableError) -> Self {
        ConditionalError::Table(error)
    }
}

impl<C: fmt::Display> fmt::Display for ConditionalError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionalError::Condition(error) => write!(f, "condition failed: {error}"),
            ConditionalError::Table(error) => write!(f, "{error}"),
        }
    }
}

impl<C: fmt::Debug + fmt::Display> std::error::Error for ConditionalError<C> {}
