//! Reading the `Authorization` header and its credential scope.
//!
//! ```text
//! AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=5d67…
//! ```
//!
//! The parser is lenient where clients differ (components separated by
//! `", "` or just `","`, in any order) and strict where AWS is: the
//! algorithm, the three components, and the five elements of the
//! credential. Its errors are AWS's, word for word, because SDK test suites
//! match them.

use crate::auth::error::AuthError;
use crate::auth::sigv4::signing::{ALGORITHM, SCOPE_TERMINATOR};

/// The service name every DynamoDB request (and DynamoDB Streams request)
/// is signed for.
pub const SERVICE: &str = "dynamodb";

/// The longest region name accepted in a credential scope.
pub const REGION_LENGTH_MAX: usize = 64;

/// The three components of the `Authorization` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthorizationHeader<'a> {
    pub credential: &'a str,
    pub signed_headers: &'a str,
    pub signature: &'a str,
}

// ANCHOR: parse_header
impl<'a> AuthorizationHeader<'a> {
    /// Parses the header. `has_date` says whether the request has an
    /// `X-Amz-Date` or `Date` header: AWS reports a missing date in the same
    /// message as missing components, so the check lives here.
    pub fn parse(header: &'a str, has_date: bool) -> Result<Self, AuthError> {
        let header = header.trim();
        let (algorithm, rest) = header.split_once([' ', '\t']).unwrap_or((header, ""));
        if algorithm != ALGORITHM {
            return Err(AuthError::IncompleteSignature(format!(
                "Unsupported AWS 'algorithm': '{algorithm}'"
            )));
        }
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for component in rest.split([',', ' ', '\t']).filter(|c| !c.is_empty()) {
            let Some((name, value)) = component.split_once('=') else {
                continue;
            };
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => continue,
            };
            if slot.is_none() && !value.is_empty() {
                *slot = Some(value);
            }
        }
        let mut missing = String::new();
        for (name, value) in [
            ("Credential", credential),
            ("Signature", signature),
            ("SignedHeaders", signed_headers),
        ] {
            if value.is_none() {
                missing.push_str(&format!(
                    "Authorization header requires '{name}' parameter. "
                ));
            }
        }
        if !has_date {
            missing.push_str(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
            );
        }
        match (credential, signed_headers, signature) {
            (Some(credential), Some(signed_headers), Some(signature)) if missing.is_empty() => {
                Ok(AuthorizationHeader {
                    credential,
                    signed_headers,
                    signature,
                })
            }
            _ => Err(AuthError::IncompleteSignature(format!(
                "{missing}Authorization={header}"
            ))),
        }
    }

    /// The signed header names, lower-cased and sorted: the order of the
    /// canonical headers and of the signed-headers line.
    pub fn signed_header_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .signed_headers
            .split(';')
            .map(|name| name.trim().to_ascii_lowercase())
            .collect();
        names.sort();
        names
    }
}
// ANCHOR_END: parse_header

/// `AKID/date/region/service/aws4_request`: who signed, and for what scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credential<'a> {
    pub access_key_id: &'a str,
    pub date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub terminator: &'a str,
}

impl<'a> Credential<'a> {
    /// Splits the `Credential` component into its five elements.
    pub fn parse(text: &'a str) -> Result<Self, AuthError> {
        let mut parts = text.split('/');
        let mut next = || parts.next();
        match (next(), next(), next(), next(), next(), next()) {
            (
                Some(access_key_id),
                Some(date),
                Some(region),
                Some(service),
                Some(terminator),
                None,
            ) => Ok(Credential {
                access_key_id,
                date,
                region,
                service,
                terminator,
            }),
            _ => Err(AuthError::IncompleteSignature(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{text}'"
            ))),
        }
    }

    /// The scope as it appears in the string to sign.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.date, self.region, self.service, self.terminator
        )
    }

    /// Checks the scope against the request: its date must be the date of
    /// the request time (`amz_date`, in basic format), its service
    /// `dynamodb`, its terminator `aws4_request`, its region a plausible
    /// region name. The first failure is reported.
    pub fn check_scope(&self, amz_date: &str) -> Result<(), AuthError> {
        let request_date = amz_date.get(..8).unwrap_or(amz_date);
        if self.date != request_date {
            return Err(AuthError::InvalidSignature(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{request_date}', from '{amz_date}'.",
                self.date
            )));
        }
        if !is_region_name(self.region) {
            return Err(AuthError::InvalidSignature(format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                self.region
            )));
        }
        if self.service != SERVICE {
            return Err(AuthError::InvalidSignature(format!(
                "Credential should be scoped to correct service: '{SERVICE}'. "
            )));
        }
        if self.terminator != SCOPE_TERMINATOR {
            return Err(AuthError::InvalidSignature(format!(
                "Credential should be scoped with a valid terminator: '{SCOPE_TERMINATOR}', not '{}'. ",
                self.terminator
            )));
        }
        Ok(())
    }
}

/// Lower-case letters, digits and `-`, like every AWS region name; any
/// such name is accepted, as one local server stands for every region.
fn is_region_name(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= REGION_LENGTH_MAX
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";

    fn incomplete(message: &str) -> Result<AuthorizationHeader<'_>, AuthError> {
        Err(AuthError::IncompleteSignature(message.to_string()))
    }

    #[test]
    fn a_complete_header_parses_with_or_without_spaces() {
        let expected = AuthorizationHeader {
            credential: "AKID/20150830/us-east-1/dynamodb/aws4_request",
            signed_headers: "host;x-amz-date",
            signature: "abc",
        };
        assert_eq!(AuthorizationHeader::parse(GOOD, true), Ok(expected));
        let compact = GOOD.replace(", ", ",");
        assert_eq!(AuthorizationHeader::parse(&compact, true), Ok(expected));
        let reordered = "AWS4-HMAC-SHA256 Signature=abc,SignedHeaders=host;x-amz-date,Credential=AKID/20150830/us-east-1/dynamodb/aws4_request";
        assert_eq!(AuthorizationHeader::parse(reordered, true), Ok(expected));
    }

    #[test]
    fn missing_parts_are_all_listed_with_the_header() {
        assert_eq!(
            AuthorizationHeader::parse("AWS4-HMAC-SHA256", false),
            incomplete(
                "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"
            )
        );
        let no_signature = "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=";
        assert_eq!(
            AuthorizationHeader::parse(no_signature, true),
            incomplete(&format!(
                "Authorization header requires 'Signature' parameter. Authorization={no_signature}"
            ))
        );
    }

    #[test]
    fn other_algorithms_are_refused() {
        assert_eq!(
            AuthorizationHeader::parse("AWS4-HMAC-SHA1 Credential=x", true),
            incomplete("Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'")
        );
        assert_eq!(
            AuthorizationHeader::parse("", true),
            incomplete("Unsupported AWS 'algorithm': ''")
        );
    }

    #[test]
    fn signed_header_names_are_lower_case_and_sorted() {
        let header = AuthorizationHeader {
            credential: "",
            signed_headers: "X-Amz-Date;Host;content-type",
            signature: "",
        };
        assert_eq!(
            header.signed_header_names(),
            ["content-type", "host", "x-amz-date"]
        );
    }

    #[test]
    fn credentials_have_five_elements() {
        let credential =
            Credential::parse("AKID/20150830/us-east-1/dynamodb/aws4_request").unwrap();
        assert_eq!(credential.access_key_id, "AKID");
        assert_eq!(
            credential.scope(),
            "20150830/us-east-1/dynamodb/aws4_request"
        );
        for bad in ["AKID/20150830/us-east-1/dynamodb", "a/b/c/d/e/f", ""] {
            assert_eq!(
                Credential::parse(bad),
                Err(AuthError::IncompleteSignature(format!(
                    "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{bad}'"
                )))
            );
        }
    }

    #[test]
    fn the_scope_must_match_the_request() {
        let check = |credential: &str| {
            Credential::parse(credential)
                .unwrap()
                .check_scope("20150830T123600Z")
        };
        assert_eq!(
            check("AKID/20150830/us-east-1/dynamodb/aws4_request"),
            Ok(())
        );
        assert_eq!(
            check("AKID/20150831/us-east-1/dynamodb/aws4_request"),
            Err(AuthError::InvalidSignature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'.".into()
            ))
        );
        assert_eq!(
            check("AKID/20150830/US_EAST/dynamodb/aws4_request"),
            Err(AuthError::InvalidSignature(
                "Credential should be scoped to a valid region, not 'US_EAST'. ".into()
            ))
        );
        assert_eq!(
            check("AKID/20150830/us-east-1/s3/aws4_request"),
            Err(AuthError::InvalidSignature(
                "Credential should be scoped to correct service: 'dynamodb'. ".into()
            ))
        );
        assert_eq!(
            check("AKID/20150830/us-east-1/dynamodb/aws5_request"),
            Err(AuthError::InvalidSignature(
                "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ".into()
            ))
        );
    }
}
