//! AWS Signature Version 4, the client side: what an SDK computes for every
//! DynamoDB request. The load generator signs each request itself so that a
//! server under test pays for verification exactly as it would for boto3, and
//! the generator pays what an SDK pays to sign.
//!
//! The steps (canonical request, string to sign, derived key, signature) are
//! the ones a server repeats to verify; the test below pins them to the
//! worked example of the DynamoDB reference.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::cmd::{Result, hex};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "dynamodb";
const TERMINATOR: &str = "aws4_request";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The headers we sign, lower-case and sorted, as botocore would list them.
const SIGNED_HEADERS: &str = "content-type;host;x-amz-date;x-amz-target";

/// Signs requests for one access key in one region. The derived signing key
/// depends only on the date, so it is kept until the date changes.
#[derive(Clone, Debug)]
pub struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    cached: Option<(String, [u8; 32])>,
}

/// What a signed request carries besides its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    pub amz_date: String,
    pub authorization: String,
}

fn hmac(key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|e| format!("HMAC key rejected: {e}"))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

impl Signer {
    pub fn new(access_key: &str, secret_key: &str, region: &str) -> Signer {
        Signer {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
            region: region.to_string(),
            cached: None,
        }
    }

    /// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
    fn signing_key(&mut self, date: &str) -> Result<[u8; 32]> {
        if let Some((cached_date, key)) = &self.cached
            && cached_date == date
        {
            return Ok(*key);
        }
        let k_date = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            date.as_bytes(),
        )?;
        let k_region = hmac(&k_date, self.region.as_bytes())?;
        let k_service = hmac(&k_region, SERVICE.as_bytes())?;
        let key = hmac(&k_service, TERMINATOR.as_bytes())?;
        self.cached = Some((date.to_string(), key));
        Ok(key)
    }

    /// Signs `POST /` with the given host, target and body at `amz_date`
    /// (`YYYYMMDDTHHMMSSZ`).
    pub fn sign(
        &mut self,
        host: &str,
        target: &str,
        body: &[u8],
        amz_date: &str,
    ) -> Result<Signed> {
        let date = amz_date
            .get(..8)
            .ok_or_else(|| format!("bad X-Amz-Date `{amz_date}`"))?;
        let canonical_request = format!(
            "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\nx-amz-date:{amz_date}\nx-amz-target:{target}\n\n{SIGNED_HEADERS}\n{}",
            sha256_hex(body)
        );
        let scope = format!("{date}/{}/{SERVICE}/{TERMINATOR}", self.region);
        let string_to_sign = format!(
            "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
            sha256_hex(canonical_request.as_bytes())
        );
        let key = self.signing_key(date)?;
        let signature = hex(&hmac(&key, string_to_sign.as_bytes())?);
        Ok(Signed {
            amz_date: amz_date.to_string(),
            authorization: format!(
                "{ALGORITHM} Credential={}/{scope}, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
                self.access_key
            ),
        })
    }
}

/// The content type every DynamoDB request and response carries.
pub fn content_type() -> &'static str {
    CONTENT_TYPE
}

/// `YYYYMMDDTHHMMSSZ` for a time in seconds since the Unix epoch (UTC).
pub fn amz_date(unix_seconds: u64) -> String {
    let days = unix_seconds / 86_400;
    let second_of_day = unix_seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (the
/// well-known era arithmetic: 400-year eras of 146,097 days, years starting
/// in March so the leap day comes last).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of the DynamoDB reference, cross-checked there
    /// against botocore's signer.
    #[test]
    fn signs_the_reference_example() {
        let mut signer = Signer::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "us-east-1",
        );
        assert_eq!(
            hex(&signer.signing_key("20150830").unwrap()),
            "44a00bf61392567a12c8a1af3f6227f121fdd3ffabe98527663649f33cbff4aa"
        );
        let signed = signer
            .sign(
                "localhost:8000",
                "DynamoDB_20120810.DescribeTable",
                br#"{"TableName":"Music"}"#,
                "20150830T123600Z",
            )
            .unwrap();
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
             Signature=a8bd38e4a981d1ad2fc74f4f1e19b9ea2a9d85402e9d672b910083d0469d655e"
        );
    }

    #[test]
    fn the_key_changes_with_the_date() {
        let mut signer = Signer::new("a", "b", "us-east-1");
        let first = signer.signing_key("20150830").unwrap();
        let second = signer.signing_key("20150831").unwrap();
        assert_ne!(first, second);
        assert_eq!(signer.signing_key("20150830").unwrap(), first);
    }

    #[test]
    fn formats_dates_in_utc() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_868_799), "20000229T235959Z");
        assert_eq!(amz_date(4_107_542_400), "21000301T000000Z");
    }
}
