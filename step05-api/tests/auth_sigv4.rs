//! The verifier against the AWS SDK's own signer, and every error path.
//!
//! Requests are signed with `aws-sigv4` (the signer every Rust SDK client
//! uses), then passed through what a proxy may do to them (header names in
//! another case, headers reordered, values padded with spaces) before they
//! reach `verify`. Anything the signature covers, changed by one byte, must
//! be refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use proptest::prelude::*;
use step05_api::auth::error::SIGNATURE_MISMATCH_MESSAGE;
use step05_api::auth::sigv4::canonical::canonical_request;
use step05_api::auth::sigv4::signing::{
    credential_scope, sha256_hex, signature, signing_key, string_to_sign,
};
use step05_api::auth::{AuthError, AuthMode, CredentialStore, HttpRequest, verify};

const ACCESS_KEY_ID: &str = "AKIDTEST";
const SECRET_ACCESS_KEY: &str = "test-secret";

/// 2026-11-23T10:00:00Z.
fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_428_000)
}

/// A request as the server receives it: owned, so tests can tamper with it.
#[derive(Clone, Debug)]
struct Wire {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Wire {
    fn verify(&self, now: SystemTime, store: &CredentialStore) -> Result<bool, AuthError> {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        let request = HttpRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        };
        verify(&request, now, store).map(|principal| principal.signature_verified)
    }

    fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers
            .push((name.to_string(), value.as_bytes().to_vec()));
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    fn authorization(&self) -> String {
        let (_, value) = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            .unwrap();
        String::from_utf8(value.clone()).unwrap()
    }
}

/// Signs with the SDK's signer, as a client would, at `time`.
fn sdk_signed(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    time: SystemTime,
) -> Wire {
    let identity = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("eu-west-1")
        .name("dynamodb")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = format!("http://localhost:8000{path_and_query}");
    let mut all_headers = vec![("host", "localhost:8000")];
    all_headers.extend_from_slice(headers);
    let signable = SignableRequest::new(
        method,
        uri.as_str(),
        all_headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut wire = Wire {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: all_headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: body.to_vec(),
    };
    for (name, value) in instructions.headers() {
        wire.set_header(name, value);
    }
    wire
}

fn describe_table(time: SystemTime) -> Wire {
    sdk_signed(
        "POST",
        "/",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.DescribeTable"),
        ],
        br#"{"TableName":"orders"}"#,
        time,
    )
}

fn strict() -> CredentialStore {
    let mut store = CredentialStore::new(AuthMode::Strict);
    store
        .insert(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
        .unwrap();
    store
}

fn local() -> CredentialStore {
    let mut store = CredentialStore::new(AuthMode::Local);
    store
        .insert(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
        .unwrap();
    store
}

fn incomplete(message: &str) -> Result<bool, AuthError> {
    Err(AuthError::IncompleteSignature(message.to_string()))
}

fn invalid(message: &str) -> Result<bool, AuthError> {
    Err(AuthError::InvalidSignature(message.to_string()))
}

#[test]
fn an_sdk_signed_request_is_verified() {
    let wire = describe_table(t0());
    assert_eq!(wire.verify(t0(), &strict()), Ok(true));
    assert_eq!(wire.verify(t0(), &local()), Ok(true));
}

#[test]
fn no_authorization_is_a_missing_token() {
    let mut wire = describe_table(t0());
    wire.remove_header("authorization");
    assert_eq!(
        wire.verify(t0(), &strict()),
        Err(AuthError::MissingAuthenticationToken)
    );
    assert_eq!(
        wire.verify(t0(), &local()),
        Err(AuthError::MissingAuthenticationToken)
    );
}

#[test]
fn header_and_query_authentication_together_are_refused() {
    let mut wire = describe_table(t0());
    wire.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256".to_string();
    assert_eq!(
        wire.verify(t0(), &local()),
        invalid(
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
        )
    );
}

#[test]
fn an_incomplete_header_lists_what_is_missing_even_in_local_mode() {
    let mut wire = describe_table(t0());
    wire.set_header(
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/eu-west-1/dynamodb/aws4_request",
    );
    wire.remove_header("x-amz-date");
    assert_eq!(
        wire.verify(t0(), &local()),
        incomplete(
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 Credential=AKIDTEST/20261123/eu-west-1/dynamodb/aws4_request"
        )
    );
}

#[test]
fn a_malformed_date_is_incomplete() {
    let mut wire = describe_table(t0());
    wire.set_header("X-Amz-Date", "2026-11-23T10:00:00Z");
    assert_eq!(
        wire.verify(t0(), &local()),
        incomplete(
            "Date must be in ISO-8601 'basic format'. Got '2026-11-23T10:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
        )
    );
}

#[test]
fn a_date_more_than_fifteen_minutes_away_is_refused_in_both_modes() {
    let wire = describe_table(t0());
    for store in [strict(), local()] {
        assert_eq!(
            wire.verify(t0() + Duration::from_secs(30 * 60), &store),
            invalid(
                "Signature expired: 20261123T100000Z is now earlier than 20261123T101500Z (20261123T103000Z - 15 min.)"
            )
        );
        assert_eq!(
            wire.verify(t0() - Duration::from_secs(16 * 60), &store),
            invalid(
                "Signature not yet current: 20261123T100000Z is still later than 20261123T095900Z (20261123T094400Z + 15 min.)"
            )
        );
        assert_eq!(
            wire.verify(t0() + Duration::from_secs(15 * 60), &store),
            Ok(true)
        );
        assert_eq!(
            wire.verify(t0() - Duration::from_secs(15 * 60), &store),
            Ok(true)
        );
    }
}

#[test]
fn host_must_be_signed() {
    let mut wire = describe_table(t0());
    let authorization = wire.authorization().replace(";host;", ";");
    wire.set_header("Authorization", &authorization);
    assert_eq!(
        wire.verify(t0(), &local()),
        invalid("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    );
}

#[test]
fn the_credential_scope_is_checked() {
    let mut wire = describe_table(t0());
    let authorization = wire.authorization();
    wire.set_header("Authorization", &authorization.replace("/dynamodb/", "/"));
    assert_eq!(
        wire.verify(t0(), &local()),
        incomplete(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'AKIDTEST/20261123/eu-west-1/aws4_request'"
        )
    );
    wire.set_header(
        "Authorization",
        &authorization.replace("/20261123/", "/20261122/"),
    );
    assert_eq!(
        wire.verify(t0(), &local()),
        invalid(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261122' != '20261123', from '20261123T100000Z'."
        )
    );
    wire.set_header(
        "Authorization",
        &authorization.replace("/dynamodb/", "/s3/"),
    );
    assert_eq!(
        wire.verify(t0(), &local()),
        invalid("Credential should be scoped to correct service: 'dynamodb'. ")
    );
}

#[test]
fn unknown_keys_are_unrecognized_in_strict_mode_and_accepted_in_local_mode() {
    let wire = describe_table(t0());
    let other = CredentialStore::new(AuthMode::Strict);
    assert_eq!(
        wire.verify(t0(), &other),
        Err(AuthError::UnrecognizedClient)
    );
    let other = CredentialStore::new(AuthMode::Local);
    assert_eq!(wire.verify(t0(), &other), Ok(false));
}

#[test]
fn a_wrong_secret_fails_for_a_known_key_in_both_modes() {
    let wire = describe_table(t0());
    for mode in [AuthMode::Strict, AuthMode::Local] {
        let mut store = CredentialStore::new(mode);
        store.insert(ACCESS_KEY_ID, "another-secret", None).unwrap();
        assert_eq!(
            wire.verify(t0(), &store),
            invalid(SIGNATURE_MISMATCH_MESSAGE)
        );
    }
}

#[test]
fn every_signed_part_is_covered() {
    let original = describe_table(t0());
    let mut tampered: Vec<Wire> = Vec::new();
    let mut body = original.clone();
    body.body = br#"{"TableName":"ordert"}"#.to_vec();
    tampered.push(body);
    let mut target = original.clone();
    target.set_header("X-Amz-Target", "DynamoDB_20120810.DeleteTable");
    tampered.push(target);
    let mut host = original.clone();
    host.set_header("Host", "localhost:8001");
    tampered.push(host);
    let mut method = original.clone();
    method.method = "PUT".to_string();
    tampered.push(method);
    let mut path = original.clone();
    path.path = "/x".to_string();
    tampered.push(path);
    let mut query = original.clone();
    query.query = "a=b".to_string();
    tampered.push(query);
    let mut signature = original.clone();
    let authorization = signature.authorization();
    let (head, hex) = authorization.split_once("Signature=").unwrap();
    signature.set_header(
        "Authorization",
        &format!("{head}Signature={}", hex.to_uppercase()),
    );
    tampered.push(signature);
    for wire in &tampered {
        assert_eq!(
            wire.verify(t0(), &strict()),
            invalid(SIGNATURE_MISMATCH_MESSAGE),
            "{wire:?}"
        );
    }
    // An unsigned header may change freely.
    let mut unsigned = original.clone();
    unsigned.set_header("User-Agent", "a proxy was here");
    assert_eq!(unsigned.verify(t0(), &strict()), Ok(true));
}

#[test]
fn a_date_header_can_stand_in_for_x_amz_date() {
    // The SDK always sends X-Amz-Date, so this request is signed with the
    // crate's own pieces, as an older client signing `Date` would.
    let headers: Vec<(String, Vec<u8>)> = vec![
        ("Host".into(), b"localhost:8000".to_vec()),
        ("Date".into(), b"Mon, 23 Nov 2026 10:00:00 GMT".to_vec()),
    ];
    let borrowed: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let request = HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &borrowed,
        body: b"{}",
    };
    let signed = ["date".to_string(), "host".to_string()];
    let canonical = canonical_request(&request, &signed, &sha256_hex(b"{}"));
    let scope = credential_scope("20261123", "eu-west-1", "dynamodb");
    let to_sign = string_to_sign("20261123T100000Z", &scope, &canonical);
    let key = signing_key(SECRET_ACCESS_KEY, "20261123", "eu-west-1", "dynamodb");
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/{scope}, SignedHeaders=date;host, Signature={}",
        signature(&key, &to_sign)
    );
    let mut wire = Wire {
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers,
        body: b"{}".to_vec(),
    };
    wire.set_header("Authorization", &authorization);
    assert_eq!(wire.verify(t0(), &strict()), Ok(true));
}

/// A header name that is not one the signer adds or skips by itself.
fn header_name() -> impl Strategy<Value = String> {
    "x-test-[a-z]{1,6}"
}

/// Printable ASCII, with runs of spaces that canonicalisation collapses.
fn header_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9 ,;=/]{0,12}[a-zA-Z0-9])?"
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-z0-9]{1,5}",
            Just("%20".to_string()),
            Just("a~b".to_string())
        ],
        0..4,
    )
    .prop_map(|segments| format!("/{}", segments.join("/")))
}

fn query() -> impl Strategy<Value = String> {
    prop::collection::vec(("[a-z]{1,4}", "[a-zA-Z0-9]{0,4}"), 0..4).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

/// What a proxy may do to a header without breaking its signature.
fn disguise(wire: &mut Wire, upper: bool, pad: bool, reverse: bool) {
    for (name, value) in &mut wire.headers {
        if upper && !name.eq_ignore_ascii_case("authorization") {
            *name = name.to_uppercase();
        }
        if pad && !name.eq_ignore_ascii_case("authorization") {
            let mut padded = b"  ".to_vec();
            padded.extend_from_slice(value);
            padded.extend_from_slice(b" \t");
            *value = padded;
        }
    }
    if reverse {
        wire.headers.reverse();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn whatever_the_sdk_signs_verifies_and_any_change_fails(
        method in prop_oneof![Just("POST"), Just("GET"), Just("PUT")],
        path in path(),
        query in query(),
        headers in prop::collection::btree_map(header_name(), header_value(), 0..4),
        body in prop::collection::vec(any::<u8>(), 0..64),
        skew in -900_i64..=900,
        upper in any::<bool>(),
        pad in any::<bool>(),
        reverse in any::<bool>(),
        flip in any::<prop::sample::Index>(),
    ) {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let path_and_query = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
        let mut wire = sdk_signed(method, &path_and_query, &headers, &body, t0());
        disguise(&mut wire, upper, pad, reverse);
        let now = UNIX_EPOCH + Duration::from_secs(1_795_428_000_u64.checked_add_signed(skew).unwrap());
        prop_assert_eq!(wire.verify(now, &strict()), Ok(true));

        // Change one byte of the body (or add one): the signature must fail.
        let mut tampered = wire.clone();
        if tampered.body.is_empty() {
            tampered.body.push(b'x');
        } else {
            let at = flip.index(tampered.body.len());
            tampered.body[at] ^= 0x01;
        }
        prop_assert_eq!(tampered.verify(now, &strict()), invalid(SIGNATURE_MISMATCH_MESSAGE));
    }

    #[test]
    fn hostile_headers_never_panic(
        authorization in prop::collection::vec(any::<u8>(), 0..200),
        readable in "(AWS4-HMAC-SHA256 )?((Credential|SignedHeaders|Signature)=[a-z0-9/;_-]{0,20}[, ]{0,2}){0,4}",
        date in prop_oneof![Just("20261123T100000Z".to_string()), "[0-9TZ]{0,18}", ".{0,30}"],
        path in ".{0,20}",
        query in ".{0,20}",
    ) {
        for value in [authorization.clone(), readable.clone().into_bytes()] {
            let headers: Vec<(&str, &[u8])> = vec![
                ("authorization", value.as_slice()),
                ("x-amz-date", date.as_bytes()),
                ("host", b"localhost"),
            ];
            let request = HttpRequest { method: "POST", path: &path, query: &query, headers: &headers, body: b"" };
            let _ = verify(&request, t0(), &strict());
            let _ = verify(&request, t0(), &local());
        }
    }
}
