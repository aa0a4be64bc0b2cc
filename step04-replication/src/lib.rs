//! Step 4 of minidynamo: a partition becomes a *replication group* of three
//! replicas, one of them the leader, that agree on one log.
//!
//! DynamoDB keeps every partition on three replicas in three availability
//! zones. Writes go to the leader, which appends them to its write-ahead log
//! and replicates them; a write is acknowledged once two of the three
//! replicas have it durable. Strongly consistent reads are served by the
//! leader while it holds a lease; eventually consistent reads by any
//! replica. When the leader fails, the others elect a new one (DynamoDB
//! uses Multi-Paxos; we use Raft, its close cousin — see [`types`] for how
//! terms are ballots).
//!
//! Read the crate in this order:
//!
//! | module | idea |
//! |---|---|
//! | [`types`], [`message`] | the vocabulary and the five messages |
//! | [`log`] | the log and log matching |
//! | [`quorum`], [`timing`] | counting majorities; timeouts and the lease margin |
//! | [`state_machine`] | what the log drives |
//! | [`replica`] | the sans-IO replica: elections, replication, reads, membership |
//! | [`storage`], [`file_storage`] | what must survive a crash, in memory and on disk |
//! | [`host`] | the small loop that connects a replica to storage and a network |
//! | [`group`] | a partition as a replication group in one process: step 3's engine, replicated |
//! | [`sim`], [`check`] | a deterministic simulator with faults, and the checkers that judge its runs |
//! | [`tcp`] | the same replica on real sockets, as separate processes |
//!
//! Invariants of the crate, each asserted where it can break:
//!
//! * **Election safety**: at most one leader per term (the simulator checks
//!   it over all replicas; a replica that meets a second leader of its term
//!   panics).
//! * **Log matching**: same index and term ⇒ same log prefix (`log.rs`).
//! * **Leader completeness**: a committed entry is in the log of every later
//!   leader — so no acknowledged write is ever lost (the voting rule in
//!   `replica/election.rs`; checked by the simulator).
//! * **State machine safety**: every replica applies the same entry at each
//!   index (checked by the simulator), in log order, `applied <= committed`.
//! * **Linearizable strong reads** (the lease in `replica/reads.rs`;
//!   checked by `check/linearizability.rs`).

pub mod check;
pub mod codec;
pub mod file_storage;
pub mod group;
pub mod host;
pub mod log;
pub mod message;
pub mod quorum;
pub mod replica;
pub mod rng;
pub mod sim;
pub mod state_machine;
pub mod storage;
pub mod tcp;
pub mod timing;
pub mod types;

pub use group::{GroupOptions, GroupProbe, PartitionMachine, ReplicationGroup};
pub use replica::{Input, Options, Output, Replica, Reply, Request, Role};
pub use state_machine::{KvMachine, StateMachine};
pub use types::{Config, Entry, EntryKind, LogIndex, MembershipChange, NodeId, RequestId, Term};
