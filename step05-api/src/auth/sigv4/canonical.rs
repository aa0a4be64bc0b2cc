//! The canonical request: one exact text for one request.
//!
//! Between the client's signer and the server's verifier the request passes
//! through HTTP libraries and proxies that may change header-name case,
//! reorder headers, pad values with spaces, or encode a path differently.
//! Both sides therefore sign a *canonical* form that absorbs those changes:
//!
//! ```text
//! METHOD
//! canonical URI          (path normalised, then percent-encoded again)
//! canonical query        (parameters encoded and sorted)
//! canonical headers      (one `name:value` line per signed header, sorted)
//!                        (an empty line: the header block ends with `\n`)
//! signed headers         (the names, `;`-separated)
//! payload hash           (hex SHA-256 of the body)
//! ```
//!
//! Only the headers the client lists in `SignedHeaders` are covered: a proxy
//! may add others freely. The result is bytes, not text, because a header
//! value need not be UTF-8.

use crate::auth::error::AuthError;
use crate::auth::request::HttpRequest;
use crate::auth::sigv4::signing::sha256_hex;

/// The header that carries a precomputed payload hash (or `UNSIGNED-PAYLOAD`).
pub const CONTENT_SHA256_HEADER: &str = "x-amz-content-sha256";

/// The payload hash a client sends when it chose not to sign the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

// ANCHOR: canonical_request
/// The canonical request for `request`, covering the headers `signed_headers`
/// (lower-case, sorted) and a body whose hash is `payload_hash`.
pub fn canonical_request(
    request: &HttpRequest<'_>,
    signed_headers: &[String],
    payload_hash: &str,
) -> Vec<u8> {
    let mut text = Vec::with_capacity(256);
    text.extend_from_slice(request.method.as_bytes());
    text.push(b'\n');
    text.extend_from_slice(canonical_uri(request.path).as_bytes());
    text.push(b'\n');
    text.extend_from_slice(canonical_query(request.query).as_bytes());
    text.push(b'\n');
    text.extend_from_slice(&canonical_headers(request, signed_headers));
    text.push(b'\n');
    text.extend_from_slice(signed_headers.join(";").as_bytes());
    text.push(b'\n');
    text.extend_from_slice(payload_hash.as_bytes());
    text
}
// ANCHOR_END: canonical_request

// ANCHOR: canonical_headers
/// One `name:value\n` line per signed header, in the order of
/// `signed_headers` (lower-case and sorted by the caller). The value is
/// every occurrence of the header joined with `,`, each trimmed and with
/// runs of spaces and tabs inside it collapsed to one space. A signed
/// header the request lacks gets an empty value, so the signature fails
/// rather than the request being refused for a reason the client cannot see.
pub fn canonical_headers(request: &HttpRequest<'_>, signed_headers: &[String]) -> Vec<u8> {
    // EXERCISE(05.11): build the canonical header block: `name:value\n` for each signed header
    let mut block = Vec::new();
    for name in signed_headers {
        block.extend_from_slice(name.as_bytes());
        block.push(b':');
        for (index, value) in request.header_values(name).enumerate() {
            if index > 0 {
                block.push(b',');
            }
            block.extend_from_slice(&trim_all(value));
        }
        block.push(b'\n');
    }
    block
    // END EXERCISE
}
// ANCHOR_END: canonical_headers

/// Trims spaces and tabs at both ends and collapses every run inside to one
/// space.
pub fn trim_all(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut pending_space = false;
    for &byte in value {
        if byte == b' ' || byte == b'\t' {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(byte);
        }
    }
    out
}

// ANCHOR: canonical_uri
/// The canonical URI: the path as received, with empty and `.` segments
/// removed and `..` applied, then percent-encoded once more (so `%20` in
/// the request becomes `%2520`: every service but S3 signs the path encoded
/// twice). An empty path is `/`.
pub fn canonical_uri(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let ends_with_slash = ["/", "/.", "/.."].iter().any(|end| path.ends_with(end));
    let mut normalised = String::with_capacity(path.len() + 1);
    for segment in &segments {
        normalised.push('/');
        normalised.push_str(segment);
    }
    if segments.is_empty() || ends_with_slash {
        normalised.push('/');
    }
    uri_encode(normalised.as_bytes(), true)
}
// ANCHOR_END: canonical_uri

/// The canonical query string: each `name=value` pair percent-decoded and
/// encoded again in RFC 3986's strict form (so any client spelling of the
/// same parameter gives the same text), then sorted by name and value. A
/// parameter without `=` has an empty value. `+` is a literal plus, not a
/// space: SigV4 encodes spaces as `%20`.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                uri_encode(&percent_decode(name), false),
                uri_encode(&percent_decode(value), false),
            )
        })
        .collect();
    pairs.sort();
    let mut text = String::with_capacity(query.len());
    for (index, (name, value)) in pairs.iter().enumerate() {
        if index > 0 {
            text.push('&');
        }
        text.push_str(name);
        text.push('=');
        text.push_str(value);
    }
    text
}

/// Percent-encodes every byte except RFC 3986's unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), and `/` too when `keep_slash`; hex in upper case.
pub fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut text = String::with_capacity(bytes.len());
    for &byte in bytes {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && byte == b'/') {
            text.push(char::from(byte));
        } else {
            text.push('%');
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
        }
    }
    text
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it is.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escape = match (bytes.get(index + 1), bytes.get(index + 2)) {
            (Some(&high), Some(&low)) if bytes[index] == b'%' => {
                hex_value(high).zip(hex_value(low))
            }
            _ => None,
        };
        match escape {
            Some((high, low)) => {
                out.push(high << 4 | low);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

// ANCHOR: payload_hash
/// The payload hash line. A client may send it precomputed in
/// `x-amz-content-sha256` (DynamoDB's SDKs do not): then it is used as
/// sent, but a hex digest must also be the real hash of the body, or a
/// signed header would vouch for a body that was swapped in transit.
/// `UNSIGNED-PAYLOAD` is taken at its word: the client chose not to sign
/// the body, and the signature still covers that choice.
pub fn payload_hash(request: &HttpRequest<'_>) -> Result<String, AuthError> {
    let body_hash = sha256_hex(request.body);
    let Some(declared) = request.header_values(CONTENT_SHA256_HEADER).next() else {
        return Ok(body_hash);
    };
    let declared = String::from_utf8_lossy(&trim_all(declared)).into_owned();
    if declared == UNSIGNED_PAYLOAD || declared == body_hash {
        Ok(declared)
    } else {
        Err(AuthError::signature_mismatch())
    }
}
// ANCHOR_END: payload_hash

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &'a [(&'a str, &'a [u8])]) -> HttpRequest<'a> {
        HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body: b"",
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn ex05_11_headers_are_lower_case_sorted_lines() {
        let headers: [(&str, &[u8]); 3] = [
            ("X-Amz-Date", b"20150830T123600Z"),
            ("Host", b"localhost:8000"),
            ("User-Agent", b"not signed"),
        ];
        let block = canonical_headers(&request(&headers), &names(&["host", "x-amz-date"]));
        assert_eq!(block, b"host:localhost:8000\nx-amz-date:20150830T123600Z\n");
    }

    #[test]
    fn ex05_11_values_are_trimmed_and_collapsed() {
        let headers: [(&str, &[u8]); 1] = [("My-Header", b"  a   b \t c  ")];
        let block = canonical_headers(&request(&headers), &names(&["my-header"]));
        assert_eq!(block, b"my-header:a b c\n");
    }

    #[test]
    fn ex05_11_repeated_headers_join_with_commas() {
        let headers: [(&str, &[u8]); 3] = [
            ("x-multi", b" one "),
            ("X-Other", b"x"),
            ("X-MULTI", b"two  three"),
        ];
        let block = canonical_headers(&request(&headers), &names(&["x-multi"]));
        assert_eq!(block, b"x-multi:one,two three\n");
    }

    #[test]
    fn ex05_11_a_missing_signed_header_has_an_empty_value() {
        let headers: [(&str, &[u8]); 1] = [("Host", b"h")];
        let block = canonical_headers(&request(&headers), &names(&["host", "x-absent"]));
        assert_eq!(block, b"host:h\nx-absent:\n");
    }

    #[test]
    fn paths_are_normalised_then_encoded_again() {
        let cases = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/a/./b/../c", "/a/c"),
            ("/a//b/", "/a/b/"),
            ("/a/b/.", "/a/b/"),
            ("/a/b/..", "/a/"),
            ("/../..", "/"),
            ("/a%20b", "/a%2520b"),
            ("/~user/x y", "/~user/x%20y"),
            ("/é", "/%C3%A9"),
        ];
        for (path, expected) in cases {
            assert_eq!(canonical_uri(path), expected, "{path:?}");
        }
    }

    #[test]
    fn query_is_decoded_encoded_and_sorted() {
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("b=2&a=1"), "a=1&b=2");
        assert_eq!(canonical_query("a=2&a=1"), "a=1&a=2");
        assert_eq!(canonical_query("flag&&x=%2f"), "flag=&x=%2F");
        assert_eq!(canonical_query("x=a b+c"), "x=a%20b%2Bc");
        assert_eq!(canonical_query("x=%zz%4"), "x=%25zz%254");
        assert_eq!(canonical_query("k%20ey=v~"), "k%20ey=v~");
    }

    #[test]
    fn payload_hash_is_the_body_hash_or_a_matching_declaration() {
        let body = b"{}";
        let hash = sha256_hex(body);
        let mut req = request(&[]);
        req.body = body;
        assert_eq!(payload_hash(&req), Ok(hash.clone()));

        let declared: [(&str, &[u8]); 1] = [("X-Amz-Content-Sha256", hash.as_bytes())];
        let req = HttpRequest {
            headers: &declared,
            ..req
        };
        assert_eq!(payload_hash(&req), Ok(hash.clone()));

        let unsigned: [(&str, &[u8]); 1] = [("x-amz-content-sha256", b"UNSIGNED-PAYLOAD")];
        let req = HttpRequest {
            headers: &unsigned,
            ..req
        };
        assert_eq!(payload_hash(&req).unwrap(), "UNSIGNED-PAYLOAD");

        let wrong = sha256_hex(b"something else");
        let lying: [(&str, &[u8]); 1] = [("x-amz-content-sha256", wrong.as_bytes())];
        let req = HttpRequest {
            headers: &lying,
            ..req
        };
        assert_eq!(payload_hash(&req), Err(AuthError::signature_mismatch()));
    }
}
