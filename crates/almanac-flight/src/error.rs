//! The errors of starting and running the server (a query's errors go to
//! its client as gRPC statuses and never stop the server).

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the server stopped: {0}")]
    Transport(#[source] tonic::transport::Error),
}
