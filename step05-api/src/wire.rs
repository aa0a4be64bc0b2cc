//! DynamoDB's wire protocol, AWS JSON 1.0: how a request is framed and how
//! a response is written.
//!
//! Every request is `POST /` with a JSON body; the operation is named by a
//! header, not by the path:
//!
//! ```text
//! POST / HTTP/1.1
//! Content-Type: application/x-amz-json-1.0
//! X-Amz-Target: DynamoDB_20120810.GetItem
//! Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…
//!
//! {"TableName":"Music","Key":{"Artist":{"S":"Acme"}}}
//! ```
//!
//! Every response carries `x-amzn-RequestId` (which SDKs surface) and
//! `x-amz-crc32`, the CRC-32 of the body bytes exactly as sent: several
//! SDKs check it and retry on a mismatch, so a wrong one is worse than none.
//!
//! Limits keep hostile input cheap: a body over [`REQUEST_BODY_BYTES_MAX`]
//! is refused before it is read whole, and JSON nested deeper than
//! [`JSON_NESTING_DEPTH_MAX`] is refused by a linear scan before it is
//! parsed, so no input can exhaust the stack.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, HeaderName};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value as Json;

use crate::error::{ApiError, ErrorKind};

/// DynamoDB refuses request bodies over 16 MB.
pub const REQUEST_BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// JSON deeper than this is refused before parsing. DynamoDB's own limit
/// is on attribute values (32 levels of `M`/`L`, each two JSON levels), so
/// 128 leaves room to report *that* error for anything a client could
/// mean, and stays within `serde_json`'s recursion guard.
pub const JSON_NESTING_DEPTH_MAX: usize = 128;
/// The target prefix of the DynamoDB API.
pub const TARGET_PREFIX_DYNAMODB: &str = "DynamoDB_20120810";
/// The target prefix of the DynamoDB Streams API (step 6).
pub const TARGET_PREFIX_STREAMS: &str = "DynamoDBStreams_20120810";
/// What SDKs send and what DynamoDB answers.
pub const CONTENT_TYPE_AMZ_JSON: &str = "application/x-amz-json-1.0";
/// Also accepted (and echoed back), as emulators do.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// Length of a request id: 52 upper-case letters and digits, like AWS's.
pub const REQUEST_ID_CHARS: usize = 52;

pub const HEADER_TARGET: &str = "x-amz-target";
pub const HEADER_REQUEST_ID: &str = "x-amzn-requestid";
pub const HEADER_CRC32: &str = "x-amz-crc32";

/// Tags an error response with its code (the part of `__type` after the
/// `#`), for the metrics, without parsing the body back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCode(pub &'static str);

/// The two content types a request may have; the response echoes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    AmzJson,
    Json,
}

impl ContentType {
    /// Reads the header, ignoring case and parameters (`; charset=utf-8`).
    pub fn from_header(value: Option<&str>) -> Option<ContentType> {
        let essence = value?.split(';').next()?.trim();
        if essence.eq_ignore_ascii_case(CONTENT_TYPE_AMZ_JSON) {
            Some(ContentType::AmzJson)
        } else if essence.eq_ignore_ascii_case(CONTENT_TYPE_JSON) {
            Some(ContentType::Json)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::AmzJson => CONTENT_TYPE_AMZ_JSON,
            ContentType::Json => CONTENT_TYPE_JSON,
        }
    }
}

/// The operation named by `X-Amz-Target`, or `UnknownOperationException`
/// (no message, as DynamoDB sends it) when the header is missing or not
/// `<prefix>.<Operation>`. Whether the operation exists is the registry's
/// question.
pub fn target(headers: &HeaderMap) -> Result<&str, ApiError> {
    let unknown = || ApiError::bare(ErrorKind::UnknownOperation);
    let value = headers
        .get(HEADER_TARGET)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(unknown)?;
    match value.split_once('.') {
        Some((prefix, operation)) if !prefix.is_empty() && !operation.is_empty() => Ok(value),
        _ => Err(unknown()),
    }
}

// ANCHOR: parse_body
/// The request body as JSON: an object, at most [`JSON_NESTING_DEPTH_MAX`]
/// deep. An empty body is `{}`.
pub fn parse_body(body: &[u8]) -> Result<Json, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Json::Object(serde_json::Map::new()));
    }
    if nesting_exceeds(body, JSON_NESTING_DEPTH_MAX) {
        return Err(ApiError::validation(
            "Nesting Levels have exceeded supported limits",
        ));
    }
    // DynamoDB sends no message for a body that is not JSON at all.
    let json: Json =
        serde_json::from_slice(body).map_err(|_| ApiError::bare(ErrorKind::Serialization))?;
    match json {
        Json::Object(_) => Ok(json),
        other => Err(crate::decode::type_error(
            &other,
            crate::decode::ModelType::Structure,
        )),
    }
}
// ANCHOR_END: parse_body

/// Whether `[`/`{` nest deeper than `max` outside JSON strings: one pass,
/// constant memory, whatever the bytes.
pub fn nesting_exceeds(bytes: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in bytes {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

// ANCHOR: crc32
/// The `x-amz-crc32` value: CRC-32 (IEEE, as zlib computes it) of the
/// body bytes as sent, in decimal.
pub fn crc32_header(body: &[u8]) -> String {
    // EXERCISE(05.1): return the CRC-32 (IEEE) of the body as an unsigned decimal string
    crc32fast::hash(body).to_string()
    // END EXERCISE
}
// ANCHOR_END: crc32

/// Makes request ids: 52 characters from `A-Z0-9`, unique per process.
/// A counter mixed by a bijective hash, seeded from the start time, so ids
/// look random without a random number generator.
#[derive(Debug)]
pub struct RequestIds {
    seed: u64,
    counter: AtomicU64,
}

impl Default for RequestIds {
    fn default() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        RequestIds {
            seed: nanos ^ u64::from(std::process::id()).rotate_left(32),
            counter: AtomicU64::new(0),
        }
    }
}

impl RequestIds {
    pub fn next_id(&self) -> String {
        const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut state = self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut id = String::with_capacity(REQUEST_ID_CHARS);
        let mut word = 0u64;
        for index in 0..REQUEST_ID_CHARS {
            // 12 characters per 64-bit word (36^12 < 2^64).
            if index % 12 == 0 {
                word = splitmix64(&mut state);
            }
            id.push(char::from(ALPHABET[(word % 36) as usize]));
            word /= 36;
        }
        id
    }
}

/// SplitMix64: a fast bijective mixer, good enough for opaque ids.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A response with the headers every DynamoDB response has.
pub fn response(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    request_id: &str,
    extra: &[(&'static str, String)],
) -> Response {
    let crc = crc32_header(&body);
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    insert(headers, CONTENT_TYPE, content_type);
    insert(
        headers,
        HeaderName::from_static(HEADER_REQUEST_ID),
        request_id,
    );
    insert(headers, HeaderName::from_static(HEADER_CRC32), &crc);
    for (name, value) in extra {
        if let Ok(name) = HeaderName::try_from(*name) {
            insert(headers, name, value);
        }
    }
    response
}

/// The response to a successful operation: its JSON, or an empty body.
pub fn success(body: Option<&Json>, content_type: ContentType, request_id: &str) -> Response {
    let bytes = match body {
        Some(json) => json.to_string().into_bytes(),
        None => Vec::new(),
    };
    response(200, content_type.as_str(), bytes, request_id, &[])
}

/// The response to a failed request.
pub fn failure(error: &ApiError, content_type: ContentType, request_id: &str) -> Response {
    let bytes = error.body().to_string().into_bytes();
    let mut response = response(
        error.kind.status(),
        content_type.as_str(),
        bytes,
        request_id,
        &[],
    );
    response
        .extensions_mut()
        .insert(ErrorCode(error.kind.code()));
    response
}

/// Header values we build are ASCII; one that is not is left out rather
/// than failing the response.
fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ex05_1_crc32_of_the_body() {
        // zlib.crc32(b"{}") == 2745614147, as botocore computes it.
        assert_eq!(crc32_header(b"{}"), "2745614147");
        assert_eq!(crc32_header(b""), "0");
        assert_eq!(
            crc32_header(b"The quick brown fox jumps over the lazy dog"),
            "1095738169"
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            ContentType::from_header(Some("application/x-amz-json-1.0")),
            Some(ContentType::AmzJson)
        );
        assert_eq!(
            ContentType::from_header(Some("Application/JSON; charset=utf-8")),
            Some(ContentType::Json)
        );
        assert_eq!(ContentType::from_header(Some("text/plain")), None);
        assert_eq!(ContentType::from_header(None), None);
    }

    #[test]
    fn targets() {
        let mut headers = HeaderMap::new();
        assert!(target(&headers).is_err());
        for bad in ["PutItem", ".PutItem", "DynamoDB_20120810.", ""] {
            headers.insert(HEADER_TARGET, HeaderValue::from_static(bad));
            assert_eq!(
                target(&headers).unwrap_err().kind,
                ErrorKind::UnknownOperation
            );
        }
        headers.insert(
            HEADER_TARGET,
            HeaderValue::from_static("DynamoDB_20120810.PutItem"),
        );
        assert_eq!(target(&headers).unwrap(), "DynamoDB_20120810.PutItem");
    }

    #[test]
    fn bodies() {
        assert_eq!(parse_body(b"").unwrap(), serde_json::json!({}));
        assert_eq!(parse_body(b" {\"a\":1} ").unwrap()["a"], 1);
        let error = parse_body(b"{not json").unwrap_err();
        assert_eq!(error.kind, ErrorKind::Serialization);
        assert_eq!(error.message, None);
        assert_eq!(
            parse_body(b"[1]").unwrap_err().kind,
            ErrorKind::Serialization
        );
        let deep = format!(
            "{}{}",
            "[".repeat(JSON_NESTING_DEPTH_MAX + 1),
            "]".repeat(JSON_NESTING_DEPTH_MAX + 1)
        );
        assert_eq!(
            parse_body(deep.as_bytes()).unwrap_err().kind,
            ErrorKind::Validation
        );
        // A million brackets: refused by the scan, no stack used.
        let hostile = "[".repeat(1_000_000);
        assert!(parse_body(hostile.as_bytes()).is_err());
        // Brackets inside strings do not count.
        let quoted = format!("{{\"a\":\"{}\"}}", "[".repeat(1000));
        assert!(parse_body(quoted.as_bytes()).is_ok());
    }

    #[test]
    fn request_ids_are_long_distinct_and_upper_case() {
        let ids = RequestIds::default();
        let a = ids.next_id();
        let b = ids.next_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), REQUEST_ID_CHARS);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
    }
}
