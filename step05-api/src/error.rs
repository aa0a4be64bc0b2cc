//! One error type for every request: [`ApiError`], a kind and a message.
//!
//! A DynamoDB client decides what to do with a failed request from three
//! things only: the HTTP status, the error *code* (the part of `__type`
//! after the last `#`), and, for a human, the message. So an error here is
//! exactly that: an [`ErrorKind`] that fixes the code, the namespace, the
//! status and the spelling of the message member, plus the message text.
//!
//! ```text
//! HTTP/1.1 400 Bad Request
//! {"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
//!  "message":"Requested resource not found"}
//! ```
//!
//! Rules kept here, from DynamoDB's observed behaviour:
//!
//! * client mistakes are 400, server faults 500 (`InternalServerError`) or
//!   503 (`ServiceUnavailable`), because SDKs retry 5xx and never retry
//!   most 4xx;
//! * the message member is `message` for most errors but `Message` for
//!   `SerializationException` and the transaction errors;
//! * some errors carry no message at all (`UnknownOperationException`,
//!   unparsable JSON).
//!
//! Errors from the layers below convert with `From`: step 1's
//! [`ValidationError`] and the expression module's [`ExprError`] already
//! know their exception, step 3's [`TableError`] splits into the client's
//! fault and ours, and the `auth` and `throttle` modules' errors map one
//! variant to one kind. Our faults are logged and never
//! shown in detail to the client.

use std::fmt;

use serde_json::{Map, Value as Json};
use step01_kv::error::{Exception, ValidationError};
use step03_partitioning::error::TableError;

use crate::auth::AuthError;
use crate::expr::ExprError;
use crate::throttle::Throttled;

/// The namespace of DynamoDB's own service errors.
pub const NAMESPACE_DYNAMODB: &str = "com.amazonaws.dynamodb.v20120810";
/// The namespace of the request validator's errors.
pub const NAMESPACE_VALIDATE: &str = "com.amazon.coral.validate";
/// The namespace of the front end's errors: framing, serialization, auth.
pub const NAMESPACE_SERVICE: &str = "com.amazon.coral.service";

/// HTTP 413: DynamoDB rejects bodies over the request limit.
pub const STATUS_PAYLOAD_TOO_LARGE: u16 = 413;

// ANCHOR: error_kind
/// Every error this server can answer with. The variant fixes the code,
/// namespace, HTTP status and message member; see [`ErrorKind::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    // --- Framing and request shape ------------------------------------------
    /// A constraint of the API model or a semantic rule is broken.
    Validation,
    /// The body is not JSON, or a member has the wrong JSON type.
    Serialization,
    /// Missing or unknown `X-Amz-Target`.
    UnknownOperation,
    /// The body exceeds the request size limit (HTTP 413).
    RequestTooLarge,

    // --- Authentication and authorization (the `auth` module) ---------------
    MissingAuthenticationToken,
    IncompleteSignature,
    InvalidSignature,
    UnrecognizedClient,
    AccessDenied,

    // --- Tables and items ---------------------------------------------------
    ResourceNotFound,
    ResourceInUse,
    ConditionalCheckFailed,
    LimitExceeded,
    ItemCollectionSizeLimitExceeded,

    // --- Throughput (the `throttle` module) ---------------------------------
    ProvisionedThroughputExceeded,
    Throttling,
    RequestLimitExceeded,

    // --- Transactions (step 6) ------------------------------------------------
    TransactionCanceled,
    TransactionConflict,
    TransactionInProgress,
    IdempotentParameterMismatch,

    // --- Our faults -----------------------------------------------------------
    InternalServerError,
    ServiceUnavailable,
}
// ANCHOR_END: error_kind

impl ErrorKind {
    /// The code after the `#` of `__type`: what SDKs match on.
    pub fn code(self) -> &'static str {
        use ErrorKind as K;
        match self {
            K::Validation | K::RequestTooLarge => "ValidationException",
            K::Serialization => "SerializationException",
            K::UnknownOperation => "UnknownOperationException",
            K::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            K::IncompleteSignature => "IncompleteSignatureException",
            K::InvalidSignature => "InvalidSignatureException",
            K::UnrecognizedClient => "UnrecognizedClientException",
            K::AccessDenied => "AccessDeniedException",
            K::ResourceNotFound => "ResourceNotFoundException",
            K::ResourceInUse => "ResourceInUseException",
            K::ConditionalCheckFailed => "ConditionalCheckFailedException",
            K::LimitExceeded => "LimitExceededException",
            K::ItemCollectionSizeLimitExceeded => "ItemCollectionSizeLimitExceededException",
            K::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            K::Throttling => "ThrottlingException",
            K::RequestLimitExceeded => "RequestLimitExceeded",
            K::TransactionCanceled => "TransactionCanceledException",
            K::TransactionConflict => "TransactionConflictException",
            K::TransactionInProgress => "TransactionInProgressException",
            K::IdempotentParameterMismatch => "IdempotentParameterMismatchException",
            K::InternalServerError => "InternalServerError",
            K::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// The part of `__type` before the `#`, as DynamoDB sends it.
    pub fn namespace(self) -> &'static str {
        use ErrorKind as K;
        match self {
            K::Validation | K::RequestTooLarge => NAMESPACE_VALIDATE,
            K::Serialization
            | K::UnknownOperation
            | K::MissingAuthenticationToken
            | K::IncompleteSignature
            | K::InvalidSignature
            | K::UnrecognizedClient
            | K::AccessDenied => NAMESPACE_SERVICE,
            _ => NAMESPACE_DYNAMODB,
        }
    }

    /// The HTTP status: 400 for the client's faults, 5xx for ours.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::RequestTooLarge => STATUS_PAYLOAD_TOO_LARGE,
            ErrorKind::InternalServerError => 500,
            ErrorKind::ServiceUnavailable => 503,
            _ => 400,
        }
    }

    /// `message` for most errors, `Message` for a few (clients read both,
    /// but tests compare bodies).
    pub fn message_member(self) -> &'static str {
        match self {
            ErrorKind::Serialization
            | ErrorKind::TransactionCanceled
            | ErrorKind::TransactionInProgress
            | ErrorKind::IdempotentParameterMismatch => "Message",
            _ => "message",
        }
    }

    /// The full `__type`.
    pub fn type_name(self) -> String {
        format!("{}#{}", self.namespace(), self.code())
    }
}

/// The message every throttled provisioned request gets.
pub const THROUGHPUT_EXCEEDED_MESSAGE: &str = "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.";

/// What the client sees of our faults; the detail is only logged.
pub const INTERNAL_ERROR_MESSAGE: &str = "Internal server error";

/// A failed request: what kind of error, and what to tell the client.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub kind: ErrorKind,
    /// `None` sends no message member at all.
    pub message: Option<String>,
    /// Members beyond the message: `Item` on a failed condition with
    /// `ReturnValuesOnConditionCheckFailure`, `CancellationReasons` on a
    /// cancelled transaction.
    pub extra: Map<String, Json>,
}

impl ApiError {
    /// An error with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            message: Some(message.into()),
            extra: Map::new(),
        }
    }

    /// An error without a message member.
    pub fn bare(kind: ErrorKind) -> ApiError {
        ApiError {
            kind,
            message: None,
            extra: Map::new(),
        }
    }

    /// This error with one more member in its body.
    pub fn with_member(mut self, name: &str, value: Json) -> ApiError {
        self.extra.insert(name.to_string(), value);
        self
    }

    pub fn validation(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Validation, message)
    }

    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Serialization, message)
    }

    /// A table operation on a table that does not exist.
    pub fn table_not_found(name: &str) -> ApiError {
        ApiError::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Table: {name} not found"),
        )
    }

    /// An item operation on a table that does not exist (or is not ACTIVE).
    pub fn resource_not_found() -> ApiError {
        ApiError::new(ErrorKind::ResourceNotFound, "Requested resource not found")
    }

    pub fn conditional_check_failed() -> ApiError {
        ApiError::new(
            ErrorKind::ConditionalCheckFailed,
            "The conditional request failed",
        )
    }

    /// What the throttle answers when a provisioned bucket is empty.
    pub fn throughput_exceeded() -> ApiError {
        ApiError::new(
            ErrorKind::ProvisionedThroughputExceeded,
            THROUGHPUT_EXCEEDED_MESSAGE,
        )
    }

    /// Our fault. The detail goes to the log, never to the client.
    pub fn internal(detail: impl fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new(ErrorKind::InternalServerError, INTERNAL_ERROR_MESSAGE)
    }

    /// The JSON body of the error response.
    pub fn body(&self) -> Json {
        let mut body = Map::new();
        body.insert("__type".to_string(), Json::String(self.kind.type_name()));
        if let Some(message) = &self.message {
            body.insert(
                self.kind.message_member().to_string(),
                Json::String(message.clone()),
            );
        }
        for (name, value) in &self.extra {
            body.insert(name.clone(), value.clone());
        }
        Json::Object(body)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(message) => write!(f, "{}: {message}", self.kind.code()),
            None => f.write_str(self.kind.code()),
        }
    }
}

impl std::error::Error for ApiError {}

// ANCHOR: conversions
impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> ApiError {
        let kind = match error.exception() {
            Exception::Validation => ErrorKind::Validation,
            Exception::Serialization => ErrorKind::Serialization,
        };
        ApiError::new(kind, error.to_string())
    }
}

impl From<ExprError> for ApiError {
    fn from(error: ExprError) -> ApiError {
        let kind = match error.exception() {
            Exception::Validation => ErrorKind::Validation,
            Exception::Serialization => ErrorKind::Serialization,
        };
        ApiError::new(kind, error.message())
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> ApiError {
        let kind = match error {
            AuthError::MissingAuthenticationToken => ErrorKind::MissingAuthenticationToken,
            AuthError::IncompleteSignature(_) => ErrorKind::IncompleteSignature,
            AuthError::InvalidSignature(_) => ErrorKind::InvalidSignature,
            AuthError::UnrecognizedClient => ErrorKind::UnrecognizedClient,
            AuthError::AccessDenied(_) => ErrorKind::AccessDenied,
        };
        ApiError::new(kind, error.message())
    }
}

impl From<Throttled> for ApiError {
    fn from(throttled: Throttled) -> ApiError {
        ApiError::new(
            ErrorKind::ProvisionedThroughputExceeded,
            throttled.message(),
        )
    }
}

impl From<TableError> for ApiError {
    /// The client's faults keep their DynamoDB message; routing races that
    /// outlived the table's own retries ask the client to retry (503);
    /// everything else is our fault.
    fn from(error: TableError) -> ApiError {
        match error {
            TableError::Validation(error) => error.into(),
            TableError::InvalidRequest(message) => ApiError::validation(message),
            TableError::WrongPartition { .. } | TableError::RoutingRetriesExhausted { .. } => {
                ApiError::new(
                    ErrorKind::ServiceUnavailable,
                    "The service is busy moving partitions; retry the request",
                )
            }
            other => ApiError::internal(other),
        }
    }
}
// ANCHOR_END: conversions

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_and_statuses() {
        let cases = [
            (
                ErrorKind::Validation,
                "com.amazon.coral.validate#ValidationException",
                400,
            ),
            (
                ErrorKind::Serialization,
                "com.amazon.coral.service#SerializationException",
                400,
            ),
            (
                ErrorKind::UnknownOperation,
                "com.amazon.coral.service#UnknownOperationException",
                400,
            ),
            (
                ErrorKind::MissingAuthenticationToken,
                "com.amazon.coral.service#MissingAuthenticationTokenException",
                400,
            ),
            (
                ErrorKind::ResourceNotFound,
                "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                400,
            ),
            (
                ErrorKind::ProvisionedThroughputExceeded,
                "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                400,
            ),
            (
                ErrorKind::InternalServerError,
                "com.amazonaws.dynamodb.v20120810#InternalServerError",
                500,
            ),
            (
                ErrorKind::RequestTooLarge,
                "com.amazon.coral.validate#ValidationException",
                413,
            ),
        ];
        for (kind, type_name, status) in cases {
            assert_eq!(kind.type_name(), type_name);
            assert_eq!(kind.status(), status);
        }
    }

    #[test]
    fn message_member_spelling() {
        let body = ApiError::serialization("bad").body();
        assert_eq!(body["Message"], "bad");
        assert!(body.get("message").is_none());
        let body = ApiError::resource_not_found().body();
        assert_eq!(body["message"], "Requested resource not found");
        let body = ApiError::bare(ErrorKind::UnknownOperation).body();
        assert_eq!(
            body,
            serde_json::json!({"__type": "com.amazon.coral.service#UnknownOperationException"})
        );
    }

    #[test]
    fn lower_layers_convert() {
        let error: ApiError = ValidationError::ItemTooLarge.into();
        assert_eq!(error.kind, ErrorKind::Validation);
        assert_eq!(
            error.message.as_deref(),
            Some("Item size has exceeded the maximum allowed size")
        );
        let error: ApiError = ValidationError::Base64Invalid.into();
        assert_eq!(error.kind, ErrorKind::Serialization);
        let error: ApiError = TableError::InvalidRequest("nope".into()).into();
        assert_eq!(error.kind, ErrorKind::Validation);
        let error: ApiError = TableError::Failed {
            reason: "secret".into(),
        }
        .into();
        assert_eq!(error.kind, ErrorKind::InternalServerError);
        assert_eq!(error.message.as_deref(), Some(INTERNAL_ERROR_MESSAGE));
    }
}
