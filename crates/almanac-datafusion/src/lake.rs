//! Mapping a lake to tables: every Parquet file (`capital.parquet`) or folder
//! of Parquet files (`instruments/`) directly under the lake's root becomes a
//! table named after it. The root is a local folder or an object-store URL
//! (`s3://bucket/prefix`, `gs://`, `az://`, `http(s)://`, `file://`).
//!
//! A folder may be Hive-partitioned (`instruments/as_of_date=2025-12-31/…`):
//! the partition keys become columns (typed `DATE` when the key ends in
//! `_date`, text otherwise), and a filter on them skips whole folders before
//! any file is read.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::prelude::ParquetReadOptions;
use object_store::path::Path as StorePath;
use object_store::ObjectStore;
use url::Url;

mod stores;

pub use stores::object_store_for;

/// A table found in the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeTable {
    pub name: String,
    /// Where it lives: a URL, ending in `/` for a folder.
    pub location: String,
}

/// Registers every table of the local folder `dir`.
pub async fn register_lake(ctx: &SessionContext, dir: &Path) -> Result<Vec<LakeTable>> {
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

/// Registers every table under `location`: a local folder, or a URL.
pub async fn register_lake_url(ctx: &SessionContext, location: &str) -> Result<Vec<LakeTable>> {
    let root = lake_root(location)?;
    let store = object_store_for(&root)?;
    ctx.register_object_store(&root, Arc::clone(&store));
    let tables = find_tables(store.as_ref(), &root).await?;
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
    Ok(tables)
}

/// The lake's root as a URL ending in `/`.
fn lake_root(location: &str) -> Result<Url> {
    let mut url = match Url::parse(location) {
        Ok(url) if url.scheme().len() > 1 => url,
        // No scheme (or a Windows drive letter): a local folder.
        _ => {
            let path = std::fs::canonicalize(location).map_err(|e| {
                DataFusionError::Plan(format!(
                    "data folder {location} does not exist or cannot be read ({e}); give --data \
                     a folder of Parquet tables or a URL such as s3://bucket/prefix"
                ))
            })?;
            Url::from_directory_path(&path).map_err(|_| {
                DataFusionError::Plan(format!("the data folder {location} is not a valid path"))
            })?
        }
    };
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Every Parquet file and every folder holding Parquet files directly under `root`.
async fn find_tables(store: &dyn ObjectStore, root: &Url) -> Result<Vec<LakeTable>> {
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
    if tables.is_empty() && root.scheme() != "file" {
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
        tables.push(LakeTable { name, location });
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
    let mut options = ParquetReadOptions::default();
    if table.location.ends_with('/') {
        options = options.table_partition_cols(partition_columns(ctx, &table.location).await?);
    }
    ctx.register_parquet(&table.name, &table.location, options)
        .await
}

/// The Hive partition keys of a folder (`key=value` path segments), typed.
async fn partition_columns(
    ctx: &SessionContext,
    location: &str,
) -> Result<Vec<(String, DataType)>> {
    use datafusion::datasource::file_format::options::ReadOptions;
    let url = ListingTableUrl::parse(location)?;
    let listing = ParquetReadOptions::default()
        .to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
    let keys = listing.infer_partitions(&ctx.state(), &url).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_end_with_a_slash() {
        assert_eq!(
            lake_root("s3://bank/lake").expect("url").as_str(),
            "s3://bank/lake/"
        );
        assert_eq!(
            lake_root("s3://bank/lake/").expect("url").as_str(),
            "s3://bank/lake/"
        );
        assert!(lake_root("/no/such/folder/anywhere").is_err());
    }

    #[test]
    fn joined_names_are_encoded() {
        let root = Url::parse("s3://bank/lake/").expect("url");
        assert_eq!(join(&root, "instruments"), "s3://bank/lake/instruments");
        assert_eq!(join(&root, "a b.parquet"), "s3://bank/lake/a%20b.parquet");
    }
}
