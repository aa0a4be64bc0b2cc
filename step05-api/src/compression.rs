//! `Content-Encoding`, both ways: compressed request bodies in, compressed
//! responses out when the client asks.
//!
//! # Requests
//!
//! SDKs may gzip large request bodies (`Content-Encoding: gzip`), and some
//! clients send `deflate`. The SigV4 signature covers the bytes *as sent*,
//! so the server authenticates the compressed body first and decompresses
//! only a signed one; decompression then runs in chunks of
//! [`DECODE_CHUNK_BYTES`] and stops at [`DECODED_BODY_BYTES_MAX`], the same
//! 16 MB DynamoDB allows uncompressed. A few kilobytes that inflate to
//! gigabytes (a "zip bomb") cost at most 16 MB and a few milliseconds.
//!
//! A gzip body may be several members one after the other (RFC 1952 §2.2:
//! what `cat a.gz b.gz` makes); they decode to their concatenation. A body
//! that is not valid gzip gets `InternalServerError` (500), as AWS answers
//! (reference §1.1), and so does a valid member followed by bytes that are
//! not another one: the whole body must decode. An unknown coding, or a
//! chain of two, gets the same 500: DynamoDB's front end treats a body it
//! cannot decode alike, whatever the reason (the reference records only
//! the corrupt case; this is the closest documented answer).
//!
//! # Responses
//!
//! With `Accept-Encoding: gzip`, a body of at least
//! [`RESPONSE_COMPRESSION_BYTES_MIN`] is gzipped (AWS compresses above
//! about 4 KB), and `x-amz-crc32` is the CRC-32 of the *compressed* bytes:
//! the bytes as sent, which is what the Go SDK checks (reference §1.2).

use std::io::{self, Read, Write};

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING};
use flate2::Compression;
use flate2::read::{DeflateDecoder, MultiGzDecoder, ZlibDecoder};
use flate2::write::GzEncoder;

use crate::error::{ApiError, ErrorKind};
use crate::wire::REQUEST_BODY_BYTES_MAX;

/// A decompressed request body may be no larger than an uncompressed one.
pub const DECODED_BODY_BYTES_MAX: usize = REQUEST_BODY_BYTES_MAX;
/// Decompression produces at most this much per step, so the server can
/// check the bound (and take memory budget) as the body grows.
pub const DECODE_CHUNK_BYTES: usize = 64 * 1024;
/// Responses smaller than this are sent as they are: compressing them
/// saves little and costs a gzip header.
pub const RESPONSE_COMPRESSION_BYTES_MIN: usize = 4 * 1024;

/// How a request body is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestEncoding {
    Identity,
    Gzip,
    Deflate,
}

/// Reads `Content-Encoding`. Absent, empty or `identity` is no encoding;
/// one `gzip` (or `x-gzip`) or `deflate` is accepted; anything else — an
/// unknown coding or a chain of two — is refused with a 500.
pub fn request_encoding(headers: &HeaderMap) -> Result<RequestEncoding, ApiError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(RequestEncoding::Identity);
    };
    let text = value.to_str().unwrap_or_default();
    let codings: Vec<String> = text
        .split(',')
        .map(|coding| coding.trim().to_ascii_lowercase())
        .filter(|coding| !coding.is_empty() && coding != "identity")
        .collect();
    match codings.as_slice() {
        [] => Ok(RequestEncoding::Identity),
        [one] if one == "gzip" || one == "x-gzip" => Ok(RequestEncoding::Gzip),
        [one] if one == "deflate" => Ok(RequestEncoding::Deflate),
        _ => Err(undecodable(&format!("unsupported Content-Encoding {text}"))),
    }
}

/// A reader of the decoded body. `deflate` is meant to be zlib-wrapped
/// (RFC 9110), but some clients send raw deflate: the zlib header's
/// checksum tells them apart.
pub fn decoder<'a>(encoding: RequestEncoding, body: &'a [u8]) -> Box<dyn Read + Send + 'a> {
    match encoding {
        RequestEncoding::Identity => Box::new(body),
        RequestEncoding::Gzip => Box::new(MultiGzDecoder::new(body)),
        RequestEncoding::Deflate if has_zlib_header(body) => Box::new(ZlibDecoder::new(body)),
        RequestEncoding::Deflate => Box::new(DeflateDecoder::new(body)),
    }
}

/// RFC 1950: method 8 (deflate) and a header divisible by 31.
fn has_zlib_header(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0F == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

/// What a body that does not decompress gets: AWS answers 500.
pub fn corrupt_body(error: &io::Error) -> ApiError {
    undecodable(&error.to_string())
}

/// The 500 of a body that cannot be decoded, for `reason`.
fn undecodable(reason: &str) -> ApiError {
    ApiError::new(
        ErrorKind::InternalServerError,
        format!("The request body could not be decompressed: {reason}"),
    )
}

/// Decodes a whole body at once, refusing more than `limit` bytes: for
/// tests and callers without a memory budget.
pub fn decode_bounded(
    encoding: RequestEncoding,
    body: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecodeError> {
    let mut reader = decoder(encoding, body);
    let mut out = Vec::new();
    let mut chunk = vec![0u8; DECODE_CHUNK_BYTES];
    loop {
        let read = reader.read(&mut chunk).map_err(DecodeError::Corrupt)?;
        if read == 0 {
            return Ok(out);
        }
        if out.len() + read > limit {
            return Err(DecodeError::TooLarge);
        }
        out.extend_from_slice(&chunk[..read]);
    }
}

/// Why a body could not be decoded.
#[derive(Debug)]
pub enum DecodeError {
    Corrupt(io::Error),
    TooLarge,
}

/// Whether `Accept-Encoding` allows gzip: `gzip` or `*`, without `q=0`.
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|param| {
                let param = param.trim().to_ascii_lowercase();
                param
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// The gzip of `body`, at a fast level: responses are compressed on the
/// request path, so speed matters more than the last few percent.
pub fn gzip(body: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    encoder.write_all(body)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: axum::http::HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn encodings_are_read_leniently_and_unknown_ones_refused() {
        assert_eq!(
            request_encoding(&HeaderMap::new()).unwrap(),
            RequestEncoding::Identity
        );
        for (value, expected) in [
            ("gzip", RequestEncoding::Gzip),
            ("GZIP", RequestEncoding::Gzip),
            ("x-gzip", RequestEncoding::Gzip),
            ("deflate", RequestEncoding::Deflate),
            ("identity", RequestEncoding::Identity),
            ("", RequestEncoding::Identity),
        ] {
            assert_eq!(
                request_encoding(&headers(CONTENT_ENCODING, value)).unwrap(),
                expected,
                "{value}"
            );
        }
        for value in ["br", "gzip, gzip", "zstd"] {
            let error = request_encoding(&headers(CONTENT_ENCODING, value)).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InternalServerError);
        }
    }

    #[test]
    fn gzip_and_both_kinds_of_deflate_decode() {
        let body = br#"{"TableName":"T"}"#;
        let gz = gzip(body).unwrap();
        assert_eq!(
            decode_bounded(RequestEncoding::Gzip, &gz, 1024).unwrap(),
            body
        );
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(body).unwrap();
        let zlib = zlib.finish().unwrap();
        assert_eq!(
            decode_bounded(RequestEncoding::Deflate, &zlib, 1024).unwrap(),
            body
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(body).unwrap();
        let raw = raw.finish().unwrap();
        assert_eq!(
            decode_bounded(RequestEncoding::Deflate, &raw, 1024).unwrap(),
            body
        );
    }

    #[test]
    fn concatenated_members_decode_and_trailing_junk_is_corrupt() {
        let mut body = gzip(br#"{"TableName":"#).unwrap();
        body.extend(gzip(br#""T"}"#).unwrap());
        assert_eq!(
            decode_bounded(RequestEncoding::Gzip, &body, 1024).unwrap(),
            br#"{"TableName":"T"}"#
        );
        body.extend_from_slice(b"junk");
        assert!(matches!(
            decode_bounded(RequestEncoding::Gzip, &body, 1024),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn a_bomb_stops_at_the_limit_and_garbage_is_corrupt() {
        // 17 MB of zeros compress a hundredfold or more.
        let bomb = gzip(&vec![0u8; 17 * 1024 * 1024]).unwrap();
        assert!(bomb.len() < 170 * 1024, "{}", bomb.len());
        assert!(matches!(
            decode_bounded(RequestEncoding::Gzip, &bomb, DECODED_BODY_BYTES_MAX),
            Err(DecodeError::TooLarge)
        ));
        assert!(matches!(
            decode_bounded(RequestEncoding::Gzip, b"not gzip at all", 1024),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip(&headers(ACCEPT_ENCODING, "gzip")));
        assert!(accepts_gzip(&headers(
            ACCEPT_ENCODING,
            "deflate, gzip;q=0.5"
        )));
        assert!(accepts_gzip(&headers(ACCEPT_ENCODING, "*")));
        assert!(!accepts_gzip(&headers(ACCEPT_ENCODING, "gzip;q=0")));
        assert!(!accepts_gzip(&headers(ACCEPT_ENCODING, "identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
