//! The wire protocol seen with a raw HTTP client: what the SDK never sends
//! (bad targets, bad JSON, wrong content types, oversized bodies, missing
//! authentication) and the headers every response carries.
// Helpers outside #[test] functions unwrap too: a failure is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_common;

use api_common::{TestServer, api_headers, raw};
use serde_json::json;

fn without(headers: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case(name))
        .collect()
}

fn with(mut headers: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_string(), value.to_string()));
    headers
}

#[tokio::test]
async fn every_response_has_a_request_id_and_a_correct_crc() {
    let server = TestServer::start().await;
    for (operation, body) in [("ListTables", "{}"), ("NoSuchOperation", "{}")] {
        let response = raw(
            server.addr,
            "POST",
            &api_headers(operation),
            body.as_bytes(),
        )
        .await;
        let id = response.header("x-amzn-RequestId").unwrap();
        assert_eq!(id.len(), 52);
        let crc = response.header("x-amz-crc32").unwrap();
        assert_eq!(crc, crc32fast::hash(&response.body).to_string());
        assert_eq!(
            response.header("content-type"),
            Some("application/x-amz-json-1.0")
        );
    }
    let ok = raw(server.addr, "POST", &api_headers("ListTables"), b"{}").await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json(), json!({"TableNames": []}));
    server.stop().await;
}

#[tokio::test]
async fn unknown_missing_and_odd_targets() {
    let server = TestServer::start().await;
    let unknown = json!({"__type": "com.amazon.coral.service#UnknownOperationException"});
    let response = raw(server.addr, "POST", &api_headers("Frobnicate"), b"{}").await;
    assert_eq!((response.status, response.json()), (400, unknown.clone()));
    let headers = without(api_headers("ListTables"), "X-Amz-Target");
    let response = raw(server.addr, "POST", &headers, b"{}").await;
    assert_eq!((response.status, response.json()), (400, unknown.clone()));
    for odd in [
        "ListTables",
        "DynamoDB_20120810.",
        "DynamoDB_20111205.ListTables",
    ] {
        let headers = with(api_headers("ListTables"), "X-Amz-Target", odd);
        let response = raw(server.addr, "POST", &headers, b"{}").await;
        assert_eq!(
            (response.status, response.json()),
            (400, unknown.clone()),
            "{odd}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_json_is_a_serialization_exception() {
    let server = TestServer::start().await;
    let response = raw(
        server.addr,
        "POST",
        &api_headers("ListTables"),
        b"{\"Limit\":",
    )
    .await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json(),
        json!({"__type": "com.amazon.coral.service#SerializationException"})
    );
    // JSON is checked before the target (DynamoDB's order).
    let response = raw(server.addr, "POST", &api_headers("Frobnicate"), b"nope").await;
    assert_eq!(
        response.json()["__type"],
        "com.amazon.coral.service#SerializationException"
    );
    // Wrong member type: the Java wording, capital-M Message.
    let response = raw(
        server.addr,
        "POST",
        &api_headers("ListTables"),
        br#"{"Limit":"5"}"#,
    )
    .await;
    assert_eq!(
        response.json(),
        json!({
            "__type": "com.amazon.coral.service#SerializationException",
            "Message": "STRING_VALUE cannot be converted to Integer"
        })
    );
    // Deep nesting is refused without parsing.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let response = raw(
        server.addr,
        "POST",
        &api_headers("ListTables"),
        deep.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 400);
    server.stop().await;
}

#[tokio::test]
async fn missing_members_and_constraints_are_validation_exceptions() {
    let server = TestServer::start().await;
    let response = raw(server.addr, "POST", &api_headers("DescribeTable"), b"{}").await;
    assert_eq!(
        response.json(),
        json!({
            "__type": "com.amazon.coral.validate#ValidationException",
            "message": "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null"
        })
    );
    let response = raw(
        server.addr,
        "POST",
        &api_headers("ListTables"),
        br#"{"Limit":0,"ExclusiveStartTableName":"a"}"#,
    )
    .await;
    assert_eq!(
        response.json()["message"],
        "2 validation errors detected: \
         Value 'a' at 'exclusiveStartTableName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
         Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    server.stop().await;
}

#[tokio::test]
async fn wrong_method_or_content_type_is_not_an_operation() {
    let server = TestServer::start().await;
    let headers = with(api_headers("ListTables"), "Content-Type", "text/plain");
    let response = raw(server.addr, "POST", &headers, b"{}").await;
    assert_eq!(response.status, 404);
    assert_eq!(response.text(), "<UnknownOperationException/>\n");
    let response = raw(server.addr, "PUT", &api_headers("ListTables"), b"{}").await;
    assert_eq!(response.status, 404);
    // application/json is accepted and echoed.
    let headers = with(
        api_headers("ListTables"),
        "Content-Type",
        "application/json",
    );
    let response = raw(server.addr, "POST", &headers, b"{}").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    server.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_they_are_read() {
    let server = TestServer::start().await;
    // Declared too large: refused from the header alone.
    let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: {}\r\n\r\n",
        16 * 1024 * 1024 + 1
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("ValidationException"), "{text}");
    // Just at the limit: read, then judged as JSON.
    let body = vec![b' '; 16 * 1024 * 1024];
    let response = raw(server.addr, "POST", &api_headers("ListTables"), &body).await;
    assert_eq!(response.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn authentication_is_required() {
    let server = TestServer::start().await;
    let headers = without(api_headers("ListTables"), "Authorization");
    let response = raw(server.addr, "POST", &headers, b"{}").await;
    assert_eq!(response.status, 400);
    assert_eq!(
        response.json(),
        json!({
            "__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
            "message": "Request is missing Authentication Token"
        })
    );
    let headers = with(
        api_headers("ListTables"),
        "Authorization",
        "Basic Zm9vOmJhcg==",
    );
    let response = raw(server.addr, "POST", &headers, b"{}").await;
    assert_eq!(
        response.json()["__type"],
        "com.amazon.coral.service#IncompleteSignatureException"
    );
    // An unknown operation is reported before authentication.
    let headers = without(api_headers("Frobnicate"), "Authorization");
    let response = raw(server.addr, "POST", &headers, b"{}").await;
    assert_eq!(
        response.json()["__type"],
        "com.amazon.coral.service#UnknownOperationException"
    );
    server.stop().await;
}

#[tokio::test]
async fn health_check_and_cors() {
    let server = TestServer::start().await;
    // The health check names the host the request was addressed to.
    let response = raw(server.addr, "GET", &[], b"").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), format!("healthy: {} ", server.addr));
    assert_eq!(response.header("access-control-allow-origin"), None);
    let response = raw_with_host(server.addr, "dynamodb.eu-west-1.amazonaws.com").await;
    assert_eq!(response, "healthy: dynamodb.eu-west-1.amazonaws.com ");
    let headers = vec![
        ("Origin".to_string(), "http://example.com".to_string()),
        (
            "Access-Control-Request-Method".to_string(),
            "POST".to_string(),
        ),
        (
            "Access-Control-Request-Headers".to_string(),
            "x-amz-target".to_string(),
        ),
    ];
    let response = raw(server.addr, "OPTIONS", &headers, b"").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        response.header("access-control-allow-headers"),
        Some("x-amz-target")
    );
    assert_eq!(response.header("access-control-max-age"), Some("172800"));
    // Without `Origin`, no CORS headers: not on an OPTIONS, not on a call.
    let response = raw(server.addr, "OPTIONS", &headers[1..], b"").await;
    assert_eq!(response.status, 200);
    for name in [
        "access-control-allow-origin",
        "access-control-allow-headers",
        "access-control-allow-methods",
        "access-control-max-age",
    ] {
        assert_eq!(response.header(name), None, "{name}");
    }
    let response = raw(server.addr, "POST", &api_headers("ListTables"), b"{}").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("access-control-allow-origin"), None);
    assert_eq!(response.header("access-control-expose-headers"), None);
    let with_origin = with(api_headers("ListTables"), "Origin", "http://example.com");
    let response = raw(server.addr, "POST", &with_origin, b"{}").await;
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    server.stop().await;
}

/// The body of `GET /` sent with `host` as its `Host` header.
async fn raw_with_host(addr: std::net::SocketAddr, host: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    text.split_once("\r\n\r\n").unwrap().1.to_string()
}

/// Sends `head` (request line and headers, without the blank line) and a
/// ListTables body; returns the status.
async fn status_of_head(addr: std::net::SocketAddr, head: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = head.to_string();
    for (name, value) in api_headers("ListTables") {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("Connection: close\r\nContent-Length: 2\r\n\r\n{}");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    let text = String::from_utf8_lossy(&bytes);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_request_line_or_headers_past_16_kb_get_400() {
    let server = TestServer::start().await;
    let host = format!("Host: {}\r\n", server.addr);
    let fits = format!(
        "POST / HTTP/1.1\r\n{host}X-Padding: {}\r\n",
        "a".repeat(15_000)
    );
    assert_eq!(status_of_head(server.addr, &fits).await, 200);
    let long_header = format!(
        "POST / HTTP/1.1\r\n{host}X-Padding: {}\r\n",
        "a".repeat(17_000)
    );
    assert_eq!(status_of_head(server.addr, &long_header).await, 400);
    // Many headers, each short, adding up past the limit.
    let mut many = format!("POST / HTTP/1.1\r\n{host}");
    for i in 0..40 {
        many.push_str(&format!("X-Padding-{i}: {}\r\n", "b".repeat(500)));
    }
    assert_eq!(status_of_head(server.addr, &many).await, 400);
    let long_line = format!("POST /?{} HTTP/1.1\r\n{host}", "c".repeat(17_000));
    assert_eq!(status_of_head(server.addr, &long_line).await, 400);
    server.stop().await;
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[tokio::test]
async fn gzip_members_concatenate_and_undecodable_bodies_get_500() {
    let server = TestServer::start().await;
    let gzipped = with(api_headers("ListTables"), "Content-Encoding", "gzip");
    // Two members, as `cat a.gz b.gz` makes: one body.
    let mut body = gzip(br#"{"Li"#);
    body.extend(gzip(br#"mit": 5}"#));
    let response = raw(server.addr, "POST", &gzipped, &body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json(), json!({"TableNames": []}));
    // A valid member followed by junk.
    let mut body = gzip(b"{}");
    body.extend_from_slice(b"this is not gzip");
    let response = raw(server.addr, "POST", &gzipped, &body).await;
    assert_eq!(response.status, 500, "{}", response.text());
    assert!(
        response.json()["__type"]
            .as_str()
            .unwrap()
            .ends_with("#InternalServerError")
    );
    // An unknown coding.
    for coding in ["br", "compress", "gzip, gzip"] {
        let headers = with(api_headers("ListTables"), "Content-Encoding", coding);
        let response = raw(server.addr, "POST", &headers, b"{}").await;
        assert_eq!(response.status, 500, "{coding}: {}", response.text());
    }
    server.stop().await;
}

#[tokio::test]
async fn tag_resource_answers_an_empty_body() {
    let server = TestServer::start().await;
    api_common::create_table(&server.client, "tagged", false).await;
    let arn = "arn:aws:dynamodb:us-east-1:000000000000:table/tagged";
    let body = json!({"ResourceArn": arn, "Tags": [{"Key": "k", "Value": "v"}]}).to_string();
    let response = raw(
        server.addr,
        "POST",
        &api_headers("TagResource"),
        body.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty());
    assert_eq!(response.header("x-amz-crc32"), Some("0"));
    server.stop().await;
}
