//! Runs the step 5 server on its own, for trying it with the AWS CLI, boto3
//! or an SDK before the final binary exists.
//!
//! ```text
//! cargo run -p step05-api --example serve -- [PORT] [DATA_DIR]
//! ```
//!
//! Tables are durable in `DATA_DIR` (default `data`); the server listens on
//! loopback at `PORT` (default 8000) until Ctrl-C.

use std::process::ExitCode;

use step05_api::ServerConfig;
use step05_api::config::DEFAULT_PORT;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let port = match args.next().map(|p| p.parse::<u16>()) {
        None => DEFAULT_PORT,
        Some(Ok(port)) => port,
        Some(Err(e)) => {
            eprintln!("usage: serve [PORT] [DATA_DIR]: bad port: {e}");
            return ExitCode::from(2);
        }
    };
    let dir = args.next().unwrap_or_else(|| "data".to_string());
    let config = ServerConfig::with_data_dir(dir).port(port);
    eprintln!("serving DynamoDB on {} (Ctrl-C stops)", config.bind);
    // Ctrl-C ends the server gracefully; if the signal cannot be watched,
    // the server stops at once rather than running unstoppable.
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match step05_api::serve(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}
