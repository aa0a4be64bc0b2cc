//! The messages replicas send each other.
//!
//! Five messages are the whole protocol: two for elections, two for
//! replication, one for catching up from a snapshot (in chunks). Every message carries
//! the sender's term, and one rule applies to all of them before anything
//! else: a replica that sees a higher term than its own adopts it and
//! becomes a follower (one exception, for leases, is in `replica/election.rs`);
//! a message from a lower term is answered with the higher term, so that
//! the stale sender learns it has been superseded.
//!
//! The network may drop, delay, duplicate and reorder any message; nothing
//! here assumes otherwise. Retransmission is implicit: the leader sends its
//! heartbeat (an `Append`) every few ticks, carrying whatever a follower
//! still lacks.

use crate::types::{Entry, LogIndex, NodeId, SnapshotChunk, Term, Tick};

// ANCHOR: messages
/// A message between two replicas of one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub from: NodeId,
    pub to: NodeId,
    /// The sender's current term.
    pub term: Term,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// A candidate asks for a vote (Paxos phase 1a). The last log position
    /// lets the voter refuse a candidate whose log is behind its own.
    VoteRequest {
        last_log_index: LogIndex,
        last_log_term: Term,
    },
    /// The answer (phase 1b).
    VoteReply { granted: bool },
    /// The leader's entries `prev_index + 1 ..`, which the follower accepts
    /// only if its entry at `prev_index` has term `prev_term` (log
    /// matching). With no entries it is a heartbeat. Phase 2a.
    Append {
        prev_index: LogIndex,
        prev_term: Term,
        entries: Vec<Entry>,
        /// The leader's commit index, so followers learn what to apply.
        leader_commit: LogIndex,
        stamp: Stamp,
    },
    /// A follower's answer to `Append` or `InstallSnapshot` (phase 2b).
    AppendReply { result: AppendResult, stamp: Stamp },
    /// A chunk of the leader's state, for a follower that needs entries the
    /// leader has already compacted away (see `replica/snapshot.rs`).
    InstallSnapshot { chunk: SnapshotChunk, stamp: Stamp },
}

/// A follower's verdict on an `Append`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendResult {
    /// The follower's log matches the leader's up to this index *and* those
    /// entries are durable on the follower: it counts towards the quorum.
    Matched(LogIndex),
    /// The follower's log does not contain the leader's entry at
    /// `prev_index`; the leader should retry from `hint` or earlier.
    Rejected { hint: LogIndex },
    /// The follower staged chunk `seq` of the snapshot at `index`: send the
    /// next one.
    Staged { index: LogIndex, seq: u32 },
}

/// When the leader sent a message, echoed in the reply.
///
/// The leader counts replies by `round` to confirm it is still the leader
/// before a read, and uses `sent_at` (its own clock) to compute its lease:
/// a follower that replies promises not to vote for anyone else for a while
/// *after it received* the message, which is after `sent_at`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stamp {
    pub round: u64,
    pub sent_at: Tick,
}
// ANCHOR_END: messages

impl Body {
    /// A short name for logs and statistics.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::VoteRequest { .. } => "VoteRequest",
            Body::VoteReply { .. } => "VoteReply",
            Body::Append { .. } => "Append",
            Body::AppendReply { .. } => "AppendReply",
            Body::InstallSnapshot { .. } => "InstallSnapshot",
        }
    }
}
