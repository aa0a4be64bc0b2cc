//! Visibility: which writes a new reader may see.
//!
//! The log hands out sequence numbers in order, but writers apply their
//! batches to the memtable in whatever order their fsyncs return. If a
//! reader simply saw "whatever is applied", it could see batch 11 without
//! batch 10 — and a flush could write out a memtable that still misses
//! batch 10. So writes become *visible* strictly in sequence order: the
//! sequencer tracks the applied numbers and moves the visible mark over
//! every contiguous run. A reader's snapshot is the visible mark; a writer
//! acknowledges only once its own number is visible, so it reads its own
//! write.
//!
//! Invariants:
//!
//! * Every write with a number up to `visible` is fully applied; `visible`
//!   never decreases.
//! * `applied` holds only numbers above `visible + 1` (the ones waiting
//!   for an earlier write); it is bounded by the number of writers in
//!   flight.
//! * After a failure nobody waits forever: waiters get the error.

use std::collections::BTreeSet;
use std::sync::{Condvar, Mutex, MutexGuard};
use step01_kv::engine::{Result, SequenceNumber, StorageError};

#[derive(Debug)]
pub struct Sequencer {
    state: Mutex<State>,
    published: Condvar,
}

#[derive(Debug)]
struct State {
    visible: SequenceNumber,
    applied: BTreeSet<SequenceNumber>,
    failure: Option<String>,
}

impl Sequencer {
    /// A sequencer whose writes up to `visible` are all applied.
    pub fn new(visible: SequenceNumber) -> Self {
        Self {
            state: Mutex::new(State {
                visible,
                applied: BTreeSet::new(),
                failure: None,
            }),
            published: Condvar::new(),
        }
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        self.state.lock().map_err(|_| StorageError::Failed {
            reason: "a thread panicked while holding the sequencer lock".to_string(),
        })
    }

    /// The newest snapshot a reader may take.
    pub fn visible(&self) -> Result<SequenceNumber> {
        Ok(self.lock()?.visible)
    }

    // ANCHOR: publish
    /// Records that write `seq` is applied, and moves the visible mark
    /// over every contiguous applied write.
    pub fn publish(&self, seq: SequenceNumber) -> Result<()> {
        let mut state = self.lock()?;
        assert!(seq > state.visible, "write {seq} published twice");
        state.applied.insert(seq);
        let before = state.visible;
        while let Some(next) = state.applied.first().copied() {
            if next != state.visible + 1 {
                break;
            }
            state.applied.remove(&next);
            state.visible = next;
        }
        if state.visible > before {
            self.published.notify_all();
        }
        Ok(())
    }
    // ANCHOR_END: publish

    /// Blocks until every write up to `seq` is visible.
    pub fn wait_visible(&self, seq: SequenceNumber) -> Result<()> {
        let mut state = self.lock()?;
        // Each wake-up follows a publish or a failure.
        loop {
            if let Some(reason) = &state.failure {
                return Err(StorageError::Failed {
                    reason: reason.clone(),
                });
            }
            if state.visible >= seq {
                return Ok(());
            }
            state = self
                .published
                .wait(state)
                .map_err(|_| StorageError::Failed {
                    reason: "a thread panicked while holding the sequencer lock".to_string(),
                })?;
        }
    }

    /// A write that took a number will never be applied: wake every waiter
    /// with an error. Reads go on at the last visible snapshot.
    pub fn fail(&self, reason: &str) {
        if let Ok(mut state) = self.state.lock()
            && state.failure.is_none()
        {
            state.failure = Some(reason.to_string());
        }
        self.published.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn writes_become_visible_in_sequence_order_only() {
        let sequencer = Sequencer::new(4);
        sequencer.publish(6).unwrap();
        sequencer.publish(7).unwrap();
        assert_eq!(sequencer.visible().unwrap(), 4, "5 is still missing");
        sequencer.publish(5).unwrap();
        assert_eq!(sequencer.visible().unwrap(), 7);
        sequencer.wait_visible(7).unwrap();
    }

    #[test]
    fn waiters_wake_when_their_write_is_visible_or_the_engine_fails() {
        let sequencer = Arc::new(Sequencer::new(0));
        let waiter = {
            let sequencer = Arc::clone(&sequencer);
            std::thread::spawn(move || sequencer.wait_visible(2))
        };
        sequencer.publish(2).unwrap();
        sequencer.publish(1).unwrap();
        waiter.join().unwrap().unwrap();

        let waiter = {
            let sequencer = Arc::clone(&sequencer);
            std::thread::spawn(move || sequencer.wait_visible(9))
        };
        sequencer.fail("disk gone");
        assert!(matches!(
            waiter.join().unwrap(),
            Err(StorageError::Failed { .. })
        ));
    }
}
