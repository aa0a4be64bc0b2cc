//! Strongly consistent reads: only a leader that *knows* it is still the
//! leader may answer from its own state.
//!
//! A leader cut off from its group keeps believing it leads until it
//! notices; meanwhile the majority may elect a new leader and acknowledge
//! writes the old one never sees. If the old leader answered reads from its
//! state, a client could read a value older than one it already saw
//! acknowledged: a *stale read*, which strong consistency forbids.
//!
//! Two ways to know:
//!
//! * **The lease** (the fast path, what DynamoDB does). Every follower that
//!   replies to the leader promises not to vote for another candidate for a
//!   minimum election timeout. So for [`LEASE_TICKS`] after sending a
//!   message that a majority replied to, no other leader can exist, and
//!   the leader answers at once. `timing.rs` explains the margin that keeps
//!   this true despite clock drift.
//! * **A confirmation round** (when the lease has lapsed). The leader notes
//!   its commit index, sends a new round of heartbeats, and answers once a
//!   majority has replied to that round: at that moment it was still the
//!   leader, after the read arrived.
//!
//! Either way the leader must first have committed an entry of its own term
//! (its no-op): until then its commit index may lag behind writes the
//! previous leader acknowledged.
//!
//! Eventually consistent reads skip all this: any replica answers from what
//! it has applied, which may be stale.

use super::{PENDING_READS_MAX, PendingRead, Replica, Reply, RoleState};
use crate::quorum::{is_quorum, lease_expiry};
use crate::state_machine::StateMachine;
use crate::timing::LEASE_TICKS;
use crate::types::{RequestId, Tick};

/// How a strong read would be served right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPath {
    /// From local state, at once: the lease is valid.
    Lease,
    /// After a majority confirms the leadership (and this term's first
    /// entry has committed).
    ConfirmLeadership,
    /// Not here: this replica is not the leader.
    NotLeader,
}

impl<M: StateMachine> Replica<M> {
    /// When the current lease ends (leader's clock); `None` without one.
    pub fn lease_expiry(&self) -> Option<Tick> {
        let RoleState::Leader(leader) = &self.role else {
            return None;
        };
        let acked: Vec<Option<Tick>> = self
            .config
            .voters
            .iter()
            .map(|&voter| {
                if voter == self.id {
                    Some(self.now)
                } else {
                    leader
                        .progress
                        .get(&voter)
                        .and_then(|p| p.acked_sent_at)
                        .filter(|&sent_at| sent_at >= leader.lease_floor)
                }
            })
            .collect();
        lease_expiry(&acked, LEASE_TICKS)
    }

    // ANCHOR: lease_read
    /// Decides how a strong read can be served now.
    pub fn read_path(&self) -> ReadPath {
        // EXERCISE(04.4): serve from local state only while the lease lasts, and only once this term's first entry has committed
        let RoleState::Leader(leader) = &self.role else {
            return ReadPath::NotLeader;
        };
        if self.commit_index < leader.term_start_index {
            return ReadPath::ConfirmLeadership;
        }
        match self.lease_expiry() {
            Some(end) if self.now < end => ReadPath::Lease,
            _ => ReadPath::ConfirmLeadership,
        }
        // END EXERCISE
    }
    // ANCHOR_END: lease_read

    pub(super) fn strong_read(&mut self, id: RequestId, query: Vec<u8>) {
        let path = if self.options.skip_lease_check && self.is_leader() {
            ReadPath::Lease // The "break it" switch: trust the belief.
        } else {
            self.read_path()
        };
        match path {
            ReadPath::NotLeader => {
                let leader = self.leader_hint();
                self.reply(id, Reply::NotLeader { leader });
            }
            ReadPath::Lease => {
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
            ReadPath::ConfirmLeadership => {
                let RoleState::Leader(leader) = &self.role else {
                    return;
                };
                if leader.reads.len() >= PENDING_READS_MAX {
                    self.reply(id, Reply::Busy);
                    return;
                }
                let read_index = self.commit_index.max(leader.term_start_index);
                self.broadcast_append();
                if let RoleState::Leader(leader) = &mut self.role {
                    leader.reads.push_back(PendingRead {
                        id,
                        query,
                        read_index,
                        round: leader.round,
                    });
                }
            }
        }
    }

    /// Answers the waiting reads whose round a majority has confirmed and
    /// whose read index has been applied, oldest first.
    pub(super) fn serve_ready_reads(&mut self) {
        let RoleState::Leader(leader) = &mut self.role else {
            return;
        };
        while let Some(read) = leader.reads.front() {
            let confirmed = self
                .config
                .voters
                .iter()
                .filter(|&&voter| {
                    voter == self.id
                        || leader
                            .progress
                            .get(&voter)
                            .is_some_and(|p| p.acked_round >= read.round)
                })
                .count();
            if !is_quorum(confirmed, self.config.voters.len())
                || self.applied_index < read.read_index
            {
                break;
            }
            let Some(read) = leader.reads.pop_front() else {
                break;
            };
            let value = self.machine.query(&read.query);
            self.out.push(super::Output::Reply {
                id: read.id,
                reply: Reply::Read {
                    value,
                    applied_index: self.applied_index,
                },
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, ack, last_stamp, message, replies, step};
    use super::super::{Input, Reply, Request};
    use super::ReadPath;
    use crate::message::{AppendResult, Body, Stamp};
    use crate::state_machine::{KvMachine, encode_value};
    use crate::timing::LEASE_TICKS;
    use crate::types::{DurableState, RequestId};

    fn read(id: u64) -> Input {
        Input::Request {
            id: RequestId(id),
            request: Request::StrongRead(b"k".to_vec()),
        }
    }

    #[test]
    fn ex04_4_a_fresh_lease_serves_at_once_and_expires_after_lease_ticks() {
        let (mut leader, outputs) = testkit::leader_of_three();
        let stamp = last_stamp(&outputs);
        ack(&mut leader, 2, 1, stamp);
        assert_eq!(leader.read_path(), ReadPath::Lease);
        let outputs = step(&mut leader, read(1));
        assert_eq!(
            replies(&outputs),
            vec![(
                RequestId(1),
                Reply::Read {
                    value: encode_value(None),
                    applied_index: 1
                }
            )]
        );
        // No further replies: the lease runs out LEASE_TICKS after the
        // acknowledged message was sent, however many heartbeats go out.
        for _ in 0..LEASE_TICKS {
            assert_eq!(
                leader.read_path(),
                ReadPath::Lease,
                "at tick {}",
                leader.now()
            );
            step(&mut leader, Input::Tick);
        }
        assert_eq!(leader.read_path(), ReadPath::ConfirmLeadership);
    }

    #[test]
    fn ex04_4_without_a_lease_a_read_waits_for_a_majority_to_confirm() {
        let (mut leader, outputs) = testkit::leader_of_three();
        ack(&mut leader, 2, 1, last_stamp(&outputs));
        for _ in 0..LEASE_TICKS {
            step(&mut leader, Input::Tick);
        }
        assert_eq!(leader.read_path(), ReadPath::ConfirmLeadership);
        let outputs = step(&mut leader, read(2));
        assert!(replies(&outputs).is_empty(), "{outputs:?}");
        let round = last_stamp(&outputs);
        // A reply to an older round does not confirm anything.
        let old = Stamp {
            round: round.round - 1,
            sent_at: round.sent_at,
        };
        assert!(replies(&ack(&mut leader, 3, 1, old)).is_empty());
        let outputs = ack(&mut leader, 2, 1, round);
        assert_eq!(replies(&outputs).len(), 1);
    }

    #[test]
    fn ex04_4_no_lease_before_the_terms_first_entry_commits() {
        let (mut leader, outputs) = testkit::leader_of_three();
        let stamp = last_stamp(&outputs);
        // Replica 2 replies (a lease-worthy reply) but does not have the no-op yet.
        let term = leader.term();
        step(
            &mut leader,
            message(
                2,
                1,
                term,
                Body::AppendReply {
                    result: AppendResult::Matched(0),
                    stamp,
                },
            ),
        );
        assert!(leader.lease_expiry().is_some());
        assert_eq!(leader.commit_index(), 0);
        assert_eq!(leader.read_path(), ReadPath::ConfirmLeadership);
    }

    #[test]
    fn ex04_4_followers_never_serve_strong_reads() {
        let mut follower = testkit::replica(2, DurableState::bootstrap([1, 2, 3]));
        assert_eq!(follower.read_path(), ReadPath::NotLeader);
        let outputs = step(&mut follower, read(3));
        assert!(matches!(
            replies(&outputs)[..],
            [(_, Reply::NotLeader { .. })]
        ));
    }

    #[test]
    fn eventual_reads_are_served_anywhere() {
        let mut follower = testkit::replica(2, DurableState::bootstrap([1, 2, 3]));
        let outputs = step(
            &mut follower,
            Input::Request {
                id: RequestId(4),
                request: Request::EventualRead(b"k".to_vec()),
            },
        );
        assert!(matches!(replies(&outputs)[..], [(_, Reply::Read { .. })]));
        let _ = KvMachine::new();
    }
}
