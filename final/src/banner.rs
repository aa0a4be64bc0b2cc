//! What the server prints on standard output once it is ready: where it
//! listens, where the data is, and a command to paste.
//!
//! The banner is printed only after the socket is bound and every table is
//! open, so its first line doubles as a readiness signal for scripts and
//! tests: they read standard output up to [`ENDPOINT_LABEL`].

use std::net::SocketAddr;

use step05_api::auth::AuthMode;

use crate::cli::Options;

/// The label of the line that gives the endpoint URL.
pub const ENDPOINT_LABEL: &str = "endpoint:";
/// What to prefix to an AWS CLI command on a machine with no AWS
/// credentials: local mode accepts any key, but the CLI refuses to sign
/// without one.
pub const DUMMY_CREDENTIALS: &str = "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local";

/// The AWS CLI command the banner suggests (and the book shows).
pub fn cli_example(endpoint: &str, region: &str) -> String {
    format!("aws dynamodb list-tables --endpoint-url {endpoint} --region {region}")
}

/// `http://<address>`; an unspecified address (`0.0.0.0`) is shown as
/// loopback, which is where a local client reaches it.
pub fn endpoint_url(addr: SocketAddr) -> String {
    let mut shown = addr;
    if addr.ip().is_unspecified() {
        shown.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{shown}")
}

/// The banner for a server bound to `addr` with `options`.
pub fn banner(addr: SocketAddr, options: &Options) -> String {
    let endpoint = endpoint_url(addr);
    let data = if options.in_memory {
        "in memory (a scratch directory, removed at exit)".to_string()
    } else {
        format!("{} (durable)", options.data_dir.display())
    };
    let copies = match options.replicas {
        1 => "1 copy of each partition (--replicas 1)".to_string(),
        n => format!("each partition replicated on {n} replicas"),
    };
    let auth = match options.auth_mode {
        AuthMode::Local => "local: any access key is accepted, so dummy credentials work",
        AuthMode::Strict => "strict: only the access keys of the credentials file",
    };
    let mut text = format!(
        "minidynamo {version} is serving the DynamoDB API\n\
         \x20 {ENDPOINT_LABEL}  {endpoint}\n\
         \x20 data:      {data}; {copies}\n\
         \x20 auth:      {auth}\n\
         \x20 metrics:   {endpoint}/metrics (from this machine only)\n\
         \x20 try:       {example}\n",
        version = env!("CARGO_PKG_VERSION"),
        example = cli_example(&endpoint, &options.region),
    );
    if options.auth_mode == AuthMode::Local {
        text.push_str(&format!(
            "             (no AWS credentials configured? prefix it with {DUMMY_CREDENTIALS})\n"
        ));
    }
    text.push_str("Ctrl-C or SIGTERM stops it gracefully.");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_banner_has_the_endpoint_and_the_example() {
        let options = Options::default();
        let text = banner(options.address(), &options);
        assert!(text.contains("endpoint:  http://127.0.0.1:8000\n"));
        assert!(text.contains(
            "aws dynamodb list-tables --endpoint-url http://127.0.0.1:8000 --region us-east-1"
        ));
        assert!(text.contains(DUMMY_CREDENTIALS));
    }

    #[test]
    fn an_unspecified_address_is_shown_as_loopback() {
        let addr: SocketAddr = "0.0.0.0:8000".parse().unwrap();
        assert_eq!(endpoint_url(addr), "http://127.0.0.1:8000");
        let addr: SocketAddr = "[::]:9".parse().unwrap();
        assert_eq!(endpoint_url(addr), "http://[::1]:9");
    }
}
