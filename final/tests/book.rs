//! The chapter *Running it for real* (`book/src/running-it.md`), run: every
//! server command it shows is started (on a free port, in a scratch
//! directory) and stopped; every client command (AWS CLI, curl, the boto3
//! program) runs against a server started as the chapter's first command
//! says. Client tools missing from this machine are reported and skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Process, run_to_exit};
use minidynamo::banner::{banner, cli_example};
use minidynamo::cli::{Command as Parsed, FLAGS, Options, parse};

const CHAPTER: &str = include_str!("../../book/src/running-it.md");
const SERVER_COMMAND: &str = "cargo run --release -p minidynamo";
const DOCUMENTED_ENDPOINT: &str = "127.0.0.1:8000";

/// A fenced block: its language and its lines.
fn blocks(language: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in CHAPTER.lines() {
        match &mut current {
            None if line.trim_start() == format!("```{language}") => {
                current = Some(String::new());
            }
            Some(text) if line.trim_start() == "```" => {
                found.push(std::mem::take(text));
                current = None;
            }
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
            None => {}
        }
    }
    found
}

fn bash_lines() -> Vec<String> {
    blocks("bash")
        .iter()
        .flat_map(|block| block.lines().map(str::to_string).collect::<Vec<_>>())
        .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
        .collect()
}

/// `A=1 B=2 cargo run … -- --flag value` → the variables and the flags.
fn server_invocation(line: &str) -> (Vec<(String, String)>, Vec<String>) {
    let (before, after) = line.split_once(SERVER_COMMAND).unwrap();
    let env = before
        .split_whitespace()
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_string(), value.to_string())
        })
        .collect();
    let args = after
        .trim()
        .strip_prefix("--")
        .unwrap_or(after)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    (env, args)
}

/// The flags with the port made free and a public bind made loopback:
/// tests listen on loopback only.
fn runnable(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--port" | "--bind" => {
                iter.next();
            }
            _ => out.push(arg.clone()),
        }
    }
    out.extend(["--port".to_string(), "0".to_string()]);
    out
}

fn available(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|out| out.status.success())
}

fn write_credentials(dir: &Path) {
    let json = blocks("json");
    assert_eq!(json.len(), 1, "one credentials file in the chapter");
    std::fs::write(dir.join("credentials.json"), &json[0]).unwrap();
}

#[test]
fn the_chapter_matches_the_code() {
    assert!(CHAPTER.contains(&cli_example("http://127.0.0.1:8000", "us-east-1")));
    for flag in FLAGS {
        let row = format!("| `{}", flag.name);
        assert!(CHAPTER.contains(&row), "no table row for {}", flag.name);
        assert!(CHAPTER.contains(flag.env), "{} not documented", flag.env);
    }
    let options = Options::default();
    let shown = blocks("text")
        .into_iter()
        .find(|block| block.starts_with("minidynamo "))
        .unwrap();
    assert_eq!(shown.trim_end(), banner(options.address(), &options));
}

#[test]
fn every_server_command_starts_and_stops() {
    let commands: Vec<String> = bash_lines()
        .into_iter()
        .filter(|line| line.contains(SERVER_COMMAND))
        .collect();
    assert!(commands.len() >= 5, "{commands:?}");
    for line in commands {
        let dir = tempfile::tempdir().unwrap();
        write_credentials(dir.path());
        let (env, args) = server_invocation(&line);
        if args.iter().any(|a| a == "--help" || a == "--version") {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out, _) = run_to_exit(dir.path(), &args);
            assert_eq!(code, Some(0), "{line}");
            assert!(out.contains("--replicas"), "{line}");
            continue;
        }
        // The flags as written are valid …
        let lookup = |name: &str| {
            env.iter()
                .find(|(n, _)| n == name)
                .map(|(_, value)| value.clone())
        };
        assert!(
            matches!(parse(args.clone(), lookup), Ok(Parsed::Serve(_))),
            "{line}"
        );
        // … and the server they describe runs.
        let env: Vec<(&str, &str)> = env
            .iter()
            .filter(|(name, _)| name != "MINIDYNAMO_PORT")
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let args = runnable(&args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Process::start_with_env(dir.path(), &args, &env);
        let status = server.terminate();
        assert_eq!(status.code(), Some(0), "{line}");
        println!("ran: {line}");
    }
}

#[test]
fn every_client_command_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let server = Process::start(dir.path(), &[]);
    let addr = server.addr.to_string();
    // A hermetic AWS CLI: no profile or config from this machine.
    let mut env: Vec<(String, String)> = vec![
        (
            "AWS_CONFIG_FILE".into(),
            dir.path().join("none").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            dir.path().join("none").display().to_string(),
        ),
        ("AWS_PAGER".into(), String::new()),
    ];
    for line in bash_lines() {
        if line.contains(SERVER_COMMAND) {
            continue;
        }
        if let Some(pairs) = line.strip_prefix("export ") {
            for pair in pairs.split_whitespace() {
                let (name, value) = pair.split_once('=').unwrap();
                env.push((name.to_string(), value.to_string()));
            }
            continue;
        }
        let program = line.split_whitespace().next().unwrap();
        if !available(program) {
            println!("skipped (no {program} here): {line}");
            continue;
        }
        let command = line.replace(DOCUMENTED_ENDPOINT, &addr);
        let output = Command::new("sh")
            .arg("-c")
            .arg(&command)
            .envs(env.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{line}\nstdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        if line.contains("get-item") {
            assert!(stdout.contains("\"2\""), "Plays should be 2: {stdout}");
        }
        if program == "curl" {
            assert!(stdout.contains("minidynamo_requests_total"), "{stdout}");
        }
        println!("ran: {line}");
    }

    let python = blocks("python");
    assert_eq!(python.len(), 1);
    let has_boto3 = Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .is_ok_and(|out| out.status.success());
    if has_boto3 {
        let program = python[0].replace(DOCUMENTED_ENDPOINT, &addr);
        let output = Command::new("python3")
            .args(["-c", &program])
            .envs(env.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("Books"));
        println!("ran: the boto3 program");
    } else {
        println!("skipped (no boto3 here): the boto3 program");
    }
    assert_eq!(server.terminate().code(), Some(0));
}
