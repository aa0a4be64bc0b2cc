//! The one error type of the expression language.
//!
//! Why a type of our own rather than step 1's [`ValidationError`]: that enum
//! is a closed list of data-model messages, while expression messages are
//! open-ended (they quote tokens, paths and placeholders) and carry the name
//! of the request parameter they came from (`Invalid UpdateExpression: …`).
//! An [`ExprError`] is therefore just the exact text DynamoDB sends plus the
//! step 1 [`Exception`] it is reported as, so the router maps both error
//! types to a response the same way. A [`ValidationError`] converts into one
//! losslessly (its exception and text are kept).

use std::fmt;

use step01_kv::error::{Exception, ValidationError};

/// A request that DynamoDB would refuse because of one of its expressions
/// (or legacy condition parameters).
///
/// Invariant: `message` is the full text of DynamoDB's error response,
/// prefix included.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    exception: Exception,
    message: String,
}

impl ExprError {
    /// A `ValidationException` with exactly this message.
    pub fn validation(message: impl Into<String>) -> ExprError {
        ExprError {
            exception: Exception::Validation,
            message: message.into(),
        }
    }

    /// A `SerializationException` (a parameter of the wrong JSON type).
    pub fn serialization(message: impl Into<String>) -> ExprError {
        ExprError {
            exception: Exception::Serialization,
            message: message.into(),
        }
    }

    /// The DynamoDB exception this error is reported as.
    pub fn exception(&self) -> Exception {
        self.exception
    }

    /// The message of the error response.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExprError {}

impl From<ValidationError> for ExprError {
    fn from(error: ValidationError) -> ExprError {
        ExprError {
            exception: error.exception(),
            message: error.to_string(),
        }
    }
}

/// Shorthand for results of this module.
pub type Result<T> = std::result::Result<T, ExprError>;
