//! One real request signed and verified step by step: every intermediate
//! value of SigV4, asserted. The chapter shows these constants, so the
//! numbers in the book are the numbers this test checks.
//!
//! The request and its final signature are the published cross-checked
//! vector (access key `AKIDEXAMPLE`, AWS's documented example secret); the
//! test also signs the same request with the AWS SDK's own signer and
//! checks that it produces the same `Authorization` header.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use step05_api::auth::sigv4::canonical::{canonical_request, payload_hash};
use step05_api::auth::sigv4::signing::{
    credential_scope, hex, hmac_sha256, sha256_hex, signature, signing_key, string_to_sign,
};
use step05_api::auth::{AuthMode, CredentialStore, HttpRequest, Principal, verify};

const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// ANCHOR: request
// POST / HTTP/1.1
const HEADERS: [(&str, &[u8]); 5] = [
    ("Host", b"localhost:8000"),
    ("Content-Type", b"application/x-amz-json-1.0"),
    ("X-Amz-Date", b"20150830T123600Z"),
    ("X-Amz-Target", b"DynamoDB_20120810.DescribeTable"),
    ("Authorization", b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=a8bd38e4a981d1ad2fc74f4f1e19b9ea2a9d85402e9d672b910083d0469d655e"),
];
const BODY: &[u8] = br#"{"TableName":"Music"}"#;
// ANCHOR_END: request

// ANCHOR: canonical_request
const PAYLOAD_HASH: &str = "6b140459926d5b244a92626dd8d74fa6c3ddd91f508085b8e9e0a164221dba3a";
const CANONICAL_REQUEST: &str = "POST
/

content-type:application/x-amz-json-1.0
host:localhost:8000
x-amz-date:20150830T123600Z
x-amz-target:DynamoDB_20120810.DescribeTable

content-type;host;x-amz-date;x-amz-target
6b140459926d5b244a92626dd8d74fa6c3ddd91f508085b8e9e0a164221dba3a";
// ANCHOR_END: canonical_request

// ANCHOR: string_to_sign
const STRING_TO_SIGN: &str = "AWS4-HMAC-SHA256
20150830T123600Z
20150830/us-east-1/dynamodb/aws4_request
105ea805635957f870045bef08021a65f373827b43f21c9cdfed1ca698561eff";
// ANCHOR_END: string_to_sign

// ANCHOR: keys
// kDate    = HMAC("AWS4" + secret, "20150830")
const K_DATE: &str = "0138c7a6cbd60aa727b2f653a522567439dfb9f3e72b21f9b25941a42f04a7cd";
// kRegion  = HMAC(kDate, "us-east-1")
const K_REGION: &str = "f33d5808504bf34812e5fade63308b424b244c59189be2a591dd2282c7cb563f";
// kService = HMAC(kRegion, "dynamodb")
const K_SERVICE: &str = "209e73af0bc12e97fcefb7c59680b47530d2bdb974e5ed89f4f8bf2dec21f71f";
// kSigning = HMAC(kService, "aws4_request")
const K_SIGNING: &str = "44a00bf61392567a12c8a1af3f6227f121fdd3ffabe98527663649f33cbff4aa";
// Signature = hex(HMAC(kSigning, string to sign))
const SIGNATURE: &str = "a8bd38e4a981d1ad2fc74f4f1e19b9ea2a9d85402e9d672b910083d0469d655e";
// ANCHOR_END: keys

fn request() -> HttpRequest<'static> {
    HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &HEADERS,
        body: BODY,
    }
}

fn signed_headers() -> Vec<String> {
    ["content-type", "host", "x-amz-date", "x-amz-target"]
        .map(String::from)
        .to_vec()
}

/// 2015-08-30T12:36:00Z, the request's own time.
fn request_time() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

#[test]
fn each_step_gives_the_published_values() {
    let request = request();
    assert_eq!(payload_hash(&request).unwrap(), PAYLOAD_HASH);

    let canonical = canonical_request(&request, &signed_headers(), PAYLOAD_HASH);
    assert_eq!(
        String::from_utf8(canonical.clone()).unwrap(),
        CANONICAL_REQUEST
    );

    let scope = credential_scope("20150830", "us-east-1", "dynamodb");
    let to_sign = string_to_sign("20150830T123600Z", &scope, &canonical);
    assert_eq!(to_sign, STRING_TO_SIGN);
    assert_eq!(
        sha256_hex(CANONICAL_REQUEST.as_bytes()),
        &STRING_TO_SIGN[STRING_TO_SIGN.len() - 64..]
    );

    let k_date = hmac_sha256(format!("AWS4{SECRET_ACCESS_KEY}").as_bytes(), b"20150830");
    let k_region = hmac_sha256(&k_date, b"us-east-1");
    let k_service = hmac_sha256(&k_region, b"dynamodb");
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    assert_eq!(
        [
            hex(&k_date),
            hex(&k_region),
            hex(&k_service),
            hex(&k_signing)
        ],
        [K_DATE, K_REGION, K_SERVICE, K_SIGNING]
    );
    let key = signing_key(SECRET_ACCESS_KEY, "20150830", "us-east-1", "dynamodb");
    assert_eq!(hex(&key), K_SIGNING);
    assert_eq!(signature(&key, &to_sign), SIGNATURE);
}

#[test]
fn the_server_accepts_the_request_in_both_modes() {
    let mut strict = CredentialStore::new(AuthMode::Strict);
    strict
        .insert(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
        .unwrap();
    let expected = Principal {
        access_key_id: ACCESS_KEY_ID.to_string(),
        region: "us-east-1".to_string(),
        signature_verified: true,
    };
    assert_eq!(
        verify(&request(), request_time(), &strict),
        Ok(expected.clone())
    );

    let local = CredentialStore::new(AuthMode::Local);
    assert_eq!(
        verify(&request(), request_time(), &local),
        Ok(Principal {
            signature_verified: false,
            ..expected
        })
    );
}

#[test]
fn the_sdk_signer_produces_the_same_header() {
    let identity = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("dynamodb")
        .time(request_time())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let unsigned: Vec<(&str, &str)> = HEADERS[..4]
        .iter()
        .filter(|(name, _)| *name != "X-Amz-Date")
        .map(|(name, value)| (*name, std::str::from_utf8(value).unwrap()))
        .collect();
    let signable = SignableRequest::new(
        "POST",
        "http://localhost:8000/",
        unsigned.into_iter(),
        SignableBody::Bytes(BODY),
    )
    .unwrap();
    let (instructions, signature) = sign(signable, &params).unwrap().into_parts();
    assert_eq!(signature, SIGNATURE);
    let authorization = instructions
        .headers()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.to_string())
        .unwrap();
    assert_eq!(authorization.as_bytes(), HEADERS[4].1);
}
