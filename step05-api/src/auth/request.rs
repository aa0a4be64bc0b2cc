//! The request as the verifier sees it: plain slices, no HTTP crate.
//!
//! A signature covers the bytes the client sent, so the verifier needs them
//! *as received*: the path still percent-encoded, the query string raw,
//! every header occurrence in order with its value as bytes (a header value
//! need not be UTF-8), and the body before any decompression. Keeping the
//! type free of `http`/`axum` types makes the verifier sans-IO: tests build
//! requests from literals, and the router adapts its request in one line per
//! field.

/// One HTTP request, borrowed from wherever it lives.
#[derive(Clone, Copy, Debug)]
pub struct HttpRequest<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// The path as received, still percent-encoded, without the query.
    pub path: &'a str,
    /// The raw query string after `?`, or empty.
    pub query: &'a str,
    /// Every header line as received: name (any case) and value. A header
    /// sent twice appears twice.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body as received (compressed, if `Content-Encoding` says so).
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// The values of every occurrence of header `name` (case-insensitive),
    /// in the order received.
    pub fn header_values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.headers
            .iter()
            .filter(move |(candidate, _)| candidate.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }

    /// The first value of header `name` as text, if it is present and
    /// UTF-8, without the spaces or tabs around it (HTTP's optional
    /// whitespace, which is not part of the value).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.header_values(name)
            .next()
            .and_then(|value| std::str::from_utf8(value).ok())
            .map(|value| value.trim_matches([' ', '\t']))
    }

    /// Whether the query string has a parameter called `name` (exactly).
    pub fn has_query_param(&self, name: &str) -> bool {
        self.query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_in_any_case_and_repeated() {
        let headers: [(&str, &[u8]); 3] = [
            ("X-Amz-Date", b"20150830T123600Z"),
            ("x-custom", b" a\t"),
            ("X-CUSTOM", b"b"),
        ];
        let request = HttpRequest {
            method: "POST",
            path: "/",
            query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&b",
            headers: &headers,
            body: b"",
        };
        assert_eq!(request.header("x-amz-date"), Some("20150830T123600Z"));
        let custom: Vec<&[u8]> = request.header_values("X-Custom").collect();
        assert_eq!(custom, [&b" a\t"[..], b"b"]);
        assert_eq!(request.header("x-custom"), Some("a"));
        assert_eq!(request.header("host"), None);
        assert!(request.has_query_param("X-Amz-Algorithm"));
        assert!(request.has_query_param("b"));
        assert!(!request.has_query_param("X-Amz"));
    }
}
