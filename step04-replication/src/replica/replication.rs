//! Replication: the leader appends, followers match, a majority commits.
//!
//! ```text
//!  client ──write──▶ leader: append at last+1 ──Append──▶ followers: log matching
//!                      │  (persist, in parallel)             │ persist
//!                      ▼                                      ▼
//!              own copy durable              AppendReply(Matched n) once durable
//!                      └──────────── majority durable at n, term(n) = current ──▶ commit
//!                                          apply in log order, reply to the client
//! ```
//!
//! The leader keeps a [`Progress`](super::Progress) per replica: the next
//! entry to send and the highest one known to match and be durable there.
//! A new write goes out at once to every follower with nothing in flight;
//! while a batch is in flight, new entries wait and leave together when its
//! acknowledgement arrives — so under load each round trip carries many
//! entries (batching), and a lone write still leaves immediately. The
//! leader assumes its messages arrive (it moves `next_index` on at once,
//! never further than [`INFLIGHT_ENTRIES_MAX`] past what is acknowledged);
//! a follower that cannot accept says where to retry, and the leader steps
//! back. Every heartbeat is a full `Append` from the follower's next index,
//! so a lost message is simply sent again.
//!
//! A follower too far behind — it needs entries the leader has compacted
//! into a snapshot — gets the state instead, in chunks
//! (`replica/snapshot.rs`).
//!
//! Invariants:
//! * the leader only appends to its log (it never truncates or rewrites);
//! * a follower never truncates a committed entry (asserted);
//! * a follower reports `Matched(n)` only for entries that match the
//!   leader's log *and* are durable on it.

use super::{
    APPEND_ENTRIES_MAX, FollowerAck, INFLIGHT_ENTRIES_MAX, Output, Replica, Reply, RoleState,
    UNCOMMITTED_ENTRIES_MAX,
};
use crate::log::entries_are_well_formed;
use crate::message::{AppendResult, Body, Stamp};
use crate::quorum::{commit_index_from_matches, is_quorum};
use crate::state_machine::StateMachine;
use crate::timing::{CHECK_QUORUM_TICKS, HEARTBEAT_INTERVAL_TICKS};
use crate::types::{Entry, EntryKind, LogIndex, NodeId, RequestId, Term};

impl<M: StateMachine> Replica<M> {
    /// The leader appends an entry of its term to its log and asks the host
    /// to persist it. Returns its index.
    pub(super) fn propose(&mut self, kind: EntryKind) -> LogIndex {
        assert!(self.is_leader(), "only the leader proposes");
        let index = self.log.last_index() + 1;
        let is_config = matches!(kind, EntryKind::Config(_));
        let entry = Entry {
            index,
            term: self.term,
            kind,
        };
        self.log.push(entry.clone());
        self.out.push(Output::AppendEntries(vec![entry]));
        if is_config {
            self.refresh_config();
        }
        index
    }

    pub(super) fn write(&mut self, id: RequestId, payload: Vec<u8>) {
        if !self.is_leader() {
            let leader = self.leader_hint();
            self.reply(id, Reply::NotLeader { leader });
            return;
        }
        if self.log.last_index() - self.commit_index >= UNCOMMITTED_ENTRIES_MAX {
            self.reply(id, Reply::Busy);
            return;
        }
        let index = self.propose(EntryKind::Write(payload));
        if let RoleState::Leader(leader) = &mut self.role {
            leader.pending.insert(index, id);
        }
        self.send_to_followers_with_room();
    }

    /// Sends new entries to every follower with nothing in flight (the
    /// others get them, batched, when their acknowledgement arrives).
    pub(super) fn send_to_followers_with_room(&mut self) {
        let last = self.log.last_index();
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        let peers: Vec<NodeId> = leader
            .progress
            .iter()
            .filter(|(_, p)| p.next_index <= last && p.next_index == p.match_index + 1)
            .map(|(&id, _)| id)
            .collect();
        for peer in peers {
            self.send_append(peer);
        }
    }

    /// A new round to every member: a heartbeat that also carries whatever
    /// each one still lacks.
    pub(super) fn broadcast_append(&mut self) {
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        leader.round += 1;
        leader.heartbeat_due = self.now + HEARTBEAT_INTERVAL_TICKS;
        let peers: Vec<NodeId> = leader.progress.keys().copied().collect();
        for peer in peers {
            self.send_append(peer);
        }
    }

    /// Sends `peer` what follows its next index: entries if we still have
    /// them, else our snapshot.
    fn send_append(&mut self, peer: NodeId) {
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let stamp = Stamp {
            round: leader.round,
            sent_at: self.now,
        };
        let Some(progress) = leader.progress.get_mut(&peer) else {
            return;
        };
        progress.next_index = progress.next_index.min(self.log.last_index() + 1);
        if self.needs_snapshot(peer) {
            self.send_snapshot_chunk(peer, stamp);
            return;
        }
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&peer) else {
            return;
        };
        let body = {
            let prev_index = progress.next_index - 1;
            let Some(prev_term) = self.log.term_at(prev_index) else {
                return;
            };
            let window_open = progress.next_index <= progress.match_index + INFLIGHT_ENTRIES_MAX;
            let entries = if window_open {
                self.log
                    .entries_from(progress.next_index, APPEND_ENTRIES_MAX)
            } else {
                Vec::new()
            };
            progress.next_index += entries.len() as u64;
            Body::Append {
                prev_index,
                prev_term,
                entries,
                leader_commit: self.commit_index,
                stamp,
            }
        };
        self.send(peer, body);
    }

    /// A follower's answer: move its progress, and keep it fed.
    pub(super) fn on_append_reply(&mut self, from: NodeId, result: AppendResult, stamp: Stamp) {
        let last = self.log.last_index();
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        let Some(progress) = leader.progress.get_mut(&from) else {
            return;
        };
        progress.acked_round = progress.acked_round.max(stamp.round);
        progress.acked_sent_at = progress.acked_sent_at.max(Some(stamp.sent_at));
        let send_more = match result {
            AppendResult::Matched(index) => {
                let index = index.min(last);
                progress.match_index = progress.match_index.max(index);
                progress.next_index = progress.next_index.max(index + 1);
                if progress
                    .transfer
                    .as_ref()
                    .is_some_and(|t| index >= t.chunk_index())
                {
                    progress.transfer = None; // Installed.
                }
                progress.next_index <= last
            }
            AppendResult::Rejected { hint } => {
                progress.next_index = hint
                    .min(progress.next_index.saturating_sub(1))
                    .max(progress.match_index + 1);
                progress.transfer = None; // A follower that lost a transfer.
                true
            }
            AppendResult::Staged { index, seq } => {
                self.on_staged(from, index, seq);
                false
            }
        };
        if send_more {
            self.send_append(from);
        }
    }

    /// Commits the highest index a majority of voters holds durably, if
    /// its entry is of our term (see `quorum.rs` for why).
    pub(super) fn maybe_commit(&mut self) {
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        let matches: Vec<LogIndex> = self
            .config
            .voters
            .iter()
            .map(|&voter| {
                if voter == self.id {
                    self.durable_index
                } else {
                    leader.progress.get(&voter).map_or(0, |p| p.match_index)
                }
            })
            .collect();
        let index = commit_index_from_matches(&matches);
        if index > self.commit_index && self.log.term_at(index) == Some(self.term) {
            self.commit_index = index;
        }
    }

    /// A leader's tick: heartbeat when due, and step down if no majority
    /// has answered for [`CHECK_QUORUM_TICKS`].
    pub(super) fn leader_tick(&mut self) {
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        if self.now >= leader.heartbeat_due {
            self.broadcast_append();
        }
        let RoleState::Leader(leader) = &self.role else {
            return;
        };
        let heard = self
            .config
            .voters
            .iter()
            .filter(|&&voter| {
                voter == self.id
                    || leader
                        .progress
                        .get(&voter)
                        .and_then(|p| p.acked_sent_at)
                        .is_some_and(|t| t + CHECK_QUORUM_TICKS > self.now)
            })
            .count();
        let settled = self.now >= leader.became_leader_at + CHECK_QUORUM_TICKS;
        if settled && !is_quorum(heard, self.config.voters.len()) {
            self.become_follower(self.term, None);
        }
    }

    /// A follower receives the leader's entries.
    pub(super) fn on_append(
        &mut self,
        from: NodeId,
        prev_index: LogIndex,
        prev_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
        stamp: Stamp,
    ) {
        self.heard_from_leader(from);
        if !entries_are_well_formed(prev_index, prev_term, self.term, &entries) {
            return; // Not what an honest leader sends: drop it.
        }
        let accepted = match self.log.accept(prev_index, prev_term, &entries) {
            Ok(accepted) => accepted,
            Err(rejection) => {
                self.send(
                    from,
                    Body::AppendReply {
                        result: AppendResult::Rejected {
                            hint: rejection.hint,
                        },
                        stamp,
                    },
                );
                return;
            }
        };
        if let Some(index) = accepted.truncated_from {
            assert!(
                index > self.commit_index,
                "replica {} would truncate committed entry {index}",
                self.id
            );
            self.durable_index = self.durable_index.min(index - 1);
        }
        let config_touched = accepted.truncated_from.is_some()
            || accepted
                .new_entries
                .iter()
                .any(|e| matches!(e.kind, EntryKind::Config(_)));
        let appended = !accepted.new_entries.is_empty();
        if appended {
            self.out.push(Output::AppendEntries(accepted.new_entries));
        }
        if config_touched {
            self.refresh_config();
        }
        let verified = self.record_verified(accepted.verified_through, stamp);
        let commit = leader_commit.min(verified);
        if commit > self.commit_index {
            self.commit_index = commit;
        }
        // New entries are acknowledged once they are durable (the sync
        // that follows sends the reply); anything else is answered now.
        self.send_follower_ack(!appended);
    }

    /// Remembers that our log matches the current leader's up to `index`;
    /// returns the highest such index this term.
    pub(super) fn record_verified(&mut self, index: LogIndex, stamp: Stamp) -> LogIndex {
        let RoleState::Follower { ack, .. } = &mut self.role else {
            return 0;
        };
        let ack = ack.get_or_insert(FollowerAck {
            verified_through: 0,
            reported: 0,
            stamp,
        });
        ack.verified_through = ack.verified_through.max(index);
        if stamp.round >= ack.stamp.round {
            ack.stamp = stamp;
        }
        ack.verified_through
    }

    /// Tells the leader how far our log matches its own *and* is durable:
    /// always when `force` (an answer to an `Append`), otherwise only if
    /// that moved since the last report (a sync completed).
    pub(super) fn send_follower_ack(&mut self, force: bool) {
        let durable = self.durable_index;
        let RoleState::Follower {
            leader: Some(leader),
            ack: Some(ack),
        } = &mut self.role
        else {
            return;
        };
        let matched = ack.verified_through.min(durable);
        if !force && matched <= ack.reported {
            return;
        }
        ack.reported = ack.reported.max(matched);
        let (leader, stamp) = (*leader, ack.stamp);
        self.send(
            leader,
            Body::AppendReply {
                result: AppendResult::Matched(matched),
                stamp,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, ack, last_stamp, message, replies, step};
    use super::super::{Input, Output, Reply, Request, Role};
    use crate::message::{AppendResult, Body, Stamp};
    use crate::state_machine::KvMachine;
    use crate::types::{DurableState, Entry, EntryKind, RequestId};

    fn write(id: u64) -> Input {
        Input::Request {
            id: RequestId(id),
            request: Request::Write(KvMachine::put(b"k", &id.to_le_bytes())),
        }
    }

    #[test]
    fn a_write_is_acknowledged_once_a_majority_has_it_durable() {
        let (mut leader, outputs) = testkit::leader_of_three();
        let stamp = last_stamp(&outputs);
        ack(&mut leader, 2, 1, stamp);
        assert_eq!(leader.commit_index(), 1, "the no-op");
        // The leader's own copy is not durable yet: a follower's alone is not a majority.
        let outputs = leader.step(write(7));
        assert!(
            outputs
                .iter()
                .any(|o| matches!(o, Output::AppendEntries(_)))
        );
        let outputs = ack(&mut leader, 3, 2, stamp);
        assert!(
            replies(&outputs).is_empty(),
            "only 1 of 3 durable: {outputs:?}"
        );
        assert_eq!(leader.commit_index(), 1);
        let outputs = leader.step(Input::Persisted { index: 2, term: 1 });
        assert_eq!(leader.commit_index(), 2);
        let replies = replies(&outputs);
        assert_eq!(replies.len(), 1);
        assert!(matches!(
            replies[0],
            (RequestId(7), Reply::Written { index: 2, .. })
        ));
    }

    #[test]
    fn entries_of_an_earlier_term_commit_only_with_one_of_the_current_term() {
        // Replica 1 has entry 1 of term 1, never committed; it becomes leader of term 3.
        let durable = DurableState {
            entries: vec![Entry {
                index: 1,
                term: 1,
                kind: EntryKind::Write(KvMachine::put(b"a", b"1")),
            }],
            hard_state: crate::types::HardState {
                term: 2,
                voted_for: None,
            },
            ..DurableState::bootstrap([1, 2, 3])
        };
        let mut leader = testkit::replica(1, durable);
        for _ in 0..crate::timing::ELECTION_TIMEOUT_TICKS_MAX {
            step(&mut leader, Input::Tick);
        }
        step(
            &mut leader,
            message(2, 1, 3, Body::VoteReply { granted: true }),
        );
        assert_eq!(leader.role(), Role::Leader);
        let stamp = Stamp::default();
        ack(&mut leader, 2, 1, stamp);
        assert_eq!(
            leader.commit_index(),
            0,
            "entry 1 is on a majority but of term 1"
        );
        ack(&mut leader, 2, 2, stamp);
        assert_eq!(
            leader.commit_index(),
            2,
            "the no-op of term 3 commits, and 1 with it"
        );
        assert_eq!(leader.applied_index(), 2);
    }

    #[test]
    fn a_follower_acknowledges_only_durable_entries() {
        let mut follower = testkit::replica(2, DurableState::bootstrap([1, 2, 3]));
        let entries = vec![Entry {
            index: 1,
            term: 1,
            kind: EntryKind::Noop,
        }];
        let outputs = follower.step(message(
            1,
            2,
            1,
            Body::Append {
                prev_index: 0,
                prev_term: 0,
                entries,
                leader_commit: 0,
                stamp: Stamp::default(),
            },
        ));
        let matched: Vec<_> = outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(m) => match m.body {
                    Body::AppendReply { result, .. } => Some(result),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert!(matched.is_empty(), "not durable yet: {matched:?}");
        let outputs = follower.step(Input::Persisted { index: 1, term: 1 });
        assert!(
            outputs.iter().any(|o| matches!(o, Output::Send(m)
                if matches!(m.body, Body::AppendReply { result: AppendResult::Matched(1), .. }))),
            "{outputs:?}"
        );
    }
}
