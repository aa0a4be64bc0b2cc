//! The HTTP server: one route, and the path every request takes through it.
//!
//! ```text
//! bytes ─▶ size ─▶ health/CORS ─▶ method, type ─▶ JSON ─▶ target ─▶ authenticate
//!       ─▶ authorize ─▶ handler (blocking thread): validate ─▶ route ─▶ meter ─▶ apply
//!       ─▶ response (+ x-amzn-RequestId, x-amz-crc32)
//! ```
//!
//! The order is DynamoDB's observable precedence (reference §1.5): a
//! request that is wrong in two ways gets the error of the earlier check.
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
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use crate::access::{SignedRequest, authenticate, authorize};
use crate::backend::Backend;
use crate::catalog::OpenError;
use crate::config::ServerConfig;
use crate::error::{ApiError, ErrorKind};
use crate::registry::{Registry, Reply, RequestContext};
use crate::wire::{self, ContentType, REQUEST_BODY_BYTES_MAX, RequestIds};

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

/// A running server's shared state: the backend, the operations, the
/// bounds.
pub struct App {
    pub backend: Arc<Backend>,
    registry: Registry,
    ids: RequestIds,
    workers: Semaphore,
    body_budget: Semaphore,
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
        let router = Arc::clone(&app).router();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
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
/// Every request, start to finish.
async fn handle(State(app): State<Arc<App>>, request: Request) -> Response {
    let request_id = app.ids.next_id();
    let cors = request.headers().contains_key(ORIGIN);
    let mut response = respond(&app, request, &request_id).await;
    if cors {
        response
            .headers_mut()
            .insert("access-control-allow-origin", HeaderValue::from_static("*"));
    }
    response
}

async fn respond(app: &Arc<App>, request: Request, request_id: &str) -> Response {
    let (parts, body) = request.into_parts();
    let content_type = ContentType::from_header(
        parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let reply_type = content_type.unwrap_or(ContentType::AmzJson);
    let fail = |error: ApiError| wire::failure(&error, reply_type, request_id);

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
    let Some(_budget) = acquire(&app.body_budget, share.div_ceil(BUDGET_UNIT_BYTES).max(1)).await
    else {
        return fail(busy());
    };
    let Ok(bytes) = axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX).await else {
        return fail(too_large());
    };

    // 2. Not an API call: health check and CORS preflight.
    if parts.method == Method::GET && parts.uri.path() == "/" {
        let body = format!("healthy: dynamodb.{}.amazonaws.com ", app.backend.region);
        return wire::response(200, "text/plain", body.into_bytes(), request_id, &[]);
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
    // 4. JSON.
    let input = match wire::parse_body(&bytes) {
        Ok(input) => input,
        Err(error) => return fail(error),
    };
    // 5. A known operation.
    let target = match wire::target(&parts.headers) {
        Ok(target) => target,
        Err(error) => return fail(error),
    };
    let Some(handler) = app.registry.get(target) else {
        return fail(ApiError::bare(ErrorKind::UnknownOperation));
    };
    let operation = target
        .split_once('.')
        .map_or(target, |(_, op)| op)
        .to_string();
    // 6-12. Who is calling, and may they.
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &bytes,
    };
    let caller = match authenticate(&signed, &app.backend.credentials) {
        Ok(caller) => caller,
        Err(error) => return fail(error),
    };
    if let Err(error) = authorize(&caller, &operation, &input, &app.backend) {
        return fail(error);
    }
    drop(bytes);
    // 13-18. The operation itself, on a blocking thread.
    let Some(_worker) = acquire(&app.workers, 1).await else {
        return fail(busy());
    };
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
    let result = tokio::task::spawn_blocking(move || handler.handle(&ctx, input)).await;
    match result {
        Ok(Ok(Reply::Json(json))) => wire::success(Some(&json), reply_type, request_id),
        Ok(Ok(Reply::Empty)) => wire::success(None, reply_type, request_id),
        Ok(Err(error)) => fail(error),
        Err(panic) => fail(ApiError::internal(format!("a handler failed: {panic}"))),
    }
}
// ANCHOR_END: handle

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

/// A CORS preflight: allow what was asked for.
fn preflight(headers: &axum::http::HeaderMap, request_id: &str) -> Response {
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
