//! Compacting the log, and catching a follower up from a snapshot.
//!
//! A log that only grows would hold every write ever made, in memory and on
//! disk. Once an entry is applied and the state machine holds it durably,
//! the entry is no longer needed to rebuild *this* replica, so the replica
//! replaces the log's prefix by a *checkpoint* ([`maybe_compact`]). Each
//! replica does so on its own, every
//! [`snapshot_interval_entries`](super::Options) entries or
//! [`SNAPSHOT_INTERVAL_BYTES`] bytes.
//!
//! A leader keeps a little more: the entries a follower that is only a
//! little behind still needs ([`Options::log_retained_entries_max`] at
//! most, and [`LOG_RETAINED_BYTES_MAX`]), so that it catches up by log. A
//! follower further behind than that needs entries the leader no longer
//! has, and gets the state instead, streamed in chunks:
//!
//! ```text
//!  leader                                         follower
//!  transfer at index T (its applied index)
//!  chunk 0: keys ..k1, read at T      ──────▶   stage aside
//!                                     ◀──────   Staged(T, 0)
//!  chunk 1: keys k1.., read at T+5    ──────▶   stage aside
//!   …                                            …
//!  chunk n (done), read at T+40       ──────▶   swap in as the state at T,
//!                                                fuzzy until 40 is applied;
//!                                     ◀──────   Matched(T)
//!  Append from T+1 …                  ──────▶   replay T+1.. (harmless where
//!                                                a chunk already had it)
//! ```
//!
//! The chunks are read from the leader's live state, so they are not one
//! consistent picture; see `state_machine.rs` for why replaying the log
//! from `T` makes them one. While a transfer is on, the leader keeps every
//! entry after `T`, within a larger bound ([`TRANSFER_RETAINED_ENTRIES_MAX`],
//! and the same byte bound): a transfer slower than that is abandoned and
//! begun again at a newer index.
//!
//! Invariants:
//! * the log is compacted only up to the applied index, and only after the
//!   machine made the state durable (`checkpoint`);
//! * a leader never compacts past an index a transfer in progress will
//!   resume from;
//! * a follower installs a snapshot only when all its chunks arrived, in
//!   order, and only if it is ahead of its commit index; the chunk in
//!   flight is the only one the leader holds in memory.
//!
//! [`maybe_compact`]: Replica::maybe_compact

use super::{Output, Replica, RoleState};
use crate::message::{AppendResult, Body, Stamp};
use crate::state_machine::StateMachine;
use crate::types::{LogIndex, NodeId, Snapshot, SnapshotChunk, Term};

/// Applied bytes after which a replica compacts even before
/// [`snapshot_interval_entries`](super::Options) entries: large entries
/// make a short log big.
pub const SNAPSHOT_INTERVAL_BYTES: u64 = 4 * 1024 * 1024;
/// The most applied entries a leader keeps for followers that are behind,
/// or for a transfer in progress, unless [`Options`](super::Options) says
/// otherwise.
pub const LOG_RETAINED_ENTRIES_MAX_DEFAULT: u64 = 16 * 1024;
/// The most bytes of applied entries a leader keeps for them.
pub const LOG_RETAINED_BYTES_MAX: u64 = 32 * 1024 * 1024;
/// The most applied entries a leader keeps while a follower receives a
/// snapshot: more than for a follower merely behind, so that a transfer
/// finishes under a steady stream of writes (within the same byte bound).
pub const TRANSFER_RETAINED_ENTRIES_MAX: u64 = 64 * 1024;

/// A snapshot on its way to one follower, held by the leader.
#[derive(Clone, Debug)]
pub(super) struct Transfer {
    /// The chunk in flight: sent again until the follower stages it.
    chunk: SnapshotChunk,
    /// The last key `chunk` holds: where the next chunk starts.
    next_after: Option<Vec<u8>>,
}

impl Transfer {
    /// The index the transfer installs at.
    pub(super) fn chunk_index(&self) -> LogIndex {
        self.chunk.index
    }
}

/// A snapshot a follower is receiving.
#[derive(Clone, Copy, Debug)]
pub(super) struct Installing {
    index: LogIndex,
    term: Term,
    next_seq: u32,
    /// The highest `read_at` of the chunks staged so far.
    read_at: LogIndex,
}

impl<M: StateMachine> Replica<M> {
    // ANCHOR: maybe_compact
    /// Compacts the log once enough has been applied since the last
    /// attempt: up to the applied index, less what followers still need.
    ///
    /// The machine may refuse to checkpoint (see [`StateMachine`]); the log
    /// then stays as it is, and the next attempt waits another interval.
    pub(super) fn maybe_compact(&mut self) {
        let since = self
            .applied_index
            .saturating_sub(self.compaction_attempted_at);
        let due = since >= self.options.snapshot_interval_entries.max(1)
            || self.applied_bytes_since_attempt >= SNAPSHOT_INTERVAL_BYTES;
        if !due {
            return;
        }
        self.compaction_attempted_at = self.applied_index;
        self.applied_bytes_since_attempt = 0;
        let index = self.compaction_index();
        if index <= self.log.snapshot_index() {
            return;
        }
        let Some(term) = self.log.term_at(index) else {
            return;
        };
        let Ok(data) = self.machine.checkpoint() else {
            return;
        };
        let (_, config) = self.log.config_at(index);
        self.counters.compactions += 1;
        self.save_snapshot(Snapshot {
            index,
            term,
            config,
            data,
        });
    }
    // ANCHOR_END: maybe_compact

    // ANCHOR: compaction_index
    /// How far the log may be cut: the applied index, held back by what a
    /// leader's followers still need — each one's matched index, but never
    /// by more than the retention bound; or, for a follower receiving a
    /// snapshot, the index its transfer resumes from, within the larger
    /// transfer bound. Transfers below that bound are abandoned.
    fn compaction_index(&mut self) -> LogIndex {
        // EXERCISE(04.7): the applied index, held back to each follower's matched index (no further than the retention floor) or its transfer's index (no further than the transfer floor, abandoning transfers below it)
        let applied = self.applied_index;
        let bytes_floor = self
            .log
            .first_index_within_bytes(applied, LOG_RETAINED_BYTES_MAX);
        let floor = applied
            .saturating_sub(self.options.log_retained_entries_max)
            .max(bytes_floor);
        let transfer_floor = applied
            .saturating_sub(TRANSFER_RETAINED_ENTRIES_MAX)
            .max(bytes_floor);
        let RoleState::Leader(leader) = &mut self.role else {
            return applied;
        };
        let mut index = applied;
        for progress in leader.progress.values_mut() {
            let needed = match &progress.transfer {
                Some(transfer) if transfer.chunk.index < transfer_floor => {
                    progress.transfer = None; // Too slow: begin again later.
                    continue;
                }
                Some(transfer) => transfer.chunk.index,
                None => progress.match_index.max(floor),
            };
            index = index.min(needed);
        }
        index.max(self.log.snapshot_index())
        // END EXERCISE
    }
    // ANCHOR_END: compaction_index

    fn save_snapshot(&mut self, snapshot: Snapshot) {
        self.log.compact(&snapshot);
        self.snapshot = snapshot.clone();
        self.out.push(Output::SaveSnapshot(snapshot));
        self.barrier();
    }

    /// Whether `peer` must be caught up by snapshot: it needs compacted
    /// entries, or its transfer is under way.
    pub(super) fn needs_snapshot(&self, peer: NodeId) -> bool {
        let RoleState::Leader(leader) = &self.role else {
            return false;
        };
        leader
            .progress
            .get(&peer)
            .is_some_and(|p| p.transfer.is_some() || p.next_index <= self.log.snapshot_index())
    }

    /// Sends `peer` the chunk in flight, beginning a transfer at our
    /// applied index if none is under way.
    pub(super) fn send_snapshot_chunk(&mut self, peer: NodeId, stamp: Stamp) {
        let index = self.applied_index;
        let started = match &self.role {
            RoleState::Leader(leader) => leader
                .progress
                .get(&peer)
                .is_some_and(|p| p.transfer.is_some()),
            _ => return,
        };
        let fresh = if started {
            None
        } else {
            let Some(term) = self.log.term_at(index) else {
                return;
            };
            let Ok(first) = self
                .machine
                .read_chunk(None, self.options.snapshot_chunk_bytes_max)
            else {
                return; // The machine cannot read now: try at the next heartbeat.
            };
            let chunk = SnapshotChunk {
                index,
                term,
                config: self.log.config_at(index).1,
                seq: 0,
                read_at: index,
                data: first.data,
                done: first.done,
            };
            Some(Transfer {
                chunk,
                next_after: first.last_key,
            })
        };
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&peer) else {
            return;
        };
        if let Some(transfer) = fresh {
            progress.transfer = Some(Box::new(transfer));
        }
        let Some(transfer) = &progress.transfer else {
            return;
        };
        let chunk = transfer.chunk.clone();
        self.counters.chunks_sent += 1;
        self.send(peer, Body::InstallSnapshot { chunk, stamp });
    }

    /// `peer` staged chunk `seq` of the transfer at `index`: read and send
    /// the next one (a reply to an older chunk changes nothing).
    pub(super) fn on_staged(&mut self, peer: NodeId, index: LogIndex, seq: u32) {
        let read_at = self.applied_index;
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        let stamp = Stamp {
            round: leader.round,
            sent_at: self.now,
        };
        let Some(transfer) = leader.progress.get(&peer).and_then(|p| p.transfer.as_ref()) else {
            return;
        };
        let current = &transfer.chunk;
        if (current.index, current.seq) != (index, seq) || current.done {
            return;
        }
        let Ok(next) = self.machine.read_chunk(
            transfer.next_after.as_deref(),
            self.options.snapshot_chunk_bytes_max,
        ) else {
            return; // Sent again at the next heartbeat, and read then.
        };
        let chunk = SnapshotChunk {
            seq: seq + 1,
            read_at,
            data: next.data,
            done: next.done,
            ..current.clone()
        };
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        if let Some(transfer) = leader
            .progress
            .get_mut(&peer)
            .and_then(|p| p.transfer.as_mut())
        {
            transfer.chunk = chunk.clone();
            transfer.next_after = next.last_key;
        }
        self.counters.chunks_sent += 1;
        self.send(peer, Body::InstallSnapshot { chunk, stamp });
    }

    // ANCHOR: on_install_snapshot
    /// A follower receives a chunk of the leader's snapshot: stage it if it
    /// is the next one, and install the whole once the last one is in.
    pub(super) fn on_install_snapshot(&mut self, from: NodeId, chunk: SnapshotChunk, stamp: Stamp) {
        self.heard_from_leader(from);
        if chunk.term > self.term || !chunk.config.is_well_formed() || chunk.read_at < chunk.index {
            return; // Not what an honest leader sends: drop it.
        }
        if chunk.index <= self.commit_index {
            // We hold all it covers: everything up to it is committed,
            // hence the leader's.
            self.installing = None;
            self.record_verified(chunk.index, stamp);
            self.send_follower_ack(true);
            return;
        }
        let expected = match self.installing {
            Some(i) if (i.index, i.term) == (chunk.index, chunk.term) => i.next_seq,
            _ => 0,
        };
        if chunk.seq != expected {
            let result = if chunk.seq < expected {
                AppendResult::Staged {
                    index: chunk.index,
                    seq: chunk.seq,
                } // A duplicate: acknowledge it again.
            } else {
                // A gap (we restarted, or lost the transfer): start over.
                AppendResult::Rejected {
                    hint: self.log.last_index() + 1,
                }
            };
            self.send(from, Body::AppendReply { result, stamp });
            return;
        }
        if self
            .machine
            .stage_chunk(chunk.seq == 0, &chunk.data)
            .is_err()
        {
            self.installing = None;
            return; // Damaged: the transfer begins again.
        }
        let installing = Installing {
            index: chunk.index,
            term: chunk.term,
            next_seq: chunk.seq + 1,
            read_at: self.installing.map_or(0, |i| i.read_at).max(chunk.read_at),
        };
        self.installing = Some(installing);
        if chunk.done {
            self.install(chunk, installing.read_at, stamp);
        } else {
            let result = AppendResult::Staged {
                index: chunk.index,
                seq: chunk.seq,
            };
            self.send(from, Body::AppendReply { result, stamp });
        }
    }
    // ANCHOR_END: on_install_snapshot

    /// Swaps the staged chunks in as the state at `last.index` and cuts the
    /// log there.
    fn install(&mut self, last: SnapshotChunk, read_at: LogIndex, stamp: Stamp) {
        self.installing = None;
        if self.machine.install_staged(last.index, read_at).is_err() {
            return;
        }
        let Ok(data) = self.machine.checkpoint() else {
            return;
        };
        self.commit_index = last.index;
        self.applied_index = last.index;
        self.counters.installed += 1;
        self.save_snapshot(Snapshot {
            index: last.index,
            term: last.term,
            config: last.config,
            data,
        });
        self.refresh_config();
        self.record_verified(last.index, stamp);
        self.send_follower_ack(true);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, ack, message, step};
    use super::super::{Input, Output, Reply, Request, Role};
    use crate::message::{AppendResult, Body, Stamp};
    use crate::state_machine::{KvMachine, StateMachine};
    use crate::types::{DurableState, NodeId, RequestId, SnapshotChunk};

    fn write(id: u64, key: &[u8]) -> Input {
        Input::Request {
            id: RequestId(id),
            request: Request::Write(KvMachine::put(key, &[7; 64])),
        }
    }

    fn chunks_to(outputs: &[Output], to: NodeId) -> Vec<SnapshotChunk> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(m) if m.to == to => match &m.body {
                    Body::InstallSnapshot { chunk, .. } => Some(chunk.clone()),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// A leader of {1, 2, 3} whose followers hold nothing, with 2 acking
    /// everything so writes commit; 3 stays behind.
    fn leader_with_a_lagging_follower(writes: u64) -> super::super::Replica<KvMachine> {
        let (mut leader, _) = testkit::leader_of_three();
        leader.options.snapshot_interval_entries = 8;
        leader.options.log_retained_entries_max = 4;
        leader.options.snapshot_chunk_bytes_max = 200;
        for id in 0..writes {
            step(&mut leader, write(id, &id.to_be_bytes()));
            let last = leader.last_index();
            ack(&mut leader, 2, last, Stamp::default());
        }
        leader
    }

    #[test]
    fn ex04_7_a_leader_keeps_entries_for_a_follower_a_little_behind_and_no_more() {
        let (mut leader, _) = testkit::leader_of_three();
        leader.options.snapshot_interval_entries = 8;
        leader.options.log_retained_entries_max = 16;
        for id in 0..40u64 {
            step(&mut leader, write(id, &id.to_be_bytes()));
            let last = leader.last_index();
            ack(&mut leader, 2, last, Stamp::default());
            if id < 30 {
                ack(&mut leader, 3, last, Stamp::default());
            }
        }
        let applied = leader.applied_index();
        let kept_from = leader.log().snapshot_index();
        assert!(kept_from <= applied - 8, "3 is 10 behind: its entries kept");
        assert!(applied - kept_from <= 16 + 8, "but no more than the bound");
        for id in 40..80u64 {
            step(&mut leader, write(id, &id.to_be_bytes()));
            let last = leader.last_index();
            ack(&mut leader, 2, last, Stamp::default());
        }
        let applied = leader.applied_index();
        assert!(applied - leader.log().snapshot_index() <= 16 + 8);
    }

    #[test]
    fn ex04_7_a_follower_too_far_behind_gets_the_state_in_chunks_and_then_the_log() {
        let mut leader = leader_with_a_lagging_follower(60);
        let mut follower = testkit::replica(3, DurableState::bootstrap([1, 2, 3]));
        let term = leader.term();
        let snapshot_index = leader.log().snapshot_index();
        assert!(snapshot_index > 40, "compacted: {snapshot_index}");
        // The heartbeat finds 3 needing compacted entries: chunk 0.
        let mut outputs = step(&mut leader, Input::Tick);
        for _ in 0..10 {
            outputs.extend(step(&mut leader, Input::Tick));
        }
        let mut chunks = chunks_to(&outputs, 3);
        assert!(!chunks.is_empty(), "a chunk goes to 3");
        let mut installed = false;
        for _ in 0..200 {
            let Some(chunk) = chunks.pop() else { break };
            let reply = step(
                &mut follower,
                message(
                    1,
                    3,
                    term,
                    Body::InstallSnapshot {
                        chunk,
                        stamp: Stamp::default(),
                    },
                ),
            );
            let mut next = Vec::new();
            for output in reply {
                if let Output::Send(m) = output {
                    if let Body::AppendReply {
                        result: AppendResult::Matched(_),
                        ..
                    } = m.body
                    {
                        installed = true;
                    }
                    next.extend(chunks_to(&step(&mut leader, Input::Message(m)), 3));
                }
            }
            chunks = next;
        }
        assert!(installed, "the follower installed the snapshot");
        assert_eq!(follower.role(), Role::Follower);
        assert!(follower.applied_index() >= snapshot_index);
        let leader_state = leader.machine().entries().clone();
        // The follower's state is the leader's as of the transfer's reads.
        for (key, value) in follower.machine().entries() {
            assert_eq!(leader_state.get(key), Some(value));
        }
        assert_eq!(follower.machine().len(), leader_state.len());
    }

    #[test]
    fn a_chunk_out_of_order_restarts_the_transfer_and_a_duplicate_is_acknowledged_again() {
        let mut follower = testkit::replica(3, DurableState::bootstrap([1, 2, 3]));
        let mut source = KvMachine::new();
        for i in 0..10u32 {
            source.apply(u64::from(i) + 1, &KvMachine::put(&i.to_be_bytes(), b"v"));
        }
        let first = source.read_chunk(None, 10).unwrap();
        let chunk = |seq, data: Vec<u8>| SnapshotChunk {
            index: 10,
            term: 1,
            config: crate::types::Config::with_voters([1, 2, 3]),
            seq,
            read_at: 10,
            data,
            done: false,
        };
        let send = |follower: &mut super::super::Replica<KvMachine>, c| {
            let out = step(
                follower,
                message(
                    1,
                    3,
                    1,
                    Body::InstallSnapshot {
                        chunk: c,
                        stamp: Stamp::default(),
                    },
                ),
            );
            out.into_iter()
                .find_map(|o| match o {
                    Output::Send(m) => match m.body {
                        Body::AppendReply { result, .. } => Some(result),
                        _ => None,
                    },
                    _ => None,
                })
                .unwrap()
        };
        assert!(matches!(
            send(&mut follower, chunk(1, first.data.clone())),
            AppendResult::Rejected { .. }
        ));
        assert_eq!(
            send(&mut follower, chunk(0, first.data.clone())),
            AppendResult::Staged { index: 10, seq: 0 }
        );
        assert_eq!(
            send(&mut follower, chunk(0, first.data.clone())),
            AppendResult::Staged { index: 10, seq: 0 },
            "a duplicate"
        );
        assert_eq!(follower.applied_index(), 0, "nothing installed yet");
    }

    #[test]
    fn a_fuzzy_follower_serves_no_eventual_reads_until_it_has_caught_up() {
        let mut follower = testkit::replica(3, DurableState::bootstrap([1, 2, 3]));
        let mut source = KvMachine::new();
        source.apply(1, &KvMachine::put(b"k", b"v"));
        let data = source.read_chunk(None, 1000).unwrap().data;
        step(
            &mut follower,
            message(
                1,
                3,
                1,
                Body::InstallSnapshot {
                    chunk: SnapshotChunk {
                        index: 5,
                        term: 1,
                        config: crate::types::Config::with_voters([1, 2, 3]),
                        seq: 0,
                        read_at: 9,
                        data,
                        done: true,
                    },
                    stamp: Stamp::default(),
                },
            ),
        );
        assert_eq!(follower.applied_index(), 5);
        assert_eq!(follower.machine().consistent_from(), 9);
        let out = step(
            &mut follower,
            Input::Request {
                id: RequestId(1),
                request: Request::EventualRead(b"k".to_vec()),
            },
        );
        assert!(out.iter().any(|o| matches!(
            o,
            Output::Reply {
                reply: Reply::Busy,
                ..
            }
        )));
    }
}
