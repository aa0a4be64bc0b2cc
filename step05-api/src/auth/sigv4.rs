//! Verifying AWS Signature Version 4, by hand.
//!
//! The client never sends its secret. It computes an HMAC over a canonical
//! form of the request with a key derived from the secret, and sends the
//! result with the access key id. The server, which knows the secret,
//! repeats the computation and compares. A match proves the sender holds
//! the secret *and* that the signed parts of the request (method, path,
//! query, the listed headers, the body, the time) arrived unchanged.
//!
//! [`verify`] runs the checks in the order AWS observably does, so that a
//! request with several problems gets the same error as from AWS:
//!
//! 1. authentication present → `MissingAuthenticationTokenException`
//! 2. header complete, algorithm known, a date present → `IncompleteSignatureException`
//! 3. date well-formed → `IncompleteSignatureException`; within 15 minutes → `InvalidSignatureException`
//! 4. `host` signed → `InvalidSignatureException`
//! 5. credential of five elements → `IncompleteSignatureException`; scope
//!    matching the date, service and terminator → `InvalidSignatureException`
//! 6. access key known (strict mode) → `UnrecognizedClientException`
//! 7. signature equal → `InvalidSignatureException`
//!
//! The module is sans-IO: the request is a plain struct, the server's clock
//! a parameter, the secrets a [`CredentialStore`].

pub mod canonical;
pub mod date;
pub mod header;
pub mod signing;

use std::time::SystemTime;

use crate::auth::credentials::CredentialStore;
use crate::auth::error::AuthError;
use crate::auth::request::HttpRequest;
use canonical::{canonical_request, payload_hash};
use date::{AmzDate, check_skew};
use header::{AuthorizationHeader, Credential};
use signing::{constant_time_eq, signature, signing_key, string_to_sign};

/// Who sent a request that passed [`verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The access key id from the credential.
    pub access_key_id: String,
    /// The region the request was signed for (used in ARNs).
    pub region: String,
    /// Whether the signature was checked against a known secret. Always
    /// true in strict mode; false for an unknown key in local mode.
    pub signature_verified: bool,
}

/// The message AWS sends when a request carries both kinds of authentication.
pub const BOTH_AUTH_KINDS_MESSAGE: &str =
    "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.";

/// The message for a request authenticated by query string alone, which
/// this server does not verify (DynamoDB clients never send one).
pub const QUERY_AUTH_UNSUPPORTED_MESSAGE: &str = "Query-string authentication (X-Amz-Algorithm) is not supported by this server; send an 'Authorization' header.";

// ANCHOR: verify
/// Verifies the SigV4 signature of `request` at the server time `now`.
pub fn verify(
    request: &HttpRequest<'_>,
    now: SystemTime,
    credentials: &CredentialStore,
) -> Result<Principal, AuthError> {
    let authorization = request.header_values("authorization").next();
    let query_auth = request.has_query_param("X-Amz-Algorithm");
    let authorization = match (authorization, query_auth) {
        (None, false) => return Err(AuthError::MissingAuthenticationToken),
        (Some(_), true) => return Err(AuthError::InvalidSignature(BOTH_AUTH_KINDS_MESSAGE.into())),
        (None, true) => {
            return Err(AuthError::IncompleteSignature(
                QUERY_AUTH_UNSUPPORTED_MESSAGE.into(),
            ));
        }
        (Some(value), false) => String::from_utf8_lossy(value),
    };
    let amz_date = request.header("x-amz-date");
    let http_date = request.header("date");
    let header = AuthorizationHeader::parse(&authorization, amz_date.or(http_date).is_some())?;

    let request_time = request_time(amz_date, http_date)?;
    check_skew(request_time, now)?;
    let amz_date = request_time.to_basic();

    let signed_headers = header.signed_header_names();
    if !signed_headers.iter().any(|name| name == "host") {
        return Err(AuthError::InvalidSignature(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let credential = Credential::parse(header.credential)?;
    credential.check_scope(&amz_date)?;

    let principal = Principal {
        access_key_id: credential.access_key_id.to_string(),
        region: credential.region.to_string(),
        signature_verified: false,
    };
    let Some(key) = credentials.lookup(credential.access_key_id)? else {
        return Ok(principal);
    };

    let canonical = canonical_request(request, &signed_headers, &payload_hash(request)?);
    let to_sign = string_to_sign(&amz_date, &credential.scope(), &canonical);
    let key = signing_key(
        key.secret_access_key(),
        credential.date,
        credential.region,
        credential.service,
    );
    let expected = signature(&key, &to_sign);
    if !constant_time_eq(expected.as_bytes(), header.signature.as_bytes()) {
        return Err(AuthError::signature_mismatch());
    }
    Ok(Principal {
        signature_verified: true,
        ..principal
    })
}
// ANCHOR_END: verify

/// The request time: `X-Amz-Date` if present (and then it must be
/// well-formed), else the HTTP `Date` header.
fn request_time(amz_date: Option<&str>, http_date: Option<&str>) -> Result<AmzDate, AuthError> {
    let parsed = match (amz_date, http_date) {
        (Some(text), _) => AmzDate::parse_basic(text).ok_or(text),
        (None, Some(text)) => AmzDate::parse_http_date(text).ok_or(text),
        // `AuthorizationHeader::parse` has already refused a request without either.
        (None, None) => Err(""),
    };
    parsed.map_err(|text| {
        AuthError::IncompleteSignature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{text}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    })
}
