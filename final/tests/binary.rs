//! The binary as a user runs it: help, bad flags, the banner, a graceful
//! stop that keeps every table and item, and the replica count a data
//! directory remembers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Process, create_table, run_to_exit, s};
use minidynamo::banner::{DUMMY_CREDENTIALS, cli_example};
use minidynamo::cli::FLAGS;

#[test]
fn help_and_version_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run_to_exit(dir.path(), &["--help"]);
    assert_eq!(code, Some(0));
    for flag in FLAGS {
        assert!(out.contains(flag.name), "{} missing from --help", flag.name);
        assert!(out.contains(flag.env), "{} missing from --help", flag.env);
    }
    let (code, out, _) = run_to_exit(dir.path(), &["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out.trim(),
        format!("minidynamo {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_usage_exits_2_naming_the_mistake_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        "{\"access_keys\": [], \"polciy\": 1}",
    )
    .unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["--prot", "8000"], "unknown flag --prot"),
        (&["--port"], "--port needs a value"),
        (&["--port", "99999"], "--port: not a port"),
        (&["--replicas", "2"], "--replicas: expected 1 or 3"),
        (&["--auth-mode", "open"], "unknown authentication mode"),
        (&["--auth-mode", "strict"], "needs --credentials"),
        (&["--bind", "0.0.0.0"], "loopback"),
        (&["--in-memory", "--data-dir", "x"], "exclude each other"),
        (
            &["--auth-mode", "strict", "--credentials", "bad.json"],
            "--credentials bad.json",
        ),
    ];
    for (args, expected) in cases {
        let (code, out, err) = run_to_exit(dir.path(), args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(err.contains("--help"), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed {out}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "a bad invocation created the data directory"
    );
}

#[test]
fn the_banner_names_the_endpoint_and_a_command_to_paste() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path(), &[]);
    println!("ready after {} ms (debug build)", server.ready_millis);
    assert!(server.endpoint.starts_with("http://127.0.0.1:"));
    assert!(
        server
            .banner
            .contains(&cli_example(&server.endpoint, "us-east-1")),
        "{}",
        server.banner
    );
    assert!(server.banner.contains(DUMMY_CREDENTIALS));
    assert!(server.banner.contains("replicated on 3 replicas"));
    assert!(dir.path().join("data").is_dir(), "./data is the default");
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
}

async fn put(client: &aws_sdk_dynamodb::Client, table: &str, key: &str, value: &str) {
    client
        .put_item()
        .table_name(table)
        .item("pk", s(key))
        .item("v", s(value))
        .send()
        .await
        .unwrap();
}

async fn read(client: &aws_sdk_dynamodb::Client, table: &str, key: &str) -> Option<String> {
    let item = client
        .get_item()
        .table_name(table)
        .key("pk", s(key))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item?;
    Some(item.get("v")?.as_s().unwrap().clone())
}

/// SIGTERM: exit 0; a restart finds every table and item.
async fn stop_and_restart(replicas: &str) {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--replicas", replicas, "--log-level", "warn"];
    let server = Process::start(dir.path(), &args);
    let client = server.client();
    create_table(&client, "first").await;
    create_table(&client, "second").await;
    for i in 0..50 {
        put(&client, "first", &format!("k{i}"), &format!("v{i}")).await;
    }
    put(&client, "second", "only", "one").await;
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM should exit 0");

    let server = Process::start(dir.path(), &args);
    let client = server.client();
    let tables = client.list_tables().send().await.unwrap();
    assert_eq!(tables.table_names(), ["first", "second"]);
    for i in 0..50 {
        assert_eq!(
            read(&client, "first", &format!("k{i}")).await.as_deref(),
            Some(format!("v{i}").as_str())
        );
    }
    assert_eq!(
        read(&client, "second", "only").await.as_deref(),
        Some("one")
    );
    assert_eq!(server.terminate().code(), Some(0));

    // The other replica count cannot read this layout: refused, not empty.
    let other = if replicas == "3" { "1" } else { "3" };
    let (code, _, err) = run_to_exit(
        dir.path(),
        &["--replicas", other, "--port", "0", "--log-level", "warn"],
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("keeps {replicas} replica(s)")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_and_a_restart_finds_everything_with_three_replicas() {
    stop_and_restart("3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_zero_and_a_restart_finds_everything_with_one_replica() {
    stop_and_restart("1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_data_is_gone_after_a_stop() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path(), &["--in-memory", "--replicas", "1"]);
    create_table(&server.client(), "scratch").await;
    assert_eq!(server.terminate().code(), Some(0));
    let server = Process::start(dir.path(), &["--in-memory", "--replicas", "1"]);
    let tables = server.client().list_tables().send().await.unwrap();
    assert!(tables.table_names().is_empty());
    assert!(!dir.path().join("data").exists());
}

#[test]
fn environment_variables_set_flags_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start_with_env(
        dir.path(),
        &["--port", "0"],
        &[
            ("MINIDYNAMO_PORT", "1"),
            ("MINIDYNAMO_DATA_DIR", "from-env"),
            ("MINIDYNAMO_REPLICAS", "1"),
        ],
    );
    assert!(!server.endpoint.ends_with(":1"));
    assert!(server.banner.contains("from-env (durable)"));
    assert!(server.banner.contains("1 copy of each partition"));
    assert_eq!(server.terminate().code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("from-env/REPLICAS")).unwrap(),
        "1\n"
    );
}
