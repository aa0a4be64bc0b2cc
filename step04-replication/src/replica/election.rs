//! Elections: terms, timeouts, votes.
//!
//! A follower that hears nothing from a leader for a random election
//! timeout becomes a *candidate*: it starts a new term (a new ballot),
//! votes for itself, and asks every other voter for its vote. A majority
//! of votes makes it the leader of that term. Each voter grants at most one
//! vote per term — and it writes the vote to disk before the reply leaves,
//! so a crash cannot make it vote twice — so no term has two leaders.
//!
//! **The voting restriction.** A voter refuses a candidate whose log is
//! less up to date than its own (compare last terms, then last indexes).
//! A committed entry is on a majority; a winning candidate got votes from a
//! majority; the two majorities share a voter, which voted only because the
//! candidate's log was at least as up to date as its own — so the
//! candidate has the entry. Hence **a new leader never loses an
//! acknowledged write**.
//!
//! **The lease promise.** A replica that heard from the current leader
//! less than [`ELECTION_TIMEOUT_TICKS_MIN`] ticks ago does not vote at all,
//! and does not even adopt a higher term from a vote request. Besides
//! keeping a replica that was cut off from disrupting a healthy leader when
//! it comes back, this promise is what the leader's read lease rests on
//! (see `timing.rs` and `reads.rs`).
//!
//! Invariant: a replica's term never decreases, and it votes at most once
//! per term (the vote is saved with the term, as one hard state).

use super::{FollowerAck, LeaderState, Progress, Replica, RoleState};
use crate::message::Body;
use crate::quorum::is_quorum;
use crate::state_machine::StateMachine;
use crate::timing::ELECTION_TIMEOUT_TICKS_MIN;
use crate::types::{EntryKind, LogIndex, NodeId, Term};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

impl<M: StateMachine> Replica<M> {
    /// Starts an election for the next term.
    pub(super) fn campaign(&mut self) {
        self.term += 1;
        self.voted_for = Some(self.id);
        self.role = RoleState::Candidate {
            votes: BTreeSet::from([self.id]),
        };
        self.save_hard_state();
        self.reset_election_timer();
        if is_quorum(1, self.config.voters.len()) {
            self.become_leader();
            return;
        }
        let (last_log_index, last_log_term) = (self.log.last_index(), self.log.last_term());
        let me = self.id;
        let voters: Vec<NodeId> = self
            .config
            .voters
            .iter()
            .copied()
            .filter(|&v| v != me)
            .collect();
        for voter in voters {
            self.send(
                voter,
                Body::VoteRequest {
                    last_log_index,
                    last_log_term,
                },
            );
        }
    }

    /// True while this replica keeps its promise to the current leader:
    /// it *is* the leader, or it heard from one within the minimum
    /// election timeout.
    pub(super) fn within_leader_promise(&self) -> bool {
        self.is_leader()
            || self
                .leader_contact_at
                .is_some_and(|at| self.now < at + ELECTION_TIMEOUT_TICKS_MIN)
    }

    /// Moves to `term` (if higher, forgetting the vote) as a follower of
    /// `leader`. A leader that steps down answers every waiting client.
    pub(super) fn become_follower(&mut self, term: Term, leader: Option<NodeId>) {
        assert!(term >= self.term, "terms never decrease");
        let same_term = term == self.term;
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.save_hard_state();
        }
        if let RoleState::Leader(state) = &mut self.role {
            let pending = std::mem::take(&mut state.pending);
            let reads = std::mem::take(&mut state.reads);
            for (_, id) in pending {
                self.out.push(super::Output::Reply {
                    id,
                    reply: super::Reply::Unknown,
                });
            }
            for read in reads {
                self.out.push(super::Output::Reply {
                    id: read.id,
                    reply: super::Reply::NotLeader { leader },
                });
            }
        }
        // What we verified for a leader stays true only within its term.
        let ack = match &self.role {
            RoleState::Follower { leader: known, ack } if same_term && *known == leader => *ack,
            _ => None,
        };
        let was_leader = self.is_leader();
        self.role = RoleState::Follower { leader, ack };
        // Only a vote granted or a leader heard resets a follower's timer —
        // not a higher term alone: a replica that keeps campaigning with a
        // log too short to win must not keep the others from campaigning.
        // A deposed leader's timer, though, was not running at all.
        if was_leader {
            self.reset_election_timer();
        }
    }

    // ANCHOR: vote_rule
    /// Whether to vote for `candidate`, whose log ends at
    /// (`last_log_index`, `last_log_term`), in the current term.
    ///
    /// One vote per term (granting again to the same candidate is fine: a
    /// duplicated request must get the same answer), and only for a
    /// candidate whose log is at least as up to date as ours: a higher last
    /// term, or the same last term and at least as many entries.
    fn grants_vote(
        &self,
        candidate: NodeId,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) -> bool {
        // EXERCISE(04.1): one vote per term, and only for a candidate whose log is at least as up to date as ours
        let vote_is_free = self.voted_for.is_none_or(|v| v == candidate);
        let log_is_up_to_date =
            (last_log_term, last_log_index) >= (self.log.last_term(), self.log.last_index());
        vote_is_free && log_is_up_to_date
        // END EXERCISE
    }
    // ANCHOR_END: vote_rule

    /// A vote request of our term (the term rule already ran).
    pub(super) fn on_vote_request(
        &mut self,
        candidate: NodeId,
        last_log_index: LogIndex,
        last_log_term: Term,
    ) {
        // No check of our own membership: a replica promoted in the
        // candidate's log may not have that entry yet, and its vote is
        // needed. Whether a vote counts is the candidate's business.
        let granted = !self.within_leader_promise()
            && self.grants_vote(candidate, last_log_index, last_log_term);
        if granted {
            self.voted_for = Some(candidate);
            self.save_hard_state();
            self.reset_election_timer();
        }
        self.send(candidate, Body::VoteReply { granted });
    }

    pub(super) fn on_vote_reply(&mut self, from: NodeId, granted: bool) {
        let voters = self.config.voters.len();
        let won = match &mut self.role {
            RoleState::Candidate { votes } if granted && self.config.voters.contains(&from) => {
                votes.insert(from);
                is_quorum(votes.len(), voters)
            }
            _ => false,
        };
        if won {
            self.become_leader();
        }
    }

    /// Takes over as leader: every other member's progress starts at our
    /// log's end, and a no-op of the new term goes in at once so that the
    /// earlier terms' entries commit (see `quorum.rs`) and reads can be
    /// served.
    fn become_leader(&mut self) {
        let next_index = self.log.last_index() + 1;
        let progress: BTreeMap<NodeId, Progress> = self
            .config
            .members()
            .filter(|&m| m != self.id)
            .map(|m| {
                (
                    m,
                    Progress {
                        next_index,
                        match_index: 0,
                        acked_round: 0,
                        acked_sent_at: None,
                        transfer: None,
                    },
                )
            })
            .collect();
        self.role = RoleState::Leader(Box::new(LeaderState {
            progress,
            round: 0,
            term_start_index: next_index,
            became_leader_at: self.now,
            heartbeat_due: self.now,
            lease_floor: self.now,
            pending: BTreeMap::new(),
            reads: VecDeque::new(),
        }));
        let index = self.propose(EntryKind::Noop);
        debug_assert_eq!(index, next_index);
        self.broadcast_append();
    }

    /// The rule every message obeys before its own handler runs. Returns
    /// false if the message is to be dropped.
    pub(super) fn observe_term(&mut self, from: NodeId, term: Term, body: &Body) -> bool {
        if term > self.term {
            if matches!(body, Body::VoteRequest { .. }) && self.within_leader_promise() {
                // Keep the promise: ignore the candidate, term and all.
                return false;
            }
            let leader = match body {
                Body::Append { .. } | Body::InstallSnapshot { .. } => Some(from),
                _ => None,
            };
            self.become_follower(term, leader);
            return true;
        }
        if term < self.term {
            // A stale sender: tell it our term so that it steps down.
            match body {
                Body::VoteRequest { .. } => self.send(from, Body::VoteReply { granted: false }),
                Body::Append { stamp, .. } | Body::InstallSnapshot { stamp, .. } => self.send(
                    from,
                    Body::AppendReply {
                        result: crate::message::AppendResult::Rejected { hint: 0 },
                        stamp: *stamp,
                    },
                ),
                Body::VoteReply { .. } | Body::AppendReply { .. } => {}
            }
            return false;
        }
        true
    }

    /// A message from the leader of our term: remember it, keep the
    /// promise, and stop campaigning.
    pub(super) fn heard_from_leader(&mut self, leader: NodeId) {
        assert!(
            !self.is_leader(),
            "two leaders in term {}: {} and {leader}",
            self.term,
            self.id
        );
        if !matches!(&self.role, RoleState::Follower { leader: Some(l), .. } if *l == leader) {
            self.role = RoleState::Follower {
                leader: Some(leader),
                ack: None::<FollowerAck>,
            };
        }
        self.leader_contact_at = Some(self.now);
        self.reset_election_timer();
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{self, message, step};
    use super::super::{Input, Output, Role};
    use crate::message::Body;
    use crate::timing::{ELECTION_TIMEOUT_TICKS_MAX, ELECTION_TIMEOUT_TICKS_MIN};
    use crate::types::{DurableState, Entry, EntryKind, HardState, Snapshot};

    fn durable_with_terms(terms: &[u64], hard_state: HardState) -> DurableState {
        DurableState {
            hard_state,
            snapshot: Snapshot {
                config: crate::types::Config::with_voters([1, 2, 3]),
                ..Snapshot::default()
            },
            entries: terms
                .iter()
                .enumerate()
                .map(|(i, &term)| Entry {
                    index: i as u64 + 1,
                    term,
                    kind: EntryKind::Noop,
                })
                .collect(),
        }
    }

    fn vote_replies(outputs: &[Output]) -> Vec<bool> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send(m) => match m.body {
                    Body::VoteReply { granted } => Some(granted),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    #[test]
    fn ex04_1_a_candidate_with_a_less_up_to_date_log_gets_no_vote() {
        let voter = testkit::replica(1, durable_with_terms(&[1, 1, 2], HardState::default()));
        assert!(!voter.grants_vote(2, 5, 1), "lower last term, longer log");
        assert!(!voter.grants_vote(2, 2, 2), "same last term, shorter log");
        assert!(voter.grants_vote(2, 3, 2), "same last term, same length");
        assert!(voter.grants_vote(2, 1, 3), "higher last term, shorter log");
    }

    #[test]
    fn ex04_1_one_vote_per_term() {
        let hard_state = HardState {
            term: 4,
            voted_for: Some(3),
        };
        let voter = testkit::replica(1, durable_with_terms(&[1], hard_state));
        assert!(!voter.grants_vote(2, 9, 9), "already voted for 3 in term 4");
        assert!(voter.grants_vote(3, 9, 9), "the same candidate again");
    }

    #[test]
    fn ex04_1_votes_are_saved_before_they_are_sent() {
        let mut voter = testkit::replica(1, durable_with_terms(&[1], HardState::default()));
        // Past the promise made at start-up, and not campaigning itself.
        voter.now = ELECTION_TIMEOUT_TICKS_MIN;
        voter.election_due = u64::MAX;
        let outputs = step(
            &mut voter,
            message(
                2,
                1,
                5,
                Body::VoteRequest {
                    last_log_index: 1,
                    last_log_term: 1,
                },
            ),
        );
        let save = outputs
            .iter()
            .rposition(|o| matches!(o, Output::SaveHardState(h) if h.voted_for == Some(2)));
        let reply = outputs.iter().position(
            |o| matches!(o, Output::Send(m) if m.body == Body::VoteReply { granted: true }),
        );
        assert!(save.unwrap() < reply.unwrap(), "{outputs:?}");
        assert_eq!(voter.term(), 5);
        // A second candidate of the same term is refused.
        let outputs = step(
            &mut voter,
            message(
                3,
                1,
                5,
                Body::VoteRequest {
                    last_log_index: 1,
                    last_log_term: 1,
                },
            ),
        );
        assert_eq!(vote_replies(&outputs), vec![false]);
    }

    #[test]
    fn a_replica_that_heard_from_its_leader_ignores_candidates() {
        let (mut leader, _) = testkit::leader_of_three();
        let mut follower = testkit::replica(2, DurableState::bootstrap([1, 2, 3]));
        let term = leader.term();
        let outputs = step(
            &mut follower,
            message(
                1,
                2,
                term,
                Body::Append {
                    prev_index: 0,
                    prev_term: 0,
                    entries: vec![],
                    leader_commit: 0,
                    stamp: Default::default(),
                },
            ),
        );
        assert!(!outputs.is_empty());
        let outputs = step(
            &mut follower,
            message(
                3,
                2,
                term + 1,
                Body::VoteRequest {
                    last_log_index: 10,
                    last_log_term: 10,
                },
            ),
        );
        assert!(outputs.is_empty(), "ignored entirely: {outputs:?}");
        assert_eq!(follower.term(), term, "not even the term is adopted");
        // The leader itself keeps the promise too.
        let outputs = step(
            &mut leader,
            message(
                3,
                1,
                term + 1,
                Body::VoteRequest {
                    last_log_index: 10,
                    last_log_term: 10,
                },
            ),
        );
        assert!(outputs.is_empty());
        assert_eq!(leader.role(), Role::Leader);
    }

    #[test]
    fn a_lone_voter_elects_itself() {
        let mut replica = testkit::replica(7, DurableState::bootstrap([7]));
        for _ in 0..ELECTION_TIMEOUT_TICKS_MAX {
            step(&mut replica, Input::Tick);
        }
        assert_eq!(replica.role(), Role::Leader);
        assert_eq!(replica.commit_index(), 1, "its no-op commits on its own");
    }

    #[test]
    fn a_learner_never_campaigns() {
        let mut learner = testkit::replica(4, DurableState::default());
        for _ in 0..10 * ELECTION_TIMEOUT_TICKS_MAX {
            let outputs = step(&mut learner, Input::Tick);
            assert!(outputs.is_empty());
        }
        assert_eq!(learner.role(), Role::Follower);
        assert_eq!(learner.term(), 0);
    }
}
