//! `almanac.toml`: a catalog naming the lake's tables, where they live and in
//! what format, for lakes that do not follow the folder convention.
//!
//! ```toml
//! # Also register the Parquet files and folders next to this file (default false).
//! discover = false
//!
//! [tables.instruments]
//! location = "s3://bank-raw/positions/"   # a folder ends with '/'; may be Hive-partitioned
//!
//! [tables.curves]
//! location = "market/zero_curves.parquet" # relative to this file's folder
//!
//! [tables.capital]
//! location = "reference/capital.csv"
//! format = "csv"                          # parquet (default) or csv
//! delimiter = ";"                         # CSV only, default ","
//! header = true                           # CSV only, default true
//! columns = { tier1_capital = "double", as_of_date = "date" }  # CSV only: types to read as
//! ```
//!
//! A catalog is used when `--data` names a `.toml` file, or when the lake's
//! root holds `almanac.toml`.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::error::{DataFusionError, Result};
use serde::Deserialize;
use url::Url;

use super::LakeTable;

/// The catalog's file name at a lake's root.
pub const CATALOG_FILE: &str = "almanac.toml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    discover: bool,
    #[serde(default)]
    tables: BTreeMap<String, TableEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TableEntry {
    location: String,
    #[serde(default)]
    format: TableFormat,
    delimiter: Option<String>,
    header: Option<bool>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
}

/// How a table's files are stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    #[default]
    Parquet,
    Csv,
}

/// How a CSV table is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvSettings {
    pub header: bool,
    pub delimiter: u8,
    /// Columns read with these types instead of the inferred ones.
    pub columns: Vec<(String, DataType)>,
}

impl Default for CsvSettings {
    fn default() -> Self {
        CsvSettings {
            header: true,
            delimiter: b',',
            columns: Vec::new(),
        }
    }
}

/// A parsed catalog: its tables, and whether the folder convention also applies.
#[derive(Debug)]
pub struct Catalog {
    pub discover: bool,
    pub tables: Vec<LakeTable>,
}

/// Parses the catalog `text` read from `file`; relative locations are
/// resolved against `root`, the catalog's folder.
pub fn parse(text: &str, file: &Url, root: &Url) -> Result<Catalog> {
    let bad = |message: String| DataFusionError::Plan(format!("catalog {file}: {message}"));
    let parsed: CatalogFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    let mut tables = Vec::new();
    for (name, entry) in parsed.tables {
        let table = table(&name, entry, root).map_err(|m| bad(format!("table '{name}': {m}")))?;
        tables.push(table);
    }
    Ok(Catalog {
        discover: parsed.discover,
        tables,
    })
}

fn table(name: &str, entry: TableEntry, root: &Url) -> std::result::Result<LakeTable, String> {
    let lowered = name.to_ascii_lowercase();
    if lowered != name {
        // Unquoted SQL names are folded to lower case: 'Positions' could never be queried as typed.
        return Err(format!("write table names in lower case ('{lowered}')"));
    }
    let location = resolve(&entry.location, root)?;
    let csv_only = entry.delimiter.is_some() || entry.header.is_some() || !entry.columns.is_empty();
    if entry.format == TableFormat::Parquet && csv_only {
        return Err(
            "delimiter, header and columns are for format = \"csv\" (Parquet files carry their types)"
                .into(),
        );
    }
    let mut csv = CsvSettings::default();
    if let Some(header) = entry.header {
        csv.header = header;
    }
    if let Some(delimiter) = entry.delimiter {
        csv.delimiter = match delimiter.as_bytes() {
            [byte] if byte.is_ascii() => *byte,
            _ => {
                return Err(format!(
                    "delimiter '{delimiter}' must be one ASCII character"
                ))
            }
        };
    }
    for (column, type_name) in entry.columns {
        let data_type = column_type(&type_name).ok_or_else(|| {
            format!(
                "column '{column}': unknown type '{type_name}' \
                 (use double, bigint, integer, date, timestamp, text or boolean)"
            )
        })?;
        csv.columns.push((column, data_type));
    }
    Ok(LakeTable {
        name: lowered,
        location,
        format: entry.format,
        csv,
    })
}

/// A location as an absolute URL: a URL as written, else a path relative to the catalog's folder.
fn resolve(location: &str, root: &Url) -> std::result::Result<String, String> {
    if location.trim().is_empty() {
        return Err("location is empty".into());
    }
    let url = match Url::parse(location) {
        Ok(url) if url.scheme().len() > 1 => url,
        _ => root
            .join(location)
            .map_err(|e| format!("location '{location}': {e}"))?,
    };
    Ok(url.to_string())
}

fn column_type(name: &str) -> Option<DataType> {
    Some(match name.to_ascii_lowercase().as_str() {
        "double" | "float" | "float64" => DataType::Float64,
        "bigint" | "int64" => DataType::Int64,
        "integer" | "int" | "int32" => DataType::Int32,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "text" | "string" | "varchar" | "utf8" => DataType::Utf8,
        "boolean" | "bool" => DataType::Boolean,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> (Url, Url) {
        let root = Url::parse("s3://bank/lake/").expect("url");
        (root.join(CATALOG_FILE).expect("url"), root)
    }

    #[test]
    fn tables_resolve_against_the_catalog_folder() {
        let (file, root) = urls();
        let catalog = parse(
            r#"
            discover = true
            [tables.instruments]
            location = "s3://raw/positions/"
            [tables.capital]
            location = "ref/capital.csv"
            format = "csv"
            delimiter = ";"
            columns = { tier1_capital = "double" }
            "#,
            &file,
            &root,
        )
        .expect("catalog");
        assert!(catalog.discover);
        let capital = &catalog.tables[0];
        assert_eq!(capital.name, "capital");
        assert_eq!(capital.location, "s3://bank/lake/ref/capital.csv");
        assert_eq!(capital.format, TableFormat::Csv);
        assert_eq!(capital.csv.delimiter, b';');
        assert!(capital.csv.header);
        assert_eq!(
            capital.csv.columns,
            vec![("tier1_capital".to_string(), DataType::Float64)]
        );
        let instruments = &catalog.tables[1];
        assert_eq!(instruments.location, "s3://raw/positions/");
        assert_eq!(instruments.format, TableFormat::Parquet);
    }

    #[test]
    fn mistakes_name_the_table_and_the_value() {
        let (file, root) = urls();
        let error = |text: &str| {
            parse(text, &file, &root)
                .expect_err("should fail")
                .to_string()
        };
        let e = error("[tables.capital]\nlocation = \"c.csv\"\nformat = \"xlsx\"");
        assert!(
            e.contains("catalog s3://bank/lake/almanac.toml") && e.contains("xlsx"),
            "{e}"
        );
        let e = error("[tables.capital]\nlocation = \"c.csv\"\nformat = \"csv\"\ncolumns = { tier1 = \"money\" }");
        assert!(
            e.contains("table 'capital': column 'tier1': unknown type 'money'"),
            "{e}"
        );
        let e = error("[tables.capital]\nlocation = \"c.parquet\"\ndelimiter = \";\"");
        assert!(e.contains("are for format = \"csv\""), "{e}");
        let e = error("[tables.Capital]\nlocation = \"c.parquet\"");
        assert!(e.contains("lower case ('capital')"), "{e}");
        let e = error("[tables.capital]\nlocaton = \"c.parquet\"");
        assert!(e.contains("locaton"), "{e}");
        let e =
            error("[tables.capital]\nlocation = \"c.csv\"\nformat = \"csv\"\ndelimiter = \";;\"");
        assert!(e.contains("one ASCII character"), "{e}");
    }
}
