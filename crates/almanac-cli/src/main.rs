//! `almanac`: SQL over a bank's balance sheet. Cash flows, repricing and
//! liquidity gaps, duration and the Basel IRRBB sensitivities as queries.

mod cluster;
mod functions;
mod output;
mod report;
mod run;
mod serve;
mod shell;
mod sink;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use output::Format;

/// The bundled demo bank, found next to the source tree unless ALMANAC_DATA says otherwise.
fn default_data_dir() -> PathBuf {
    std::env::var_os("ALMANAC_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo"))
        })
}

/// The reports shipped in sql/, found next to the source tree.
fn default_sql_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql"))
}

#[derive(Parser)]
#[command(
    name = "almanac",
    version,
    about = "Almanac: asset-liability management in SQL",
    long_about = "Almanac: asset-liability management in SQL.\n\n\
        Your balance sheet (loans, deposits, bonds) lives as Parquet tables; Almanac adds SQL\n\
        functions that project every instrument's cash flows, shock the yield curves the Basel\n\
        way and discount, so gap reports, duration, and EVE and NII sensitivities are queries.\n\n\
        Try:  almanac sql -f sql/eve_sensitivity.sql\n      almanac functions",
    after_help = "Data: every Parquet file or folder in --data is a table named after it (instruments,\n\
        curves, capital, ...), unless an almanac.toml catalog maps them (see docs/lake.md). Without\n\
        --data, the bundled demo bank is used (or $ALMANAC_DATA)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run SQL: a query (-c), a file of statements (-f), or an interactive shell.
    Sql {
        /// Folder of Parquet tables, a URL (s3://bucket/prefix, gs://, az://, https://, file://) or a catalog file (almanac.toml); default: the bundled demo bank.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// SQL to run; several statements may be separated by ';'.
        #[arg(
            short = 'c',
            long = "command",
            value_name = "SQL",
            conflicts_with = "file"
        )]
        command: Option<String>,
        /// A file of SQL statements, such as sql/eve_sensitivity.sql.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        /// How to print results.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Write the result to this file instead of the screen (the last statement's, for several).
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: Option<PathBuf>,
        /// Run on an Almanac cluster (almanac scheduler/executor), e.g. df://scheduler:50050.
        #[arg(long, value_name = "df://HOST:PORT")]
        cluster: Option<String>,
    },
    /// Run every standard report in sql/ (EVE, NII, gaps, duration) and print it.
    Report {
        /// Folder of Parquet tables, a URL (s3://bucket/prefix, gs://, az://, https://, file://) or a catalog file (almanac.toml); default: the bundled demo bank.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Analysis date, replacing the date written in the report files.
        #[arg(long = "as-of", value_name = "DATE", default_value = report::REPORT_DATE)]
        as_of: String,
        /// Also write each report as CSV and Parquet, and manifest.json, into this folder or URL (s3://bucket/prefix, ...).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Folder of report files (default: the reports shipped in sql/).
        #[arg(long = "sql-dir", value_name = "DIR")]
        sql_dir: Option<PathBuf>,
        /// Run on an Almanac cluster (almanac scheduler/executor), e.g. df://scheduler:50050.
        #[arg(long, value_name = "df://HOST:PORT")]
        cluster: Option<String>,
    },
    /// Serve the lake over Arrow Flight SQL to BI tools and notebooks (see docs/flight-sql.md).
    Serve(serve::ServeArgs),
    /// Generate a synthetic bank (instruments, curves, capital, fx_rates) as Parquet.
    Generate {
        /// Number of instruments.
        #[arg(long, default_value_t = 10_000)]
        instruments: usize,
        /// Random seed; the same seed and size give the same files, bit for bit.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// List Almanac's SQL functions with their arguments and an example.
    Functions {
        /// Show one function only.
        name: Option<String>,
    },
    /// Run the scheduler of an Almanac cluster (Apache Ballista; see docs/cluster.md).
    Scheduler(cluster::SchedulerArgs),
    /// Run an executor of an Almanac cluster, serving a scheduler.
    Executor(cluster::ExecutorArgs),
}

fn main() -> ExitCode {
    // A panic is a bug in Almanac, never the user's fault: say so in one line, no backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: internal error in Almanac ({info}); please report it with the command you ran"
        );
    }));
    let cli = Cli::parse();
    // Planning recurses through the plan tree, and a cluster scheduler plans every
    // client's queries: 2 MiB (tokio's default) overflows on deep report plans.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sql {
                data,
                command,
                file,
                format,
                output,
                cluster,
            } => {
                let data = data.unwrap_or_else(default_data_dir);
                let (ctx, _) = run::session(&data, cluster.as_deref()).await?;
                match (command, file) {
                    (Some(sql), _) => run::run_script(&ctx, &sql, format, output.as_deref()).await,
                    (None, Some(path)) => {
                        let sql = std::fs::read_to_string(&path)
                            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                        run::run_script(&ctx, &sql, format, output.as_deref()).await
                    }
                    (None, None) => shell::interactive(&ctx, format).await,
                }
            }
            Command::Report {
                data,
                as_of,
                out,
                sql_dir,
                cluster,
            } => {
                let data = data.unwrap_or_else(default_data_dir);
                let sql_dir = sql_dir.unwrap_or_else(default_sql_dir);
                let (ctx, lake) = run::session(&data, cluster.as_deref()).await?;
                let run = report::ReportRun {
                    ctx: &ctx,
                    lake: &lake,
                    sql_dir: &sql_dir,
                    as_of: &as_of,
                    out: out.as_deref(),
                };
                report::run(run).await
            }
            Command::Serve(mut args) => {
                args.data.get_or_insert_with(default_data_dir);
                args.sql_dir.get_or_insert_with(default_sql_dir);
                serve::run(args).await
            }
            Command::Generate {
                instruments,
                seed,
                out,
            } => run::generate(instruments, seed, &out),
            Command::Functions { name } => functions::print(name.as_deref()),
            Command::Scheduler(args) => cluster::scheduler(args).await,
            Command::Executor(args) => cluster::executor(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    if message.contains("failed: Cancelled") {
        // Almanac's scheduler cancels what was running when an executor is
        // lost, rather than risk an incomplete answer (docs/cluster.md).
        eprintln!(
            "hint: a cluster query is cancelled when an executor is lost; run it again \
             (queries only read, so this is safe)"
        );
    }
    ExitCode::FAILURE
}
