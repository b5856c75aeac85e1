//! Mapping a folder of the lake to tables: every Parquet file (`capital.parquet`)
//! or folder of Parquet files (`instruments/`) becomes a table named after it.

use std::path::{Path, PathBuf};

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::ParquetReadOptions;

/// A table found in the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeTable {
    pub name: String,
    pub path: PathBuf,
}

/// Registers every Parquet file and folder directly under `dir` as a table.
pub async fn register_lake(ctx: &SessionContext, dir: &Path) -> Result<Vec<LakeTable>> {
    let tables = find_tables(dir)?;
    for table in &tables {
        let location = table.path.to_string_lossy();
        ctx.register_parquet(
            &table.name,
            location.as_ref(),
            ParquetReadOptions::default(),
        )
        .await
        .map_err(|e| {
            DataFusionError::Plan(format!(
                "table '{}' ({}): {e}",
                table.name,
                table.path.display()
            ))
        })?;
    }
    Ok(tables)
}

fn find_tables(dir: &Path) -> Result<Vec<LakeTable>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        DataFusionError::Plan(format!(
            "cannot read the data folder {}: {e}",
            dir.display()
        ))
    })?;
    let mut tables = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| DataFusionError::Plan(format!("{}: {e}", dir.display())))?
            .path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let is_table = if path.is_dir() {
            holds_parquet(&path)
        } else {
            has_parquet_extension(&path)
        };
        if is_table && !name.is_empty() && !name.starts_with('.') {
            tables.push(LakeTable { name, path });
        }
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = tables.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(DataFusionError::Plan(format!(
            "two tables would be named '{}': {} and {}",
            pair[0].name,
            pair[0].path.display(),
            pair[1].path.display()
        )));
    }
    Ok(tables)
}

fn has_parquet_extension(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

fn holds_parquet(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().any(|e| {
                let p = e.path();
                has_parquet_extension(&p) || (p.is_dir() && holds_parquet(&p))
            })
        })
        .unwrap_or(false)
}
