//! Who is calling, and may they? The two checks between decoding a request
//! and running it.
//!
//! * [`authenticate`] answers *who*: it hands the request, as received, to
//!   the `auth` module's SigV4 verifier and returns the [`Caller`].
//! * [`authorize`] answers *may they*: the caller's policy decides on the
//!   action (`dynamodb:PutItem`) and the table the request names.
//!
//! Both run after the body is parsed and the operation is known, and before
//! any member is validated — DynamoDB's order (reference §1.5, steps 6–12).
//! This module only adapts: HTTP types in, the `auth` module's plain
//! slices out, its errors back as [`ApiError`]s.

use std::time::SystemTime;

use axum::http::HeaderMap;
use serde_json::Value as Json;

use crate::auth::{CredentialStore, HttpRequest, Principal, verify};
use crate::backend::Backend;
use crate::error::ApiError;

/// The authenticated caller of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
}

/// What authentication may look at: SigV4 signs the method, path, query,
/// the signed headers and the body bytes as received.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

// ANCHOR: authenticate
/// Authenticates a request with its SigV4 signature at the server's
/// current time: `MissingAuthenticationTokenException`,
/// `IncompleteSignatureException`, `InvalidSignatureException` or
/// `UnrecognizedClientException` when it fails.
pub fn authenticate(
    request: &SignedRequest<'_>,
    credentials: &CredentialStore,
) -> Result<Caller, ApiError> {
    // Every header line as received (hyper bounds their number).
    let headers: Vec<(&str, &[u8])> = request
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let http = HttpRequest {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: &headers,
        body: request.body,
    };
    let principal = verify(&http, SystemTime::now(), credentials)?;
    Ok(Caller { principal })
}
// ANCHOR_END: authenticate

// ANCHOR: authorize
/// Decides whether `caller` may run `operation` on the table the request
/// names (`TableName`, or the table of a `ResourceArn`):
/// `AccessDeniedException` when its policy says no.
pub fn authorize(
    caller: &Caller,
    operation: &str,
    input: &Json,
    backend: &Backend,
) -> Result<(), ApiError> {
    let table = match (input.get("TableName"), input.get("ResourceArn")) {
        (Some(Json::String(name)), _) => Some(backend.resolve_name(name)),
        (_, Some(Json::String(arn))) => backend.table_name_of_arn(arn),
        _ => None,
    };
    let action = format!("dynamodb:{operation}");
    Ok(backend
        .credentials
        .authorize(&caller.principal, &action, table)?)
}
// ANCHOR_END: authorize

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthMode;
    use crate::error::ErrorKind;
    use axum::http::HeaderValue;
    use axum::http::header::AUTHORIZATION;

    fn request(headers: &HeaderMap) -> SignedRequest<'_> {
        SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body: b"{}",
        }
    }

    #[test]
    fn missing_header() {
        let headers = HeaderMap::new();
        let store = CredentialStore::new(AuthMode::Local);
        let error = authenticate(&request(&headers), &store).unwrap_err();
        assert_eq!(error.kind, ErrorKind::MissingAuthenticationToken);
        assert_eq!(
            error.message.as_deref(),
            Some("Request is missing Authentication Token")
        );
    }

    #[test]
    fn wrong_algorithm() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let store = CredentialStore::new(AuthMode::Local);
        let error = authenticate(&request(&headers), &store).unwrap_err();
        assert_eq!(error.kind, ErrorKind::IncompleteSignature);
    }
}
