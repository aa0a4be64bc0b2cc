//! One replica of a replication group, as a sans-IO state machine.
//!
//! A [`Replica`] does no I/O of its own: no sockets, no files, no threads,
//! no clock. Its host feeds it [`Input`]s — a tick of the clock, a message
//! from a peer, a client request, "your entries are on disk" — and carries
//! out the [`Output`]s it returns: save this, send that, reply to this
//! client. The same code therefore runs inside the deterministic simulator
//! (`sim/`), where the host is a loop over a virtual event queue, and in a
//! TCP node (`tcp/`), where the host owns sockets and a write-ahead log.
//!
//! The protocol is Raft; its parts live in one file each:
//!
//! | file | idea |
//! |---|---|
//! | `replica/election.rs` | terms, timeouts, votes, the voting restriction |
//! | `replica/interface.rs` | what a host and a replica say to each other: inputs, outputs, requests, replies, options, status |
//! | `replica/replication.rs` | appending, log matching, commit by quorum |
//! | `replica/snapshot.rs` | compacting the log; catching up from a snapshot in chunks |
//! | `replica/reads.rs` | strong reads: leases and leadership confirmation |
//! | `replica/membership.rs` | replacing a replica, one change at a time |
//!
//! # The host's contract
//!
//! Outputs are carried out **in order**. [`Output::SaveHardState`] and
//! [`Output::SaveSnapshot`] are *barriers*: the host makes them, and every
//! write before them, durable before it acts on the next output (a vote
//! must be on disk before the reply that grants it leaves). Entries in
//! [`Output::AppendEntries`] may sit unsynced; when a sync covers them the
//! host reports [`Input::Persisted`]. Only then do they count: a follower
//! acknowledges them to the leader, and the leader counts its own copy,
//! only once they are durable. That is what makes "acknowledged after 2 of
//! 3 have it durable" true.
//!
//! # Invariants (asserted after every step)
//!
//! * `applied_index <= commit_index <= last_index`, and the commit index
//!   never decreases (within one run of the process);
//! * `snapshot_index <= applied_index`, and entries are applied in log
//!   order, each exactly once per run;
//! * a committed entry is never truncated;
//! * in any term, at most one replica is leader (the simulator checks this
//!   across replicas; a replica panics if it meets a second leader of its
//!   own term).

mod election;
mod interface;
mod membership;
mod reads;
mod replication;
mod snapshot;

use crate::codec::DecodeError;
use crate::log::ReplicatedLog;
use crate::message::{Body, Message, Stamp};
use crate::rng::Rng;
use crate::state_machine::StateMachine;
use crate::timing::random_election_timeout;
use crate::types::{
    Config, DurableState, EntryKind, HardState, LogIndex, NodeId, RequestId, Snapshot, Term, Tick,
};
use std::collections::{BTreeMap, VecDeque};

pub use interface::{
    APPEND_ENTRIES_MAX, INFLIGHT_ENTRIES_MAX, Input, Options, Output, PENDING_READS_MAX, Reply,
    Request, Role, SNAPSHOT_INTERVAL_ENTRIES_DEFAULT, Status, UNCOMMITTED_ENTRIES_MAX,
};
pub use reads::ReadPath;
pub use snapshot::{
    LOG_RETAINED_BYTES_MAX, LOG_RETAINED_ENTRIES_MAX_DEFAULT, SNAPSHOT_INTERVAL_BYTES,
};

/// Counters of the log's compaction and catch-up (see [`Status`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SnapshotCounters {
    compactions: u64,
    installed: u64,
    chunks_sent: u64,
}

/// What a follower has told, or still owes, its leader.
#[derive(Clone, Copy, Debug)]
struct FollowerAck {
    /// Our log matches the leader's up to here (this term).
    verified_through: LogIndex,
    /// The last `Matched` index we sent.
    reported: LogIndex,
    /// The newest stamp we received, echoed in every reply.
    stamp: Stamp,
}

/// The leader's view of one other replica.
#[derive(Clone, Debug, Default)]
struct Progress {
    /// The next entry to send.
    next_index: LogIndex,
    /// The highest index known to be durable on the replica and to match.
    match_index: LogIndex,
    /// The highest round the replica has replied to, this term.
    acked_round: u64,
    /// The latest send time (our clock) of a message it replied to.
    acked_sent_at: Option<Tick>,
    /// The snapshot being sent to it, if it is caught up that way.
    transfer: Option<Box<snapshot::Transfer>>,
}

/// A strong read waiting for a leadership confirmation round.
#[derive(Clone, Debug)]
struct PendingRead {
    id: RequestId,
    query: Vec<u8>,
    /// Serve once the state machine has applied this far.
    read_index: LogIndex,
    /// Serve once a majority has replied to this round or a later one.
    round: u64,
}

#[derive(Debug)]
struct LeaderState {
    progress: BTreeMap<NodeId, Progress>,
    /// Numbers the leader's broadcasts; replies echo it.
    round: u64,
    /// The index of this term's first entry (its no-op).
    term_start_index: LogIndex,
    became_leader_at: Tick,
    heartbeat_due: Tick,
    /// Replies to messages sent before this tick do not count towards the
    /// lease (it moves when the membership changes).
    lease_floor: Tick,
    /// Client requests appended but not yet applied, by log index.
    pending: BTreeMap<LogIndex, RequestId>,
    reads: VecDeque<PendingRead>,
}

#[derive(Debug)]
enum RoleState {
    Follower {
        leader: Option<NodeId>,
        ack: Option<FollowerAck>,
    },
    Candidate {
        votes: std::collections::BTreeSet<NodeId>,
    },
    Leader(Box<LeaderState>),
}

/// One replica of a replication group. `M` is the state machine the log
/// drives.
#[derive(Debug)]
pub struct Replica<M> {
    id: NodeId,
    options: Options,
    rng: Rng,
    machine: M,
    // Durable: term and vote (through SaveHardState), log and snapshot
    // (through AppendEntries and SaveSnapshot).
    term: Term,
    voted_for: Option<NodeId>,
    log: ReplicatedLog,
    /// The latest snapshot: where the log starts, and the machine's
    /// checkpoint that stands for the entries before it.
    snapshot: Snapshot,
    // Volatile.
    /// The membership in effect (the log's latest) and the index that set it.
    config: Config,
    config_index: LogIndex,
    role: RoleState,
    now: Tick,
    /// A follower or candidate campaigns when `now` reaches this.
    election_due: Tick,
    /// When we last heard from a leader of our term (or started). For
    /// [`ELECTION_TIMEOUT_TICKS_MIN`](crate::timing::ELECTION_TIMEOUT_TICKS_MIN)
    /// ticks after it we vote for no one: the promise leases rely on.
    /// `None`: no promise outstanding (a replica started with every other
    /// replica of its group, see [`Options::no_lease_outstanding`]).
    leader_contact_at: Option<Tick>,
    commit_index: LogIndex,
    applied_index: LogIndex,
    /// Our log is durable up to here.
    durable_index: LogIndex,
    /// The applied index at the last compaction attempt: the next waits
    /// an interval after it.
    compaction_attempted_at: LogIndex,
    /// Bytes of entries applied since then.
    applied_bytes_since_attempt: u64,
    /// The snapshot we are receiving, chunk by chunk.
    installing: Option<snapshot::Installing>,
    counters: SnapshotCounters,
    out: Vec<Output>,
}

impl<M: StateMachine> Replica<M> {
    /// A replica starting (or restarting) from its durable state. `machine`
    /// must be empty: it is restored from the snapshot. `seed` makes the
    /// replica's random choices (election timeouts) reproducible.
    pub fn new(
        id: NodeId,
        durable: DurableState,
        mut machine: M,
        options: Options,
        seed: u64,
    ) -> Result<Replica<M>, DecodeError> {
        if durable.snapshot.index > 0 {
            machine.restore(&durable.snapshot.data)?;
        }
        let log = ReplicatedLog::restore(&durable.snapshot, durable.entries);
        let (config_index, config) = log.latest_config();
        let mut replica = Replica {
            id,
            options,
            rng: Rng::derive(seed, id),
            machine,
            term: durable.hard_state.term,
            voted_for: durable.hard_state.voted_for,
            commit_index: log.snapshot_index(),
            applied_index: log.snapshot_index(),
            durable_index: log.last_index(),
            log,
            snapshot: durable.snapshot,
            config,
            config_index,
            role: RoleState::Follower {
                leader: None,
                ack: None,
            },
            now: 0,
            election_due: 0,
            // A restarted replica cannot remember what it promised before
            // the crash, so it keeps the promise afresh: no vote for a
            // minimum election timeout — unless its host knows that no
            // replica of the group ran before this one started.
            leader_contact_at: (!options.no_lease_outstanding).then_some(0),
            compaction_attempted_at: 0,
            applied_bytes_since_attempt: 0,
            installing: None,
            counters: SnapshotCounters::default(),
            out: Vec::new(),
        };
        replica.reset_election_timer();
        if options.campaign_at_start {
            replica.election_due = 1;
        }
        Ok(replica)
    }

    /// Feeds one input and returns what the host must do, in order.
    pub fn step(&mut self, input: Input) -> Vec<Output> {
        let commit_before = self.commit_index;
        match input {
            Input::Tick => self.tick(),
            Input::Message(message) => self.receive(message),
            Input::Request { id, request } => self.request(id, request),
            Input::Persisted { index, term } => self.persisted(index, term),
        }
        self.advance();
        assert!(
            self.commit_index >= commit_before,
            "the commit index never decreases"
        );
        self.check_invariants();
        std::mem::take(&mut self.out)
    }

    fn tick(&mut self) {
        self.now += 1;
        if matches!(self.role, RoleState::Leader(_)) {
            self.leader_tick();
        } else if self.now >= self.election_due {
            if self.config.is_voter(self.id) {
                self.campaign();
            } else {
                // Learners and removed replicas never campaign.
                self.reset_election_timer();
            }
        }
    }

    fn receive(&mut self, message: Message) {
        if message.to != self.id || message.from == self.id {
            return;
        }
        let from = message.from;
        if !self.observe_term(from, message.term, &message.body) {
            return;
        }
        match message.body {
            Body::VoteRequest {
                last_log_index,
                last_log_term,
            } => self.on_vote_request(from, last_log_index, last_log_term),
            Body::VoteReply { granted } => self.on_vote_reply(from, granted),
            Body::Append {
                prev_index,
                prev_term,
                entries,
                leader_commit,
                stamp,
            } => self.on_append(from, prev_index, prev_term, entries, leader_commit, stamp),
            Body::AppendReply { result, stamp } => self.on_append_reply(from, result, stamp),
            Body::InstallSnapshot { chunk, stamp } => self.on_install_snapshot(from, chunk, stamp),
        }
    }

    fn request(&mut self, id: RequestId, request: Request) {
        match request {
            Request::Write(payload) => self.write(id, payload),
            Request::StrongRead(query) => self.strong_read(id, query),
            Request::EventualRead(_) if self.applied_index < self.machine.consistent_from() => {
                // A fuzzy snapshot not yet caught up: no state to show.
                self.reply(id, Reply::Busy);
            }
            Request::EventualRead(query) => {
                let value = self.machine.query(&query);
                let applied_index = self.applied_index;
                self.reply(
                    id,
                    Reply::Read {
                        value,
                        applied_index,
                    },
                );
            }
            Request::ChangeMembership(change) => self.change_membership(id, change),
        }
    }

    fn persisted(&mut self, index: LogIndex, term: Term) {
        // A sync reports the log as it was when written; if the entry at
        // `index` has been replaced since, this report is stale (a later
        // sync will cover the replacement).
        if index > self.durable_index && self.log.term_at(index) == Some(term) {
            self.durable_index = index;
        }
    }

    /// Everything that can follow from any input: commit what a majority
    /// holds, apply what is committed, serve reads that became ready,
    /// acknowledge what became durable. Each pass can enable the next
    /// (a snapshot makes the log durable, which may commit more), so a
    /// few passes run; two always suffice.
    fn advance(&mut self) {
        for _ in 0..3 {
            let before = (self.commit_index, self.durable_index);
            if self.is_leader() {
                self.maybe_commit();
            }
            self.apply_committed();
            if self.is_leader() {
                self.leave_if_removed();
                self.serve_ready_reads();
            } else {
                self.send_follower_ack(false);
            }
            if (self.commit_index, self.durable_index) == before {
                break;
            }
        }
    }

    // ANCHOR: apply
    /// Applies committed entries to the state machine, in log order, and
    /// answers the clients waiting for them.
    fn apply_committed(&mut self) {
        while self.applied_index < self.commit_index {
            let index = self.applied_index + 1;
            let Some(entry) = self.log.entry(index) else {
                panic!("committed entry {index} is missing from the log");
            };
            self.applied_index = index;
            let reply = match &entry.kind {
                EntryKind::Noop => None,
                EntryKind::Write(payload) => {
                    self.applied_bytes_since_attempt += payload.len() as u64;
                    let output = self.machine.apply(index, payload);
                    Some(Reply::Written { index, output })
                }
                EntryKind::Config(config) => Some(Reply::ConfigChanged {
                    index,
                    config: config.clone(),
                }),
            };
            if let (Some(reply), RoleState::Leader(leader)) = (reply, &mut self.role)
                && let Some(id) = leader.pending.remove(&index)
            {
                self.out.push(Output::Reply { id, reply });
            }
        }
        self.maybe_compact();
    }
    // ANCHOR_END: apply

    fn check_invariants(&self) {
        assert!(
            self.applied_index <= self.commit_index,
            "applied <= committed"
        );
        assert!(
            self.commit_index <= self.log.last_index(),
            "committed <= last"
        );
        assert!(
            self.durable_index <= self.log.last_index(),
            "durable <= last"
        );
        assert!(
            self.log.snapshot_index() <= self.applied_index,
            "snapshot <= applied"
        );
        assert_eq!(self.snapshot.index, self.log.snapshot_index());
        debug_assert!(self.config.is_well_formed());
    }

    // ---- small helpers shared by the submodules ----

    fn is_leader(&self) -> bool {
        matches!(self.role, RoleState::Leader(_))
    }

    fn reply(&mut self, id: RequestId, reply: Reply) {
        self.out.push(Output::Reply { id, reply });
    }

    fn send(&mut self, to: NodeId, body: Body) {
        self.out.push(Output::Send(Message {
            from: self.id,
            to,
            term: self.term,
            body,
        }));
    }

    fn save_hard_state(&mut self) {
        self.out.push(Output::SaveHardState(HardState {
            term: self.term,
            voted_for: self.voted_for,
        }));
        self.barrier();
    }

    /// After a barrier output, everything in the log is durable.
    fn barrier(&mut self) {
        self.durable_index = self.log.last_index();
    }

    fn reset_election_timer(&mut self) {
        self.election_due = self.now + random_election_timeout(&mut self.rng);
    }

    /// Re-reads the membership from the log after it changed.
    fn refresh_config(&mut self) {
        let (index, config) = self.log.latest_config();
        if (index, &config) == (self.config_index, &self.config) {
            return;
        }
        self.config_index = index;
        self.config = config;
        self.config_changed();
    }

    fn leader_hint(&self) -> Option<NodeId> {
        match &self.role {
            RoleState::Leader(_) => Some(self.id),
            RoleState::Follower { leader, .. } => *leader,
            RoleState::Candidate { .. } => None,
        }
    }

    // ---- accessors ----

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn role(&self) -> Role {
        match self.role {
            RoleState::Follower { .. } => Role::Follower,
            RoleState::Candidate { .. } => Role::Candidate,
            RoleState::Leader(_) => Role::Leader,
        }
    }

    pub fn term(&self) -> Term {
        self.term
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.leader_hint()
    }

    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }

    pub fn applied_index(&self) -> LogIndex {
        self.applied_index
    }

    pub fn last_index(&self) -> LogIndex {
        self.log.last_index()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True once the membership in effect is committed.
    pub fn config_committed(&self) -> bool {
        self.commit_index >= self.config_index
    }

    pub fn now(&self) -> Tick {
        self.now
    }

    pub fn machine(&self) -> &M {
        &self.machine
    }

    pub fn machine_mut(&mut self) -> &mut M {
        &mut self.machine
    }

    pub fn log(&self) -> &ReplicatedLog {
        &self.log
    }

    pub fn status(&self) -> Status {
        Status {
            id: self.id,
            role: self.role(),
            term: self.term,
            leader: self.leader_hint(),
            commit_index: self.commit_index,
            applied_index: self.applied_index,
            durable_index: self.durable_index,
            last_index: self.log.last_index(),
            snapshot_index: self.log.snapshot_index(),
            log_bytes: self.log.bytes(),
            compactions: self.counters.compactions,
            snapshots_installed: self.counters.installed,
            snapshot_chunks_sent: self.counters.chunks_sent,
            config: self.config.clone(),
        }
    }
}

#[cfg(test)]
pub(crate) mod testkit {
    //! Drive one replica by hand: feed it exactly the messages a test
    //! wants, with every write durable at once.
    use super::*;
    use crate::message::{AppendResult, Body};
    use crate::state_machine::KvMachine;

    pub fn replica(id: NodeId, durable: DurableState) -> Replica<KvMachine> {
        Replica::new(id, durable, KvMachine::new(), Options::default(), 42).unwrap()
    }

    /// Steps the replica and reports every appended entry durable at once.
    pub fn step(replica: &mut Replica<KvMachine>, input: Input) -> Vec<Output> {
        let mut outputs = replica.step(input);
        let last = outputs.iter().rev().find_map(|o| match o {
            Output::AppendEntries(entries) => entries.last().map(|e| (e.index, e.term)),
            _ => None,
        });
        if let Some((index, term)) = last {
            outputs.extend(replica.step(Input::Persisted { index, term }));
        }
        outputs
    }

    pub fn message(from: NodeId, to: NodeId, term: Term, body: Body) -> Input {
        Input::Message(Message {
            from,
            to,
            term,
            body,
        })
    }

    /// Replica 1 of {1, 2, 3}, elected leader of term 1 with 2's vote.
    /// Returns it with the outputs of the election.
    pub fn leader_of_three() -> (Replica<KvMachine>, Vec<Output>) {
        let mut leader = replica(1, DurableState::bootstrap([1, 2, 3]));
        let mut outputs = Vec::new();
        for _ in 0..crate::timing::ELECTION_TIMEOUT_TICKS_MAX {
            outputs.extend(step(&mut leader, Input::Tick));
            if leader.role() == Role::Candidate {
                break;
            }
        }
        assert_eq!(leader.role(), Role::Candidate);
        let term = leader.term();
        outputs.extend(step(
            &mut leader,
            message(2, 1, term, Body::VoteReply { granted: true }),
        ));
        assert_eq!(leader.role(), Role::Leader);
        (leader, outputs)
    }

    /// Follower `from` acknowledges everything up to `index`, echoing `stamp`.
    pub fn ack(
        leader: &mut Replica<KvMachine>,
        from: NodeId,
        index: LogIndex,
        stamp: Stamp,
    ) -> Vec<Output> {
        let term = leader.term();
        step(
            leader,
            message(
                from,
                leader.id(),
                term,
                Body::AppendReply {
                    result: AppendResult::Matched(index),
                    stamp,
                },
            ),
        )
    }

    /// The stamp of the last `Append` in `outputs`.
    pub fn last_stamp(outputs: &[Output]) -> Stamp {
        outputs
            .iter()
            .rev()
            .find_map(|o| match o {
                Output::Send(Message {
                    body: Body::Append { stamp, .. },
                    ..
                }) => Some(*stamp),
                _ => None,
            })
            .unwrap()
    }

    pub fn replies(outputs: &[Output]) -> Vec<(RequestId, Reply)> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Reply { id, reply } => Some((*id, reply.clone())),
                _ => None,
            })
            .collect()
    }
}
