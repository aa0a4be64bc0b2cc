//! Authentication and authorization: who is calling, and may they do this.
//!
//! Every DynamoDB request is signed with AWS Signature Version 4. The router
//! hands each request to [`sigv4::verify`] before it parses the operation's
//! members; a verified request yields a [`Principal`], and the operation is
//! then checked against that principal's policy with
//! [`CredentialStore::authorize`]. Every failure is an [`AuthError`] that
//! renders exactly as DynamoDB's error does.
//!
//! | module | holds |
//! |---|---|
//! | [`request`] | the request as plain slices: the verifier's only input |
//! | [`sigv4`] | the verifier: header, date, canonical request, signing key, signature |
//! | [`credentials`] | access keys and secrets, strict and local modes, the bind rule, the file format |
//! | [`policy`], [`glob`] | allow/deny statements over actions and tables, and their `*` patterns |
//! | [`error`] | the errors, with DynamoDB's `__type`, status and message |
//!
//! Invariants: a request is accepted only if its date is within 15 minutes
//! of the server's clock, `host` is among its signed headers, and, for
//! every configured access key, its signature matches; no input panics.

pub mod credentials;
pub mod error;
pub mod glob;
pub mod policy;
pub mod request;
pub mod sigv4;

pub use credentials::{AuthMode, CredentialStore};
pub use error::AuthError;
pub use policy::{Decision, Policy};
pub use request::HttpRequest;
pub use sigv4::{Principal, verify};
