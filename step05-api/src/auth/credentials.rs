//! Who may call the server: access keys, their secrets and policies, and the
//! two authentication modes.
//!
//! # Modes
//!
//! * **Strict**: only the configured access keys are accepted, and every
//!   request's signature is verified with its key's secret. An unknown key
//!   gets `UnrecognizedClientException`. This is how DynamoDB behaves, and
//!   the only mode allowed on an address other machines can reach.
//! * **Local**: any access key is accepted, as DynamoDB Local accepts any,
//!   so tests and tutorials work with whatever credentials the SDK finds.
//!   The `Authorization` header must still be complete and well-formed, and
//!   its date within the skew, so clients see the same errors as from AWS
//!   when they get those wrong. The signature of an unknown key cannot be
//!   checked (the server does not know its secret), but a key that *is*
//!   configured is verified anyway: a wrong secret for a known key is an
//!   error in both modes.
//!
//! Local mode lets anyone who can connect act as anyone, so it is allowed
//! only on a loopback address: [`AuthMode::check_bind`] is the rule, and
//! the server calls it before it listens.
//!
//! # The credentials file
//!
//! JSON, one object:
//!
//! ```json
//! {
//!   "account_id": "000000000000",
//!   "access_keys": [
//!     { "access_key_id": "ADMIN", "secret_access_key": "admin-secret" },
//!     { "access_key_id": "ORDERSREADER", "secret_access_key": "reader-secret",
//!       "policy": [
//!         { "effect": "Allow", "actions": ["dynamodb:Get*", "dynamodb:Query"], "tables": ["orders"] }
//!       ] }
//!   ]
//! }
//! ```
//!
//! * `account_id` (optional, default `000000000000`): twelve digits, used in
//!   ARNs and in `AccessDeniedException` messages.
//! * `access_keys`: each with an `access_key_id` (1 to 128 letters, digits
//!   and `_`, unique), a `secret_access_key` (1 to 1,024 bytes) and an
//!   optional `policy` ([`policy`](crate::auth::policy)). **A key without a
//!   `policy` may do everything**; a key with `"policy": []` may do nothing.
//!
//! Unknown fields are errors, so a misspelt `polciy` cannot silently grant
//! everything. Errors name the line and column, or the key at fault.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::Deserialize;

use crate::auth::error::AuthError;
use crate::auth::policy::{Policy, access_denied_message};
use crate::auth::sigv4::Principal;

/// The account id in ARNs when the file names none (DynamoDB Local's).
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

/// Access keys in one credentials file, at most.
pub const ACCESS_KEYS_MAX: usize = 10_000;

/// Characters in an access key id, at most (AWS's limit).
pub const ACCESS_KEY_ID_LENGTH_MAX: usize = 128;

/// Bytes in a secret access key, at most.
pub const SECRET_ACCESS_KEY_LENGTH_BYTES_MAX: usize = 1_024;

/// How strictly access keys are checked (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    Strict,
    Local,
}

/// Local mode was asked for on an address other machines can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindRefused {
    pub address: SocketAddr,
}

impl fmt::Display for BindRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "local authentication accepts any access key, so it may only listen on a loopback address, and {} is not one; configure a credentials file and use strict mode",
            self.address
        )
    }
}

impl std::error::Error for BindRefused {}

// ANCHOR: check_bind
impl AuthMode {
    /// The rule: local mode only on loopback; strict mode anywhere. An
    /// unspecified address (`0.0.0.0`, `::`) listens on every interface, so
    /// it is not loopback. An IPv4 loopback written as IPv6
    /// (`::ffff:127.0.0.1`) is.
    pub fn check_bind(self, address: SocketAddr) -> Result<(), BindRefused> {
        match self {
            AuthMode::Strict => Ok(()),
            AuthMode::Local if address.ip().to_canonical().is_loopback() => Ok(()),
            AuthMode::Local => Err(BindRefused { address }),
        }
    }
}
// ANCHOR_END: check_bind

impl FromStr for AuthMode {
    type Err = String;

    fn from_str(text: &str) -> Result<AuthMode, String> {
        match text {
            "strict" => Ok(AuthMode::Strict),
            "local" => Ok(AuthMode::Local),
            other => Err(format!(
                "unknown authentication mode {other:?}: expected \"strict\" or \"local\""
            )),
        }
    }
}

/// A configured access key: its secret and, optionally, its policy.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    secret_access_key: String,
    policy: Option<Policy>,
}

impl AccessKey {
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// `None`: the key may do everything.
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }
}

/// Secrets stay out of logs: `{:?}` of a key shows only whether it has a policy.
impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("secret_access_key", &"<redacted>")
            .field("policy", &self.policy)
            .finish()
    }
}

/// The credentials file could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialsFileError(pub String);

impl fmt::Display for CredentialsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "credentials file: {}", self.0)
    }
}

impl std::error::Error for CredentialsFileError {}

/// The access keys the server knows, its mode and its account.
#[derive(Clone, Debug)]
pub struct CredentialStore {
    mode: AuthMode,
    account_id: String,
    keys: BTreeMap<String, AccessKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    account_id: Option<String>,
    access_keys: Vec<KeyEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    access_key_id: String,
    secret_access_key: String,
    policy: Option<Policy>,
}

impl CredentialStore {
    /// A store with no keys, in `mode`, for the default account. In strict
    /// mode it accepts no one until keys are added.
    pub fn new(mode: AuthMode) -> CredentialStore {
        CredentialStore {
            mode,
            account_id: DEFAULT_ACCOUNT_ID.to_string(),
            keys: BTreeMap::new(),
        }
    }

    /// Reads a credentials file's text (see the module documentation).
    pub fn from_json(mode: AuthMode, text: &str) -> Result<CredentialStore, CredentialsFileError> {
        let file: FileFormat =
            serde_json::from_str(text).map_err(|e| CredentialsFileError(e.to_string()))?;
        if file.access_keys.len() > ACCESS_KEYS_MAX {
            return Err(CredentialsFileError(format!(
                "at most {ACCESS_KEYS_MAX} access keys, found {}",
                file.access_keys.len()
            )));
        }
        let mut store = CredentialStore::new(mode);
        if let Some(account_id) = file.account_id {
            store.set_account_id(&account_id)?;
        }
        for (index, entry) in file.access_keys.into_iter().enumerate() {
            store
                .insert(&entry.access_key_id, &entry.secret_access_key, entry.policy)
                .map_err(|CredentialsFileError(problem)| {
                    CredentialsFileError(format!("access key {}: {problem}", index + 1))
                })?;
        }
        Ok(store)
    }

    /// Sets the account id (twelve digits).
    pub fn set_account_id(&mut self, account_id: &str) -> Result<(), CredentialsFileError> {
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CredentialsFileError(format!(
                "account_id {account_id:?} must be twelve digits"
            )));
        }
        self.account_id = account_id.to_string();
        Ok(())
    }

    /// Adds an access key; refuses a malformed or duplicate id or secret.
    pub fn insert(
        &mut self,
        access_key_id: &str,
        secret_access_key: &str,
        policy: Option<Policy>,
    ) -> Result<(), CredentialsFileError> {
        let well_formed = (1..=ACCESS_KEY_ID_LENGTH_MAX).contains(&access_key_id.len())
            && access_key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !well_formed {
            return Err(CredentialsFileError(format!(
                "access_key_id {access_key_id:?} must be 1 to {ACCESS_KEY_ID_LENGTH_MAX} letters, digits or '_'"
            )));
        }
        if !(1..=SECRET_ACCESS_KEY_LENGTH_BYTES_MAX).contains(&secret_access_key.len()) {
            return Err(CredentialsFileError(format!(
                "the secret_access_key of {access_key_id:?} must have 1 to {SECRET_ACCESS_KEY_LENGTH_BYTES_MAX} bytes"
            )));
        }
        if self.keys.contains_key(access_key_id) {
            return Err(CredentialsFileError(format!(
                "access_key_id {access_key_id:?} appears twice"
            )));
        }
        let key = AccessKey {
            secret_access_key: secret_access_key.to_string(),
            policy,
        };
        self.keys.insert(access_key_id.to_string(), key);
        Ok(())
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Number of configured access keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    // ANCHOR: lookup
    /// The configured key `access_key_id`, `None` for an unknown key that
    /// local mode accepts unverified, or `UnrecognizedClientException`.
    /// An empty id is never accepted: it names no one.
    pub fn lookup(&self, access_key_id: &str) -> Result<Option<&AccessKey>, AuthError> {
        match (self.keys.get(access_key_id), self.mode) {
            (Some(key), _) => Ok(Some(key)),
            (None, AuthMode::Local) if !access_key_id.is_empty() => Ok(None),
            (None, _) => Err(AuthError::UnrecognizedClient),
        }
    }
    // ANCHOR_END: lookup

    /// Checks the principal's policy for `action` (`dynamodb:PutItem`) on
    /// `table`. A key without a policy, or an unknown key in local mode, is
    /// allowed everything.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: &str,
        table: Option<&str>,
    ) -> Result<(), AuthError> {
        let Some(policy) = self
            .keys
            .get(&principal.access_key_id)
            .and_then(AccessKey::policy)
        else {
            return Ok(());
        };
        if policy.authorize(action, table).is_allowed() {
            Ok(())
        } else {
            Err(AuthError::AccessDenied(access_denied_message(
                &self.account_id,
                &principal.region,
                &principal.access_key_id,
                action,
                table,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
        "account_id": "123456789012",
        "access_keys": [
            {"access_key_id": "ADMIN", "secret_access_key": "admin-secret"},
            {"access_key_id": "READER", "secret_access_key": "reader-secret",
             "policy": [{"effect": "Allow", "actions": ["dynamodb:GetItem"], "tables": ["orders"]}]},
            {"access_key_id": "NOBODY", "secret_access_key": "s", "policy": []}
        ]
    }"#;

    fn principal(access_key_id: &str) -> Principal {
        Principal {
            access_key_id: access_key_id.to_string(),
            region: "eu-west-1".to_string(),
            signature_verified: true,
        }
    }

    #[test]
    fn the_file_is_read_with_its_policies() {
        let store = CredentialStore::from_json(AuthMode::Strict, FILE).unwrap();
        assert_eq!(store.len(), 3);
        assert_eq!(store.account_id(), "123456789012");
        assert_eq!(
            store.lookup("ADMIN").unwrap().unwrap().secret_access_key(),
            "admin-secret"
        );
        assert!(store.lookup("READER").unwrap().unwrap().policy().is_some());
        assert_eq!(store.lookup("OTHER"), Err(AuthError::UnrecognizedClient));
    }

    #[test]
    fn local_mode_accepts_unknown_keys_but_not_an_empty_one() {
        let store = CredentialStore::from_json(AuthMode::Local, FILE).unwrap();
        assert_eq!(store.lookup("fakeMyKeyId"), Ok(None));
        assert!(store.lookup("ADMIN").unwrap().is_some());
        assert_eq!(store.lookup(""), Err(AuthError::UnrecognizedClient));
    }

    #[test]
    fn policies_are_enforced_with_aws_messages() {
        let store = CredentialStore::from_json(AuthMode::Local, FILE).unwrap();
        assert_eq!(
            store.authorize(&principal("ADMIN"), "dynamodb:DeleteTable", Some("orders")),
            Ok(())
        );
        assert_eq!(
            store.authorize(&principal("STRANGER"), "dynamodb:DeleteTable", None),
            Ok(())
        );
        assert_eq!(
            store.authorize(&principal("READER"), "dynamodb:GetItem", Some("orders")),
            Ok(())
        );
        assert_eq!(
            store.authorize(&principal("READER"), "dynamodb:PutItem", Some("orders")),
            Err(AuthError::AccessDenied(
                "User: arn:aws:iam::123456789012:user/READER is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/orders".into()
            ))
        );
        assert!(
            store
                .authorize(&principal("NOBODY"), "dynamodb:GetItem", Some("orders"))
                .is_err()
        );
    }

    #[test]
    fn file_errors_say_where_and_what() {
        let error = |text: &str| {
            CredentialStore::from_json(AuthMode::Strict, text)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error("{\"access_keys\": [}"),
            "credentials file: expected value at line 1 column 18"
        );
        assert!(error(r#"{"access_keys": [{"access_key_id": "A", "secret_access_key": "s", "polciy": []}]}"#)
            .contains("unknown field `polciy`"));
        assert_eq!(
            error(
                r#"{"access_keys": [{"access_key_id": "A", "secret_access_key": "s"}, {"access_key_id": "A", "secret_access_key": "t"}]}"#
            ),
            "credentials file: access key 2: access_key_id \"A\" appears twice"
        );
        assert_eq!(
            error(r#"{"access_keys": [{"access_key_id": "A/B", "secret_access_key": "s"}]}"#),
            "credentials file: access key 1: access_key_id \"A/B\" must be 1 to 128 letters, digits or '_'"
        );
        assert_eq!(
            error(r#"{"account_id": "42", "access_keys": []}"#),
            "credentials file: account_id \"42\" must be twelve digits"
        );
        assert!(error(r#"{"access_keys": [{"access_key_id": "A", "secret_access_key": "s", "policy": [{"effect": "Allow", "actions": ["*"], "tables": []}]}]}"#)
            .contains("statement 1: `tables` must not be empty"));
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let store = CredentialStore::from_json(AuthMode::Strict, FILE).unwrap();
        let debug = format!("{store:?}");
        assert!(!debug.contains("admin-secret"));
        assert!(debug.contains("<redacted>"));
    }

    #[test]
    fn local_mode_binds_only_to_loopback() {
        let ok = |address: &str| AuthMode::Local.check_bind(address.parse().unwrap());
        assert_eq!(ok("127.0.0.1:8000"), Ok(()));
        assert_eq!(ok("127.8.9.10:8000"), Ok(()));
        assert_eq!(ok("[::1]:8000"), Ok(()));
        assert_eq!(ok("[::ffff:127.0.0.1]:8000"), Ok(()));
        for address in [
            "0.0.0.0:8000",
            "[::]:8000",
            "192.168.1.5:8000",
            "[::ffff:10.0.0.1]:8000",
        ] {
            let refused = ok(address).unwrap_err();
            assert!(refused.to_string().contains("loopback"), "{address}");
        }
        assert_eq!(
            AuthMode::Strict.check_bind("0.0.0.0:8000".parse().unwrap()),
            Ok(())
        );
    }

    #[test]
    fn modes_parse_from_their_names() {
        assert_eq!("strict".parse(), Ok(AuthMode::Strict));
        assert_eq!("local".parse(), Ok(AuthMode::Local));
        assert!("Local".parse::<AuthMode>().is_err());
    }
}
