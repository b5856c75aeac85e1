//! # almanac-cluster
//!
//! Almanac on an [Apache Ballista](https://datafusion.apache.org/ballista/)
//! cluster: the same SQL, planned by a scheduler and run by executors that
//! split the instrument table between them.
//!
//! - [`run_scheduler`] and [`run_executor`] are Ballista's scheduler and
//!   executor with Almanac inside: its functions, its settings, its optimizer
//!   rule, and the codecs that carry `cashflows()` and the other table
//!   functions over the wire.
//! - [`connect`] opens a session whose queries run on the cluster; register
//!   the lake in it as in a local session.
//!
//! Tables must be files every process can read: a shared folder, or an
//! object store (`s3://`, `gs://`, `az://`) that each process opens from its
//! own environment.
//!
//! ```no_run
//! # async fn demo() -> Result<(), almanac_cluster::ClusterError> {
//! let ctx = almanac_cluster::connect("df://scheduler:50050").await?;
//! almanac_datafusion::register_lake_url(&ctx, "s3://bank/lake/").await?;
//! ctx.sql("SELECT scenario, SUM(total) FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') GROUP BY 1")
//!     .await?
//!     .show()
//!     .await?;
//! # Ok(()) }
//! ```

mod error;
mod executor;
mod scheduler;

use std::sync::Arc;

use almanac_datafusion::codec::{AlmanacLogicalCodec, AlmanacPhysicalCodec};
use almanac_datafusion::lake::StoresOnDemand;
use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::execution::context::SessionContext;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::PhysicalExtensionCodec;

pub use error::ClusterError;
pub use executor::{run_executor, ExecutorOptions};
pub use scheduler::{run_scheduler, SchedulerOptions};

/// Ballista's logical codec with Almanac's table providers added.
pub fn logical_codec() -> Arc<dyn LogicalExtensionCodec> {
    Arc::new(AlmanacLogicalCodec::new(Arc::new(
        BallistaLogicalExtensionCodec::default(),
    )))
}

/// Ballista's physical codec with Almanac's operators added.
pub fn physical_codec() -> Arc<dyn PhysicalExtensionCodec> {
    Arc::new(AlmanacPhysicalCodec::new(Arc::new(
        BallistaPhysicalExtensionCodec::default(),
    )))
}

/// The session configuration of every process of the cluster: Ballista's,
/// Almanac's settings (`almanac.*`, so a client's `SET` reaches the
/// executors) and the codecs.
///
/// Ballista's adaptive planner (on by default in 55) is turned off: it plans
/// each stage with its own fixed list of physical optimizer rules, which
/// drops Almanac's pre-summing rule, so every cash flow went through the
/// shuffle's aggregate (EVE on 1M instruments: 49 s on one executor against
/// 7.4 s in one process). The static planner runs the session's rules.
pub fn session_config() -> SessionConfig {
    SessionConfig::new_with_ballista()
        .with_ballista_adaptive_query_planner(false)
        .with_information_schema(true)
        .with_option_extension(almanac_datafusion::AlmanacOptions::default())
        .with_ballista_logical_extension_codec(logical_codec())
        .with_ballista_physical_extension_codec(physical_codec())
}

/// A runtime that opens the object store of any lake URL on first use.
fn runtime(temp_dir: Option<String>) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut builder =
        RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(StoresOnDemand::default()));
    if let Some(dir) = temp_dir {
        builder = builder.with_temp_file_path(dir);
    }
    Ok(Arc::new(builder.build()?))
}

/// A session state with Almanac's functions and rules on `config`, and
/// Ballista's logical rules (which keep `NOT IN` subqueries distributable).
fn almanac_state(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionState {
    let state = almanac_datafusion::session_with(config, runtime).state();
    SessionStateBuilder::new_from_existing(state)
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .build()
}

/// Whether `ctx` sends its queries to a cluster (it was made by [`connect`]).
pub fn is_remote(ctx: &SessionContext) -> bool {
    ctx.state()
        .config()
        .options()
        .extensions
        .get::<ballista_core::config::BallistaConfig>()
        .is_some()
}

/// A session whose queries run on the cluster at `url` (`df://host:port`).
///
/// Planning happens here (the table functions read their arguments and check
/// the tables), the work on the executors.
pub async fn connect(url: &str) -> Result<SessionContext, ClusterError> {
    connect_with(url, session_config()).await
}

/// [`connect`] with another configuration, made from [`session_config`].
pub async fn connect_with(
    url: &str,
    config: SessionConfig,
) -> Result<SessionContext, ClusterError> {
    let local = almanac_state(config, runtime(None)?);
    let ctx = SessionContext::remote_with_state(url, local)
        .await
        .map_err(|e| ClusterError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
    // Ballista's upgrade replaces the function lists: Almanac's go back in afterwards.
    almanac_datafusion::register_all(&ctx);
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The adaptive planner would plan without Almanac's physical rules
    /// (see [`session_config`]); every process must get the static planner.
    #[test]
    fn the_adaptive_planner_is_off() {
        assert!(!session_config().ballista_adaptive_query_planner_enabled());
        assert!(SessionConfig::new_with_ballista().ballista_adaptive_query_planner_enabled());
    }
}
