//! Starting and stopping the server: the session it serves, TLS, binding.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use datafusion::execution::context::SessionContext;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::config::{Limits, ServerConfig};
use crate::error::ServerError;
use crate::service::AlmanacFlightSqlService;

/// Almanac's session for serving: its functions and settings, strings read as
/// `Utf8` rather than `Utf8View` (what clients receive anyway, so no cast per
/// batch), and the memory limit shared by all queries.
pub fn server_session(limits: &Limits) -> Result<SessionContext, ServerError> {
    let mut config = almanac_datafusion::session_config();
    client_friendly_types(&mut config);
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(bytes) = limits.memory_bytes {
        runtime = runtime.with_memory_limit(bytes, 1.0);
    }
    let runtime = runtime
        .build_arc()
        .map_err(|e| ServerError::Config(format!("cannot set up the query runtime: {e}")))?;
    Ok(almanac_datafusion::session_with(config, runtime))
}

/// Plain `Utf8` strings in results rather than `Utf8View`, which ODBC/JDBC
/// drivers and older Arrow clients cannot read.
pub fn client_friendly_types(config: &mut SessionConfig) {
    let options = config.options_mut();
    options.execution.parquet.schema_force_view_types = false;
    options.sql_parser.map_string_types_to_utf8view = false;
}

/// A server running in the background (tests, embedding).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub service: Arc<AlmanacFlightSqlService>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServerError>>,
}

impl RunningServer {
    /// Stops accepting calls, lets running ones finish, and waits.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .map_err(|e| ServerError::Config(format!("the server task failed: {e}")))?
    }
}

/// Binds `config.addr` (port 0 picks a free port) and serves `ctx` in the background.
pub async fn start(
    ctx: &SessionContext,
    config: &ServerConfig,
) -> Result<RunningServer, ServerError> {
    let (stop, stopped) = oneshot::channel::<()>();
    let (listener, service) = prepare(ctx, config).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Bind(config.addr, e))?;
    let router = router(config, Arc::clone(&service))?;
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = stopped.await;
            })
            .await
            .map_err(ServerError::Transport)
    });
    Ok(RunningServer {
        addr,
        service,
        stop: Some(stop),
        task,
    })
}

/// Serves `ctx` until `shutdown` completes; `on_ready` gets the bound address.
pub async fn serve(
    ctx: &SessionContext,
    config: &ServerConfig,
    on_ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServerError> {
    let (listener, service) = prepare(ctx, config).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Bind(config.addr, e))?;
    on_ready(addr);
    router(config, service)?
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
        .map_err(ServerError::Transport)
}

async fn prepare(
    ctx: &SessionContext,
    config: &ServerConfig,
) -> Result<(TcpListener, Arc<AlmanacFlightSqlService>), ServerError> {
    config.check().map_err(ServerError::Config)?;
    let service = AlmanacFlightSqlService::new(ctx, config).map_err(|e| {
        ServerError::Config(format!(
            "cannot build the server's metadata: {}",
            e.message()
        ))
    })?;
    let listener = TcpListener::bind(config.addr)
        .await
        .map_err(|e| ServerError::Bind(config.addr, e))?;
    Ok((listener, Arc::new(service)))
}

fn router(
    config: &ServerConfig,
    service: Arc<AlmanacFlightSqlService>,
) -> Result<tonic::transport::server::Router, ServerError> {
    let mut server = Server::builder();
    if let Some(tls) = &config.tls {
        let read = |path: &std::path::Path| {
            std::fs::read(path)
                .map_err(|e| ServerError::Tls(format!("cannot read {}: {e}", path.display())))
        };
        let identity = Identity::from_pem(read(&tls.cert)?, read(&tls.key)?);
        server = server
            .tls_config(ServerTlsConfig::new().identity(identity))
            .map_err(|e| ServerError::Tls(e.to_string()))?;
    }
    Ok(server.add_service(FlightServiceServer::from_arc(service)))
}
