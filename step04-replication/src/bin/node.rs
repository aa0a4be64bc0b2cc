//! One replica of a replication group, as a process.
//!
//! ```text
//! node --id 1 --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 \
//!      --data-dir ./data/1 --client-port 8001 [--tick-ms 10] [--snapshot-entries N] [--join]
//! ```
//!
//! `--peers` names every replica of the group with its peer address (this
//! one included); the first start founds the group with them as voters.
//! `--join` starts an empty replica that an operator then adds as a learner.
//! Clients talk to `127.0.0.1:<client-port>` (see `tcp/client.rs`). The
//! process prints `ready` once it accepts connections, and runs until it is
//! killed; its state survives in `--data-dir`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use step04_replication::Options;
use step04_replication::tcp::node::{Node, NodeConfig, TICK_DEFAULT};

const USAGE: &str = "usage: node --id N --peers ID=127.0.0.1:PORT,... --data-dir DIR --client-port PORT [--tick-ms MS] [--snapshot-entries N] [--join]";

fn parse(args: &[String]) -> Result<NodeConfig, String> {
    let mut id = None;
    let mut peers = BTreeMap::new();
    let mut data_dir = None;
    let mut client_port = None;
    let mut tick = TICK_DEFAULT;
    let mut join = false;
    let mut options = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--id" => id = Some(value()?.parse::<u64>().map_err(|e| format!("--id: {e}"))?),
            "--peers" => {
                for peer in value()?.split(',') {
                    let (peer_id, addr) = peer
                        .split_once('=')
                        .ok_or(format!("--peers: `{peer}` is not ID=ADDRESS"))?;
                    let peer_id: u64 = peer_id.parse().map_err(|e| format!("--peers: {e}"))?;
                    let addr: SocketAddr = addr.parse().map_err(|e| format!("--peers: {e}"))?;
                    peers.insert(peer_id, addr);
                }
            }
            "--data-dir" => data_dir = Some(PathBuf::from(value()?)),
            "--client-port" => {
                client_port = Some(
                    value()?
                        .parse::<u16>()
                        .map_err(|e| format!("--client-port: {e}"))?,
                )
            }
            "--tick-ms" => {
                let ms: u64 = value()?.parse().map_err(|e| format!("--tick-ms: {e}"))?;
                tick = Duration::from_millis(ms.max(1));
            }
            "--snapshot-entries" => {
                options.snapshot_interval_entries = value()?
                    .parse()
                    .map_err(|e| format!("--snapshot-entries: {e}"))?;
            }
            "--join" => join = true,
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let (Some(id), Some(data_dir), Some(client_port)) = (id, data_dir, client_port) else {
        return Err(USAGE.to_string());
    };
    Ok(NodeConfig {
        id,
        peers,
        data_dir,
        client_addr: SocketAddr::from(([127, 0, 0, 1], client_port)),
        tick,
        options,
        join,
        log_roles: true,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let id = config.id;
    let node = match Node::start(config) {
        Ok(node) => node,
        Err(e) => {
            eprintln!("node {id}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ready");
    match node.wait() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("node {id}: {e}");
            ExitCode::FAILURE
        }
    }
}
