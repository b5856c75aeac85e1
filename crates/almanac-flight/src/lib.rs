//! # almanac-flight
//!
//! Almanac over Arrow Flight SQL: BI tools (DBeaver, Superset, Tableau,
//! Power BI, Grafana) and notebooks (ADBC, `flightsql-dbapi`) run the same SQL
//! as the `almanac` CLI, with every table function, and find the standard
//! reports as views in the `reports` schema.
//!
//! What the server guarantees: statements and prepared statements (`?` or
//! `$1` placeholders); the metadata calls BI tools need (`GetSqlInfo`,
//! catalogs, schemas, tables with their columns, table types, type info,
//! empty key lists); strings as `Utf8`; Basic-auth login for a bearer token;
//! read-only unless started with writes allowed; a shared memory limit, a
//! per-query timeout and a cap on concurrent queries; a query is cancelled
//! when its client goes away; one log line per query.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use almanac_flight::{server_session, start, ServerConfig};
//! let config = ServerConfig::new("127.0.0.1:0".parse()?);
//! let ctx = server_session(&config.limits)?;
//! almanac_datafusion::register_lake(&ctx, std::path::Path::new("datasets/demo")).await?;
//! let server = start(&ctx, &config).await?;
//! println!("grpc://{}", server.addr);
//! server.stop().await?;
//! # Ok(()) }
//! ```

mod auth;
mod config;
mod error;
mod metadata;
mod query;
mod server;
mod service;
mod wire;

pub use auth::{Credentials, ANONYMOUS};
pub use config::{Limits, ServerConfig, TlsFiles};
pub use error::ServerError;
pub use query::numbered_placeholders;
pub use server::{client_friendly_types, serve, server_session, start, RunningServer};
pub use service::AlmanacFlightSqlService;
