//! `almanac scheduler` and `almanac executor`: the processes of an Apache
//! Ballista cluster with Almanac inside (see docs/cluster.md), and the
//! `--cluster` sessions of `almanac sql`, `report` and `serve`.

use std::time::Duration;

use almanac_cluster::{ExecutorOptions, SchedulerOptions};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::SessionConfig;

#[derive(clap::Args)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50050")]
    bind: String,
    /// Host name executors and clients reach this scheduler by.
    #[arg(
        long = "external-host",
        value_name = "HOST",
        default_value = "localhost"
    )]
    external_host: String,
    /// Seconds without a heartbeat before an executor counts as lost; the queries running then fail (run them again).
    #[arg(
        long = "executor-timeout",
        value_name = "SECONDS",
        default_value_t = 180
    )]
    executor_timeout: u64,
}

#[derive(clap::Args)]
pub struct ExecutorArgs {
    /// The scheduler to serve.
    #[arg(long, value_name = "HOST:PORT", default_value = "localhost:50050")]
    scheduler: String,
    /// Host to listen on.
    #[arg(long = "bind-host", value_name = "HOST", default_value = "127.0.0.1")]
    bind_host: String,
    /// Host name the scheduler and other executors reach this one by (default: --bind-host).
    #[arg(long = "external-host", value_name = "HOST")]
    external_host: Option<String>,
    /// Port of the Arrow Flight service that serves shuffle data to other executors.
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// Port of the gRPC service the scheduler sends tasks to.
    #[arg(long = "grpc-port", default_value_t = 50052)]
    grpc_port: u16,
    /// Tasks run at once (default: the cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    slots: Option<u16>,
    /// Folder for shuffle files and spills (default: a temporary folder).
    #[arg(long = "work-dir", value_name = "DIR")]
    work_dir: Option<String>,
    /// Memory shared by the tasks, e.g. 8GiB (default: most of the machine's, spilling beyond).
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Seconds between heartbeats to the scheduler.
    #[arg(long = "heartbeat", value_name = "SECONDS", default_value_t = 60)]
    heartbeat: u64,
}

pub async fn scheduler(args: SchedulerArgs) -> Result<(), String> {
    init_logging();
    eprintln!("almanac scheduler: listening on {}", args.bind);
    almanac_cluster::run_scheduler(SchedulerOptions {
        bind: args.bind,
        external_host: args.external_host,
        executor_timeout_seconds: args.executor_timeout,
    })
    .await
    .map_err(|e| e.to_string())
}

pub async fn executor(args: ExecutorArgs) -> Result<(), String> {
    init_logging();
    let memory_bytes = match &args.memory {
        Some(text) => Some(
            crate::serve::parse_size(text).map_err(|e| e.replace("--memory-limit", "--memory"))?
                as u64,
        ),
        None => None,
    };
    eprintln!(
        "almanac executor: serving {} on {}:{} (tasks) and :{} (shuffle data)",
        args.scheduler, args.bind_host, args.grpc_port, args.port
    );
    almanac_cluster::run_executor(ExecutorOptions {
        bind_host: args.bind_host,
        external_host: args.external_host,
        port: args.port,
        grpc_port: args.grpc_port,
        scheduler: args.scheduler,
        slots: args.slots.map(usize::from),
        work_dir: args.work_dir,
        memory_bytes,
        heartbeat_seconds: args.heartbeat,
    })
    .await
    .map_err(|e| e.to_string())
}

/// A session on the cluster at `url`, after checking that its scheduler answers.
pub async fn connect(url: &str, config: SessionConfig) -> Result<SessionContext, String> {
    let address = url
        .strip_prefix("df://")
        .ok_or_else(|| format!("--cluster {url}: expected df://HOST:PORT"))?;
    let reachable = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(address),
    )
    .await;
    match reachable {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(format!(
                "--cluster {url}: the scheduler does not answer ({e})"
            ))
        }
        Err(_) => {
            return Err(format!(
                "--cluster {url}: the scheduler does not answer within 10 s"
            ))
        }
    }
    almanac_cluster::connect_with(url, config)
        .await
        .map_err(|e| e.to_string())
}

/// Ballista's warnings and errors on stderr (its `log` records included); more with
/// e.g. `ALMANAC_LOG=info`.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ALMANAC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
