//! `almanac report`: runs every report in `sql/` and prints it; with `--out`
//! writes each result as CSV and Parquet plus `manifest.json` (as-of date,
//! SHA-256 of every input file, engine version, settings, the SQL text run),
//! so any figure can be reproduced and audited later.

use std::path::Path;
use std::time::Instant;

use almanac_datafusion::Lake;
use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::context::SessionContext;
use object_store::ObjectStoreExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::output::{self, Format};
use crate::run::{message, run_collect};
use crate::sink::Sink;
use almanac_datafusion::reports::load_reports;

pub use almanac_datafusion::reports::REPORT_DATE;

pub struct ReportRun<'a> {
    pub ctx: &'a SessionContext,
    pub lake: &'a Lake,
    pub sql_dir: &'a Path,
    pub as_of: &'a str,
    /// A folder or an object-store URL.
    pub out: Option<&'a Path>,
}

pub async fn run(report: ReportRun<'_>) -> Result<(), String> {
    let reports = load_reports(report.sql_dir, report.as_of).map_err(message)?;
    let sink = report.out.map(Sink::open).transpose()?;
    let mut manifest_reports = Vec::new();
    for file in &reports {
        let name = &file.name;
        let started = Instant::now();
        let results = run_collect(report.ctx, &file.sql)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        println!("== {name} ({seconds:.1} s)");
        let mut outputs = Vec::new();
        for (batches, stem) in results.iter().zip(file.result_names(results.len())) {
            output::write(batches, Format::Table, None)?;
            if let Some(sink) = &sink {
                outputs.extend(write_result(sink, &stem, batches).await?);
            }
        }
        manifest_reports.push(json!({
            "name": name,
            "file": file.path.display().to_string(),
            "sql": file.sql,
            "seconds": seconds,
            "outputs": outputs,
        }));
    }
    if let Some(sink) = &sink {
        let manifest = json!({
            "engine": "almanac",
            "version": env!("CARGO_PKG_VERSION"),
            "as_of": report.as_of,
            "data": report.lake.catalog.as_ref().unwrap_or(&report.lake.root),
            "inputs": inputs(report.ctx, report.lake).await?,
            "settings": settings(report.ctx).await?,
            "reports": manifest_reports,
        });
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
        // Written last: a manifest means every result it lists is in place.
        let written = sink.put("manifest.json", text.into_bytes()).await?;
        eprintln!(
            "wrote {} reports to {} and {written}",
            reports.len(),
            sink.describe()
        );
    }
    Ok(())
}

/// Writes one result as CSV and Parquet; returns the file names.
async fn write_result(
    sink: &Sink,
    stem: &str,
    batches: &[RecordBatch],
) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for (format, extension) in [(Format::Csv, "csv"), (Format::Parquet, "parquet")] {
        let name = format!("{stem}.{extension}");
        sink.put(&name, output::encode(batches, format)?).await?;
        names.push(name);
    }
    Ok(names)
}

/// What identifies the inputs (the catalog file and every file of every
/// table), keyed by their path under the lake's root: for local files their
/// SHA-256; in an object store each object's ETag and size (reading a whole
/// lake back to hash it would cost as much as the reports).
async fn inputs(ctx: &SessionContext, lake: &Lake) -> Result<Value, String> {
    use futures::TryStreamExt;
    let state = ctx.state();
    let locations = lake
        .catalog
        .iter()
        .chain(lake.tables.iter().map(|t| &t.location));
    let mut inputs = serde_json::Map::new();
    for location in locations {
        let failed = |e: &dyn std::fmt::Display| format!("listing the inputs in {location}: {e}");
        let url = ListingTableUrl::parse(location).map_err(|e| failed(&e))?;
        let store = state
            .runtime_env()
            .object_store(&url)
            .map_err(|e| failed(&e))?;
        let files: Vec<_> = url
            .list_all_files(&state, store.as_ref(), "")
            .await
            .map_err(|e| failed(&e))?
            .try_collect()
            .await
            .map_err(|e| failed(&e))?;
        for file in files {
            let full = almanac_datafusion::lake::full_url(&url, &file.location);
            let key = full.strip_prefix(&lake.root).unwrap_or(&full).to_string();
            let identity = if url.scheme() == "file" {
                let bytes = async { store.get(&file.location).await?.bytes().await }
                    .await
                    .map_err(|e| format!("cannot read {full}: {e}"))?;
                let hex: String = Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                Value::String(hex)
            } else {
                json!({ "etag": file.e_tag, "size": file.size })
            };
            inputs.insert(key, identity);
        }
    }
    Ok(Value::Object(inputs))
}

/// Every `almanac.*` and execution setting of the session.
async fn settings(ctx: &SessionContext) -> Result<Value, String> {
    let state = ctx.state();
    let mut map = serde_json::Map::new();
    for entry in state.config_options().entries() {
        if entry.key.starts_with("datafusion.execution.") || entry.key.starts_with("almanac.") {
            map.insert(entry.key, entry.value.map_or(Value::Null, Value::String));
        }
    }
    Ok(Value::Object(map))
}
