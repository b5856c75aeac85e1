//! `almanac serve`: the lake over Arrow Flight SQL, for BI tools and notebooks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use almanac_flight::{Credentials, Limits, ServerConfig, TlsFiles};

use crate::run::{location, message};

/// `almanac serve`'s options.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Folder of Parquet tables, a URL (s3://bucket/prefix, gs://, az://, https://, file://) or a catalog file (almanac.toml); default: the bundled demo bank.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port. Other than loopback needs auth.
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:50051")]
    pub addr: SocketAddr,
    /// File of users, one `name:password` or `name:sha256:<hex>` per line (also $ALMANAC_USERS).
    #[arg(long = "users-file", value_name = "FILE")]
    pub users_file: Option<PathBuf>,
    /// File of service tokens, one `name:token` per line (also $ALMANAC_TOKENS).
    #[arg(long = "tokens-file", value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,
    /// PEM certificate chain: serve over TLS (with --tls-key).
    #[arg(long = "tls-cert", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long = "tls-key", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Allow DDL (CREATE VIEW …), DML (INSERT, COPY … TO) and SET; refused by default.
    #[arg(long = "allow-writes")]
    pub allow_writes: bool,
    /// Memory for all queries together, e.g. 4GiB or 512MB, or `none` (default: half the RAM).
    #[arg(long = "memory-limit", value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Seconds a query may run, queueing included.
    #[arg(
        long = "query-timeout",
        value_name = "SECONDS",
        default_value_t = 600.0
    )]
    pub query_timeout: f64,
    /// Queries executing at once; more wait for a slot.
    #[arg(long = "max-concurrent-queries", value_name = "N", default_value_t = 8)]
    pub max_concurrent_queries: usize,
    /// Analysis date of the report views (reports.eve_sensitivity_1, …).
    #[arg(long = "as-of", value_name = "DATE", default_value = crate::report::REPORT_DATE)]
    pub as_of: String,
    /// Folder of report files published as views (default: the reports shipped in sql/).
    #[arg(long = "sql-dir", value_name = "DIR")]
    pub sql_dir: Option<PathBuf>,
    /// Log format: one JSON object per query, or text.
    #[arg(long = "log-format", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Be the front end of an Almanac cluster: queries run on its executors (--memory-limit then
    /// applies to the executors' own settings, not here), e.g. df://scheduler:50050.
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable lines.
    Text,
}

pub async fn run(args: ServeArgs) -> Result<(), String> {
    init_logging(args.log_format);
    let config = config(&args)?;
    let ctx = match &args.cluster {
        Some(url) => {
            let mut session = almanac_cluster::session_config();
            almanac_flight::client_friendly_types(&mut session);
            crate::cluster::connect(url, session).await?
        }
        None => almanac_flight::server_session(&config.limits).map_err(|e| e.to_string())?,
    };
    let (Some(data), Some(sql_dir)) = (args.data.as_deref(), args.sql_dir.as_deref()) else {
        return Err("internal: --data and --sql-dir have no defaults".into());
    };
    let data = location(data);
    let lake = almanac_datafusion::register_lake_url(&ctx, &data)
        .await
        .map_err(message)?;
    let reports =
        almanac_datafusion::reports::load_reports(sql_dir, &args.as_of).map_err(message)?;
    let views = almanac_datafusion::reports::register_report_views(&ctx, &reports, "reports")
        .await
        .map_err(message)?;
    let memory = match (&args.cluster, config.limits.memory_bytes) {
        (Some(url), _) => format!("on the cluster {url}"),
        (None, Some(bytes)) => format!("{:.1} GiB", bytes as f64 / GIB),
        (None, None) => "no limit".to_string(),
    };
    let auth = if config.credentials.is_empty() {
        "none (loopback only)"
    } else {
        "Basic or bearer token"
    };
    let summary = format!(
        "{} tables from {}, {} report views (as of {}); {}; auth: {auth}; TLS: {}; memory: {memory}; \
         timeout {} s; {} queries at once",
        lake.tables.len(),
        data,
        views.len(),
        args.as_of,
        if config.allow_writes { "writes allowed" } else { "read-only" },
        if config.tls.is_some() { "on" } else { "off" },
        config.limits.query_timeout.as_secs_f64(),
        config.limits.max_concurrent_queries,
    );
    let scheme = if config.tls.is_some() {
        "grpc+tls"
    } else {
        "grpc"
    };
    almanac_flight::serve(
        &ctx,
        &config,
        |addr| {
            // Tests and scripts read this line for the port when --addr ends in :0.
            eprintln!("almanac serve: listening on {scheme}://{addr}");
            eprintln!("almanac serve: {summary}");
            tracing::info!(target: "almanac::server", %addr, "listening");
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!(target: "almanac::server", "shutting down");
        },
    )
    .await
    .map_err(|e| e.to_string())
}

fn config(args: &ServeArgs) -> Result<ServerConfig, String> {
    let mut credentials = Credentials::default();
    if let Some(path) = &args.users_file {
        credentials.add_users_file(path)?;
    }
    if let Ok(users) = std::env::var("ALMANAC_USERS") {
        // The variable holds comma-separated entries.
        credentials.add_users(&users.replace(',', "\n"), "ALMANAC_USERS")?;
    }
    if let Some(path) = &args.tokens_file {
        credentials.add_tokens_file(path)?;
    }
    if let Ok(tokens) = std::env::var("ALMANAC_TOKENS") {
        credentials.add_tokens(&tokens.replace(',', "\n"), "ALMANAC_TOKENS")?;
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None) => None,
        _ => return Err("TLS needs both --tls-cert and --tls-key".into()),
    };
    if !(args.query_timeout.is_finite() && args.query_timeout > 0.0) {
        return Err(format!(
            "--query-timeout {}: expected a number of seconds above 0",
            args.query_timeout
        ));
    }
    let memory_bytes = match args.memory_limit.as_deref() {
        None => default_memory_limit(),
        Some("none") => None,
        Some(text) => Some(parse_size(text)?),
    };
    let config = ServerConfig {
        addr: args.addr,
        credentials,
        tls,
        allow_writes: args.allow_writes,
        limits: Limits {
            memory_bytes,
            query_timeout: Duration::from_secs_f64(args.query_timeout),
            max_concurrent_queries: args.max_concurrent_queries,
        },
    };
    config.check()?;
    Ok(config)
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Half the machine's memory (from /proc/meminfo), or no limit where unknown.
fn default_memory_limit() -> Option<usize> {
    let text = std::fs::read_to_string(Path::new("/proc/meminfo")).ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024 / 2)
}

/// `512MB`, `4GiB`, `2G`, `1073741824`: bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("--memory-limit {text}: expected a size such as 4GiB or 512MB"))?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => GIB,
        "t" | "tb" | "tib" => GIB * 1024.0,
        other => return Err(format!("--memory-limit {text}: unknown unit '{other}'")),
    };
    let bytes = number * scale;
    if !(bytes >= 1.0 && bytes < usize::MAX as f64) {
        return Err(format!("--memory-limit {text}: out of range"));
    }
    Ok(bytes as usize)
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ALMANAC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    // A second init (tests calling run twice) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512MB"), Ok(512 * 1024 * 1024));
        assert_eq!(parse_size("4GiB"), Ok(4 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("1.5g"), Ok(1536 * 1024 * 1024));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }
}
