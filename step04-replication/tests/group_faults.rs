//! A replication group under faults, through its public interface: the
//! leader dies during writes, replicas restart and catch up (from the log,
//! and from a snapshot once the log was compacted), eventual reads
//! converge, and a reopened group has everything it acknowledged.
//!
//! Real threads and disks: the only timing assertions are generous
//! deadlines for things that must happen "eventually".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use step01_kv::engine::{ReadConsistency, StorageEngine};
use step02_lsm::lsm::{Lsm, LsmOptions};
use step04_replication::group::{GroupOptions, ReplicationGroup};
use step04_replication::types::NodeId;

/// How long anything that must happen eventually may take.
const EVENTUALLY: Duration = Duration::from_secs(20);

fn options() -> GroupOptions<Lsm> {
    GroupOptions::lsm(LsmOptions::tiny())
}

/// Waits until `probe` returns `Some`, or fails the test at the deadline.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + EVENTUALLY;
    while Instant::now() < deadline {
        if let Some(value) = probe() {
            return value;
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("{what} did not happen within {EVENTUALLY:?}");
}

fn leader_of(group: &ReplicationGroup) -> NodeId {
    eventually("a leader", || group.leader())
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

fn value(i: u32, round: u32) -> Vec<u8> {
    format!("value-{i}-{round}").into_bytes()
}

#[test]
fn killing_the_leader_during_writes_elects_a_new_one_and_loses_no_acknowledged_write() {
    const WRITES: u32 = 300;
    let dir = tempfile::tempdir().unwrap();
    let group = ReplicationGroup::open(dir.path(), options()).unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (group, acked, writing) = (group.clone(), acked.clone(), writing.clone());
        thread::spawn(move || {
            for i in 0..WRITES {
                if group.put(&key(i), &value(i, 0)).is_ok() {
                    acked.lock().unwrap().push(i);
                }
            }
            writing.store(false, Ordering::SeqCst);
        })
    };
    eventually("some writes acknowledged", || {
        (acked.lock().unwrap().len() >= 50).then_some(())
    });
    let old = leader_of(&group);
    group.stop_replica(old).unwrap();
    assert!(
        writing.load(Ordering::SeqCst),
        "the kill came during writes"
    );
    let new = eventually("a new leader", || group.leader().filter(|&l| l != old));
    assert_ne!(new, old);
    writer.join().unwrap();

    let acked = acked.lock().unwrap().clone();
    assert_eq!(
        acked.len(),
        WRITES as usize,
        "with two replicas left every write gets through"
    );
    for &i in &acked {
        assert_eq!(group.get(&key(i)).unwrap(), Some(value(i, 0)), "key {i}");
    }

    // The old leader comes back and catches up from the new leader's log.
    group.restart_replica(old).unwrap();
    let last = key(WRITES - 1);
    eventually("the restarted replica catching up", || {
        (group.get_at(old, &last).ok()? == Some(value(WRITES - 1, 0))).then_some(())
    });
    for i in (0..WRITES).step_by(37) {
        assert_eq!(group.get_at(old, &key(i)).unwrap(), Some(value(i, 0)));
    }
}

/// Writes `before = 1`, waits until a follower has it, stops that follower
/// and returns it with the last index it holds.
fn stop_a_follower_after_a_first_write(group: &ReplicationGroup) -> (NodeId, u64) {
    group.put(b"before", b"1").unwrap();
    let leader = leader_of(group);
    let follower = *group
        .replica_ids()
        .iter()
        .find(|&&id| id != leader)
        .unwrap();
    eventually("the follower has the first write", || {
        (group.get_at(follower, b"before").ok()? == Some(b"1".to_vec())).then_some(())
    });
    let behind = group.status(follower).unwrap().last_index;
    group.stop_replica(follower).unwrap();
    (follower, behind)
}

#[test]
fn a_replica_behind_a_compacted_log_catches_up_from_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options();
    options.raft.snapshot_interval_entries = 20;
    // Keep few entries for followers behind, and send the state in many
    // small chunks.
    options.raft.log_retained_entries_max = 10;
    options.raft.snapshot_chunk_bytes_max = 512;
    let group = ReplicationGroup::open(dir.path(), options).unwrap();
    let (follower, behind) = stop_a_follower_after_a_first_write(&group);
    for i in 0..200 {
        group.put(&key(i), &value(i, 1)).unwrap();
    }
    group.delete(b"before").unwrap();
    let compacted = group.status(leader_of(&group)).unwrap().snapshot_index;
    assert!(
        compacted > behind + 1,
        "the leader compacted past what the follower has ({compacted} vs {behind})"
    );

    group.restart_replica(follower).unwrap();
    eventually("the follower catching up from the snapshot", || {
        (group.get_at(follower, &key(199)).ok()? == Some(value(199, 1))).then_some(())
    });
    assert_eq!(group.get_at(follower, b"before").unwrap(), None);
    let status = group.status(follower).unwrap();
    assert_eq!(status.snapshots_installed, 1, "{status:?}");
    for i in (0..200).step_by(13) {
        assert_eq!(group.get_at(follower, &key(i)).unwrap(), Some(value(i, 1)));
    }
    // The restored replica keeps up afterwards, from the log.
    group.put(b"after", b"2").unwrap();
    eventually("the follower applying new writes", || {
        (group.get_at(follower, b"after").ok()? == Some(b"2".to_vec())).then_some(())
    });
}

#[test]
fn a_replica_a_little_behind_catches_up_by_log_while_the_log_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = options();
    options.raft.snapshot_interval_entries = 20;
    options.raft.log_retained_entries_max = 100;
    let group = ReplicationGroup::open(dir.path(), options).unwrap();
    let (follower, behind) = stop_a_follower_after_a_first_write(&group);
    for i in 0..60 {
        group.put(&key(i), &value(i, 1)).unwrap();
    }
    let status = group.status(leader_of(&group)).unwrap();
    assert!(
        status.snapshot_index <= behind,
        "the leader kept the entries the follower lacks ({} vs {behind})",
        status.snapshot_index
    );
    group.restart_replica(follower).unwrap();
    eventually("the follower catching up by log", || {
        (group.get_at(follower, &key(59)).ok()? == Some(value(59, 1))).then_some(())
    });
    // Once it is back, the leader compacts again: its log stays short.
    for i in 60..400 {
        group.put(&key(i), &value(i, 1)).unwrap();
    }
    eventually("the leader's log compacted", || {
        let status = group.status(leader_of(&group))?;
        (status.last_index - status.snapshot_index <= 100 + 20).then_some(())
    });
}

#[test]
fn eventual_reads_at_every_replica_converge_and_survive_a_stopped_replica() {
    let dir = tempfile::tempdir().unwrap();
    let group = ReplicationGroup::open(dir.path(), options()).unwrap();
    for round in 0..5 {
        group.put(b"k", &value(0, round)).unwrap();
    }
    for &id in group.replica_ids() {
        eventually("every replica converging", || {
            (group.get_at(id, b"k").ok()? == Some(value(0, 4))).then_some(())
        });
    }
    let follower = *group
        .replica_ids()
        .iter()
        .find(|&&id| Some(id) != group.leader())
        .unwrap();
    group.stop_replica(follower).unwrap();
    assert!(
        group.get_at(follower, b"k").is_err(),
        "a stopped replica answers nothing"
    );
    for _ in 0..6 {
        // Whichever replica's turn it is, the read is answered.
        let read = group.get_with(b"k", ReadConsistency::Eventual).unwrap();
        assert_eq!(read, Some(value(0, 4)));
    }
}

#[test]
fn a_reopened_group_has_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    {
        let group = ReplicationGroup::open(dir.path(), options()).unwrap();
        for i in 0..100 {
            group.put(&key(i), &value(i, 2)).unwrap();
        }
        for i in (0..100).step_by(3) {
            group.delete(&key(i)).unwrap();
        }
    }
    let group = ReplicationGroup::open(dir.path(), options()).unwrap();
    for i in 0..100 {
        let want = (i % 3 != 0).then(|| value(i, 2));
        assert_eq!(group.get(&key(i)).unwrap(), want, "key {i}");
    }
    // Every replica replays from its log what its engine had not applied.
    for &id in group.replica_ids() {
        eventually("every replica holding the last write", || {
            (group.get_at(id, &key(98)).ok()? == Some(value(98, 2))).then_some(())
        });
    }
}
