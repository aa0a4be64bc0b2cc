//! Operations by name: the handler registry.
//!
//! DynamoDB's API is one URL and forty-odd operations named by the
//! `X-Amz-Target` header. The router does not `match` on names: each
//! operation is a [`Handler`] registered under its target
//! (`DynamoDB_20120810.PutItem`), and a request runs whatever is
//! registered. That makes the registry the extension point of later steps:
//!
//! * **new operations** — step 6 registers `Query`, `TransactWriteItems`,
//!   the Streams API (its own target prefix) with [`Registry::register`];
//! * **hooks around existing ones** — [`Registry::wrap`] replaces a handler
//!   by one that receives the old one, so a later step can run code before
//!   or after `PutItem` (maintain an index, append a stream record) without
//!   editing this step's handlers.
//!
//! Handlers are synchronous functions: they run on a blocking thread (see
//! `server`), may fsync, and never see HTTP.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde_json::Value as Json;

use crate::access::Caller;
use crate::backend::Backend;
use crate::error::ApiError;

/// Everything a handler knows about the request besides its body.
#[derive(Debug)]
pub struct RequestContext {
    pub backend: Arc<Backend>,
    pub request_id: String,
    /// The operation name, without the target prefix (`PutItem`).
    pub operation: String,
    pub caller: Caller,
    /// The `Host` header, for `DescribeEndpoints`.
    pub host: Option<String>,
    /// Capacity admitted by the throttle and not yet settled, in
    /// thousandths of a unit (see `capacity::admit`).
    pub(crate) admitted_milli: AtomicU64,
}

impl RequestContext {
    pub fn new(
        backend: Arc<Backend>,
        request_id: String,
        operation: String,
        caller: Caller,
        host: Option<String>,
    ) -> RequestContext {
        RequestContext {
            backend,
            request_id,
            operation,
            caller,
            host,
            admitted_milli: AtomicU64::new(0),
        }
    }
}

/// A successful answer: a JSON body, or no body at all (`TagResource`).
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    Json(Json),
    Empty,
}

// ANCHOR: handler
/// One operation: the parsed JSON body in, a reply or a DynamoDB error out.
pub trait Handler: Send + Sync {
    fn handle(&self, ctx: &RequestContext, input: Json) -> Result<Reply, ApiError>;
}

/// Plain functions (and closures) are handlers.
impl<F> Handler for F
where
    F: Fn(&RequestContext, Json) -> Result<Reply, ApiError> + Send + Sync,
{
    fn handle(&self, ctx: &RequestContext, input: Json) -> Result<Reply, ApiError> {
        self(ctx, input)
    }
}

/// Handlers by full target (`DynamoDB_20120810.PutItem`).
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn Handler>>,
}
// ANCHOR_END: handler

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("operations", &self.targets())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers `handler` for `<prefix>.<operation>`, replacing any.
    pub fn register(
        &mut self,
        prefix: &str,
        operation: &str,
        handler: impl Handler + 'static,
    ) -> &mut Registry {
        self.handlers
            .insert(format!("{prefix}.{operation}"), Arc::new(handler));
        self
    }

    /// Replaces the handler of `target` by `wrap(old)`; returns false (and
    /// changes nothing) if `target` has no handler.
    pub fn wrap(
        &mut self,
        target: &str,
        wrap: impl FnOnce(Arc<dyn Handler>) -> Arc<dyn Handler>,
    ) -> bool {
        match self.handlers.remove(target) {
            Some(old) => {
                self.handlers.insert(target.to_string(), wrap(old));
                true
            }
            None => false,
        }
    }

    /// The handler of a full target.
    pub fn get(&self, target: &str) -> Option<Arc<dyn Handler>> {
        self.handlers.get(target).cloned()
    }

    /// Every registered target, sorted.
    pub fn targets(&self) -> Vec<String> {
        let mut targets: Vec<String> = self.handlers.keys().cloned().collect();
        targets.sort();
        targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(_: &RequestContext, input: Json) -> Result<Reply, ApiError> {
        Ok(Reply::Json(input))
    }

    #[test]
    fn register_get_and_wrap() {
        let mut registry = Registry::new();
        registry.register("P", "Echo", echo);
        assert!(registry.get("P.Echo").is_some());
        assert!(registry.get("P.Other").is_none());
        assert!(registry.wrap("P.Echo", |inner| {
            Arc::new(move |ctx: &RequestContext, input: Json| {
                let reply = inner.handle(ctx, input)?;
                Ok(match reply {
                    Reply::Json(json) => Reply::Json(serde_json::json!({ "wrapped": json })),
                    Reply::Empty => Reply::Empty,
                })
            })
        }));
        assert!(!registry.wrap("P.Missing", |inner| inner));
        assert_eq!(registry.targets(), vec!["P.Echo".to_string()]);
    }
}
