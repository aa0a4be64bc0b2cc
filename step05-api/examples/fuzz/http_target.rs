//! The `http` target: generated requests sent over loopback to an
//! in-process server, through the whole request path (framing, JSON,
//! target, SigV4 parsing, decoding, handlers, storage).
//!
//! Raw HTTP over one kept-alive `TcpStream` rather than an SDK: an SDK
//! refuses to send most of what is worth sending (wrong member types,
//! broken JSON, odd headers), and a hand-written client shows exactly
//! which bytes the server got.
//!
//! Every answer must be well-formed: a 200 with a JSON object (or no body),
//! or a 400/413 with a JSON object whose `__type` names the error and whose
//! message, if any, is a string; `x-amzn-RequestId` present, `x-amz-crc32`
//! equal to the CRC-32 of the body; never a 5xx, which would blame the
//! server for the client's input; and within [`REQUEST_TIMEOUT`].

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use serde_json::Value as Json;
use step05_api::auth::sigv4::date::AmzDate;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::requests;
use crate::rng::Rng;

/// Cases go to one of two servers: one as configured by default, one
/// holding provisioned tables to their throughput (the throttle's paths).
pub const SERVERS: usize = 2;
/// The index of the throttling server.
pub const THROTTLED: usize = 1;

/// The longest any one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Response heads longer than this are a finding, not a buffer to grow.
const RESPONSE_HEAD_BYTES_MAX: usize = 64 * 1024;
/// Bodies are shown up to this many bytes in a finding.
const SHOWN_BODY_BYTES_MAX: usize = 4096;

/// One generated request.
#[derive(Debug)]
pub struct HttpCase {
    /// Which of the [`SERVERS`] servers gets it.
    pub server: usize,
    pub operation: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The request is not an API call (bad content type), so the server's
    /// 404 is the right answer.
    pub not_an_api_call: bool,
}

impl HttpCase {
    /// Whether the request declares a content encoding.
    fn compressed(&self) -> bool {
        self.headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("content-encoding"))
    }

    pub fn describe(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        format!(
            "server: {}\noperation: {}\nheaders:\n  {}\nbody ({} bytes): {}",
            if self.server == THROTTLED {
                "throttled"
            } else {
                "default"
            },
            self.operation,
            headers.join("\n  "),
            self.body.len(),
            shown(&self.body)
        )
    }
}

/// A body as text for a human, cut short if long.
fn shown(body: &[u8]) -> String {
    let cut = &body[..body.len().min(SHOWN_BODY_BYTES_MAX)];
    let mut text = format!("{:?}", String::from_utf8_lossy(cut));
    if body.len() > cut.len() {
        text.push_str(&format!(" … ({} more bytes)", body.len() - cut.len()));
    }
    text
}

/// The headers an SDK sends, signed by an unknown key: a local-mode
/// server accepts any well-formed signature from one.
pub fn api_headers(operation: &str, content_type: &str) -> Vec<(String, String)> {
    let now = AmzDate::from_system_time(SystemTime::now());
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/{}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature={}",
        now.date_stamp(),
        "0".repeat(64)
    );
    vec![
        ("Content-Type".into(), content_type.into()),
        (
            "X-Amz-Target".into(),
            format!("DynamoDB_20120810.{operation}"),
        ),
        ("X-Amz-Date".into(), now.to_basic()),
        ("Authorization".into(), authorization),
    ]
}

/// Odd `Authorization` values: each breaks one rule of the header's shape.
fn odd_authorization(rng: &mut Rng, date_stamp: &str) -> String {
    let signature = "0".repeat(64);
    match rng.below(12) {
        0 => String::new(),
        1 => "AWS4-HMAC-SHA256".into(),
        2 => format!(
            "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/{date_stamp}/us-east-1/dynamodb/aws4_request"
        ),
        3 => format!(
            "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/{date_stamp}/us-east-1/dynamodb/aws4_request, SignedHeaders=x-amz-date, Signature={signature}"
        ),
        4 => format!(
            "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/{date_stamp}/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
        ),
        5 => format!(
            "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/19700101/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}"
        ),
        6 => "AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=".into(),
        7 => format!(
            "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/{date_stamp}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz"
        ),
        8 => format!(
            "AWS4-HMAC-SHA256 Credential=AKIDFUZZ/{date_stamp}/us-east-1/dynamodb/aws4_request,,, SignedHeaders=host;;x-amz-date;, Signature={signature}, Signature={signature}"
        ),
        9 => format!(
            "aws4-hmac-sha256 credential=AKIDFUZZ/{date_stamp}/us-east-1/dynamodb/aws4_request, signedheaders=host;x-amz-date, signature={signature}"
        ),
        10 => format!(
            "AWS4-HMAC-SHA256 Credential={}/{date_stamp}/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature={signature}",
            "K".repeat(rng.below(3000))
        ),
        _ => "Bearer x".into(),
    }
}

/// Header-level damage, now and then: a missing or odd target, signature,
/// date, content type or encoding.
fn mutate_headers(rng: &mut Rng, headers: &mut Vec<(String, String)>, not_api: &mut bool) {
    let now = AmzDate::from_system_time(SystemTime::now());
    let set = |headers: &mut Vec<(String, String)>, name: &str, value: String| {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.to_string(), value));
    };
    match rng.below(8) {
        0 => {
            let target = *rng.pick(&[
                "",
                "DynamoDB_20120810.",
                ".PutItem",
                "DynamoDB_20120810",
                "Foo.Bar",
                "DynamoDB_20120810.putitem",
                "DynamoDBStreams_20120810.ListStreams",
                "DynamoDB_20120810.PutItem.Extra",
            ]);
            set(headers, "X-Amz-Target", target.to_string());
        }
        1 => headers.retain(|(n, _)| !n.eq_ignore_ascii_case("X-Amz-Target")),
        2 | 3 => {
            let value = odd_authorization(rng, &now.date_stamp());
            set(headers, "Authorization", value);
        }
        4 => {
            let date = match rng.below(4) {
                0 => "20200101T000000Z".to_string(),
                1 => "garbage".to_string(),
                2 => now.plus_seconds(3600).to_basic(),
                _ => "99999999T999999Z".to_string(),
            };
            set(headers, "X-Amz-Date", date);
        }
        5 => {
            let content_type = *rng.pick(&[
                "text/plain",
                "",
                "application/x-amz-json-1.1",
                "APPLICATION/JSON; charset=utf-8",
            ]);
            *not_api = !content_type.eq_ignore_ascii_case("APPLICATION/JSON; charset=utf-8");
            set(headers, "Content-Type", content_type.to_string());
        }
        6 => set(
            headers,
            "Content-Encoding",
            (*rng.pick(&["gzip", "deflate", "br", "gzip, gzip", "identity"])).to_string(),
        ),
        _ => headers.retain(|(n, _)| !n.eq_ignore_ascii_case("Authorization")),
    }
}

/// Gzips `body` (flate2 on a `Vec` cannot fail; an error leaves it plain).
fn gzipped(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

pub fn generate(seed: u64, operations: &[String]) -> HttpCase {
    let mut rng = Rng::new(seed);
    let server = rng.below(SERVERS);
    let operation = rng.pick(operations).clone();
    let mut body = requests::body(&mut rng, &operation);
    let content_type = if rng.chance(1, 6) {
        "application/json"
    } else {
        "application/x-amz-json-1.0"
    };
    let mut headers = api_headers(&operation, content_type);
    let mut not_an_api_call = false;
    if rng.chance(1, 12) {
        mutate_headers(&mut rng, &mut headers, &mut not_an_api_call);
    }
    if rng.chance(1, 25)
        && let Some(compressed) = gzipped(&body)
    {
        body = compressed;
        headers.push(("Content-Encoding".into(), "gzip".into()));
    }
    HttpCase {
        server,
        operation,
        headers,
        body,
        not_an_api_call,
    }
}

/// A response as read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 client over one kept-alive connection, reconnecting when
/// the server closes it.
#[derive(Debug)]
pub struct Client {
    addr: SocketAddr,
    stream: Option<TcpStream>,
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client { addr, stream: None }
    }

    /// Sends one request and reads its response, within [`REQUEST_TIMEOUT`].
    pub async fn send(
        &mut self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<RawResponse, String> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(headers, body)).await {
            Ok(result) => result,
            Err(_) => {
                self.stream = None;
                Err(format!(
                    "no response within {} s",
                    REQUEST_TIMEOUT.as_secs()
                ))
            }
        }
    }

    async fn exchange(
        &mut self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<RawResponse, String> {
        let mut head = format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        // A kept-alive connection the server has since closed fails on
        // first use: one retry on a fresh connection tells that apart.
        let reused = self.stream.is_some();
        match self.once(head.as_bytes(), body).await {
            Ok(response) => Ok(response),
            Err(_) if reused => {
                self.stream = None;
                self.once(head.as_bytes(), body).await
            }
            Err(error) => Err(error),
        }
    }

    async fn once(&mut self, head: &[u8], body: &[u8]) -> Result<RawResponse, String> {
        let mut stream = match self.stream.take() {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(self.addr)
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?;
                // Requests go out whole; Nagle's algorithm would only add
                // a delayed-ACK wait to each.
                stream
                    .set_nodelay(true)
                    .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
                stream
            }
        };
        let mut request = Vec::with_capacity(head.len() + body.len());
        request.extend_from_slice(head);
        request.extend_from_slice(body);
        // The server may answer (and close) before reading a refused
        // body, so a failed write is not yet a failure: the read decides.
        let _ = stream.write_all(&request).await;
        let (response, keep) = read_response(&mut stream).await?;
        if keep {
            self.stream = Some(stream);
        }
        Ok(response)
    }
}

/// Reads one response; also says whether the connection may be reused.
async fn read_response(stream: &mut TcpStream) -> Result<(RawResponse, bool), String> {
    let mut buffer = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let io = |e: std::io::Error| format!("reading the response: {e}");
    // Bounded: each turn reads at least a byte, up to the head limit.
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > RESPONSE_HEAD_BYTES_MAX {
            return Err("a response head over 64 KiB".into());
        }
        let read = stream.read(&mut chunk).await.map_err(io)?;
        if read == 0 {
            return Err("the connection closed before a response".into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("a malformed status line in {head:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = buffer[head_end + 4..].to_vec();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let closes = find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    match find("content-length") {
        Some(length) => {
            let length: usize = length
                .parse()
                .map_err(|_| format!("a bad Content-Length {length:?}"))?;
            // Bounded: each turn reads at least a byte, up to `length`.
            while body.len() < length {
                let read = stream.read(&mut chunk).await.map_err(io)?;
                if read == 0 {
                    return Err("the connection closed inside a body".into());
                }
                body.extend_from_slice(&chunk[..read]);
            }
            body.truncate(length);
            Ok((
                RawResponse {
                    status,
                    headers,
                    body,
                },
                !closes,
            ))
        }
        None if find("transfer-encoding").is_some() => {
            Err("a chunked response (every response is built whole)".into())
        }
        None => {
            stream.read_to_end(&mut body).await.map_err(io)?;
            Ok((
                RawResponse {
                    status,
                    headers,
                    body,
                },
                false,
            ))
        }
    }
}

/// What a response was, for the run's summary: `200`, or the error code.
pub fn outcome(response: &RawResponse) -> String {
    if response.status == 200 {
        return "200".into();
    }
    let code = serde_json::from_slice::<Json>(&response.body)
        .ok()
        .and_then(|json| json.get("__type")?.as_str().map(str::to_string))
        .map(|t| t.rsplit('#').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    format!("{} {code}", response.status)
}

/// Checks one response against the rules in the module's documentation;
/// `Err` describes what is wrong.
pub fn check(case: &HttpCase, response: &RawResponse) -> Result<(), String> {
    if response.header("x-amzn-requestid").is_none() {
        return Err("no x-amzn-RequestId header".into());
    }
    if let Some(crc) = response.header("x-amz-crc32") {
        let expected = crc32fast::hash(&response.body).to_string();
        if crc != expected {
            return Err(format!("x-amz-crc32 is {crc}, the body's is {expected}"));
        }
    } else if response.status != 404 {
        return Err("no x-amz-crc32 header".into());
    }
    match response.status {
        200 => {
            if response.body.is_empty() {
                return Ok(());
            }
            match serde_json::from_slice::<Json>(&response.body) {
                Ok(Json::Object(_)) => Ok(()),
                _ => Err(format!(
                    "a 200 whose body is not a JSON object: {}",
                    shown(&response.body)
                )),
            }
        }
        404 if case.not_an_api_call => Ok(()),
        // A body that does not decompress, or whose coding is unknown, is
        // a 500 on purpose: DynamoDB answers it so (see `compression`).
        500 if case.compressed() && is_corrupt_body(&response.body) => Ok(()),
        400 | 413 => check_error_body(&response.body),
        status => Err(format!(
            "status {status} for client input: {}",
            shown(&response.body)
        )),
    }
}

/// Whether an error body is the one for a body that does not decompress.
fn is_corrupt_body(body: &[u8]) -> bool {
    serde_json::from_slice::<Json>(body)
        .ok()
        .and_then(|json| json.get("message")?.as_str().map(str::to_string))
        .is_some_and(|message| message.starts_with("The request body could not be decompressed"))
}

fn check_error_body(body: &[u8]) -> Result<(), String> {
    let Ok(Json::Object(members)) = serde_json::from_slice::<Json>(body) else {
        return Err(format!(
            "an error whose body is not a JSON object: {}",
            shown(body)
        ));
    };
    let Some(Json::String(error_type)) = members.get("__type") else {
        return Err(format!("an error without a __type: {}", shown(body)));
    };
    let Some((_, code)) = error_type.rsplit_once('#') else {
        return Err(format!("a __type without a namespace: {error_type}"));
    };
    let message = members.get("message").or_else(|| members.get("Message"));
    match message {
        Some(Json::String(_)) => Ok(()),
        Some(other) => Err(format!("a message that is not a string: {other}")),
        // These two are sent bare, as DynamoDB sends them.
        None if code == "UnknownOperationException" || code == "SerializationException" => Ok(()),
        None => Err(format!("a {code} without a message")),
    }
}

/// Creates the fixture tables; fails if the server refuses a valid request.
pub async fn create_fixtures(client: &mut Client) -> Result<(), String> {
    for (operation, body) in requests::fixture_requests() {
        let headers = api_headers(operation, "application/x-amz-json-1.0");
        let response = client.send(&headers, body.to_string().as_bytes()).await?;
        if response.status != 200 {
            return Err(format!(
                "the fixture request {body} got {}: {}",
                response.status,
                shown(&response.body)
            ));
        }
    }
    Ok(())
}
