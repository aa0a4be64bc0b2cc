//! Eventually consistent reads on a replication group: served by any
//! replica that has caught up with the group's read floor, never missing a
//! write the group acknowledged, falling back to the leader when no
//! replica can answer.
//!
//! Real threads and disks: the only timing assertions are generous
//! deadlines for things that must happen "eventually".
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::thread;
use std::time::{Duration, Instant};
use step01_kv::engine::{KeyRange, ReadConsistency, ScanDirection, StorageEngine};
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

fn followers_of(group: &ReplicationGroup) -> Vec<NodeId> {
    let leader = leader_of(group);
    group
        .replica_ids()
        .iter()
        .copied()
        .filter(|&id| id != leader)
        .collect()
}

/// Waits until replica `id` has applied everything the group has shown.
fn caught_up(group: &ReplicationGroup, id: NodeId) {
    let floor = group.read_floor();
    eventually("the replica catching up with the read floor", || {
        (group.status(id)?.applied_index >= floor).then_some(())
    });
}

fn eventual_get(group: &ReplicationGroup, key: &[u8]) -> Option<Vec<u8>> {
    group.get_with(key, ReadConsistency::Eventual).unwrap()
}

fn served(group: &ReplicationGroup, id: NodeId) -> u64 {
    group.eventual_reads().served.get(&id).copied().unwrap_or(0)
}

#[test]
fn a_read_right_after_a_put_never_misses_it_from_many_threads() {
    const THREADS: usize = 4;
    const PUTS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let group = ReplicationGroup::open(dir.path(), options()).unwrap();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let group = group.clone();
            thread::spawn(move || {
                for i in 0..PUTS {
                    // A new key, and one key overwritten again and again:
                    // a stale replica would show nothing, or the old value.
                    let fresh = format!("t{t}-key-{i:04}").into_bytes();
                    let value = format!("t{t}-value-{i}").into_bytes();
                    group.put(&fresh, &value).unwrap();
                    assert_eq!(eventual_get(&group, &fresh), Some(value.clone()), "{t}/{i}");
                    let same = format!("t{t}-same").into_bytes();
                    group.put(&same, &value).unwrap();
                    assert_eq!(eventual_get(&group, &same), Some(value), "{t}/{i}");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let reads = group.eventual_reads();
    println!("put, then read at once: {reads:?}");
    let total: u64 = reads.served.values().sum::<u64>() + reads.fallbacks;
    assert_eq!(total, (THREADS * PUTS * 2) as u64, "{reads:?}");
    // And a scan right after the last puts sees all of them.
    let all = group
        .scan_with(
            &KeyRange::all(),
            ScanDirection::Forward,
            usize::MAX,
            ReadConsistency::Eventual,
        )
        .unwrap();
    assert_eq!(all.len(), THREADS * (PUTS + 1));
}

#[test]
fn followers_serve_eventual_reads_once_they_have_caught_up() {
    let dir = tempfile::tempdir().unwrap();
    let group = ReplicationGroup::open(dir.path(), options()).unwrap();
    for i in 0..20 {
        group.put(format!("k{i}").as_bytes(), b"v").unwrap();
    }
    let followers = followers_of(&group);
    for &id in group.replica_ids() {
        caught_up(&group, id);
    }
    for round in 0..60 {
        let key = format!("k{}", round % 20);
        assert_eq!(eventual_get(&group, key.as_bytes()), Some(b"v".to_vec()));
    }
    let reads = group.eventual_reads();
    for id in followers {
        assert!(
            reads.served.get(&id).copied().unwrap_or(0) > 0,
            "follower {id} served no read: {reads:?}"
        );
    }
}

#[test]
fn before_any_leader_answers_eventual_reads_go_to_the_leader() {
    let dir = tempfile::tempdir().unwrap();
    {
        let group = ReplicationGroup::open(dir.path(), options()).unwrap();
        for i in 0..50 {
            group.put(format!("k{i}").as_bytes(), b"before").unwrap();
        }
    }
    // A reopened group knows nothing of what the last one acknowledged,
    // and its replicas replay their logs at their own pace: the first
    // read must not trust any of them.
    let group = ReplicationGroup::open(dir.path(), options()).unwrap();
    assert_eq!(group.read_floor(), 0);
    assert_eq!(eventual_get(&group, b"k49"), Some(b"before".to_vec()));
    assert_eq!(group.eventual_reads().fallbacks, 1);
    assert!(group.read_floor() > 0, "the leader's answer set the floor");
    for i in 0..50 {
        let key = format!("k{i}");
        assert_eq!(
            eventual_get(&group, key.as_bytes()),
            Some(b"before".to_vec())
        );
    }
}

#[test]
fn eventual_reads_go_on_with_a_follower_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let group = ReplicationGroup::open(dir.path(), options()).unwrap();
    group.put(b"warm-up", b"1").unwrap();
    let followers = followers_of(&group);
    let (stopped, running) = (followers[0], followers[1]);
    group.stop_replica(stopped).unwrap();
    let before = served(&group, stopped);
    for i in 0..50 {
        let key = format!("k{i}").into_bytes();
        group.put(&key, b"v").unwrap();
        assert_eq!(eventual_get(&group, &key), Some(b"v".to_vec()));
    }
    caught_up(&group, running);
    for i in 0..30 {
        let key = format!("k{i}").into_bytes();
        assert_eq!(eventual_get(&group, &key), Some(b"v".to_vec()));
    }
    assert_eq!(
        served(&group, stopped),
        before,
        "a stopped replica serves nothing"
    );
    assert!(served(&group, running) > 0, "{:?}", group.eventual_reads());
}

#[test]
fn a_lagging_follower_is_skipped_until_it_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let group = ReplicationGroup::open(dir.path(), options()).unwrap();
    group.put(b"k", b"old").unwrap();
    let followers = followers_of(&group);
    let (lagging, running) = (followers[0], followers[1]);
    for &id in group.replica_ids() {
        caught_up(&group, id);
    }
    assert!(group.pause_replica(lagging));
    let before = served(&group, lagging);
    group.put(b"k", b"new").unwrap();
    caught_up(&group, running);
    let fallbacks = group.eventual_reads().fallbacks;
    for _ in 0..30 {
        // The paused replica still holds "old": it must never be asked
        // (asked, it would not answer, and the read would go to the
        // leader after a timeout).
        assert_eq!(eventual_get(&group, b"k"), Some(b"new".to_vec()));
    }
    let reads = group.eventual_reads();
    assert_eq!(served(&group, lagging), before, "{reads:?}");
    assert_eq!(reads.fallbacks, fallbacks, "{reads:?}");
    assert!(served(&group, running) > 0, "{:?}", group.eventual_reads());
    assert_eq!(group.get_at(running, b"k").unwrap(), Some(b"new".to_vec()));

    // Once it has caught up it takes its turn again.
    assert!(group.resume_replica(lagging));
    caught_up(&group, lagging);
    eventually("the follower serving again", || {
        assert_eq!(eventual_get(&group, b"k"), Some(b"new".to_vec()));
        (served(&group, lagging) > before).then_some(())
    });
}
