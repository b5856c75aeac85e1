//! Where results are written: a local folder or an object-store prefix
//! (`s3://bank/results/2025-12-31`). Every file appears whole or not at all:
//! a local file is written beside its name and renamed into place, an object
//! is one PUT, which the store makes visible only once complete.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use url::Url;

pub enum Sink {
    Folder(PathBuf),
    Store {
        store: Arc<dyn ObjectStore>,
        prefix: StorePath,
        url: Url,
    },
}

impl Sink {
    /// `--out` as given: a folder (made if missing) or a URL.
    pub fn open(out: &Path) -> Result<Sink, String> {
        let text = out.to_string_lossy();
        match Url::parse(&text) {
            Ok(url) if url.scheme() != "file" && url.scheme().len() > 1 => {
                let store = almanac_datafusion::object_store_for(&url)
                    .map_err(|e| almanac_datafusion::user_message(&e))?;
                let prefix = StorePath::from_url_path(url.path())
                    .map_err(|e| format!("--out {url}: not a valid object path: {e}"))?;
                Ok(Sink::Store { store, prefix, url })
            }
            Ok(url) => Self::folder(Path::new(url.path())),
            Err(_) => Self::folder(out),
        }
    }

    fn folder(path: &Path) -> Result<Sink, String> {
        fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(Sink::Folder(path.to_path_buf()))
    }

    /// Writes `bytes` as the file `name`; returns where it went.
    pub async fn put(&self, name: &str, bytes: Vec<u8>) -> Result<String, String> {
        match self {
            Sink::Folder(folder) => {
                let path = folder.join(name);
                write_file_atomically(&path, &bytes)?;
                Ok(path.display().to_string())
            }
            Sink::Store { store, prefix, url } => {
                let path = prefix.clone().join(name);
                store
                    .put(&path, PutPayload::from(bytes))
                    .await
                    .map_err(|e| almanac_datafusion::explain_store_error(url, &e))?;
                Ok(format!("{}/{name}", url.as_str().trim_end_matches('/')))
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Sink::Folder(folder) => folder.display().to_string(),
            Sink::Store { url, .. } => url.to_string(),
        }
    }
}

/// Writes `path` so that a reader sees the old file or the whole new one, never a part:
/// the bytes go to a hidden sibling first, then a rename (atomic on one file system).
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| format!("{} is not a file name", path.display()))?;
    let staging = path.with_file_name(format!(".{name}.almanac-partial"));
    let written = fs::write(&staging, bytes).and_then(|()| fs::rename(&staging, path));
    written.map_err(|e| {
        let _ = fs::remove_file(&staging);
        format!("cannot write {}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_leaves_only_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("result.csv");
        write_file_atomically(&path, b"a,b\n1,2\n").expect("write");
        write_file_atomically(&path, b"a,b\n3,4\n").expect("rewrite");
        assert_eq!(fs::read_to_string(&path).expect("read"), "a,b\n3,4\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("result.csv")]);
        let missing = dir.path().join("no/such/folder/x.csv");
        let e = write_file_atomically(&missing, b"x").expect_err("no folder");
        assert!(e.contains("cannot write") && e.contains("x.csv"), "{e}");
    }
}
