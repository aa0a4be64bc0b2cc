//! A tiny static file server for `cargo xtask book --serve`, on loopback only.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use crate::cmd::Result;

/// Request lines longer than this are refused; a browser never sends one.
const REQUEST_LINE_BYTES_MAX: usize = 8 * 1024;
const HEADERS_COUNT_MAX: usize = 100;

/// Serves `root` on 127.0.0.1:`port` until the process is interrupted.
pub fn serve(root: &Path, port: u16) -> Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    println!("Serving the book on http://127.0.0.1:{port}/ (Ctrl-C stops)");
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                if let Err(e) = answer(stream, root) {
                    eprintln!("book server: {e}");
                }
            }
            Err(e) => eprintln!("book server: {e}"),
        }
    }
    Ok(())
}

fn answer(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader
        .by_ref()
        .take(REQUEST_LINE_BYTES_MAX as u64)
        .read_line(&mut request_line)?;
    for _ in 0..HEADERS_COUNT_MAX {
        let mut header = String::new();
        let read = reader
            .by_ref()
            .take(REQUEST_LINE_BYTES_MAX as u64)
            .read_line(&mut header)?;
        if read == 0 || header.trim().is_empty() {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    let mut stream = stream;
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, "405 Method Not Allowed", "text/plain", b"");
    }
    match resolve(root, target) {
        Some(file) => match fs::read(&file) {
            Ok(body) => {
                let body = if method == "HEAD" { Vec::new() } else { body };
                respond(&mut stream, "200 OK", content_type(&file), &body)
            }
            Err(_) => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
        },
        None => respond(&mut stream, "404 Not Found", "text/plain", b"not found"),
    }
}

/// Maps a URL path to a file under `root`, refusing anything that climbs out.
fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let relative = Path::new(path.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let mut file = root.join(relative);
    if file.is_dir() {
        file = file.join("index.html");
    }
    file.is_file().then_some(file)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "application/javascript",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn respond(stream: &mut TcpStream, status: &str, kind: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_inside_the_root_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("index.html"), "hi").unwrap();
        fs::write(dir.path().join("a.html"), "a").unwrap();
        assert_eq!(
            resolve(dir.path(), "/"),
            Some(dir.path().join("index.html"))
        );
        assert_eq!(
            resolve(dir.path(), "/a.html?x=1"),
            Some(dir.path().join("a.html"))
        );
        assert_eq!(resolve(dir.path(), "/../etc/passwd"), None);
        assert_eq!(resolve(dir.path(), "/missing.html"), None);
    }
}
