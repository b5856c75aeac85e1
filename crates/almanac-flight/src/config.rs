//! What an operator decides when starting the server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Credentials;

/// Everything `almanac serve` is started with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    pub credentials: Credentials,
    pub tls: Option<TlsFiles>,
    /// DDL (`CREATE …`), DML (`INSERT`, `COPY … TO`) and `SET` are refused unless true.
    pub allow_writes: bool,
    pub limits: Limits,
}

/// A PEM certificate chain and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What keeps one client from taking the server down.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Memory for all queries together (DataFusion's memory pool); a query
    /// that needs more fails with "resources exhausted", the others go on.
    pub memory_bytes: Option<usize>,
    /// Wall time a query may take from its request to its last row (queueing included).
    pub query_timeout: Duration,
    /// Queries executing at once; more wait for a slot (within their timeout).
    pub max_concurrent_queries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: None,
            query_timeout: Duration::from_secs(600),
            max_concurrent_queries: 8,
        }
    }
}

impl ServerConfig {
    /// A server on `addr` without authentication, read-only, with default limits.
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            credentials: Credentials::default(),
            tls: None,
            allow_writes: false,
            limits: Limits::default(),
        }
    }

    /// Refuses an open server reachable from other machines: a non-loopback
    /// address needs users or tokens.
    pub fn check(&self) -> Result<(), String> {
        if !self.addr.ip().is_loopback() && self.credentials.is_empty() {
            return Err(format!(
                "refusing to listen on {} without authentication: give --users-file or \
                 ALMANAC_USERS (or --tokens-file / ALMANAC_TOKENS), or listen on 127.0.0.1",
                self.addr
            ));
        }
        if self.limits.max_concurrent_queries == 0 {
            return Err("--max-concurrent-queries must be at least 1".into());
        }
        if self.limits.query_timeout.is_zero() {
            return Err("--query-timeout must be more than 0 seconds".into());
        }
        Ok(())
    }
}
