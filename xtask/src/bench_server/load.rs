//! The load generator: N keep-alive HTTP/1.1 connections, each sending
//! signed DynamoDB requests back to back (closed loop: a connection sends its
//! next request when the previous answer is in, as an SDK client thread
//! does), timed into a histogram.
//!
//! Every wait is bounded: connecting and each request have a timeout, and a
//! cell ends at its deadline whatever the server does.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::histogram::Histogram;
use super::sigv4::{self, Signer};
use crate::cmd::Result;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longer than any answer a healthy server gives under this load; a request
/// that takes longer counts as an error and its connection is replaced.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Table creation on a peer may take a moment (dynalite defaults to 500 ms).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(30);
const PRELOAD_RETRIES_MAX: usize = 10;

/// Items GetItem reads, preloaded as `k0`…; ten groups for the Scan filter.
pub const GET_KEYS: u64 = 1000;
/// Partitions Query reads, preloaded as `q0`…, each with a full 100-item page.
pub const QUERY_PARTITIONS: u64 = 4;
pub const PAGE_ITEMS: u64 = 100;
/// The fixed key set the soak overwrites: about 20 MB of live 1 KB items.
pub const OVERWRITE_KEYS: u64 = 20_000;
const OVERWRITE_VALUE_BYTES: usize = 1000;
/// Every item carries a 100-byte value: small items, like most real ones.
const VALUE: &str = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

pub const TABLE: &str = "bench";
const ACCESS_KEY: &str = "AKIDMINIDYNAMOBENCH";
const SECRET_KEY: &str = "minidynamo/bench/secret";
const REGION: &str = "us-east-1";

/// The operations a cell can measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    PutItem,
    GetItem,
    /// One 100-item page of one partition.
    Query,
    /// One 100-item page of the table with a filter keeping a tenth.
    Scan,
    /// PutItem of a 1 KB item over a fixed set of [`OVERWRITE_KEYS`] keys:
    /// the sustained overwrites of `cargo xtask soak`.
    Overwrite,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::PutItem | Op::Overwrite => "PutItem",
            Op::GetItem => "GetItem",
            Op::Query => "Query",
            Op::Scan => "Scan",
        }
    }

    /// The request body for this operation; `lane` and `seq` make PutItem
    /// keys unique, `random` picks the key a read goes to.
    fn body(self, lane: usize, seq: u64, random: u64) -> String {
        match self {
            Op::PutItem => format!(
                r#"{{"TableName":"{TABLE}","Item":{{"pk":{{"S":"w{lane}-{seq}"}},"sk":{{"N":"0"}},"v":{{"S":"{VALUE}"}}}}}}"#
            ),
            Op::GetItem => format!(
                r#"{{"TableName":"{TABLE}","Key":{{"pk":{{"S":"k{}"}},"sk":{{"N":"0"}}}}}}"#,
                random % GET_KEYS
            ),
            Op::Query => format!(
                r#"{{"TableName":"{TABLE}","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{{":p":{{"S":"q{}"}}}},"Limit":{PAGE_ITEMS}}}"#,
                random % QUERY_PARTITIONS
            ),
            Op::Scan => format!(
                r#"{{"TableName":"{TABLE}","Limit":{PAGE_ITEMS},"FilterExpression":"grp = :g","ExpressionAttributeValues":{{":g":{{"N":"{}"}}}}}}"#,
                random % 10
            ),
            Op::Overwrite => overwrite_body(random % OVERWRITE_KEYS),
        }
    }
}

/// The PutItem body of the soak's item number `key`: 1 KB in all.
pub fn overwrite_body(key: u64) -> String {
    let value = "o".repeat(OVERWRITE_VALUE_BYTES);
    format!(
        r#"{{"TableName":"{TABLE}","Item":{{"pk":{{"S":"s{key}"}},"sk":{{"N":"0"}},"v":{{"S":"{value}"}}}}}}"#
    )
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn target(operation: &str) -> String {
    format!("DynamoDB_20120810.{operation}")
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// xorshift64*: a few instructions per key, seeded per connection, so key
/// choice costs the generator nothing measurable and runs repeat.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// One keep-alive connection that signs what it sends. A server that
/// closes after an answer (HTTP/1.0, or `Connection: close`, as moto's
/// development server does) gets a fresh connection for the next request,
/// as an SDK's pool would open one; the reconnection is part of the latency.
#[derive(Debug)]
pub struct Connection {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    host: String,
    signer: Signer,
    reusable: bool,
}

/// Whether the server lets the connection carry another request.
fn keeps_alive<B>(response: &hyper::Response<B>) -> bool {
    let connection = response
        .headers()
        .get(hyper::header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase);
    match response.version() {
        hyper::Version::HTTP_10 => connection.as_deref() == Some("keep-alive"),
        _ => connection.as_deref() != Some("close"),
    }
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Connection> {
        let (sender, host) = Self::handshake(addr).await?;
        Ok(Connection {
            addr,
            sender,
            host,
            signer: Signer::new(ACCESS_KEY, SECRET_KEY, REGION),
            reusable: true,
        })
    }

    async fn handshake(addr: SocketAddr) -> Result<(SendRequest<Full<Bytes>>, String)> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| format!("connecting to {addr} timed out"))?
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("setting TCP_NODELAY: {e}"))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
        // The connection task ends when the sender is dropped or the peer
        // closes; its error, if any, surfaces on the next send.
        tokio::spawn(connection);
        Ok((sender, addr.to_string()))
    }

    /// Sends one signed `POST /` and reads the whole answer.
    pub async fn call(&mut self, operation: &str, body: String) -> Result<(StatusCode, Bytes)> {
        if !self.reusable || self.sender.is_closed() {
            (self.sender, self.host) = Self::handshake(self.addr).await?;
            self.reusable = true;
        }
        let target = target(operation);
        let signed = self.signer.sign(
            &self.host,
            &target,
            body.as_bytes(),
            &sigv4::amz_date(unix_seconds()),
        )?;
        let request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(HOST, &self.host)
            .header(CONTENT_TYPE, sigv4::content_type())
            .header("x-amz-date", signed.amz_date)
            .header("x-amz-target", target)
            .header(AUTHORIZATION, signed.authorization)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("building a request: {e}"))?;
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| format!("connection not ready: {e}"))?;
            let response = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| format!("{operation}: {e}"))?;
            let status = response.status();
            let reusable = keeps_alive(&response);
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{operation}: reading the answer: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, bytes, reusable))
        };
        let (status, bytes, reusable) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("{operation} took longer than {REQUEST_TIMEOUT:?}"))??;
        self.reusable = reusable;
        Ok((status, bytes))
    }

    /// `call`, requiring a 200 and returning the parsed JSON answer.
    pub async fn call_ok(&mut self, operation: &str, body: String) -> Result<serde_json::Value> {
        let (status, bytes) = self.call(operation, body).await?;
        if status != StatusCode::OK {
            return Err(format!(
                "{operation} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{operation} answered bad JSON: {e}"))
    }
}

/// Creates the benchmark table (pk S, sk N, on demand), waits until it is
/// ACTIVE, and writes the items the read operations need.
pub async fn prepare(addr: SocketAddr) -> Result<()> {
    let mut connection = Connection::open(addr).await?;
    let create = format!(
        r#"{{"TableName":"{TABLE}","KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}},{{"AttributeName":"sk","KeyType":"RANGE"}}],"AttributeDefinitions":[{{"AttributeName":"pk","AttributeType":"S"}},{{"AttributeName":"sk","AttributeType":"N"}}],"BillingMode":"PAY_PER_REQUEST"}}"#
    );
    connection.call_ok("CreateTable", create).await?;
    let deadline = Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let described = connection
            .call_ok("DescribeTable", format!(r#"{{"TableName":"{TABLE}"}}"#))
            .await?;
        if described["Table"]["TableStatus"] == "ACTIVE" {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("table not ACTIVE after {TABLE_ACTIVE_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let item = |pk: String, sk: u64, group: u64| {
        format!(
            r#"{{"PutRequest":{{"Item":{{"pk":{{"S":"{pk}"}},"sk":{{"N":"{sk}"}},"grp":{{"N":"{group}"}},"v":{{"S":"{VALUE}"}}}}}}}}"#
        )
    };
    let mut items: Vec<String> = (0..GET_KEYS)
        .map(|i| item(format!("k{i}"), 0, i % 10))
        .collect();
    for partition in 0..QUERY_PARTITIONS {
        items.extend((0..PAGE_ITEMS).map(|sk| item(format!("q{partition}"), sk, sk % 10)));
    }
    for batch in items.chunks(25) {
        let body = format!(r#"{{"RequestItems":{{"{TABLE}":[{}]}}}}"#, batch.join(","));
        let mut written = false;
        for _ in 0..PRELOAD_RETRIES_MAX {
            let answer = connection.call_ok("BatchWriteItem", body.clone()).await?;
            if answer["UnprocessedItems"]
                .as_object()
                .is_none_or(|left| left.is_empty())
            {
                written = true;
                break;
            }
        }
        if !written {
            return Err("BatchWriteItem kept leaving items unprocessed".to_string());
        }
    }
    Ok(())
}

/// When a cell starts counting and when it stops.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub warmup: Duration,
    pub measure: Duration,
}

/// What one cell (server × operation × concurrency) measured.
#[derive(Debug, Default)]
pub struct CellResult {
    pub ops: u64,
    pub errors: u64,
    pub seconds: f64,
    pub histogram: Histogram,
    pub first_error: Option<String>,
}

impl CellResult {
    pub fn ops_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ops as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Runs `op` on `concurrency` connections: everyone starts together, answers
/// that begin after the warm-up and end before the deadline are counted.
pub async fn measure(
    addr: SocketAddr,
    op: Op,
    concurrency: usize,
    timing: Timing,
) -> Result<CellResult> {
    let started = Instant::now();
    let counted_from = started + timing.warmup;
    let deadline = counted_from + timing.measure;
    let mut lanes = JoinSet::new();
    for lane in 0..concurrency {
        lanes.spawn(run_lane(addr, op, lane, counted_from, deadline));
    }
    let mut total = CellResult {
        seconds: timing.measure.as_secs_f64(),
        ..CellResult::default()
    };
    while let Some(joined) = lanes.join_next().await {
        let lane = joined.map_err(|e| format!("a load connection failed: {e}"))?;
        total.ops += lane.ops;
        total.errors += lane.errors;
        total.histogram.merge(&lane.histogram);
        if total.first_error.is_none() {
            total.first_error = lane.first_error;
        }
    }
    Ok(total)
}

/// Notes a failed request: counted only inside the window, remembered anyway.
fn fail(result: &mut CellResult, counted: bool, error: String) {
    if counted {
        result.errors += 1;
    }
    result.first_error.get_or_insert(error);
}

async fn run_lane(
    addr: SocketAddr,
    op: Op,
    lane: usize,
    counted_from: Instant,
    deadline: Instant,
) -> CellResult {
    let mut result = CellResult::default();
    let mut rng =
        Rng(0x9e37_79b9_7f4a_7c15 ^ (lane as u64 + 1).wrapping_mul(0xff51_afd7_ed55_8ccd));
    let mut connection: Option<Connection> = None;
    let mut seq = 0;
    while Instant::now() < deadline {
        let mut open = match connection.take() {
            Some(open) => open,
            None => match Connection::open(addr).await {
                Ok(open) => open,
                Err(e) => {
                    fail(&mut result, Instant::now() >= counted_from, e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        seq += 1;
        let body = op.body(lane, seq, rng.next());
        let sent = Instant::now();
        let answer = open.call(op.name(), body).await;
        let done = Instant::now();
        let counted = sent >= counted_from && done <= deadline;
        match answer {
            Ok((StatusCode::OK, _)) => {
                if counted {
                    result.ops += 1;
                    let micros =
                        u64::try_from(done.duration_since(sent).as_micros()).unwrap_or(u64::MAX);
                    result.histogram.record(micros);
                }
                connection = Some(open);
            }
            Ok((status, bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                fail(
                    &mut result,
                    counted,
                    format!("{op} answered {status}: {text}"),
                );
                connection = Some(open);
            }
            // The connection may be broken: open a new one next time.
            Err(e) => fail(&mut result, counted, e),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json() {
        for op in [Op::PutItem, Op::GetItem, Op::Query, Op::Scan] {
            let body = op.body(3, 7, 12_345);
            let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(parsed["TableName"], TABLE, "{op}");
        }
        let put: serde_json::Value = serde_json::from_str(&Op::PutItem.body(3, 7, 0)).unwrap();
        assert_eq!(put["Item"]["pk"]["S"], "w3-7");
        assert_eq!(put["Item"]["v"]["S"].as_str().unwrap().len(), 100);
    }

    #[test]
    fn lanes_draw_different_keys() {
        let mut a = Rng(1);
        let mut b = Rng(2);
        assert_ne!(a.next(), b.next());
    }
}
