//! The errors of the cluster processes and of connecting to them.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("cannot use the cluster at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{what} {value:?} is not a host:port address: {reason}")]
    Address {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("{0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
}
