//! The HTTP ceiling: the fastest a DynamoDB server could answer on this
//! machine with this HTTP stack. An axum server (the stack minidynamo uses)
//! that reads each request whole and answers a fixed, DynamoDB-shaped body
//! per operation, with no parsing, signature check or storage. Every other
//! server's throughput is reported as a fraction of it.
//!
//! It runs on a runtime and threads of its own, so it competes with the load
//! generator for the cores the way a separate server process does.

use std::net::SocketAddr;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use tokio::sync::oneshot;

use super::load::{PAGE_ITEMS, TABLE};
use crate::cmd::Result;

const WORKER_THREADS: usize = 2;

/// A running ceiling server; dropping it stops it.
#[derive(Debug)]
pub struct Ceiling {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Ceiling {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn item(pk: &str, sk: u64) -> String {
    format!(
        r#"{{"pk":{{"S":"{pk}"}},"sk":{{"N":"{sk}"}},"grp":{{"N":"{}"}},"v":{{"S":"{}"}}}}"#,
        sk % 10,
        "v".repeat(100)
    )
}

/// The fixed answer for each operation, shaped like DynamoDB's.
fn answer_for(target: &str) -> String {
    let operation = target.rsplit('.').next().unwrap_or(target);
    match operation {
        "GetItem" => format!(r#"{{"Item":{}}}"#, item("k1", 0)),
        "Query" => {
            let items: Vec<String> = (0..PAGE_ITEMS).map(|sk| item("q0", sk)).collect();
            format!(
                r#"{{"Count":{PAGE_ITEMS},"ScannedCount":{PAGE_ITEMS},"Items":[{}]}}"#,
                items.join(",")
            )
        }
        "Scan" => {
            let items: Vec<String> = (0..PAGE_ITEMS / 10).map(|i| item("k1", i * 10)).collect();
            format!(
                r#"{{"Count":{},"ScannedCount":{PAGE_ITEMS},"Items":[{}],"LastEvaluatedKey":{{"pk":{{"S":"k9"}},"sk":{{"N":"0"}}}}}}"#,
                PAGE_ITEMS / 10,
                items.join(",")
            )
        }
        "CreateTable" | "DescribeTable" => {
            let member = if operation == "CreateTable" {
                "TableDescription"
            } else {
                "Table"
            };
            format!(
                r#"{{"{member}":{{"TableName":"{TABLE}","TableStatus":"ACTIVE","KeySchema":[{{"AttributeName":"pk","KeyType":"HASH"}},{{"AttributeName":"sk","KeyType":"RANGE"}}]}}}}"#
            )
        }
        "BatchWriteItem" => r#"{"UnprocessedItems":{}}"#.to_string(),
        _ => "{}".to_string(),
    }
}

/// Every answer, built once: the ceiling must not spend time formatting.
#[derive(Debug)]
struct Answers {
    by_target: Vec<(String, Bytes)>,
    other: Bytes,
}

impl Answers {
    fn new() -> Answers {
        let operations = [
            "GetItem",
            "PutItem",
            "Query",
            "Scan",
            "CreateTable",
            "DescribeTable",
            "BatchWriteItem",
        ];
        Answers {
            by_target: operations
                .iter()
                .map(|op| {
                    let target = format!("DynamoDB_20120810.{op}");
                    let answer = Bytes::from(answer_for(&target));
                    (target, answer)
                })
                .collect(),
            other: Bytes::from_static(b"{}"),
        }
    }

    fn get(&self, target: &str) -> Bytes {
        self.by_target
            .iter()
            .find(|(known, _)| known == target)
            .map_or_else(|| self.other.clone(), |(_, answer)| answer.clone())
    }
}

async fn handle(State(answers): State<Arc<Answers>>, headers: HeaderMap, body: Bytes) -> Response {
    // Taking the body as an argument makes axum read all of it, as a real
    // server must before it can check the signature.
    drop(body);
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-amz-json-1.0"),
            ),
            (
                header::HeaderName::from_static("x-amzn-requestid"),
                HeaderValue::from_static("CEILING0000000000000000000000000000000000000000000000"),
            ),
        ],
        answers.get(target),
    )
        .into_response()
}

async fn health() -> &'static str {
    "healthy: ceiling"
}

/// Starts the ceiling on 127.0.0.1 and a free port.
pub fn start() -> Result<Ceiling> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("ceiling")
        .enable_all()
        .build()
        .map_err(|e| format!("starting the ceiling's runtime: {e}"))?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| format!("binding the ceiling: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("the ceiling's address: {e}"))?;
    let (stop, stopped) = oneshot::channel::<()>();
    let (failed_tx, failed_rx) = mpsc::channel::<String>();
    let thread = std::thread::Builder::new()
        .name("ceiling".to_string())
        .spawn(move || {
            let app = Router::new()
                .route("/", post(handle).get(health))
                .with_state(Arc::new(Answers::new()));
            runtime.block_on(async move {
                tokio::select! {
                    served = axum::serve(listener, app) => {
                        if let Err(e) = served {
                            let _ = failed_tx.send(format!("the ceiling stopped: {e}"));
                        }
                    }
                    _ = stopped => {}
                }
            });
        })
        .map_err(|e| format!("starting the ceiling's thread: {e}"))?;
    if let Ok(message) = failed_rx.try_recv() {
        return Err(message);
    }
    Ok(Ceiling {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_json_of_the_right_shape() {
        let parse =
            |target| -> serde_json::Value { serde_json::from_str(&answer_for(target)).unwrap() };
        assert_eq!(parse("DynamoDB_20120810.PutItem"), serde_json::json!({}));
        assert_eq!(parse("DynamoDB_20120810.GetItem")["Item"]["pk"]["S"], "k1");
        let query = parse("DynamoDB_20120810.Query");
        assert_eq!(query["Items"].as_array().unwrap().len(), 100);
        assert_eq!(
            parse("DynamoDB_20120810.DescribeTable")["Table"]["TableStatus"],
            "ACTIVE"
        );
    }
}
