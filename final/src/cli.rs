//! The command line: every flag, its environment variable, its default.
//!
//! One table, [`FLAGS`], drives parsing, the environment and `--help`, so
//! a flag cannot be documented without being parsed or parsed without
//! being documented. Values come from three places, later ones winning:
//! the defaults, then `MINIDYNAMO_*` environment variables, then the
//! command line (`--flag value` or `--flag=value`).
//!
//! Parsing is a pure function of the arguments and a variable lookup, so
//! tests call it without a process. Any mistake is a [`UsageError`]; the
//! binary prints it and exits with [`EXIT_USAGE`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use step05_api::auth::AuthMode;
use step05_api::config::{DEFAULT_PORT, DEFAULT_REGION};

/// The exit code of a bad invocation (as BSD's `EX_USAGE` convention and
/// most command-line tools use 2).
pub const EXIT_USAGE: u8 = 2;
/// The exit code of a server that could not start or failed.
pub const EXIT_FAILURE: u8 = 1;
/// The default data directory, relative to where the server starts.
pub const DEFAULT_DATA_DIR: &str = "data";
/// Copies of each partition by default: DynamoDB's three.
pub const DEFAULT_REPLICAS: u64 = 3;
/// The replica counts the binary offers: one copy, or DynamoDB's three.
pub const REPLICA_CHOICES: [u64; 2] = [1, 3];
/// Arguments accepted at most: a command line longer than this is a
/// mistake, and the bound keeps the parser's loop obviously finite.
pub const ARGUMENTS_MAX: usize = 256;

/// How much the server logs, on standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    const NAMES: [(&'static str, LogLevel); 6] = [
        ("off", LogLevel::Off),
        ("error", LogLevel::Error),
        ("warn", LogLevel::Warn),
        ("info", LogLevel::Info),
        ("debug", LogLevel::Debug),
        ("trace", LogLevel::Trace),
    ];

    fn parse(text: &str) -> Result<LogLevel, String> {
        Self::NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|&(_, level)| level)
            .ok_or_else(|| {
                format!("expected one of off, error, warn, info, debug, trace, not {text:?}")
            })
    }
}

/// Everything the flags decide.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub bind: IpAddr,
    pub port: u16,
    pub data_dir: PathBuf,
    /// Whether `--data-dir` (or its variable) was given: it conflicts
    /// with `--in-memory`.
    pub data_dir_given: bool,
    pub in_memory: bool,
    pub auth_mode: AuthMode,
    pub credentials: Option<PathBuf>,
    pub replicas: u64,
    pub throttling: bool,
    pub log_level: LogLevel,
    pub region: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            data_dir_given: false,
            in_memory: false,
            auth_mode: AuthMode::Local,
            credentials: None,
            replicas: DEFAULT_REPLICAS,
            throttling: false,
            log_level: LogLevel::Info,
            region: DEFAULT_REGION.to_string(),
        }
    }
}

impl Options {
    /// The address to listen on.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Serve(Box<Options>),
    Help,
    Version,
}

/// A mistake in the flags or their variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\nTry 'minidynamo --help' for the flags.", self.0)
    }
}

impl std::error::Error for UsageError {}

/// One flag: its name, its variable, the name of its value (`None` for a
/// switch), its help, and how it sets the options.
#[derive(Clone, Copy)]
pub struct Flag {
    pub name: &'static str,
    pub env: &'static str,
    pub value: Option<&'static str>,
    pub default: &'static str,
    pub help: &'static str,
    apply: fn(&mut Options, &str) -> Result<(), String>,
}

impl fmt::Debug for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flag").field("name", &self.name).finish()
    }
}

/// Every flag of the server.
pub const FLAGS: &[Flag] = &[
    Flag {
        name: "--port",
        env: "MINIDYNAMO_PORT",
        value: Some("PORT"),
        default: "8000",
        help: "TCP port to listen on (0 picks a free one)",
        apply: |o, v| {
            o.port = v.parse().map_err(|_| format!("not a port: {v:?}"))?;
            Ok(())
        },
    },
    Flag {
        name: "--bind",
        env: "MINIDYNAMO_BIND",
        value: Some("ADDRESS"),
        default: "127.0.0.1",
        help: "IP address to listen on; any other than loopback needs --auth-mode strict",
        apply: |o, v| {
            o.bind = v.parse().map_err(|_| format!("not an IP address: {v:?}"))?;
            Ok(())
        },
    },
    Flag {
        name: "--data-dir",
        env: "MINIDYNAMO_DATA_DIR",
        value: Some("DIR"),
        default: "./data",
        help: "where tables are kept (created if missing)",
        apply: |o, v| {
            if v.is_empty() {
                return Err("the data directory cannot be empty".to_string());
            }
            o.data_dir = PathBuf::from(v);
            o.data_dir_given = true;
            Ok(())
        },
    },
    Flag {
        name: "--in-memory",
        env: "MINIDYNAMO_IN_MEMORY",
        value: None,
        default: "off",
        help: "keep tables in a scratch directory without fsync, removed at exit",
        apply: |o, v| {
            o.in_memory = switch(v)?;
            Ok(())
        },
    },
    Flag {
        name: "--auth-mode",
        env: "MINIDYNAMO_AUTH_MODE",
        value: Some("local|strict"),
        default: "local",
        help: "local: any access key is accepted (loopback only); strict: only the keys of --credentials",
        apply: |o, v| {
            o.auth_mode = v.parse()?;
            Ok(())
        },
    },
    Flag {
        name: "--credentials",
        env: "MINIDYNAMO_CREDENTIALS",
        value: Some("FILE"),
        default: "none",
        help: "JSON file of access keys, secrets and policies (required by strict mode)",
        apply: |o, v| {
            o.credentials = Some(PathBuf::from(v));
            Ok(())
        },
    },
    Flag {
        name: "--replicas",
        env: "MINIDYNAMO_REPLICAS",
        value: Some("1|3"),
        default: "3",
        help: "copies of every partition: 3 is a replication group per partition, 1 a single LSM tree",
        apply: |o, v| {
            let n: u64 = v.parse().map_err(|_| format!("not a number: {v:?}"))?;
            if !REPLICA_CHOICES.contains(&n) {
                return Err(format!("expected 1 or 3, not {n}"));
            }
            o.replicas = n;
            Ok(())
        },
    },
    Flag {
        name: "--throttling",
        env: "MINIDYNAMO_THROTTLING",
        value: Some("on|off"),
        default: "off",
        help: "hold provisioned tables to their read and write capacity",
        apply: |o, v| {
            o.throttling = on_off(v)?;
            Ok(())
        },
    },
    Flag {
        name: "--region",
        env: "MINIDYNAMO_REGION",
        value: Some("REGION"),
        default: "us-east-1",
        help: "the region shown in ARNs and the health check",
        apply: |o, v| {
            let valid = !v.is_empty()
                && v.len() <= 32
                && v.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(format!("not a region name: {v:?}"));
            }
            o.region = v.to_string();
            Ok(())
        },
    },
    Flag {
        name: "--log-level",
        env: "MINIDYNAMO_LOG_LEVEL",
        value: Some("LEVEL"),
        default: "info",
        help: "off, error, warn, info, debug (a line per request) or trace",
        apply: |o, v| {
            o.log_level = LogLevel::parse(v)?;
            Ok(())
        },
    },
];

/// A switch's variable: `1`/`true`/`on`/`yes` or `0`/`false`/`off`/`no`.
fn switch(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(format!("expected true or false, not {text:?}")),
    }
}

fn on_off(text: &str) -> Result<bool, String> {
    match text {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("expected on or off, not {text:?}")),
    }
}

// ANCHOR: parse
/// Parses the arguments (without the program name), reading variables
/// through `env`.
pub fn parse<I, S>(args: I, env: impl Fn(&str) -> Option<String>) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let args: Vec<String> = args
        .into_iter()
        .take(ARGUMENTS_MAX + 1)
        .map(Into::into)
        .collect();
    if args.len() > ARGUMENTS_MAX {
        return Err(UsageError(format!("more than {ARGUMENTS_MAX} arguments")));
    }
    let mut options = Options::default();
    for flag in FLAGS {
        if let Some(value) = env(flag.env) {
            (flag.apply)(&mut options, &value)
                .map_err(|problem| UsageError(format!("{}: {problem}", flag.env)))?;
        }
    }
    let mut rest = args.into_iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            _ => {}
        }
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        let Some(flag) = FLAGS.iter().find(|flag| flag.name == name) else {
            return Err(UsageError(if name.starts_with('-') {
                format!("unknown flag {name}")
            } else {
                format!("unexpected argument {arg:?}: minidynamo takes only flags")
            }));
        };
        let value = match (flag.value, inline) {
            (None, None) => "true".to_string(),
            (None, Some(_)) => {
                return Err(UsageError(format!("{name} takes no value")));
            }
            (Some(_), Some(value)) => value,
            (Some(meta), None) => rest
                .next()
                .ok_or_else(|| UsageError(format!("{name} needs a value ({meta})")))?,
        };
        (flag.apply)(&mut options, &value)
            .map_err(|problem| UsageError(format!("{name}: {problem}")))?;
    }
    check(&options)?;
    Ok(Command::Serve(Box::new(options)))
}
// ANCHOR_END: parse

/// Rules between flags.
fn check(options: &Options) -> Result<(), UsageError> {
    if options.in_memory && options.data_dir_given {
        return Err(UsageError(
            "--in-memory and --data-dir exclude each other".to_string(),
        ));
    }
    if options.auth_mode == AuthMode::Strict && options.credentials.is_none() {
        return Err(UsageError(
            "--auth-mode strict needs --credentials FILE: with no access keys nobody could call"
                .to_string(),
        ));
    }
    options
        .auth_mode
        .check_bind(options.address())
        .map_err(|refused| UsageError(refused.to_string()))?;
    Ok(())
}

/// The `--help` text, generated from [`FLAGS`].
pub fn help() -> String {
    let mut out = String::from(
        "minidynamo: a DynamoDB-compatible server.\n\
         \n\
         Usage: minidynamo [FLAGS]\n\
         \n\
         Every flag can also be set by the environment variable shown;\n\
         the command line wins over the environment.\n\
         \n\
         Flags:\n",
    );
    for flag in FLAGS {
        let name = match flag.value {
            Some(meta) => format!("{} {meta}", flag.name),
            None => flag.name.to_string(),
        };
        out.push_str(&format!(
            "  {name:<26} {} [default: {}; env: {}]\n",
            flag.help, flag.default, flag.env
        ));
    }
    out.push_str(&format!(
        "  {:<26} print this help\n  {:<26} print the version\n",
        "-h, --help", "-V, --version"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Options {
        match parse(args.iter().copied(), |_| None).unwrap() {
            Command::Serve(options) => *options,
            other => panic!("{other:?}"),
        }
    }

    fn usage(args: &[&str]) -> String {
        parse(args.iter().copied(), |_| None).unwrap_err().0
    }

    #[test]
    fn defaults() {
        let options = serve(&[]);
        assert_eq!(options, Options::default());
        assert_eq!(options.address().to_string(), "127.0.0.1:8000");
        assert_eq!(options.replicas, 3);
    }

    #[test]
    fn both_spellings_and_every_flag() {
        let options = serve(&[
            "--port=9000",
            "--bind",
            "::1",
            "--data-dir",
            "/tmp/x",
            "--replicas",
            "1",
            "--throttling=on",
            "--log-level",
            "debug",
            "--region",
            "eu-west-1",
            "--credentials",
            "keys.json",
            "--auth-mode",
            "strict",
        ]);
        assert_eq!(options.address().to_string(), "[::1]:9000");
        assert_eq!(options.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(options.replicas, 1);
        assert!(options.throttling);
        assert_eq!(options.log_level, LogLevel::Debug);
        assert_eq!(options.region, "eu-west-1");
        assert_eq!(options.auth_mode, AuthMode::Strict);
        assert!(serve(&["--in-memory"]).in_memory);
    }

    #[test]
    fn the_environment_is_overridden_by_flags() {
        let env = |name: &str| match name {
            "MINIDYNAMO_PORT" => Some("7000".to_string()),
            "MINIDYNAMO_IN_MEMORY" => Some("1".to_string()),
            _ => None,
        };
        let Command::Serve(options) = parse(["--port", "7001"], env).unwrap() else {
            panic!()
        };
        assert_eq!(options.port, 7001);
        assert!(options.in_memory);
        let error = parse(Vec::<String>::new(), |name| {
            (name == "MINIDYNAMO_REPLICAS").then(|| "2".to_string())
        })
        .unwrap_err();
        assert_eq!(error.0, "MINIDYNAMO_REPLICAS: expected 1 or 3, not 2");
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(usage(&["--prot", "1"]), "unknown flag --prot");
        assert_eq!(usage(&["--port"]), "--port needs a value (PORT)");
        assert_eq!(usage(&["--port", "x"]), "--port: not a port: \"x\"");
        assert_eq!(usage(&["--in-memory=yes"]), "--in-memory takes no value");
        assert_eq!(
            usage(&["--replicas", "2"]),
            "--replicas: expected 1 or 3, not 2"
        );
        assert!(usage(&["serve"]).starts_with("unexpected argument"));
        assert!(usage(&["--auth-mode", "strict"]).contains("needs --credentials"));
        assert!(usage(&["--bind", "0.0.0.0"]).contains("loopback"));
        assert!(usage(&["--in-memory", "--data-dir", "d"]).contains("exclude"));
        assert!(usage(&["--throttling", "yes"]).contains("on or off"));
    }

    #[test]
    fn help_lists_every_flag_and_variable() {
        assert_eq!(parse(["--help"], |_| None).unwrap(), Command::Help);
        assert_eq!(parse(["-V"], |_| None).unwrap(), Command::Version);
        let text = help();
        for flag in FLAGS {
            assert!(
                text.contains(flag.name) && text.contains(flag.env),
                "{}",
                flag.name
            );
        }
    }
}
