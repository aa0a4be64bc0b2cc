//! What the binary's tests share: the real `minidynamo` process on a free
//! loopback port, an SDK client for it, and a raw HTTP client for what the
//! SDK cannot send.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use minidynamo::banner::ENDPOINT_LABEL;

/// How long a server may take to print its banner (a debug build opening
/// many replicated partitions is slow; a release build on an empty
/// directory takes milliseconds).
pub const READY_DEADLINE: Duration = Duration::from_secs(60);
/// How long a stopping server may take to exit.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(60);

/// The binary under test.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minidynamo"));
    // The tests decide every setting: nothing leaks in from the shell.
    for (name, _) in std::env::vars() {
        if name.starts_with("MINIDYNAMO_") {
            command.env_remove(name);
        }
    }
    command
}

/// A running server process, killed on drop.
pub struct Process {
    pub child: Child,
    pub endpoint: String,
    pub addr: SocketAddr,
    /// Everything printed on standard output up to the endpoint line.
    pub banner: String,
    /// Milliseconds from spawn to the endpoint line.
    pub ready_millis: u128,
    pub stderr_path: PathBuf,
}

impl Process {
    /// Starts the binary with `args` (a `--port` is added unless given)
    /// in `cwd`, and waits for its banner.
    pub fn start(cwd: &Path, args: &[&str]) -> Process {
        Process::start_with_env(cwd, args, &[])
    }

    pub fn start_with_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Process {
        let stderr_path = cwd.join(format!(
            "stderr-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut command = binary();
        command
            .current_dir(cwd)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        if !args.iter().any(|a| a.starts_with("--port")) {
            command.args(["--port", "0"]);
        }
        let started = Instant::now();
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, receive) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        let endpoint = loop {
            let left = READY_DEADLINE.saturating_sub(started.elapsed());
            let line = match receive.recv_timeout(left) {
                Ok(line) => line,
                Err(_) => {
                    let _ = child.kill();
                    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    panic!("no banner within {READY_DEADLINE:?}; got {banner:?}; stderr:\n{log}");
                }
            };
            banner.push_str(&line);
            banner.push('\n');
            if let Some(rest) = line.trim().strip_prefix(ENDPOINT_LABEL) {
                break rest.trim().to_string();
            }
        };
        let ready_millis = started.elapsed().as_millis();
        // The rest of the banner, for tests that read it whole.
        while let Ok(line) = receive.recv_timeout(Duration::from_millis(200)) {
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("stops it gracefully") {
                break;
            }
        }
        // Keep draining standard output so the server never blocks on it.
        std::thread::spawn(move || while receive.recv().is_ok() {});
        let addr = endpoint.strip_prefix("http://").unwrap().parse().unwrap();
        Process {
            child,
            endpoint,
            addr,
            banner,
            ready_millis,
            stderr_path,
        }
    }

    pub fn client(&self) -> Client {
        client(&self.endpoint)
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        signal(&self.child, "TERM");
        wait(&mut self.child)
    }

    /// Sends SIGKILL and waits for the exit.
    pub fn kill(mut self) -> ExitStatus {
        self.child.kill().unwrap();
        wait(&mut self.child)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends a signal by name with the system's `kill` (no libc binding).
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} failed");
}

/// Waits for `child` to exit, up to [`EXIT_DEADLINE`].
pub fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + EXIT_DEADLINE;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("the server did not exit within {EXIT_DEADLINE:?}");
}

/// Runs the binary to completion (for flags that make it exit at once).
pub fn run_to_exit(cwd: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = binary()
        .current_dir(cwd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait(&mut child);
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), out, err)
}

// ANCHOR: sdk_client
/// The Rust SDK configured for a local minidynamo: its endpoint, a
/// region, any static credentials (local mode accepts every key), and the
/// rustls HTTP client.
pub fn client(endpoint_url: &str) -> Client {
    client_with_key(endpoint_url, "local", "local")
}

pub fn client_with_key(endpoint_url: &str, access_key_id: &str, secret: &str) -> Client {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "static",
        ))
        .http_client(http_client)
        .build();
    Client::from_conf(config)
}
// ANCHOR_END: sdk_client

/// Creates an on-demand table keyed by the string `pk`.
pub async fn create_table(client: &Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

pub fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
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

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 exchange on a fresh connection, closed after it.
pub fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> RawResponse {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
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
