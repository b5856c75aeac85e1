//! Running SQL scripts and the generator.

use std::path::Path;
use std::time::Instant;

use almanac_datafusion::Lake;
use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};

use crate::output::{self, Format};

/// A session over the lake (a folder or a URL such as `s3://bucket/prefix`),
/// with every Almanac function; on the cluster at `cluster` (`df://host:port`) if given.
pub async fn session(data: &Path, cluster: Option<&str>) -> Result<(SessionContext, Lake), String> {
    let ctx = match cluster {
        Some(url) => crate::cluster::connect(url, almanac_cluster::session_config()).await?,
        // Files can also be queried by path or URL: SELECT * FROM 's3://bank/results/x.parquet'.
        // (Not on the server, where it would open the server's own disk to clients.)
        None => almanac_datafusion::new_session().enable_url_table(),
    };
    let lake = almanac_datafusion::register_lake_url(&ctx, &location(data))
        .await
        .map_err(message)?;
    Ok((ctx, lake))
}

/// `--data` as text: a folder or a URL.
pub fn location(data: &Path) -> String {
    data.to_string_lossy().into_owned()
}

/// The user-facing text of an error: the innermost message, without DataFusion's prefixes.
pub fn message(e: DataFusionError) -> String {
    almanac_datafusion::user_message(&e)
}

/// Runs each statement of a script; prints the result of every statement that returns rows.
pub async fn run_script(
    ctx: &SessionContext,
    sql: &str,
    format: Format,
    output: Option<&Path>,
) -> Result<(), String> {
    let statements = DFParser::parse_sql(sql).map_err(|e| message(e.into()))?;
    let count = statements.len();
    for (i, statement) in statements.into_iter().enumerate() {
        let last = i + 1 == count;
        if let Some(batches) = execute(ctx, statement).await? {
            if output.is_none() || last {
                output::write(&batches, format, if last { output } else { None })?;
            }
        }
    }
    Ok(())
}

/// Every result set of a script: one per statement that returns rows.
pub async fn run_collect(ctx: &SessionContext, sql: &str) -> Result<Vec<Vec<RecordBatch>>, String> {
    let mut results = Vec::new();
    for statement in DFParser::parse_sql(sql).map_err(|e| message(e.into()))? {
        results.extend(execute(ctx, statement).await?);
    }
    Ok(results)
}

/// Runs one statement; its rows, or `None` for a statement without result columns.
async fn execute(
    ctx: &SessionContext,
    statement: Statement,
) -> Result<Option<Vec<RecordBatch>>, String> {
    // A table filled in this process's memory cannot be read by the cluster's executors.
    if almanac_cluster::is_remote(ctx)
        && almanac_datafusion::reports::define_as_view(ctx, &statement)
            .await
            .map_err(message)?
    {
        return Ok(None);
    }
    let plan = ctx
        .state()
        .statement_to_plan(statement)
        .await
        .map_err(message)?;
    let df = ctx.execute_logical_plan(plan).await.map_err(message)?;
    let returns_rows = !df.schema().fields().is_empty();
    let batches = df.collect().await.map_err(message)?;
    Ok(returns_rows.then_some(batches))
}

pub fn generate(instruments: usize, seed: u64, out: &Path) -> Result<(), String> {
    let started = Instant::now();
    let step = (instruments / 20).max(65_536);
    let mut next_report = step;
    let bank = almanac_datafusion::generator::generate(instruments, seed, out, |done| {
        if done >= next_report && done < instruments {
            eprintln!("  {done} of {instruments} instruments written");
            next_report += step;
        }
    })
    .map_err(message)?;
    eprintln!(
        "wrote {} instruments to {} in {:.1} s: assets {:.0}, liabilities {:.0}, Tier 1 {:.0} (USD)",
        bank.instruments,
        out.display(),
        started.elapsed().as_secs_f64(),
        bank.total_assets,
        bank.total_liabilities,
        bank.tier1_capital
    );
    Ok(())
}
