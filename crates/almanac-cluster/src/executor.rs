//! `almanac executor`: Ballista's executor with Almanac's functions, settings and codecs.

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};

use crate::{logical_codec, physical_codec, runtime, session_config, ClusterError};

/// Where an executor listens, which scheduler it serves and with what resources.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Host to listen on.
    pub bind_host: String,
    /// The host name the scheduler and other executors reach this one by.
    pub external_host: Option<String>,
    /// Port of the Arrow Flight service that serves shuffle data.
    pub port: u16,
    /// Port of the gRPC service the scheduler sends tasks to.
    pub grpc_port: u16,
    /// The scheduler, as `host:port`.
    pub scheduler: String,
    /// Tasks run at once (default: the cores).
    pub slots: Option<usize>,
    /// Folder for shuffle files and spills (default: a temporary folder).
    pub work_dir: Option<String>,
    /// Memory shared by the tasks, in bytes (default: a share of the machine's).
    pub memory_bytes: Option<u64>,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_seconds: u64,
}

impl Default for ExecutorOptions {
    fn default() -> Self {
        ExecutorOptions {
            bind_host: "127.0.0.1".into(),
            external_host: None,
            port: 50051,
            grpc_port: 50052,
            scheduler: "localhost:50050".into(),
            slots: None,
            work_dir: None,
            memory_bytes: None,
            heartbeat_seconds: 60,
        }
    }
}

/// Runs an executor until the process is stopped.
pub async fn run_executor(options: ExecutorOptions) -> Result<(), ClusterError> {
    let (scheduler_host, scheduler_port) = split_host_port(&options.scheduler)?;
    // Every function an Almanac session has, DataFusion's nested and array ones included.
    let functions = BallistaFunctionRegistry::from(&almanac_datafusion::new_session().state());
    let work_dir = options.work_dir.clone();
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host,
        external_host: options.external_host,
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host,
        scheduler_port,
        vcores: options.slots.unwrap_or(defaults.vcores),
        work_dir: options.work_dir,
        memory_pool_size: options.memory_bytes,
        executor_heartbeat_interval_seconds: options.heartbeat_seconds,
        print_thread_info: false,
        override_function_registry: Some(Arc::new(functions)),
        override_config_producer: Some(Arc::new(session_config)),
        override_runtime_producer: Some(Arc::new(move |_| runtime(work_dir.clone()))),
        override_logical_codec: Some(logical_codec()),
        override_physical_codec: Some(physical_codec()),
        ..defaults
    };
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

fn split_host_port(address: &str) -> Result<(String, u16), ClusterError> {
    let bad = |reason: &str| ClusterError::Address {
        what: "--scheduler",
        value: address.to_string(),
        reason: reason.to_string(),
    };
    let (host, port) = address.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let port = port.parse().map_err(|_| bad("the port is not a number"))?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok((host.to_string(), port))
}
