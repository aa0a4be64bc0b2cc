//! Crash safety end to end: clients write through the SDK, the server is
//! killed with SIGKILL in the middle, and after a restart every write it
//! acknowledged is there — with one copy and with three.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Process, create_table, s};

/// Concurrent writers.
const WRITERS: usize = 4;
/// Puts per writer, at most: the loop ends at the kill long before.
const PUTS_PER_WRITER_MAX: usize = 20_000;
/// The kill comes after this many acknowledged puts in total…
const ACKNOWLEDGED_BEFORE_KILL: usize = 300;
/// …or after this long, whichever is first.
const LOAD_DEADLINE: Duration = Duration::from_secs(30);
/// Kill and restart rounds per test.
const ROUNDS: usize = 2;

/// One round: load, SIGKILL, restart, check. Returns the acknowledged keys.
async fn load_kill_check(dir: &std::path::Path, args: &[&str], round: usize) -> usize {
    let server = Process::start(dir, args);
    let client = server.client();
    if round == 0 {
        create_table(&client, "crash").await;
    }
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (client, acknowledged) = (client.clone(), Arc::clone(&acknowledged));
        writers.push(tokio::spawn(async move {
            for i in 0..PUTS_PER_WRITER_MAX {
                let key = format!("r{round}-w{writer}-{i}");
                let value = format!("value of {key}");
                let put = client
                    .put_item()
                    .table_name("crash")
                    .item("pk", s(&key))
                    .item("v", s(&value))
                    .send()
                    .await;
                match put {
                    Ok(_) => acknowledged.lock().unwrap().push((key, value)),
                    // The server is gone: whatever was not acknowledged
                    // may or may not be there.
                    Err(_) => break,
                }
            }
        }));
    }
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < ACKNOWLEDGED_BEFORE_KILL
        && started.elapsed() < LOAD_DEADLINE
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = server.kill();
    assert!(!status.success());
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(!acknowledged.is_empty(), "no write was acknowledged");

    let server = Process::start(dir, args);
    let client = server.client();
    for (key, value) in &acknowledged {
        let item = client
            .get_item()
            .table_name("crash")
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_else(|| panic!("acknowledged {key} is lost"));
        assert_eq!(item["v"].as_s().unwrap(), value, "{key}");
    }
    assert_eq!(server.terminate().code(), Some(0));
    acknowledged.len()
}

async fn crash_rounds(replicas: &str) {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--replicas", replicas, "--log-level", "warn"];
    for round in 0..ROUNDS {
        let count = load_kill_check(dir.path(), &args, round).await;
        println!("replicas {replicas}, round {round}: {count} acknowledged puts survived SIGKILL");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_put_survives_sigkill_with_three_replicas() {
    crash_rounds("3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_put_survives_sigkill_with_one_replica() {
    crash_rounds("1").await;
}
