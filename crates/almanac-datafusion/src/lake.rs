//! Mapping a lake to tables: every Parquet file (`capital.parquet`) or folder
//! of Parquet files (`instruments/`) directly under the lake's root becomes a
//! table named after it. The root is a local folder or an object-store URL
//! (`s3://bucket/prefix`, `gs://`, `az://`, `http(s)://`, `file://`).
//!
//! A folder may be Hive-partitioned (`instruments/as_of_date=2025-12-31/…`):
//! the partition keys become columns (typed `DATE` when the key ends in
//! `_date`, text otherwise), and a filter on them skips whole folders before
//! any file is read.
//!
//! A catalog file (`almanac.toml`, see [`catalog`]) maps other layouts: it
//! names each table's location (anywhere, in any store) and format (Parquet,
//! or CSV for small reference tables).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingOptions, ListingTableUrl};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

mod aws_profile;
pub mod catalog;
mod stores;

pub use catalog::{CsvSettings, TableFormat, CATALOG_FILE};
pub use stores::{explain as explain_store_error, object_store_for, StoresOnDemand};

/// A table of the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeTable {
    pub name: String,
    /// Where it lives: a URL, ending in `/` for a folder.
    pub location: String,
    pub format: TableFormat,
    /// How to read it when the format is CSV.
    pub csv: CsvSettings,
}

/// A lake as registered: where it is, its catalog file if any, and its tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lake {
    /// The root URL, ending in `/`.
    pub root: String,
    /// The catalog file's URL, when one maps the tables.
    pub catalog: Option<String>,
    pub tables: Vec<LakeTable>,
}

/// Registers every table of the local folder `dir`.
pub async fn register_lake(ctx: &SessionContext, dir: &Path) -> Result<Lake> {
    let absolute = std::fs::canonicalize(dir).map_err(|e| {
        DataFusionError::Plan(format!(
            "cannot read the data folder {}: {e}",
            dir.display()
        ))
    })?;
    let url = Url::from_directory_path(&absolute).map_err(|_| {
        DataFusionError::Plan(format!(
            "the data folder {} is not a valid path",
            dir.display()
        ))
    })?;
    register_lake_url(ctx, url.as_str()).await
}

/// Registers every table of a lake: `location` is a local folder or a URL
/// (the folder convention, or the catalog `almanac.toml` at its root), or a
/// catalog file itself (`…/almanac.toml`, any name ending in `.toml`).
pub async fn register_lake_url(ctx: &SessionContext, location: &str) -> Result<Lake> {
    let (root, catalog_file) = lake_root(location)?;
    let store = object_store_for(&root)?;
    ctx.register_object_store(&root, Arc::clone(&store));
    let mut catalog_file = catalog_file;
    let catalog = match &catalog_file {
        Some(file) => Some(
            read_catalog(store.as_ref(), file, &root)
                .await
                .map_err(|e| {
                    if is_not_found(&e) {
                        DataFusionError::Plan(format!("catalog {file} does not exist"))
                    } else {
                        e
                    }
                })?,
        ),
        None => match root.join(CATALOG_FILE) {
            Ok(file) => match read_catalog(store.as_ref(), &file, &root).await {
                Ok(catalog) => {
                    catalog_file = Some(file);
                    Some(catalog)
                }
                Err(e) if is_not_found(&e) => None,
                Err(e) => return Err(e),
            },
            Err(_) => None,
        },
    };
    let mut tables = match &catalog {
        Some(catalog) if !catalog.discover => Vec::new(),
        _ => find_tables(store.as_ref(), &root, catalog.is_none()).await?,
    };
    if let Some(catalog) = catalog {
        for named in catalog.tables {
            tables.retain(|found| found.name != named.name);
            register_store_of(ctx, &root, &named.location)?;
            tables.push(named);
        }
        tables.sort_by(|a, b| a.name.cmp(&b.name));
    }
    for table in &tables {
        register_table(ctx, table).await.map_err(|e| {
            DataFusionError::Plan(format!(
                "table '{}' ({}): {}",
                table.name,
                table.location,
                crate::user_message(&e)
            ))
        })?;
    }
    Ok(Lake {
        root: root.to_string(),
        catalog: catalog_file.map(String::from),
        tables,
    })
}

/// The lake's root as a URL ending in `/`, and the catalog file when `location` names one.
fn lake_root(location: &str) -> Result<(Url, Option<Url>)> {
    let url = location_url(location)?;
    if url.path().to_ascii_lowercase().ends_with(".toml") {
        let root = url.join("./").map_err(|e| {
            DataFusionError::Plan(format!("catalog {url}: no folder around it ({e})"))
        })?;
        return Ok((root, Some(url)));
    }
    let mut url = url;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok((url, None))
}

/// `location` as a URL: as written when it has a scheme, else the local path made absolute.
fn location_url(location: &str) -> Result<Url> {
    Ok(match Url::parse(location) {
        Ok(url) if url.scheme().len() > 1 => url,
        // No scheme (or a Windows drive letter): a local folder.
        _ => {
            let path = std::fs::canonicalize(location).map_err(|e| {
                DataFusionError::Plan(format!(
                    "{location} does not exist or cannot be read ({e}); give --data a folder of \
                     Parquet tables, a catalog file (almanac.toml) or a URL such as s3://bucket/prefix"
                ))
            })?;
            let url = if path.is_dir() {
                Url::from_directory_path(&path)
            } else {
                Url::from_file_path(&path)
            };
            url.map_err(|_| {
                DataFusionError::Plan(format!("the data folder {location} is not a valid path"))
            })?
        }
    })
}

/// Reads and parses a catalog file.
async fn read_catalog(store: &dyn ObjectStore, file: &Url, root: &Url) -> Result<catalog::Catalog> {
    let path = StorePath::from_url_path(file.path())
        .map_err(|e| DataFusionError::Plan(format!("{file}: not a valid object path: {e}")))?;
    let fetched = async { store.get(&path).await?.bytes().await }.await;
    let bytes = fetched.map_err(|e| match e {
        object_store::Error::NotFound { .. } => DataFusionError::ObjectStore(Box::new(e)),
        other => DataFusionError::Plan(stores::explain(file, &other)),
    })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| DataFusionError::Plan(format!("catalog {file} is not UTF-8 text: {e}")))?;
    catalog::parse(text, file, root)
}

fn is_not_found(e: &DataFusionError) -> bool {
    matches!(e, DataFusionError::ObjectStore(inner) if matches!(**inner, object_store::Error::NotFound { .. }))
}

/// A catalog table may live in another bucket or account than the catalog: register its store.
fn register_store_of(ctx: &SessionContext, root: &Url, location: &str) -> Result<()> {
    let url = Url::parse(location)
        .map_err(|e| DataFusionError::Plan(format!("location {location}: {e}")))?;
    let same_store = url.scheme() == root.scheme() && url.host_str() == root.host_str();
    if !same_store && url.scheme() != "file" {
        ctx.register_object_store(&url, object_store_for(&url)?);
    }
    Ok(())
}

/// Every Parquet file and every folder holding Parquet files directly under `root`.
/// With `must_find`, an empty object-store prefix is an error.
async fn find_tables(
    store: &dyn ObjectStore,
    root: &Url,
    must_find: bool,
) -> Result<Vec<LakeTable>> {
    let prefix = StorePath::from_url_path(root.path())
        .map_err(|e| DataFusionError::Plan(format!("{root}: not a valid object path: {e}")))?;
    let listing = store
        .list_with_delimiter(Some(&prefix))
        .await
        .map_err(|e| DataFusionError::Plan(stores::explain(root, &e)))?;
    let mut tables = Vec::new();
    for object in &listing.objects {
        let Some(file) = object.location.filename() else {
            continue;
        };
        let Some(stem) = file
            .rsplit_once('.')
            .filter(|(_, ext)| ext.eq_ignore_ascii_case("parquet"))
            .map(|(stem, _)| stem)
        else {
            continue;
        };
        push_table(&mut tables, stem, join(root, file));
    }
    for folder in &listing.common_prefixes {
        let Some(name) = folder.filename() else {
            continue;
        };
        if holds_parquet(store, folder)
            .await
            .map_err(|e| DataFusionError::Plan(stores::explain(root, &e)))?
        {
            push_table(&mut tables, name, format!("{}/", join(root, name)));
        }
    }
    // An empty local folder is a lake about to be filled (`COPY … TO` into it);
    // an empty object-store prefix is far more often a mistyped one.
    if must_find && tables.is_empty() && root.scheme() != "file" {
        return Err(DataFusionError::Plan(format!(
            "no Parquet tables in {root} (expected files such as instruments.parquet or folders of them)"
        )));
    }
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = tables.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(DataFusionError::Plan(format!(
            "two tables would be named '{}': {} and {}",
            pair[0].name, pair[0].location, pair[1].location
        )));
    }
    Ok(tables)
}

fn push_table(tables: &mut Vec<LakeTable>, name: &str, location: String) {
    let name = name.to_ascii_lowercase();
    if !name.is_empty() && !name.starts_with('.') && !name.starts_with('_') {
        tables.push(LakeTable {
            name,
            location,
            format: TableFormat::Parquet,
            csv: CsvSettings::default(),
        });
    }
}

/// `root` joined with one path segment, percent-encoded.
fn join(root: &Url, segment: &str) -> String {
    let mut url = root.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(segment);
    }
    url.to_string()
}

async fn holds_parquet(store: &dyn ObjectStore, folder: &StorePath) -> object_store::Result<bool> {
    use futures::TryStreamExt;
    let mut files = store.list(Some(folder));
    while let Some(meta) = files.try_next().await? {
        if meta
            .location
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn register_table(ctx: &SessionContext, table: &LakeTable) -> Result<()> {
    let url = ListingTableUrl::parse(&table.location)?;
    let mut options = listing_options(ctx, table, url.is_collection());
    if url.is_collection() {
        let keys = partition_columns(ctx, &options, &url).await?;
        options = options.with_table_partition_cols(keys);
    }
    let schema = match options.infer_schema(&ctx.state(), &url).await {
        Ok(schema) => schema,
        Err(e) if e.to_string().contains("Fail to merge schema") => {
            return Err(disagreeing_files(ctx, &options, &url).await.unwrap_or(e))
        }
        Err(e) if e.to_string().contains("No files found") => {
            let expected = match table.format {
                TableFormat::Parquet => ".parquet",
                TableFormat::Csv => ".csv",
            };
            return Err(DataFusionError::Plan(format!(
                "no file at this location (a folder's location ends with '/' and holds files \
                 ending in {expected})"
            )));
        }
        Err(e) => return Err(e),
    };
    let schema = with_column_types(schema, &table.csv.columns)?;
    ctx.register_listing_table(&table.name, &table.location, options, Some(schema), None)
        .await
}

/// How DataFusion lists and reads the table's files. A folder takes files with
/// the format's extension; a single file is read whatever its name.
fn listing_options(ctx: &SessionContext, table: &LakeTable, folder: bool) -> ListingOptions {
    let (config, table_options) = (ctx.copied_config(), ctx.copied_table_options());
    match table.format {
        TableFormat::Parquet => ParquetReadOptions::default()
            .file_extension(if folder { ".parquet" } else { "" })
            .to_listing_options(&config, table_options),
        TableFormat::Csv => CsvReadOptions::new()
            .has_header(table.csv.header)
            .delimiter(table.csv.delimiter)
            .file_extension(if folder { ".csv" } else { "" })
            .to_listing_options(&config, table_options),
    }
}

/// The Hive partition keys of a folder (`key=value` path segments), typed.
async fn partition_columns(
    ctx: &SessionContext,
    options: &ListingOptions,
    url: &ListingTableUrl,
) -> Result<Vec<(String, DataType)>> {
    let keys = options.infer_partitions(&ctx.state(), url).await?;
    Ok(keys
        .into_iter()
        .map(|key| {
            let data_type = if key.ends_with("_date") {
                DataType::Date32
            } else {
                DataType::Utf8
            };
            (key, data_type)
        })
        .collect())
}

/// The inferred schema with the catalog's column types (CSV) in place.
fn with_column_types(schema: SchemaRef, columns: &[(String, DataType)]) -> Result<SchemaRef> {
    if columns.is_empty() {
        return Ok(schema);
    }
    for (name, _) in columns {
        if schema.field_with_name(name).is_err() {
            let present: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(DataFusionError::Plan(format!(
                "the catalog types column '{name}', which the file does not have (it has: {})",
                present.join(", ")
            )));
        }
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(
            |field| match columns.iter().find(|(name, _)| name == field.name()) {
                Some((_, data_type)) => field.as_ref().clone().with_data_type(data_type.clone()),
                None => field.as_ref().clone(),
            },
        )
        .collect();
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )))
}

/// When a table's files disagree on a column's type (typically one partition
/// written by another job): which column, which files, which types.
async fn disagreeing_files(
    ctx: &SessionContext,
    options: &ListingOptions,
    url: &ListingTableUrl,
) -> Option<DataFusionError> {
    use futures::TryStreamExt;
    let state = ctx.state();
    let store = state.runtime_env().object_store(url).ok()?;
    let files: Vec<_> = url
        .list_all_files(&state, store.as_ref(), &options.file_extension)
        .await
        .ok()?
        .try_collect()
        .await
        .ok()?;
    let mut first: Option<(String, SchemaRef)> = None;
    for file in files {
        let schema = options
            .format
            .infer_schema(&state, &store, std::slice::from_ref(&file))
            .await
            .ok()?;
        let Some((first_file, first_schema)) = &first else {
            first = Some((full_url(url, &file.location), schema));
            continue;
        };
        for field in schema.fields() {
            let Ok(earlier) = first_schema.field_with_name(field.name()) else {
                continue;
            };
            if earlier.data_type() != field.data_type() {
                return Some(DataFusionError::Plan(format!(
                    "its files disagree on column '{}': {} in {first_file} but {} in {}; every file \
                     (every partition) of a table must give a column the same type: rewrite the odd \
                     file, or map the snapshots as separate tables in almanac.toml",
                    field.name(),
                    earlier.data_type(),
                    field.data_type(),
                    full_url(url, &file.location)
                )));
            }
        }
    }
    None
}

/// The URL of an object listed under `table`.
pub fn full_url(table: &ListingTableUrl, object: &StorePath) -> String {
    format!("{}{object}", table.object_store().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_end_with_a_slash() {
        let root = |location: &str| lake_root(location).expect("url");
        assert_eq!(root("s3://bank/lake").0.as_str(), "s3://bank/lake/");
        assert_eq!(root("s3://bank/lake/").0.as_str(), "s3://bank/lake/");
        assert!(lake_root("/no/such/folder/anywhere").is_err());
    }

    #[test]
    fn a_toml_location_is_a_catalog_in_its_folder() {
        let (root, catalog) = lake_root("s3://bank/lake/almanac.toml").expect("url");
        assert_eq!(root.as_str(), "s3://bank/lake/");
        assert_eq!(
            catalog.map(String::from).as_deref(),
            Some("s3://bank/lake/almanac.toml")
        );
    }

    #[test]
    fn joined_names_are_encoded() {
        let root = Url::parse("s3://bank/lake/").expect("url");
        assert_eq!(join(&root, "instruments"), "s3://bank/lake/instruments");
        assert_eq!(join(&root, "a b.parquet"), "s3://bank/lake/a%20b.parquet");
    }
}
