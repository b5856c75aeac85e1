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
use crate::run::run_collect;

/// The as-of date written in the report files; `--as-of` replaces it.
pub const REPORT_DATE: &str = "2025-12-31";

pub struct ReportRun<'a> {
    pub ctx: &'a SessionContext,
    pub data: &'a Path,
    pub sql_dir: &'a Path,
    pub as_of: &'a str,
    pub out: Option<&'a Path>,
}

pub async fn run(report: ReportRun<'_>) -> Result<(), String> {
    if almanac_core::Date::parse_iso(report.as_of).is_none() {
        return Err(format!(
            "--as-of {}: expected a date such as 2025-12-31",
            report.as_of
        ));
    }
    let files = report_files(report.sql_dir)?;
    if let Some(out) = report.out {
        fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    }
    let mut manifest_reports = Vec::new();
    for file in &files {
        let name = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("report")
            .to_string();
        let text =
            fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let sql = text.replace(
            &format!("DATE '{REPORT_DATE}'"),
            &format!("DATE '{}'", report.as_of),
        );
        let started = Instant::now();
        let results = run_collect(report.ctx, &sql)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        println!("== {name} ({seconds:.1} s)");
        let mut outputs = Vec::new();
        for (i, batches) in results.iter().enumerate() {
            output::write(batches, Format::Table, None)?;
            if let Some(out) = report.out {
                let stem = if results.len() == 1 {
                    name.clone()
                } else {
                    format!("{name}_{}", i + 1)
                };
                outputs.extend(write_result(out, &stem, batches)?);
            }
        }
        manifest_reports.push(json!({
            "name": name,
            "file": file.display().to_string(),
            "sql": sql,
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
            "inputs": input_hashes(report.data)?,
            "settings": settings(report.ctx).await?,
            "reports": manifest_reports,
        });
        let path = out.join("manifest.json");
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {} reports and {}", files.len(), path.display());
    }
    Ok(())
}

fn report_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = fs::read_dir(dir)
        .map_err(|e| format!("cannot read the reports folder {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no .sql reports in {}", dir.display()));
    }
    Ok(files)
}

/// Writes one result as CSV and Parquet; returns the file names.
fn write_result(out: &Path, stem: &str, batches: &[RecordBatch]) -> Result<Vec<String>, String> {
    let csv = out.join(format!("{stem}.csv"));
    let parquet = out.join(format!("{stem}.parquet"));
    output::write(batches, Format::Csv, Some(&csv))?;
    output::write(batches, Format::Parquet, Some(&parquet))?;
    Ok(vec![format!("{stem}.csv"), format!("{stem}.parquet")])
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
