//! What a host and a replica say to each other: the [`Input`]s a host
//! feeds, the [`Output`]s it carries out, the clients' [`Request`]s and
//! [`Reply`]s, the [`Options`] a replica starts with and the [`Status`] it
//! shows. The contract these follow is in `replica.rs`.

use super::snapshot::LOG_RETAINED_ENTRIES_MAX_DEFAULT;
use crate::message::Message;
use crate::types::{
    Config, Entry, HardState, LogIndex, MembershipChange, NodeId, RequestId, Snapshot, Term,
};

/// The most entries one `Append` carries.
pub const APPEND_ENTRIES_MAX: usize = 64;
/// How far ahead of a follower's acknowledged index the leader sends
/// before it waits for replies, in entries.
pub const INFLIGHT_ENTRIES_MAX: u64 = 256;
/// Appended but uncommitted entries a leader accepts before it answers
/// writes with [`Reply::Busy`]: this bounds the log and the pending map.
pub const UNCOMMITTED_ENTRIES_MAX: u64 = 512;
/// Strong reads a leader holds while it confirms its leadership.
pub const PENDING_READS_MAX: usize = 512;
/// Applied entries after which a replica snapshots its state machine and
/// compacts its log, unless [`Options`] says otherwise.
pub const SNAPSHOT_INTERVAL_ENTRIES_DEFAULT: u64 = 1024;

/// What a client asks a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A write: opaque bytes for the state machine. Only the leader takes it.
    Write(Vec<u8>),
    /// A strongly consistent read: it sees every write acknowledged before
    /// it was sent. Only the leader serves it.
    StrongRead(Vec<u8>),
    /// An eventually consistent read: any replica answers from what it has
    /// applied, which may be behind.
    EventualRead(Vec<u8>),
    /// Add, promote or remove one replica. Only the leader takes it.
    ChangeMembership(MembershipChange),
}

/// A replica's answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The write is committed — durable on a majority — and applied.
    Written {
        index: LogIndex,
        output: Vec<u8>,
    },
    Read {
        value: Vec<u8>,
        /// The log index the state was read at.
        applied_index: LogIndex,
    },
    ConfigChanged {
        index: LogIndex,
        config: Config,
    },
    /// This replica is not the leader; `leader` is its best guess. The
    /// request had no effect.
    NotLeader {
        leader: Option<NodeId>,
    },
    /// The replica lost its leadership after appending the write: it may
    /// still commit (under the next leader) or be overwritten. The client
    /// cannot know which — like a timeout.
    Unknown,
    /// Too much is in flight; the request had no effect. Retry later.
    Busy,
    /// The request is invalid (such as a membership change that is not
    /// allowed now); it had no effect.
    Rejected(String),
}

/// Everything that can happen to a replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// One tick of the replica's clock.
    Tick,
    Message(Message),
    Request {
        id: RequestId,
        request: Request,
    },
    /// The host's storage has made the log durable up to `index`, whose
    /// entry has term `term` (and everything written before it).
    Persisted {
        index: LogIndex,
        term: Term,
    },
}

/// Everything a replica asks its host to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Store the term and vote. A barrier: durable, with everything written
    /// before it, before the host acts on any later output.
    SaveHardState(HardState),
    /// Write these entries to the log, first removing every entry at or
    /// after the first one's index. Need not be durable yet: report
    /// [`Input::Persisted`] when a sync covers them.
    AppendEntries(Vec<Entry>),
    /// Store this snapshot and compact the log by
    /// [`compact_entries`](crate::log::compact_entries). A barrier, like
    /// `SaveHardState`.
    SaveSnapshot(Snapshot),
    Send(Message),
    Reply {
        id: RequestId,
        reply: Reply,
    },
}

/// A replica's role in its current term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// Knobs that are not timing (timing is fixed in `timing.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Snapshot and compact the log every this many applied entries.
    pub snapshot_interval_entries: u64,
    /// The most applied entries a leader keeps for followers that are
    /// behind (and for a snapshot transfer); see `replica/snapshot.rs`.
    pub log_retained_entries_max: u64,
    /// The most bytes of state one snapshot chunk carries.
    pub snapshot_chunk_bytes_max: usize,
    /// The host starts every replica of the group at once, after none of
    /// them ran (a new group, or a whole process restarted): no leader can
    /// hold a lease, so a replica may vote at once instead of waiting out
    /// the promise a restarted replica otherwise keeps. Never set it for a
    /// replica restarted while others of its group run.
    pub no_lease_outstanding: bool,
    /// Campaign on the first tick instead of after a random timeout: the
    /// host names one replica to start, so a new group has its leader in
    /// one round trip (others still campaign on their timers if it fails).
    pub campaign_at_start: bool,
    /// **Breaks linearizability.** Serve strong reads at any replica that
    /// believes it is the leader, without a lease or a confirmation round.
    /// Exists only for the "break it" exercise, whose test shows the
    /// simulator's checker catching the stale reads this causes.
    pub skip_lease_check: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            snapshot_interval_entries: SNAPSHOT_INTERVAL_ENTRIES_DEFAULT,
            log_retained_entries_max: LOG_RETAINED_ENTRIES_MAX_DEFAULT,
            snapshot_chunk_bytes_max: crate::state_machine::SNAPSHOT_CHUNK_BYTES_MAX,
            no_lease_outstanding: false,
            campaign_at_start: false,
            skip_lease_check: false,
        }
    }
}

/// A snapshot of a replica's state, for tests, the simulator and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub id: NodeId,
    pub role: Role,
    pub term: Term,
    pub leader: Option<NodeId>,
    pub commit_index: LogIndex,
    pub applied_index: LogIndex,
    pub durable_index: LogIndex,
    pub last_index: LogIndex,
    pub snapshot_index: LogIndex,
    /// Payload bytes of the entries the log holds in memory.
    pub log_bytes: u64,
    /// Compactions of the log, snapshots installed from a leader, and
    /// snapshot chunks sent to followers, since the replica started.
    pub compactions: u64,
    pub snapshots_installed: u64,
    pub snapshot_chunks_sent: u64,
    pub config: Config,
}
