//! Quorum arithmetic: pure functions over what each voter has told the
//! leader. Policy pure, execution separate — the replica gathers the
//! numbers, these functions decide.
//!
//! A *quorum* is a majority of the voters: with three replicas, two. Any two
//! majorities of the same voters share at least one replica, and that
//! shared replica is what carries a decision from one leader to the next:
//! an entry stored by a majority is in the log of at least one voter of
//! every future election, and the voting rule makes sure the winner has it.

use crate::types::{LogIndex, Tick};

/// The size of a majority of `voters` (1 of 1, 2 of 3, 3 of 4, 3 of 5).
pub fn majority(voters: usize) -> usize {
    voters / 2 + 1
}

// ANCHOR: commit_counting
/// The highest log index that a majority of voters has stored durably,
/// given each voter's durable match index (the leader's own included).
///
/// The leader may commit this index — but only if the entry there is from
/// its own term. An entry from an earlier term can be on a majority and
/// still be overwritten by a later leader (the Raft paper's Figure 8), so
/// it commits only indirectly, when an entry of the current term after it
/// commits. The replica checks the term; this function only counts.
pub fn commit_index_from_matches(matches: &[LogIndex]) -> LogIndex {
    // EXERCISE(04.3): the highest index stored durably on a majority of the voters
    if matches.is_empty() {
        return 0;
    }
    let mut sorted = matches.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted[majority(matches.len()) - 1]
    // END EXERCISE
}
// ANCHOR_END: commit_counting

// ANCHOR: lease
/// The tick at which the leader's lease ends, given for each voter the
/// latest send time (leader's clock) of a message that voter has replied to
/// in the current term — `None` if it has not replied yet. The leader
/// counts itself with `now`.
///
/// A majority replied to messages sent at or after the majority-th latest
/// send time, so for [`LEASE_TICKS`](crate::timing::LEASE_TICKS) after it no
/// other leader can be elected (see `timing.rs`). `None`: no majority has
/// replied yet, so there is no lease.
pub fn lease_expiry(acked_sent_at: &[Option<Tick>], lease_ticks: Tick) -> Option<Tick> {
    let mut times: Vec<Tick> = acked_sent_at.iter().flatten().copied().collect();
    let needed = majority(acked_sent_at.len());
    if acked_sent_at.is_empty() || times.len() < needed {
        return None;
    }
    times.sort_unstable_by(|a, b| b.cmp(a));
    Some(times[needed - 1] + lease_ticks)
}
// ANCHOR_END: lease

/// True if `count` of `voters` voters make a majority.
pub fn is_quorum(count: usize, voters: usize) -> bool {
    voters > 0 && count >= majority(voters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majorities() {
        assert_eq!(
            [1, 2, 3, 4, 5].map(majority),
            [1, 2, 2, 3, 3],
            "a majority of 4 is 3: an even group tolerates no more failures than the odd one below it"
        );
        assert!(is_quorum(2, 3));
        assert!(!is_quorum(1, 3));
        assert!(!is_quorum(0, 0));
    }

    #[test]
    fn ex04_3_three_voters_commit_what_two_have() {
        assert_eq!(commit_index_from_matches(&[7, 5, 3]), 5);
        assert_eq!(
            commit_index_from_matches(&[3, 7, 5]),
            5,
            "order does not matter"
        );
        assert_eq!(
            commit_index_from_matches(&[9, 0, 0]),
            0,
            "one replica is not a majority"
        );
        assert_eq!(commit_index_from_matches(&[4, 4, 0]), 4);
    }

    #[test]
    fn ex04_3_even_and_single_groups() {
        assert_eq!(commit_index_from_matches(&[8]), 8);
        assert_eq!(commit_index_from_matches(&[8, 6]), 6, "two voters: both");
        assert_eq!(
            commit_index_from_matches(&[10, 9, 2, 1]),
            2,
            "four voters: three"
        );
        assert_eq!(commit_index_from_matches(&[10, 9, 8, 2, 1]), 8);
        assert_eq!(commit_index_from_matches(&[]), 0);
    }

    #[test]
    fn a_lease_needs_a_majority_of_replies() {
        assert_eq!(lease_expiry(&[Some(10), None, None], 8), None);
        assert_eq!(lease_expiry(&[Some(10), Some(4), None], 8), Some(12));
        assert_eq!(lease_expiry(&[Some(10), Some(4), Some(7)], 8), Some(15));
        assert_eq!(lease_expiry(&[], 8), None);
    }
}
