//! The HTTP server: one route, and the path every request takes through it.
//!
//! ```text
//! bytes ─▶ size ─▶ health/metrics/CORS ─▶ method, type ─▶ JSON ─▶ target ─▶ authenticate
//!       ─▶ authorize ─▶ handler (blocking thread): validate ─▶ route ─▶ meter ─▶ apply
//!       ─▶ response (+ x-amzn-RequestId, x-amz-crc32; gzipped if asked)
//! ```
//!
//! The order is DynamoDB's observable precedence (reference §1.5): a
//! request that is wrong in two ways gets the error of the earlier check.
//! A compressed body (`Content-Encoding`) is the one exception: its
//! signature is checked before it is decompressed, so an unsigned request
//! never costs a decompression, and its JSON errors come after its
//! signature errors (see [`crate::compression`]).
//!
//! Each request runs in a `tracing` span named `request` carrying its
//! request id, on the worker and on the blocking thread alike, so every
//! log line of a request can be found by the id the client saw.
//!
//! # `/metrics`
//!
//! `GET /metrics` ([`crate::metrics`]) needs no signature: Prometheus does
//! not sign. It is answered only to clients connecting from a loopback
//! address, whatever address the server listens on, so table names and
//! sizes never leave the machine unauthenticated; anyone else gets the
//! 404 of any path that is not an API call.
//!
//! # Why handlers run on blocking threads
//!
//! A write returns only when it is durable: the storage engine fsyncs its
//! log, which parks the calling thread for a millisecond or more. On an
//! async worker that would stall every other connection of the worker, so
//! each handler runs under [`tokio::task::spawn_blocking`]. Many writers
//! parked at once is exactly what the log's group commit wants (one fsync
//! acknowledges them all), so a small fixed pool would be the wrong choice;
//! instead the number of requests in flight is capped by a semaphore
//! ([`REQUESTS_IN_FLIGHT_MAX`]), which also bounds the blocking pool.
//!
//! # Bounds
//!
//! Bodies are read only up to [`REQUEST_BODY_BYTES_MAX`], and bodies in
//! flight share a budget ([`REQUEST_BYTES_IN_FLIGHT_MAX`]); a request that
//! cannot get its share within [`ADMISSION_TIMEOUT`] is answered
//! `ServiceUnavailable` (503), which SDKs retry with backoff.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, VARY};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, SemaphorePermit, oneshot};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::access::{Caller, SignedRequest, authenticate, authorize};
use crate::backend::Backend;
use crate::catalog::OpenError;
use crate::compression::{
    self, DECODE_CHUNK_BYTES, DECODED_BODY_BYTES_MAX, RESPONSE_COMPRESSION_BYTES_MIN,
    RequestEncoding,
};
use crate::config::ServerConfig;
use crate::error::{ApiError, ErrorKind};
use crate::metrics::{CONTENT_TYPE_PROMETHEUS, Metrics, OPERATION_NONE};
use crate::registry::{Handler, Registry, Reply, RequestContext};
use crate::wire::{self, ContentType, ErrorCode, REQUEST_BODY_BYTES_MAX, RequestIds};

/// Requests running handlers at once (and so blocking threads in use).
pub const REQUESTS_IN_FLIGHT_MAX: usize = 256;
/// Request bodies held in memory at once.
pub const REQUEST_BYTES_IN_FLIGHT_MAX: usize = 128 * 1024 * 1024;
/// The body budget is counted in units of this size.
const BUDGET_UNIT_BYTES: usize = 1024;
/// How long a request waits for its share of the bounds above.
pub const ADMISSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for requests still running on blocking threads.
pub const SHUTDOWN_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often shutdown checks whether they finished.
const SHUTDOWN_POLL: Duration = Duration::from_millis(10);
/// What DynamoDB answers to a request that is not an API call.
const NOT_AN_OPERATION_BODY: &[u8] = b"<UnknownOperationException/>\n";
/// CORS preflight answers may be cached for this long (seconds).
const CORS_MAX_AGE_SECONDS: &str = "172800";
/// Response headers a browser script may read: the ones SDKs look at.
const CORS_EXPOSE_HEADERS: &str = "x-amzn-RequestId, x-amz-crc32";
/// The longest request line, and the longest header block, DynamoDB
/// accepts (reference §7): longer ones get a bare 400.
pub const REQUEST_HEAD_BYTES_MAX: usize = 16 * 1024;
/// The path of the Prometheus page.
pub const METRICS_PATH: &str = "/metrics";

/// A running server's shared state: the backend, the operations, the
/// bounds.
pub struct App {
    pub backend: Arc<Backend>,
    registry: Registry,
    ids: RequestIds,
    workers: Semaphore,
    body_budget: Semaphore,
    /// Request counters for `/metrics`.
    pub metrics: Metrics,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("backend", &self.backend)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl App {
    /// An app over `backend` answering the operations of `registry`.
    pub fn new(backend: Backend, registry: Registry) -> App {
        App {
            backend: Arc::new(backend),
            registry,
            ids: RequestIds::default(),
            workers: Semaphore::new(REQUESTS_IN_FLIGHT_MAX),
            body_budget: Semaphore::new(REQUEST_BYTES_IN_FLIGHT_MAX / BUDGET_UNIT_BYTES),
            metrics: Metrics::default(),
        }
    }

    /// The axum router: every path and method goes to [`handle`].
    pub fn router(self: Arc<App>) -> Router {
        Router::new().fallback(handle).with_state(self)
    }
}

/// Why a server could not start.
#[derive(Debug)]
pub enum StartError {
    /// The data directory or a table could not be opened.
    Open(OpenError),
    /// The address could not be bound.
    Bind(io::Error),
    /// Local authentication on an address other machines can reach.
    Auth(crate::auth::credentials::BindRefused),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Open(error) => write!(f, "cannot open the data directory: {error}"),
            StartError::Bind(error) => write!(f, "cannot listen: {error}"),
            StartError::Auth(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Starts servers.
#[derive(Debug)]
pub struct Server;

// ANCHOR: bind
impl Server {
    /// Opens the backend, binds `config.bind` and starts serving in the
    /// background with this step's operations. Returns the bound address
    /// (useful with port 0) and a handle to stop it.
    pub async fn bind(config: ServerConfig) -> Result<(SocketAddr, ServerHandle), StartError> {
        Server::bind_with(config, crate::ops::registry()).await
    }

    /// [`Server::bind`] with another set of operations (a later step's).
    pub async fn bind_with(
        config: ServerConfig,
        registry: Registry,
    ) -> Result<(SocketAddr, ServerHandle), StartError> {
        config
            .credentials
            .mode()
            .check_bind(config.bind)
            .map_err(StartError::Auth)?;
        let app = open_app(&config, registry).await?;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(StartError::Bind)?;
        let addr = listener.local_addr().map_err(StartError::Bind)?;
        let (stop, stopped) = oneshot::channel::<()>();
        // The peer address is kept for `/metrics`, which only loopback
        // clients may read.
        let service = Arc::clone(&app)
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, "listening");
        Ok((
            addr,
            ServerHandle {
                addr,
                stop,
                task,
                app,
            },
        ))
    }
}
// ANCHOR_END: bind

/// Serves `config` until `shutdown` completes, then stops gracefully: for
/// a binary's `main`.
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (_, handle) = Server::bind(config).await?;
    shutdown.await;
    handle.shutdown().await.map_err(StartError::Bind)
}

async fn open_app(config: &ServerConfig, registry: Registry) -> Result<Arc<App>, StartError> {
    let config = config.clone();
    let backend = tokio::task::spawn_blocking(move || Backend::open(&config))
        .await
        .map_err(|e| StartError::Open(Box::new(e)))?
        .map_err(StartError::Open)?;
    Ok(Arc::new(App::new(backend, registry)))
}

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
    app: Arc<App>,
}

impl ServerHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, for an SDK's endpoint URL.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets open requests finish, and closes every table
    /// (their engines flush and release their locks) before returning, so
    /// a new server may open the same data directory right after.
    pub async fn shutdown(self) -> io::Result<()> {
        let _ = self.stop.send(());
        let served = self.task.await.map_err(io::Error::other)?;
        // Requests whose client went away may still be running on blocking
        // threads, each holding the app: wait for them, boundedly.
        let app = self.app;
        let mut waited = Duration::ZERO;
        while Arc::strong_count(&app) > 1 && waited < SHUTDOWN_DRAIN_TIMEOUT {
            tokio::time::sleep(SHUTDOWN_POLL).await;
            waited += SHUTDOWN_POLL;
        }
        tokio::task::spawn_blocking(move || drop(app))
            .await
            .map_err(io::Error::other)?;
        served
    }
}

// ANCHOR: handle
/// Every request, start to finish, in a span carrying its request id.
async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = app.ids.next_id();
    let span = tracing::info_span!("request", id = %request_id);
    async move {
        let cors = request.headers().contains_key(ORIGIN);
        let gzip = compression::accepts_gzip(request.headers());
        let mut operation = None;
        let mut response = respond(&app, request, &request_id, &mut operation).await;
        if gzip {
            response = compress(response, &request_id).await;
        }
        if cors {
            let headers = response.headers_mut();
            headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
            headers.insert(
                "access-control-expose-headers",
                HeaderValue::from_static(CORS_EXPOSE_HEADERS),
            );
        }
        let operation = operation.as_deref().unwrap_or(OPERATION_NONE);
        let error = response.extensions().get::<ErrorCode>().map(|code| code.0);
        let elapsed = started.elapsed();
        app.metrics.record(operation, error, elapsed);
        tracing::debug!(
            operation,
            status = response.status().as_u16(),
            error,
            micros = elapsed.as_micros() as u64,
            "answered"
        );
        response
    }
    .instrument(span)
    .await
}

/// Checks 1 to 18 in order; sets `operation` once the target names a
/// registered one.
async fn respond(
    app: &Arc<App>,
    request: Request,
    request_id: &str,
    operation: &mut Option<String>,
) -> Response {
    let (parts, body) = request.into_parts();
    let content_type = ContentType::from_header(
        parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let reply_type = content_type.unwrap_or(ContentType::AmzJson);
    let fail = |error: ApiError| wire::failure(&error, reply_type, request_id);

    // 0. A request line or header block past the limit is refused before
    //    anything else, as DynamoDB's front end does.
    if head_too_large(&parts) {
        return wire::response(400, "text/plain", Vec::new(), request_id, &[]);
    }
    // 1. Size: refuse a declared oversize body before reading any of it,
    //    then read at most the limit while holding a share of the budget.
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > REQUEST_BODY_BYTES_MAX as u64) {
        return fail(too_large());
    }
    let share = declared.map_or(REQUEST_BODY_BYTES_MAX, |len| len as usize);
    let Some(mut budget) =
        acquire(&app.body_budget, share.div_ceil(BUDGET_UNIT_BYTES).max(1)).await
    else {
        return fail(busy());
    };
    let Ok(bytes) = axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX).await else {
        return fail(too_large());
    };

    // 2. Not an API call: health check, metrics and CORS preflight.
    if parts.method == Method::GET && parts.uri.path() == "/" {
        return health(app, &parts, request_id);
    }
    if parts.method == Method::GET && parts.uri.path() == METRICS_PATH && from_loopback(&parts) {
        return metrics_page(app, request_id).await;
    }
    if parts.method == Method::OPTIONS {
        return preflight(&parts.headers, request_id);
    }
    // 3. Method and content type.
    if parts.method != Method::POST || content_type.is_none() {
        return wire::response(
            404,
            "application/xml",
            NOT_AN_OPERATION_BODY.to_vec(),
            request_id,
            &[],
        );
    }
    let encoding = match compression::request_encoding(&parts.headers) {
        Ok(encoding) => encoding,
        Err(error) => return fail(error),
    };
    // 4-12. JSON, a known operation, who is calling. A compressed body is
    // authenticated as sent before it is decompressed and parsed.
    let (input, handler, caller) = if encoding == RequestEncoding::Identity {
        let input = match wire::parse_body(&bytes) {
            Ok(input) => input,
            Err(error) => return fail(error),
        };
        let handler = match known_operation(app, &parts, operation) {
            Ok(handler) => handler,
            Err(error) => return fail(error),
        };
        match authenticate(&signed(&parts, &bytes), &app.backend.credentials) {
            Ok(caller) => (input, handler, caller),
            Err(error) => return fail(error),
        }
    } else {
        let handler = match known_operation(app, &parts, operation) {
            Ok(handler) => handler,
            Err(error) => return fail(error),
        };
        let caller = match authenticate(&signed(&parts, &bytes), &app.backend.credentials) {
            Ok(caller) => caller,
            Err(error) => return fail(error),
        };
        let decoded = match decode_body(app, encoding, &bytes, &mut budget).await {
            Ok(decoded) => decoded,
            Err(error) => return fail(error),
        };
        match wire::parse_body(&decoded) {
            Ok(input) => (input, handler, caller),
            Err(error) => return fail(error),
        }
    };
    drop(bytes);
    let Some(name) = operation.clone() else {
        return fail(ApiError::bare(ErrorKind::UnknownOperation));
    };
    if let Err(error) = authorize(&caller, &name, &input, &app.backend) {
        return fail(error);
    }
    // 13-18. The operation itself, on a blocking thread.
    match run(app, &parts, request_id, handler, (name, caller), input).await {
        Ok(Reply::Json(json)) => wire::success(Some(&json), reply_type, request_id),
        Ok(Reply::Empty) => wire::success(None, reply_type, request_id),
        Err(error) => fail(error),
    }
}
// ANCHOR_END: handle

/// Check 5: the target names a registered operation; records its name.
fn known_operation(
    app: &App,
    parts: &Parts,
    operation: &mut Option<String>,
) -> Result<Arc<dyn Handler>, ApiError> {
    let target = wire::target(&parts.headers)?;
    let handler = app
        .registry
        .get(target)
        .ok_or_else(|| ApiError::bare(ErrorKind::UnknownOperation))?;
    let name = target.split_once('.').map_or(target, |(_, op)| op);
    *operation = Some(name.to_string());
    Ok(handler)
}

/// What SigV4 signs: the request as received, body bytes as sent.
fn signed<'a>(parts: &'a Parts, body: &'a [u8]) -> SignedRequest<'a> {
    SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body,
    }
}

/// Runs the operation's handler on a blocking thread, in the request's
/// span, once a worker slot is free.
async fn run(
    app: &Arc<App>,
    parts: &Parts,
    request_id: &str,
    handler: Arc<dyn Handler>,
    (operation, caller): (String, Caller),
    input: serde_json::Value,
) -> Result<Reply, ApiError> {
    let _worker = acquire(&app.workers, 1).await.ok_or_else(busy)?;
    let host = parts
        .headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ctx = RequestContext::new(
        Arc::clone(&app.backend),
        request_id.to_string(),
        operation,
        caller,
        host,
    );
    let span = tracing::Span::current();
    let result =
        tokio::task::spawn_blocking(move || span.in_scope(|| handler.handle(&ctx, input))).await;
    match result {
        Ok(reply) => reply,
        Err(panic) => Err(ApiError::internal(format!("a handler failed: {panic}"))),
    }
}

/// Decompresses a signed body in chunks, taking more of the memory budget
/// as it grows, and stopping at [`DECODED_BODY_BYTES_MAX`].
async fn decode_body<'a>(
    app: &'a App,
    encoding: RequestEncoding,
    compressed: &[u8],
    budget: &mut SemaphorePermit<'a>,
) -> Result<Vec<u8>, ApiError> {
    let mut reader = compression::decoder(encoding, compressed);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; DECODE_CHUNK_BYTES];
    // Each turn adds at least one byte, and the total is bounded.
    loop {
        let read = std::io::Read::read(&mut reader, &mut chunk)
            .map_err(|error| compression::corrupt_body(&error))?;
        if read == 0 {
            return Ok(out);
        }
        let needed = out.len() + read;
        if needed > DECODED_BODY_BYTES_MAX {
            return Err(too_large());
        }
        let held = budget.num_permits() * BUDGET_UNIT_BYTES;
        if needed > held {
            let more = (needed - held).div_ceil(BUDGET_UNIT_BYTES).max(16);
            budget.merge(acquire(&app.body_budget, more).await.ok_or_else(busy)?);
        }
        out.extend_from_slice(&chunk[..read]);
    }
}

/// Gzips a response the client accepts compressed, if it is large enough
/// to gain; `x-amz-crc32` then covers the compressed bytes, as sent.
async fn compress(response: Response, request_id: &str) -> Response {
    if response.headers().contains_key(CONTENT_ENCODING) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The body is already in memory (every response is built whole), so
    // reading it back has no bound to enforce.
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return wire::failure(
            &ApiError::internal("a response body could not be read back"),
            ContentType::AmzJson,
            request_id,
        );
    };
    if bytes.len() < RESPONSE_COMPRESSION_BYTES_MIN {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let Ok(gzipped) = compression::gzip(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let headers = &mut parts.headers;
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(crc) = HeaderValue::from_str(&wire::crc32_header(&gzipped)) {
        headers.insert(wire::HEADER_CRC32, crc);
    }
    Response::from_parts(parts, Body::from(gzipped))
}

/// `GET /`: DynamoDB's health check names the host the request was
/// addressed to (`healthy: dynamodb.us-east-1.amazonaws.com `, trailing
/// space included); a request without `Host` gets the regional name.
fn health(app: &App, parts: &Parts, request_id: &str) -> Response {
    let host = parts.headers.get(HOST).and_then(|v| v.to_str().ok());
    let host = match host {
        Some(host) if !host.is_empty() => host.to_string(),
        _ => format!("dynamodb.{}.amazonaws.com", app.backend.region),
    };
    let body = format!("healthy: {host} ");
    wire::response(200, "text/plain", body.into_bytes(), request_id, &[])
}

/// Whether the request line or the header block is longer than
/// [`REQUEST_HEAD_BYTES_MAX`], counted as they were sent.
fn head_too_large(parts: &Parts) -> bool {
    // `METHOD SP target SP HTTP/1.1`
    let line = parts.method.as_str().len() + parts.uri.to_string().len() + 10;
    // `name: value CRLF` for each header.
    let headers: usize = parts
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    line > REQUEST_HEAD_BYTES_MAX || headers > REQUEST_HEAD_BYTES_MAX
}

/// Whether the client connected from this machine.
fn from_loopback(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().to_canonical().is_loopback())
}

/// The Prometheus page, rendered on a blocking thread (it reads every
/// table's partition summaries).
async fn metrics_page(app: &Arc<App>, request_id: &str) -> Response {
    let app = Arc::clone(app);
    let page = tokio::task::spawn_blocking(move || app.metrics.render(&app.backend)).await;
    match page {
        Ok(page) => wire::response(
            200,
            CONTENT_TYPE_PROMETHEUS,
            page.into_bytes(),
            request_id,
            &[],
        ),
        Err(error) => wire::failure(
            &ApiError::internal(format!("metrics failed: {error}")),
            ContentType::AmzJson,
            request_id,
        ),
    }
}

/// Waits up to [`ADMISSION_TIMEOUT`] for `units` permits.
async fn acquire(semaphore: &Semaphore, units: usize) -> Option<tokio::sync::SemaphorePermit<'_>> {
    let units = u32::try_from(units).ok()?;
    tokio::time::timeout(ADMISSION_TIMEOUT, semaphore.acquire_many(units))
        .await
        .ok()?
        .ok()
}

fn too_large() -> ApiError {
    ApiError::new(
        ErrorKind::RequestTooLarge,
        format!("Request size exceeded {REQUEST_BODY_BYTES_MAX} bytes"),
    )
}

fn busy() -> ApiError {
    ApiError::new(
        ErrorKind::ServiceUnavailable,
        "The server is busy; retry the request",
    )
}

/// A CORS preflight: allow what was asked for. CORS headers go only to
/// requests that carry `Origin`: without one, an `OPTIONS` is not a
/// preflight, and gets a bare 200.
fn preflight(headers: &axum::http::HeaderMap, request_id: &str) -> Response {
    if !headers.contains_key(ORIGIN) {
        return wire::response(200, "text/plain", Vec::new(), request_id, &[]);
    }
    let echo = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    wire::response(
        200,
        "text/plain",
        Vec::new(),
        request_id,
        &[
            (
                "access-control-allow-headers",
                echo("access-control-request-headers"),
            ),
            (
                "access-control-allow-methods",
                echo("access-control-request-method"),
            ),
            ("access-control-max-age", CORS_MAX_AGE_SECONDS.to_string()),
        ],
    )
}
