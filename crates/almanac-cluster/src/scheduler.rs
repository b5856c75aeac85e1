//! `almanac scheduler`: Ballista's scheduler with Almanac's functions, settings,
//! optimizer rule and codecs.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;

use crate::{almanac_state, logical_codec, physical_codec, runtime, session_config, ClusterError};

/// What a scheduler listens on and how soon it gives up on a silent executor.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to listen on, such as `0.0.0.0:50050`.
    pub bind: String,
    /// The host name executors and clients reach this scheduler by.
    pub external_host: String,
    /// Seconds without a heartbeat after which an executor counts as lost and
    /// its tasks run elsewhere.
    pub executor_timeout_seconds: u64,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            bind: "127.0.0.1:50050".into(),
            external_host: "localhost".into(),
            executor_timeout_seconds: 180,
        }
    }
}

/// Runs a scheduler until the process is stopped.
pub async fn run_scheduler(options: SchedulerOptions) -> Result<(), ClusterError> {
    let address: SocketAddr = options
        .bind
        .parse()
        .map_err(|e: std::net::AddrParseError| ClusterError::Address {
            what: "--bind",
            value: options.bind.clone(),
            reason: e.to_string(),
        })?;
    let config = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: options.external_host,
        executor_timeout_seconds: options.executor_timeout_seconds,
        no_executors_grace_period_seconds: options.executor_timeout_seconds,
        override_config_producer: Some(Arc::new(session_config)),
        override_session_builder: Some(Arc::new(|config| {
            Ok(almanac_state(config, runtime(None)?))
        })),
        override_logical_codec: Some(logical_codec()),
        override_physical_codec: Some(physical_codec()),
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, address, Arc::new(config)).await?;
    Ok(())
}
