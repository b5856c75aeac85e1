//! `almanac report`: runs every report in `sql/` and prints it; with `--out`
//! writes each result as CSV and Parquet plus `manifest.json` (as-of date,
//! SHA-256 of every input file, engine version, settings, the SQL text run),
//! so any figure can be reproduced and audited later.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use almanac_datafusion::AlmanacOptions;
use datafusion::arrow::array::RecordBatch;
use datafusion::execution::context::SessionContext;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::output::{self, Format};
use crate::run::{message, run_collect};
use almanac_datafusion::reports::load_reports;

pub use almanac_datafusion::reports::REPORT_DATE;

pub struct ReportRun<'a> {
    pub ctx: &'a SessionContext,
    pub data: &'a Path,
    pub sql_dir: &'a Path,
    pub as_of: &'a str,
    pub out: Option<&'a Path>,
}

pub async fn run(report: ReportRun<'_>) -> Result<(), String> {
    let reports = load_reports(report.sql_dir, report.as_of).map_err(message)?;
    if let Some(out) = report.out {
        fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    }
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
            if let Some(out) = report.out {
                outputs.extend(write_result(out, &stem, batches)?);
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
    if let Some(out) = report.out {
        let manifest = json!({
            "engine": "almanac",
            "version": env!("CARGO_PKG_VERSION"),
            "as_of": report.as_of,
            "data": report.data.display().to_string(),
            "inputs": inputs(report.data).await?,
            "settings": settings(report.ctx).await?,
            "reports": manifest_reports,
        });
        let path = out.join("manifest.json");
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {} reports and {}", reports.len(), path.display());
    }
    Ok(())
}

/// Writes one result as CSV and Parquet; returns the file names.
fn write_result(out: &Path, stem: &str, batches: &[RecordBatch]) -> Result<Vec<String>, String> {
    let csv = out.join(format!("{stem}.csv"));
    let parquet = out.join(format!("{stem}.parquet"));
    output::write(batches, Format::Csv, Some(&csv))?;
    output::write(batches, Format::Parquet, Some(&parquet))?;
    Ok(vec![format!("{stem}.csv"), format!("{stem}.parquet")])
}

/// What identifies the inputs: for a local folder the SHA-256 of every file;
/// in an object store each object's ETag and size (reading a whole lake back
/// to hash it would cost as much as the reports).
async fn inputs(data: &Path) -> Result<Value, String> {
    let text = data.to_string_lossy();
    match url::Url::parse(&text) {
        Ok(url) if url.scheme() != "file" && url.scheme().len() > 1 => object_tags(&url).await,
        Ok(url) => input_hashes(Path::new(url.path())),
        Err(_) => input_hashes(data),
    }
}

async fn object_tags(url: &url::Url) -> Result<Value, String> {
    use futures::TryStreamExt;
    let store = almanac_datafusion::object_store_for(url).map_err(message)?;
    let prefix = object_store::path::Path::from_url_path(url.path()).map_err(|e| e.to_string())?;
    let objects: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| format!("listing {url}: {e}"))?;
    let mut tags = serde_json::Map::new();
    for object in objects {
        let relative = object
            .location
            .prefix_match(&prefix)
            .map(|parts| {
                parts
                    .map(|p| p.as_ref().to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_else(|| object.location.to_string());
        tags.insert(
            relative,
            json!({ "etag": object.e_tag, "size": object.size }),
        );
    }
    Ok(Value::Object(tags))
}

/// SHA-256 of every file under the data folder, by relative path.
fn input_hashes(data: &Path) -> Result<Value, String> {
    let mut files = Vec::new();
    collect_files(data, &mut files)?;
    files.sort();
    let mut hashes = serde_json::Map::new();
    for file in files {
        let bytes = fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let digest = Sha256::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        let relative = file
            .strip_prefix(data)
            .unwrap_or(&file)
            .display()
            .to_string();
        hashes.insert(relative, Value::String(hex));
    }
    Ok(Value::Object(hashes))
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Every `almanac.*` and execution setting of the session.
async fn settings(ctx: &SessionContext) -> Result<Value, String> {
    use datafusion::config::ExtensionOptions;
    let state = ctx.state();
    let mut map = serde_json::Map::new();
    for entry in state.config_options().entries() {
        if entry.key.starts_with("datafusion.execution.") {
            map.insert(entry.key, entry.value.map_or(Value::Null, Value::String));
        }
    }
    // Extension entries come without their prefix.
    for entry in AlmanacOptions::from_config(state.config_options()).entries() {
        let key = format!("almanac.{}", entry.key.trim_start_matches("almanac."));
        map.insert(key, entry.value.map_or(Value::Null, Value::String));
    }
    Ok(Value::Object(map))
}
