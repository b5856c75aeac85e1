//! Printing and writing query results.

use std::io::Write;
use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::parquet::arrow::ArrowWriter;

use crate::sink::write_file_atomically;

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

/// Prints the result, or writes it to `output` (whole or not at all).
pub fn write(batches: &[RecordBatch], format: Format, output: Option<&Path>) -> Result<(), String> {
    match output {
        Some(path) => write_file_atomically(path, &encode(batches, format)?),
        None if format == Format::Parquet => Err("--format parquet needs -o FILE".into()),
        None => {
            let bytes = encode(batches, format)?;
            std::io::stdout()
                .lock()
                .write_all(&bytes)
                .map_err(|e| format!("writing the result: {e}"))
        }
    }
}

/// The result in `format`, as bytes.
pub fn encode(batches: &[RecordBatch], format: Format) -> Result<Vec<u8>, String> {
    let err = |e: &dyn std::fmt::Display| format!("writing the result: {e}");
    let mut bytes = Vec::new();
    match format {
        Format::Table => {
            let text = pretty_format_batches(batches).map_err(|e| err(&e))?;
            writeln!(bytes, "{text}").map_err(|e| err(&e))?;
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::Writer::new(&mut bytes);
            for b in batches {
                writer.write(b).map_err(|e| err(&e))?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(&mut bytes);
            for b in batches {
                writer.write(b).map_err(|e| err(&e))?;
            }
            writer.finish().map_err(|e| err(&e))?;
        }
        Format::Parquet => {
            let Some(schema) = batches.first().map(|b| b.schema()) else {
                return Err("the query returned no batches to write".into());
            };
            let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).map_err(|e| err(&e))?;
            for b in batches {
                writer.write(b).map_err(|e| err(&e))?;
            }
            writer.close().map_err(|e| err(&e))?;
        }
    }
    Ok(bytes)
}
