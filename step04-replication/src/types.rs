//! The vocabulary of a replication group: replicas, terms, log entries,
//! membership and snapshots.
//!
//! A *replication group* is the set of replicas that hold one partition.
//! DynamoDB places three of them in three availability zones; one is the
//! *leader*, the others *followers*. Every write goes through the leader,
//! which puts it in a *log*: a numbered sequence of entries that every
//! replica applies in the same order. Agreeing on that log is the whole job
//! of this crate.
//!
//! # Terms are ballots
//!
//! DynamoDB elects its leaders with Multi-Paxos; this crate uses Raft's
//! formulation of the same idea. A [`Term`] is Paxos's *ballot number*:
//! a replica that wants to lead picks a term higher than any it has seen and
//! asks the others to promise it their vote (Paxos phase 1, "prepare"); once
//! a majority promised, it is the leader of that term and proposes entries
//! tagged with the term (phase 2, "accept"). An entry stored by a majority
//! is *chosen* — Raft says *committed*. A replica that sees a higher term
//! stops listening to the lower one, just as an acceptor ignores ballots
//! lower than its promise.
//!
//! Invariants (asserted where the values are produced):
//! * log indexes start at 1 and are contiguous; index 0 is "before the log";
//! * the terms of a log's entries never decrease along the log;
//! * a [`Config`] never names a replica as both voter and learner.

use std::collections::BTreeSet;
use std::fmt;

/// A replica's identity within its group. Never reused: a replacement
/// replica gets a new id.
pub type NodeId = u64;

/// A ballot: the leader of term `t` is the only replica that proposes
/// entries tagged `t`. Starts at 0 (no leader yet).
pub type Term = u64;

/// A position in the replicated log. The first entry has index 1.
pub type LogIndex = u64;

/// A count of clock ticks: all time inside a replica is measured in ticks
/// of its *own* clock, which may run slightly fast or slow.
pub type Tick = u64;

/// Names a client request so that its reply can be routed back. The host
/// chooses the numbers; a replica only copies them into its replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Which replicas belong to the group, and how.
///
/// *Voters* elect leaders and count towards quorums. *Learners* receive the
/// log but do not vote: a new replica joins as a learner, catches up, and is
/// only then promoted, so that an empty replica never holds up a quorum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
}

impl Config {
    /// A group of voters and no learners.
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> Config {
        Config {
            voters: voters.into_iter().collect(),
            learners: BTreeSet::new(),
        }
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id)
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.learners.contains(&id)
    }

    /// Every member, voters first.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters.iter().chain(self.learners.iter()).copied()
    }

    /// True if no replica is both a voter and a learner.
    pub fn is_well_formed(&self) -> bool {
        self.voters.is_disjoint(&self.learners)
    }
}

/// A change of membership, one replica at a time.
///
/// Changing one voter at a time keeps every majority of the old voters
/// overlapping every majority of the new ones, so two leaders can never be
/// elected by disjoint majorities during the change. Replacing a dead
/// replica therefore takes three steps: add the new one as a learner,
/// promote it once it has caught up, remove the dead one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipChange {
    AddLearner(NodeId),
    /// Turn a caught-up learner into a voter.
    Promote(NodeId),
    /// Remove a voter or a learner.
    Remove(NodeId),
}

/// What an entry asks the replicas to do when it is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Appended by every new leader, so that it commits an entry of its own
    /// term at once (only those commit by counting, see `quorum.rs`).
    Noop,
    /// A client write: opaque bytes for the state machine.
    Write(Vec<u8>),
    /// A new membership. It takes effect as soon as it is in a replica's
    /// log, committed or not.
    Config(Config),
}

/// One slot of the replicated log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: LogIndex,
    /// The term of the leader that created the entry.
    pub term: Term,
    pub kind: EntryKind,
}

/// A state machine's state as of a log index, replacing the log up to it.
///
/// Snapshots let a replica forget (compact) the log prefix it has applied,
/// and let a leader bring a replica that is too far behind up to date
/// without the entries it no longer has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The last index the snapshot covers (0: nothing, the empty log).
    pub index: LogIndex,
    /// The term of the entry at `index` (0 for index 0).
    pub term: Term,
    /// The membership as of `index`.
    pub config: Config,
    /// The state machine's own encoding of its state.
    pub data: Vec<u8>,
}

/// One piece of a snapshot on its way from the leader to a follower (see
/// [`StateMachine`](crate::state_machine::StateMachine) on why chunks may
/// show different indexes, and `replica/snapshot.rs` on the protocol).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotChunk {
    /// The index, term and membership the follower's log starts from once
    /// the snapshot is installed: the leader's applied index when the
    /// transfer began.
    pub index: LogIndex,
    pub term: Term,
    pub config: Config,
    /// The chunk's place in the transfer, from 0.
    pub seq: u32,
    /// The leader's applied index when it read this chunk (`>= index`).
    pub read_at: LogIndex,
    /// The state machine's encoding of a run of its state.
    pub data: Vec<u8>,
    /// The last chunk of the transfer.
    pub done: bool,
}

/// The two fields of a replica that must survive a crash besides the log:
/// forgetting them could let a replica vote twice in one term.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: Term,
    pub voted_for: Option<NodeId>,
}

/// Everything a replica keeps on disk, as handed to it after a restart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurableState {
    pub hard_state: HardState,
    pub snapshot: Snapshot,
    /// The entries after `snapshot.index`, contiguous.
    pub entries: Vec<Entry>,
}

impl DurableState {
    /// The state of a brand-new group member: an empty log whose snapshot at
    /// index 0 names the initial voters. A replica that joins later starts
    /// from `DurableState::default()` instead (no membership at all) and
    /// learns the membership from the leader.
    pub fn bootstrap(voters: impl IntoIterator<Item = NodeId>) -> DurableState {
        DurableState {
            snapshot: Snapshot {
                config: Config::with_voters(voters),
                ..Snapshot::default()
            },
            ..DurableState::default()
        }
    }
}

impl fmt::Display for MembershipChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MembershipChange::AddLearner(id) => write!(f, "add learner {id}"),
            MembershipChange::Promote(id) => write!(f, "promote {id}"),
            MembershipChange::Remove(id) => write!(f, "remove {id}"),
        }
    }
}
