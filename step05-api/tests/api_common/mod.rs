//! What the router's integration tests share: an in-process server on a
//! random loopback port, an SDK client configured by hand for it, and a
//! raw HTTP client for what the SDK cannot send.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use step05_api::{Server, ServerConfig, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A server and a client for it.
pub struct TestServer {
    pub handle: ServerHandle,
    pub addr: SocketAddr,
    pub client: Client,
}

impl TestServer {
    /// Throwaway data.
    pub async fn start() -> TestServer {
        TestServer::with_config(ServerConfig::in_memory()).await
    }

    /// Durable data in `dir`, on a random port.
    pub async fn start_in(dir: &Path) -> TestServer {
        TestServer::with_config(ServerConfig::with_data_dir(dir).port(0)).await
    }

    /// Any configuration (bound to a random loopback port by the caller).
    pub async fn with_config(config: ServerConfig) -> TestServer {
        let (addr, handle) = Server::bind(config).await.unwrap();
        let client = client(&handle.endpoint_url());
        TestServer {
            handle,
            addr,
            client,
        }
    }

    pub async fn stop(self) {
        self.handle.shutdown().await.unwrap();
    }
}

/// The SDK configured by hand: endpoint, region, static credentials and
/// the rustls (ring) HTTP client, no environment lookups.
pub fn client(endpoint_url: &str) -> Client {
    client_with_key(
        endpoint_url,
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    )
}

/// The same with another access key.
pub fn client_with_key(endpoint_url: &str, access_key_id: &str, secret: &str) -> Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(access_key_id, secret, None, None, "tests"))
        .http_client(http_client)
        .build();
    Client::from_conf(config)
}

/// The error code and message the SDK saw.
pub fn code_and_message<E, R>(error: &SdkError<E, R>) -> (String, String)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let service = error
        .as_service_error()
        .unwrap_or_else(|| panic!("not a service error: {error:?}"));
    (
        service.code().unwrap_or_default().to_string(),
        service.message().unwrap_or_default().to_string(),
    )
}

/// Asserts a failed call's code and exact message.
#[track_caller]
pub fn assert_error<
    T: std::fmt::Debug,
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
>(
    result: Result<T, SdkError<E, R>>,
    code: &str,
    message: &str,
) {
    let error = result.expect_err("the call should fail");
    assert_eq!(
        code_and_message(&error),
        (code.to_string(), message.to_string())
    );
}

pub fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

pub fn n(text: &str) -> AttributeValue {
    AttributeValue::N(text.to_string())
}

/// Creates an on-demand table keyed by `pk` (S) and, if given, `sk` (N).
pub async fn create_table(client: &Client, name: &str, sort: bool) {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(definition("pk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash));
    if sort {
        request = request
            .attribute_definitions(definition("sk", ScalarAttributeType::N))
            .key_schema(key("sk", KeyType::Range));
    }
    request.send().await.unwrap();
}

pub fn definition(name: &str, attribute_type: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(attribute_type)
        .build()
        .unwrap()
}

pub fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .unwrap()
}

/// A raw HTTP response.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The headers a signed SDK request carries, dated now. The signature is
/// not a real one: in local mode an unknown access key is accepted without
/// checking it.
pub fn api_headers(operation: &str) -> Vec<(String, String)> {
    let now =
        step05_api::auth::sigv4::date::AmzDate::from_system_time(std::time::SystemTime::now());
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/us-east-1/dynamodb/aws4_request, \
         SignedHeaders=host;x-amz-date, Signature={}",
        now.date_stamp(),
        "0".repeat(64)
    );
    vec![
        (
            "Content-Type".to_string(),
            "application/x-amz-json-1.0".to_string(),
        ),
        (
            "X-Amz-Target".to_string(),
            format!("DynamoDB_20120810.{operation}"),
        ),
        ("X-Amz-Date".to_string(), now.to_basic()),
        ("Authorization".to_string(), authorization),
    ]
}

/// Sends one HTTP/1.1 request over a fresh connection and reads the whole
/// response (the connection is closed by the request).
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before reading a refused body.
    let _ = stream.write_all(body).await;
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    parse_response(&bytes)
}

fn parse_response(bytes: &[u8]) -> RawResponse {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = bytes[split + 4..].to_vec();
    if let Some((_, len)) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    {
        body.truncate(len.parse().unwrap());
    }
    RawResponse {
        status,
        headers,
        body,
    }
}
