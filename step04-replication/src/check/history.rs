//! What clients saw: the history a simulation run records and the checkers
//! judge.
//!
//! Each operation has an *invocation* time (the client sent it) and, if it
//! completed, a *completion* time (the client got the reply), both in
//! virtual microseconds. An operation without a completion — the client
//! timed out, or the reply said the outcome is unknown — may or may not
//! have taken effect, at any moment after its invocation; the checkers
//! must allow both.
//!
//! Every write writes a value no other write writes (the operation's own
//! id), so a read's value names the write it saw. That is what makes the
//! checks cheap.

use crate::types::LogIndex;

/// Virtual time in microseconds.
pub type Time = u64;

/// A client's view of one operation on one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Unique in the run; also the value a write writes.
    pub id: u64,
    pub client: u64,
    pub key: u64,
    pub kind: OpKind,
    pub invoked_at: Time,
    pub outcome: Outcome,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// Writes the value `id` to the key.
    Write,
    StrongRead,
    EventualRead,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No reply yet, a timeout, or "unknown": it may have happened.
    Indeterminate,
    /// Definitely had no effect (not the leader, busy).
    Failed { completed_at: Time },
    /// The write was acknowledged at log `index`.
    Written { completed_at: Time, index: LogIndex },
    /// The read returned the value written by operation `value` (`None`:
    /// the key had never been written).
    Read {
        completed_at: Time,
        value: Option<u64>,
    },
}

impl Operation {
    pub fn completed_at(&self) -> Option<Time> {
        match self.outcome {
            Outcome::Indeterminate => None,
            Outcome::Failed { completed_at }
            | Outcome::Written { completed_at, .. }
            | Outcome::Read { completed_at, .. } => Some(completed_at),
        }
    }
}
