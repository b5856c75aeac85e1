//! # almanac-datafusion
//!
//! Almanac's SQL surface on Apache DataFusion: the table functions
//! `cashflows()`, `repricing()`, `nii_projection()`, `discount_factors()`, `curve_points()`,
//! `instrument_errors()`, the scalar functions `year_frac`, `gap_bucket`,
//! `bucket_midpoint`, `irrbb_shock`, `discount_factor`, the `almanac.*`
//! session settings, and a session builder that maps a folder of Parquet
//! files to tables.
//!
//! ```no_run
//! # async fn demo() -> datafusion::error::Result<()> {
//! let ctx = almanac_datafusion::new_session();
//! almanac_datafusion::register_lake(&ctx, std::path::Path::new("datasets/demo")).await?;
//! ctx.sql("SELECT scenario, SUM(total) FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') GROUP BY 1")
//!     .await?
//!     .show()
//!     .await?;
//! # Ok(()) }
//! ```

mod args;
pub mod codec;
pub mod docs;
mod error;
pub mod generator;
mod instruments;
pub mod lake;
mod market;
pub mod reports;
pub mod settings;
pub mod table;
mod tables;
pub mod udf;

use std::sync::Arc;

use datafusion::execution::context::SessionContext;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionConfig;

pub use docs::{all_functions, FunctionDoc};
pub use error::user_message;
pub use lake::{
    explain_store_error, object_store_for, register_lake, register_lake_url, Lake, LakeTable,
};
pub use settings::AlmanacOptions;

/// Registers every Almanac function in a session.
pub fn register_all(ctx: &SessionContext) {
    ctx.register_udtf("cashflows", Arc::new(table::cashflows::CashflowsFunction));
    ctx.register_udtf(
        "discount_factors",
        Arc::new(table::curve_tables::DiscountFactorsFunction),
    );
    ctx.register_udtf(
        "curve_points",
        Arc::new(table::curve_tables::CurvePointsFunction),
    );
    ctx.register_udtf("repricing", Arc::new(table::repricing::RepricingFunction));
    ctx.register_udtf(
        "nii_projection",
        Arc::new(table::nii_projection::NiiProjectionFunction),
    );
    ctx.register_udtf(
        "instrument_errors",
        Arc::new(table::instrument_errors::InstrumentErrorsFunction),
    );
    for function in udf::all() {
        ctx.register_udf(function);
    }
}

/// The session configuration Almanac runs with: its settings under
/// `almanac.*` and `information_schema` on (so `SHOW TABLES` works).
pub fn session_config() -> SessionConfig {
    SessionConfig::new()
        .with_information_schema(true)
        .with_option_extension(AlmanacOptions::default())
}

/// A session with every Almanac function registered.
pub fn new_session() -> SessionContext {
    session_with(session_config(), Arc::new(RuntimeEnv::default()))
}

/// A session with every Almanac function and optimizer rule, on `config` and `runtime`.
pub fn session_with(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(table::cashflows::presum::PresumCashflows))
        .build();
    let ctx = SessionContext::new_with_state(state);
    register_all(&ctx);
    ctx
}
