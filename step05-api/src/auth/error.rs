//! The errors of authentication and authorization, as DynamoDB sends them.
//!
//! SDKs decide what to do with an error from three things: the HTTP status,
//! the code after the `#` in `__type`, and (for people and strict test
//! suites) the message. Every variant here carries exactly what DynamoDB
//! sends, so the router renders an [`AuthError`] without knowing anything
//! about signatures: [`AuthError::type_name`], [`AuthError::http_status`]
//! and [`AuthError::message`].
//!
//! All of these are client errors (HTTP 400) that SDKs do not retry, except
//! that they correct their clock and sign again on a skew error.

use std::fmt;

/// The `__type` namespace AWS uses for the errors of its request layer:
/// authentication, authorization, serialization.
pub const CORAL_SERVICE_NAMESPACE: &str = "com.amazon.coral.service";

/// The message of `MissingAuthenticationTokenException`.
pub const MISSING_TOKEN_MESSAGE: &str = "Request is missing Authentication Token";

/// The message of `UnrecognizedClientException`.
pub const UNRECOGNIZED_CLIENT_MESSAGE: &str =
    "The security token included in the request is invalid.";

/// The message of `InvalidSignatureException` when the signatures differ.
pub const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

// ANCHOR: auth_error
/// Why a request was not authenticated or not authorized.
///
/// Each variant is one DynamoDB error code. Where AWS words the message
/// according to the request (which parameter is missing, which dates), the
/// variant carries the finished message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header and no query-string signature.
    MissingAuthenticationToken,
    /// The signature is there but incomplete or malformed: a missing
    /// parameter or date header, an unknown algorithm, a bad credential.
    IncompleteSignature(String),
    /// The signature is complete but wrong: it does not match, it is
    /// expired or not yet current, `host` is not signed, the scope is wrong.
    InvalidSignature(String),
    /// The access key id is not one this server knows (strict mode).
    UnrecognizedClient,
    /// The caller is authenticated but its policy does not allow the action.
    AccessDenied(String),
}
// ANCHOR_END: auth_error

impl AuthError {
    /// The error code: the part of `__type` after the `#`, the part SDKs read.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            AuthError::IncompleteSignature(_) => "IncompleteSignatureException",
            AuthError::InvalidSignature(_) => "InvalidSignatureException",
            AuthError::UnrecognizedClient => "UnrecognizedClientException",
            AuthError::AccessDenied(_) => "AccessDeniedException",
        }
    }

    /// The full `__type` of the JSON error body, namespace included.
    pub fn type_name(&self) -> String {
        format!("{CORAL_SERVICE_NAMESPACE}#{}", self.code())
    }

    /// The HTTP status: 400 for all of them, like every DynamoDB client error.
    pub fn http_status(&self) -> u16 {
        400
    }

    /// The `message` member of the error body.
    pub fn message(&self) -> &str {
        match self {
            AuthError::MissingAuthenticationToken => MISSING_TOKEN_MESSAGE,
            AuthError::UnrecognizedClient => UNRECOGNIZED_CLIENT_MESSAGE,
            AuthError::IncompleteSignature(message)
            | AuthError::InvalidSignature(message)
            | AuthError::AccessDenied(message) => message,
        }
    }

    /// What the router needs to render the error: `(__type, status, message)`.
    pub fn to_wire(&self) -> (String, u16, &str) {
        (self.type_name(), self.http_status(), self.message())
    }

    /// A signature that does not match the one the server computes.
    pub(crate) fn signature_mismatch() -> AuthError {
        AuthError::InvalidSignature(SIGNATURE_MISMATCH_MESSAGE.to_string())
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_renders_as_dynamodb_does() {
        let cases = [
            (
                AuthError::MissingAuthenticationToken,
                "com.amazon.coral.service#MissingAuthenticationTokenException",
                "Request is missing Authentication Token",
            ),
            (
                AuthError::UnrecognizedClient,
                "com.amazon.coral.service#UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            (
                AuthError::signature_mismatch(),
                "com.amazon.coral.service#InvalidSignatureException",
                SIGNATURE_MISMATCH_MESSAGE,
            ),
            (
                AuthError::IncompleteSignature("x".into()),
                "com.amazon.coral.service#IncompleteSignatureException",
                "x",
            ),
            (
                AuthError::AccessDenied("y".into()),
                "com.amazon.coral.service#AccessDeniedException",
                "y",
            ),
        ];
        for (error, type_name, message) in cases {
            assert_eq!(error.to_wire(), (type_name.to_string(), 400, message));
        }
    }
}
