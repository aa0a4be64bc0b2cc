//! Time inside a replica: ticks, timeouts, and why the lease is safe.
//!
//! A replica has no wall clock. Its host feeds it `Input::Tick` at a fixed
//! nominal rate, and every duration below is a number of those ticks as the
//! replica itself counts them. Real clocks drift, so two replicas' ticks are
//! not the same length; the simulator makes each replica's clock run up to
//! [`CLOCK_DRIFT_PERCENT_MAX`] percent fast or slow.
//!
//! # The lease margin
//!
//! A leader may answer a strongly consistent read from its own state only if
//! no other leader can exist at that moment. It knows this from a promise
//! every follower makes: *after receiving a message from the current leader,
//! I will not vote for anyone else for [`ELECTION_TIMEOUT_TICKS_MIN`] ticks
//! of my clock* (see `replica/election.rs`). When a majority has replied to a
//! message the leader sent at its tick `t`, no other replica can win an
//! election until at least `ELECTION_TIMEOUT_TICKS_MIN - 1` follower ticks
//! after that message arrived (the `- 1`: the follower saw it somewhere
//! within a tick), and it arrived after `t`. The leader's lease runs from `t`
//! for [`LEASE_TICKS`] of *its* clock.
//!
//! With clock rates within `1 ± d` (d = drift), the lease is safe when the
//! longest real duration of the lease is at most the shortest real duration
//! of the promise:
//!
//! ```text
//! LEASE_TICKS / (1 - d)  <=  (ELECTION_TIMEOUT_TICKS_MIN - 1) / (1 + d)
//!           8 / 0.95 = 8.42  <=  9 / 1.05 = 8.57
//! ```
//!
//! (The rates here are "ticks per unit of real time": a slow clock counts
//! fewer ticks, so its ticks last longer.) The `const` assertion below checks
//! this in integer arithmetic; raise the drift or the lease and the crate no
//! longer compiles. Message delay does not appear: the lease starts when the
//! leader *sent* its message, so a slow network only shortens it.

use crate::rng::Rng;
use crate::types::Tick;

/// The nominal length of one tick on a real clock, in milliseconds: what a
/// host that drives replicas from the wall clock (a TCP node, an
/// in-process replication group) feeds them. At 10 ms an election timeout
/// is 100-200 ms and a lease 80 ms.
pub const TICK_NOMINAL_MS: u64 = 10;

/// A follower or candidate that hears nothing from a leader for a random
/// number of ticks in `MIN..MAX` starts an election. Randomness makes it
/// unlikely that two candidates split the vote again and again.
pub const ELECTION_TIMEOUT_TICKS_MIN: Tick = 10;
pub const ELECTION_TIMEOUT_TICKS_MAX: Tick = 20;

/// How often a leader sends `Append` to every follower even when it has
/// nothing new: a heartbeat that keeps followers from campaigning and
/// renews the lease.
pub const HEARTBEAT_INTERVAL_TICKS: Tick = 3;

// ANCHOR: lease_margin
/// How long a leader may serve strong reads from its own state after a
/// majority replied to a message it sent.
pub const LEASE_TICKS: Tick = 8;

/// The largest difference between clock rates the lease tolerates, in
/// percent of the nominal rate.
pub const CLOCK_DRIFT_PERCENT_MAX: u64 = 5;

const _: () = assert!(
    LEASE_TICKS * (100 + CLOCK_DRIFT_PERCENT_MAX)
        <= (ELECTION_TIMEOUT_TICKS_MIN - 1) * (100 - CLOCK_DRIFT_PERCENT_MAX),
    "the lease must end before any follower's promise can"
);
// ANCHOR_END: lease_margin

/// A leader that has heard from no majority for this long steps down, so
/// that clients of a leader cut off in a minority get errors instead of
/// waiting forever. This is about availability, not safety: the lease keeps
/// reads safe long before this.
pub const CHECK_QUORUM_TICKS: Tick = 2 * ELECTION_TIMEOUT_TICKS_MAX;

const _: () = assert!(ELECTION_TIMEOUT_TICKS_MIN < ELECTION_TIMEOUT_TICKS_MAX);
const _: () = assert!(HEARTBEAT_INTERVAL_TICKS * 3 <= ELECTION_TIMEOUT_TICKS_MIN);

/// A fresh random election timeout.
pub fn random_election_timeout(rng: &mut Rng) -> Tick {
    rng.range(ELECTION_TIMEOUT_TICKS_MIN, ELECTION_TIMEOUT_TICKS_MAX)
}
