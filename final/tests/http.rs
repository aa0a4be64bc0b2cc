//! HTTP details through the real binary: compressed request bodies (signed
//! as sent), compressed responses, CORS, the health check and `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use common::{Process, RawResponse, client_with_key, create_table, raw, s};
use flate2::Compression;
use flate2::write::GzEncoder;

const KEY_ID: &str = "TESTER";
const SECRET: &str = "tester-secret";

/// A strict-mode server with one access key, so every signature is
/// checked.
fn strict_server(dir: &std::path::Path) -> Process {
    std::fs::write(
        dir.join("credentials.json"),
        format!(
            r#"{{"access_keys": [{{"access_key_id": "{KEY_ID}", "secret_access_key": "{SECRET}"}}]}}"#
        ),
    )
    .unwrap();
    Process::start(
        dir,
        &[
            "--auth-mode",
            "strict",
            "--credentials",
            "credentials.json",
            "--replicas",
            "1",
        ],
    )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// An API request signed with the SDK's own signer over `signed_body`,
/// sending `body` (they differ only when a test means to break it).
fn signed_call(
    server: &Process,
    operation: &str,
    extra: &[(&str, &str)],
    signed_body: &[u8],
    body: &[u8],
) -> RawResponse {
    let host = server.addr.to_string();
    let target = format!("DynamoDB_20120810.{operation}");
    let mut headers: Vec<(&str, &str)> = vec![
        ("host", &host),
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", &target),
    ];
    headers.extend_from_slice(extra);
    let identity = Credentials::new(KEY_ID, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("dynamodb")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = format!("http://{host}/");
    let signable = SignableRequest::new(
        "POST",
        uri.as_str(),
        headers.iter().copied(),
        SignableBody::Bytes(signed_body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut wire: Vec<(&str, String)> = headers
        .iter()
        .filter(|(name, _)| *name != "host")
        .map(|(name, value)| (*name, value.to_string()))
        .collect();
    for (name, value) in instructions.headers() {
        wire.push((name, value.to_string()));
    }
    raw(server.addr, "POST", "/", &wire, body)
}

fn error_code(response: &RawResponse) -> String {
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    let kind = json["__type"].as_str().unwrap();
    kind.rsplit('#').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_deflate_request_bodies_are_verified_as_sent_then_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    let server = strict_server(dir.path());
    let client = client_with_key(&server.endpoint, KEY_ID, SECRET);
    create_table(&client, "zipped").await;

    let json = br#"{"TableName":"zipped","Item":{"pk":{"S":"a"},"v":{"S":"through gzip"}}}"#;
    let body = gzip(json);
    let response = signed_call(
        &server,
        "PutItem",
        &[("content-encoding", "gzip")],
        &body,
        &body,
    );
    assert_eq!(response.status, 200, "{}", response.text());

    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
    zlib.write_all(
        br#"{"TableName":"zipped","Item":{"pk":{"S":"b"},"v":{"S":"through deflate"}}}"#,
    )
    .unwrap();
    let body = zlib.finish().unwrap();
    let response = signed_call(
        &server,
        "PutItem",
        &[("content-encoding", "deflate")],
        &body,
        &body,
    );
    assert_eq!(response.status, 200, "{}", response.text());

    for (key, value) in [("a", "through gzip"), ("b", "through deflate")] {
        let item = client
            .get_item()
            .table_name("zipped")
            .key("pk", s(key))
            .send()
            .await
            .unwrap()
            .item
            .unwrap();
        assert_eq!(item["v"].as_s().unwrap(), value);
    }

    // A signature over the decompressed JSON does not cover what was sent.
    let body = gzip(json);
    let response = signed_call(
        &server,
        "PutItem",
        &[("content-encoding", "gzip")],
        json,
        &body,
    );
    assert_eq!(response.status, 400);
    assert_eq!(error_code(&response), "InvalidSignatureException");

    // Bad gzip: AWS answers 500.
    let response = signed_call(
        &server,
        "PutItem",
        &[("content-encoding", "gzip")],
        b"not gzip",
        b"not gzip",
    );
    assert_eq!(response.status, 500, "{}", response.text());
    assert_eq!(error_code(&response), "InternalServerError");

    // A bomb: 17 MB of spaces in a few KB stops at 16 MB.
    let bomb = gzip(&vec![b' '; 17 * 1024 * 1024]);
    let response = signed_call(
        &server,
        "PutItem",
        &[("content-encoding", "gzip")],
        &bomb,
        &bomb,
    );
    assert_eq!(response.status, 413, "{}", response.text());

    // An unknown coding is refused as a body that does not decode is.
    let response = signed_call(
        &server,
        "ListTables",
        &[("content-encoding", "br")],
        b"{}",
        b"{}",
    );
    assert_eq!(response.status, 500);
    assert_eq!(error_code(&response), "InternalServerError");
    assert_eq!(server.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_are_gzipped_when_asked_and_the_crc_covers_the_bytes_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = strict_server(dir.path());
    let client = client_with_key(&server.endpoint, KEY_ID, SECRET);
    create_table(&client, "big").await;
    let large = "x".repeat(20_000);
    client
        .put_item()
        .table_name("big")
        .item("pk", s("k"))
        .item("v", s(&large))
        .send()
        .await
        .unwrap();
    // The SDK asks for no compression and gets none.
    let item = client
        .get_item()
        .table_name("big")
        .key("pk", s("k"))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["v"].as_s().unwrap(), &large);
    let get = br#"{"TableName":"big","Key":{"pk":{"S":"k"}}}"#;

    let response = signed_call(&server, "GetItem", &[("accept-encoding", "gzip")], get, get);
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert!(response.body.len() < 2_000, "20 KB of x should shrink");
    assert_eq!(
        response.header("x-amz-crc32").unwrap(),
        crc32fast_hash(&response.body).to_string()
    );
    let json: serde_json::Value = serde_json::from_slice(&gunzip(&response.body)).unwrap();
    assert_eq!(json["Item"]["v"]["S"].as_str().unwrap(), large);

    // Not asked, or too small to gain: sent as is.
    let plain = signed_call(&server, "GetItem", &[], get, get);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body.len(), gunzip(&response.body).len());
    let small = signed_call(
        &server,
        "ListTables",
        &[("accept-encoding", "gzip")],
        b"{}",
        b"{}",
    );
    assert_eq!(small.header("content-encoding"), None);
    assert_eq!(server.terminate().code(), Some(0));
}

/// CRC-32 (IEEE) computed bit by bit: an independent reference.
fn crc32fast_hash(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn health_check_and_cors() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path(), &["--in-memory", "--replicas", "1"]);

    let health = raw(server.addr, "GET", "/", &[], b"");
    assert_eq!(health.status, 200);
    assert_eq!(health.text(), format!("healthy: {} ", server.addr));

    let preflight = raw(
        server.addr,
        "OPTIONS",
        "/",
        &[
            ("Origin", "http://localhost:3000".to_string()),
            ("Access-Control-Request-Method", "POST".to_string()),
            (
                "Access-Control-Request-Headers",
                "content-type,x-amz-target,authorization".to_string(),
            ),
        ],
        b"",
    );
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-methods"),
        Some("POST")
    );
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("content-type,x-amz-target,authorization")
    );
    assert_eq!(preflight.header("access-control-max-age"), Some("172800"));

    // An API answer to a browser names the origin rule and the headers a
    // script may read.
    let answer = raw(
        server.addr,
        "POST",
        "/",
        &[
            ("Origin", "http://localhost:3000".to_string()),
            ("Content-Type", "application/x-amz-json-1.0".to_string()),
            ("X-Amz-Target", "DynamoDB_20120810.ListTables".to_string()),
        ],
        b"{}",
    );
    assert_eq!(answer.status, 400, "unsigned: {}", answer.text());
    assert_eq!(answer.header("access-control-allow-origin"), Some("*"));
    assert!(
        answer
            .header("access-control-expose-headers")
            .unwrap()
            .contains("x-amzn-RequestId")
    );
    assert_eq!(server.terminate().code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_requests_errors_latency_partitions_and_replication() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path(), &["--throttling", "on"]);
    let client = server.client();
    create_table(&client, "observed").await;
    for i in 0..5 {
        client
            .put_item()
            .table_name("observed")
            .item("pk", s(&format!("k{i}")))
            .send()
            .await
            .unwrap();
    }
    let missing = client
        .get_item()
        .table_name("absent")
        .key("pk", s("k"))
        .send()
        .await;
    assert!(missing.is_err());

    // Prometheus does not sign: no Authorization header at all.
    let page = raw(server.addr, "GET", "/metrics", &[], b"");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let text = page.text();
    for expected in [
        "minidynamo_requests_total{operation=\"PutItem\"} 5\n",
        "minidynamo_requests_total{operation=\"CreateTable\"} 1\n",
        "minidynamo_errors_total{operation=\"GetItem\",type=\"ResourceNotFoundException\"} 1\n",
        "minidynamo_request_duration_seconds_bucket{operation=\"PutItem\",le=\"+Inf\"} 5\n",
        "minidynamo_request_duration_seconds_count{operation=\"PutItem\"} 5\n",
        "minidynamo_throttled_requests_total{table=\"observed\",kind=\"write\"} 0\n",
        "minidynamo_tables 1\n",
        "minidynamo_replicas_per_partition 3\n",
        "minidynamo_table_partitions{table=\"observed\"} 1\n",
        "# TYPE minidynamo_partition_size_bytes gauge\n",
        "# TYPE minidynamo_replication_lag_entries gauge\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let items: u64 = text
        .lines()
        .find(|line| line.starts_with("minidynamo_partition_items{table=\"observed\""))
        .and_then(|line| line.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(items, 5);
    // Three replicas of the one partition, one of them leading.
    let leaders: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("minidynamo_replica_is_leader{table=\"observed\""))
        .collect();
    assert_eq!(leaders.len(), 3, "{text}");
    assert_eq!(
        leaders.iter().filter(|line| line.ends_with(" 1")).count(),
        1
    );
    assert!(text.contains("minidynamo_replication_lag_entries{table=\"observed\",partition="));
    // The log's size and compactions, per replica, and the process's memory.
    for family in [
        "minidynamo_replica_log_entries",
        "minidynamo_replica_log_bytes",
        "minidynamo_replica_log_compactions",
        "minidynamo_replica_snapshots_installed",
        "minidynamo_replica_snapshot_chunks_sent",
    ] {
        let lines = text
            .lines()
            .filter(|line| line.starts_with(&format!("{family}{{table=\"observed\"")))
            .count();
        assert_eq!(lines, 3, "{family} for each replica in:\n{text}");
    }
    let resident: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("minidynamo_process_resident_bytes "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(resident > 1024 * 1024, "{resident}");
    assert_eq!(server.terminate().code(), Some(0));
}
