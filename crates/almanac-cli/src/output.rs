//! Printing and writing query results.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table, for reading.
    Table,
    Csv,
    /// One JSON object per row.
    Json,
    /// Parquet (needs -o).
    Parquet,
}

pub fn write(batches: &[RecordBatch], format: Format, output: Option<&Path>) -> Result<(), String> {
    let mut sink: Box<dyn Write> = match output {
        Some(path) => Box::new(
            File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let err = |e: &dyn std::fmt::Display| format!("writing the result: {e}");
    match format {
        Format::Table => {
            let text = pretty_format_batches(batches).map_err(|e| err(&e))?;
            writeln!(sink, "{text}").map_err(|e| err(&e))?;
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::Writer::new(sink);
            for b in batches {
                writer.write(b).map_err(|e| err(&e))?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(sink);
            for b in batches {
                writer.write(b).map_err(|e| err(&e))?;
            }
            writer.finish().map_err(|e| err(&e))?;
        }
        Format::Parquet => {
            let Some(path) = output else {
                return Err("--format parquet needs -o FILE".into());
            };
            let Some(schema) = batches.first().map(|b| b.schema()) else {
                return Err("the query returned no batches to write".into());
            };
            drop(sink);
            let file =
                File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            let mut writer = ArrowWriter::try_new(file, schema, None).map_err(|e| err(&e))?;
            for b in batches {
                writer.write(b).map_err(|e| err(&e))?;
            }
            writer.close().map_err(|e| err(&e))?;
        }
    }
    Ok(())
}
