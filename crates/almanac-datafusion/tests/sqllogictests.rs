//! The SQL contract: every `.slt` file under `tests/slt/` runs on a fresh
//! Almanac session that first runs `tests/slt/setup.sql` (a small hand-built
//! book whose expected figures are worked out in the .slt comments).
//!
//! `cargo test --test sqllogictests` runs them all; pass a file name
//! fragment to run some.

use std::path::{Path, PathBuf};

use datafusion::arrow::util::display::array_value_to_string;
use datafusion::execution::context::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};

struct Almanac {
    ctx: SessionContext,
}

#[derive(Debug)]
struct SqlError(String);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SqlError {}

impl Almanac {
    async fn new(setup: &str) -> Result<Almanac, SqlError> {
        let ctx = almanac_datafusion::new_session();
        for statement in setup.split(";\n").filter(|s| !s.trim().is_empty()) {
            let setup_err =
                |e: datafusion::error::DataFusionError| SqlError(format!("setup.sql: {e}"));
            ctx.sql(statement)
                .await
                .map_err(setup_err)?
                .collect()
                .await
                .map_err(setup_err)?;
        }
        Ok(Almanac { ctx })
    }
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for Almanac {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let df = self
            .ctx
            .sql(sql)
            .await
            .map_err(|e| SqlError(e.to_string()))?;
        let columns = df.schema().fields().len();
        let batches = df.collect().await.map_err(|e| SqlError(e.to_string()))?;
        if columns == 0 {
            return Ok(DBOutput::StatementComplete(0));
        }
        let mut rows = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
                let cells = batch
                    .columns()
                    .iter()
                    .map(|c| {
                        if c.is_null(row) {
                            Ok("NULL".to_string())
                        } else {
                            array_value_to_string(c, row).map(|s| {
                                if s.is_empty() {
                                    "(empty)".into()
                                } else {
                                    s
                                }
                            })
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| SqlError(e.to_string()))?;
                rows.push(cells);
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; columns],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "almanac"
    }
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let setup = std::fs::read_to_string(dir.join("setup.sql")).expect("tests/slt/setup.sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| {
            filter.is_empty()
                || filter
                    .iter()
                    .any(|f| p.to_string_lossy().contains(f.as_str()))
        })
        .collect();
    files.sort();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        match runtime.block_on(run_file(file, &setup)) {
            Ok(()) => {
                println!("test {} ... ok", name(file));
                passed += 1;
            }
            Err(e) => {
                println!("test {} ... FAILED\n{e}", name(file));
                failed += 1;
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed > 0 || files.is_empty() {
        std::process::exit(1);
    }
}

fn name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn run_file(file: &Path, setup: &str) -> Result<(), String> {
    let setup = setup.to_string();
    let mut runner = sqllogictest::Runner::new(move || {
        let setup = setup.clone();
        async move { Almanac::new(&setup).await }
    });
    runner
        .run_file_async(file)
        .await
        .map_err(|e| e.display(true).to_string())
}
