//! The lake's tables as the functions read them: finding a named table in the
//! session, checking its columns against the data contract at planning time,
//! and casting accepted types to canonical ones batch by batch.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Float64Array, Int32Array, RecordBatch,
    StringViewArray,
};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::TableReference;
use datafusion::error::{DataFusionError, Result};

use crate::error::arg_err;

/// Finds a table or view registered in the session by (possibly qualified) name.
pub(crate) fn resolve_table(
    session: &dyn Session,
    function: &str,
    name: &str,
) -> Result<Arc<dyn TableProvider>> {
    let options = session.config_options();
    let reference = TableReference::from(name).resolve(
        &options.catalog.default_catalog,
        &options.catalog.default_schema,
    );
    let not_found = || arg_err!("{function}: no table or view named '{name}' (see SHOW TABLES)");
    let catalog = session
        .catalog_list()
        .catalog(&reference.catalog)
        .ok_or_else(not_found)?;
    let schema = catalog.schema(&reference.schema).ok_or_else(not_found)?;
    // Looking a table up is async in DataFusion, but the in-memory catalogs
    // answer at once, so blocking here does not wait on I/O.
    let table = futures::executor::block_on(schema.table(&reference.table))?;
    table.ok_or_else(not_found)
}

/// What a column must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Read as Utf8.
    Text,
    /// Read as Float64 (any float, integer or decimal accepted).
    Amount,
    /// Read as Date32 (Date64, Timestamp or ISO text accepted).
    Date,
    /// Read as Int32 (any integer accepted).
    Int,
    Bool,
}

impl Kind {
    fn accepts(self, t: &DataType) -> bool {
        use DataType::*;
        match self {
            Kind::Text => {
                matches!(t, Utf8 | LargeUtf8 | Utf8View | Null)
                    || matches!(t, Dictionary(_, v) if v.is_string())
            }
            Kind::Amount => t.is_numeric() || matches!(t, Null),
            Kind::Date => matches!(
                t,
                Date32 | Date64 | Timestamp(_, _) | Utf8 | LargeUtf8 | Utf8View | Null
            ),
            Kind::Int => t.is_integer() || matches!(t, Null),
            Kind::Bool => matches!(t, Boolean | Null),
        }
    }

    fn canonical(self) -> DataType {
        match self {
            // Parquet's strings arrive as views (DataFusion's default): kept so,
            // each batch's text columns are read in place instead of copied.
            Kind::Text => DataType::Utf8View,
            Kind::Amount => DataType::Float64,
            Kind::Date => DataType::Date32,
            Kind::Int => DataType::Int32,
            Kind::Bool => DataType::Boolean,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Text => "text (Utf8)",
            Kind::Amount => "a number (Float64 or Decimal128)",
            Kind::Date => "a date (Date32, Timestamp or ISO text)",
            Kind::Int => "an integer (Int32)",
            Kind::Bool => "a Boolean",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnSpec {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn col(name: &'static str, kind: Kind, required: bool) -> ColumnSpec {
    ColumnSpec {
        name,
        kind,
        required,
    }
}

/// The `instruments` table of data-contract.md, in this order.
pub(crate) const INSTRUMENT_COLUMNS: [ColumnSpec; 20] = [
    col("instrument_id", Kind::Text, true),
    col("portfolio", Kind::Text, false),
    col("side", Kind::Text, true),
    col("currency", Kind::Text, true),
    col("balance", Kind::Amount, true),
    col("start_date", Kind::Date, true),
    col("maturity_date", Kind::Date, true),
    col("rate_type", Kind::Text, true),
    col("rate", Kind::Amount, true),
    col("index_curve", Kind::Text, false),
    col("spread", Kind::Amount, false),
    col("reset_months", Kind::Int, false),
    col("rate_floor", Kind::Amount, false),
    col("rate_cap", Kind::Amount, false),
    col("payment_months", Kind::Int, true),
    col("amortization", Kind::Text, true),
    col("day_count", Kind::Text, true),
    col("business_day", Kind::Text, false),
    col("prepayment_rate", Kind::Amount, false),
    col("behavioral_months", Kind::Int, false),
];

/// Contract columns of `instruments` that no projection reads: scanned only
/// when a query selects them (a million-row book's portfolio names are
/// otherwise decoded for nothing).
pub(crate) const PASSED_THROUGH_ONLY: [&str; 1] = ["portfolio"];

/// The `curves` table.
pub(crate) const CURVE_COLUMNS: [ColumnSpec; 6] = [
    col("curve_id", Kind::Text, true),
    col("currency", Kind::Text, true),
    col("as_of_date", Kind::Date, true),
    col("tenor", Kind::Text, true),
    col("zero_rate", Kind::Amount, true),
    col("is_discount", Kind::Bool, false),
];

/// A user's `scenarios` table (one of curve_id / currency is needed; checked when read).
pub(crate) const SCENARIO_COLUMNS: [ColumnSpec; 5] = [
    col("scenario", Kind::Text, true),
    col("curve_id", Kind::Text, false),
    col("currency", Kind::Text, false),
    col("tenor", Kind::Text, true),
    col("shift_bp", Kind::Amount, true),
];

/// Shock sizes by currency, overriding the built-in Basel calibration.
pub(crate) const SHOCK_SIZE_COLUMNS: [ColumnSpec; 4] = [
    col("currency", Kind::Text, true),
    col("parallel_bp", Kind::Amount, true),
    col("short_bp", Kind::Amount, true),
    col("long_bp", Kind::Amount, true),
];

/// A holiday table: one date per row.
pub(crate) const HOLIDAY_COLUMNS: [ColumnSpec; 1] = [col("date", Kind::Date, true)];

/// Checks at planning time that every required column is there with an accepted type.
pub(crate) fn check_schema(
    function: &str,
    table: &str,
    schema: &Schema,
    specs: &[ColumnSpec],
) -> Result<()> {
    for spec in specs {
        match schema.field_with_name(spec.name) {
            Ok(field) if !spec.kind.accepts(field.data_type()) => {
                return Err(arg_err!(
                    "{function}: table '{table}' column {} has type {}, expected {}",
                    spec.name,
                    field.data_type(),
                    spec.kind.expected()
                ))
            }
            Ok(_) => {}
            Err(_) if spec.required => {
                return Err(arg_err!(
                    "{function}: table '{table}' has no column {} (required by the data contract; columns are: {})",
                    spec.name,
                    schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
                ))
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// The contract columns of one batch in canonical types; `Missing` for an
/// optional column the table does not have.
pub(crate) struct Columns {
    columns: Vec<Typed>,
}

/// A column downcast to its canonical array once per batch, not at every
/// value read (a million-row book reads twenty values a row).
enum Typed {
    Missing,
    Text(StringViewArray),
    F64(Float64Array),
    I32(Int32Array),
    Date(Date32Array),
    Bool(BooleanArray),
}

impl Typed {
    fn of(array: &ArrayRef) -> Result<Typed> {
        Ok(match array.data_type() {
            DataType::Utf8View => Typed::Text(array.as_string_view().clone()),
            DataType::Float64 => Typed::F64(array.as_primitive().clone()),
            DataType::Int32 => Typed::I32(array.as_primitive().clone()),
            DataType::Date32 => Typed::Date(array.as_primitive().clone()),
            DataType::Boolean => Typed::Bool(array.as_boolean().clone()),
            other => {
                return Err(DataFusionError::Internal(format!(
                    "no canonical contract column has type {other}"
                )))
            }
        })
    }
}

impl Columns {
    /// Casts each contract column. A value that cannot be read as its type (for
    /// example the text '2025-13-45' in a date column) fails with the row's key.
    pub fn extract(batch: &RecordBatch, specs: &[ColumnSpec], table: &str) -> Result<Columns> {
        let safe = CastOptions {
            safe: true,
            ..Default::default()
        };
        let mut columns = Vec::with_capacity(specs.len());
        for spec in specs {
            let Some(input) = batch.column_by_name(spec.name) else {
                columns.push(Typed::Missing);
                continue;
            };
            let target = spec.kind.canonical();
            let array = if input.data_type() == &target {
                input.clone()
            } else {
                let cast = cast_with_options(input, &target, &safe)?;
                if cast.null_count() > input.null_count() {
                    let row = (0..input.len())
                        .find(|&i| input.is_valid(i) && cast.is_null(i))
                        .unwrap_or(0);
                    let key = specs[0].name;
                    let id = batch
                        .column_by_name(key)
                        .and_then(|a| cast_with_options(a, &DataType::Utf8, &safe).ok())
                        .map(|a| a.as_string::<i32>().value(row).to_string())
                        .unwrap_or_default();
                    let value = datafusion::arrow::util::display::array_value_to_string(input, row)
                        .unwrap_or_default();
                    return Err(DataFusionError::Execution(format!(
                        "{table} '{id}': column {} = '{value}' cannot be read as {}",
                        spec.name,
                        spec.kind.expected()
                    )));
                }
                cast
            };
            columns.push(Typed::of(&array)?);
        }
        Ok(Columns { columns })
    }

    pub fn text(&self, i: usize) -> Option<&StringViewArray> {
        match &self.columns[i] {
            Typed::Text(a) => Some(a),
            _ => None,
        }
    }

    pub fn f64(&self, i: usize) -> Option<&Float64Array> {
        match &self.columns[i] {
            Typed::F64(a) => Some(a),
            _ => None,
        }
    }

    pub fn i32(&self, i: usize) -> Option<&Int32Array> {
        match &self.columns[i] {
            Typed::I32(a) => Some(a),
            _ => None,
        }
    }

    pub fn date(&self, i: usize) -> Option<&Date32Array> {
        match &self.columns[i] {
            Typed::Date(a) => Some(a),
            _ => None,
        }
    }

    pub fn bool(&self, i: usize) -> Option<&BooleanArray> {
        match &self.columns[i] {
            Typed::Bool(a) => Some(a),
            _ => None,
        }
    }
}

/// Value of a nullable column at `row`, `None` when missing or NULL.
pub(crate) fn opt<'a, A: Array, T>(
    array: Option<&'a A>,
    row: usize,
    get: impl Fn(&'a A, usize) -> T,
) -> Option<T> {
    array.filter(|a| a.is_valid(row)).map(|a| get(a, row))
}

/// A required column, which `check_schema` has already seen at planning time.
pub(crate) fn need<T>(column: Option<&T>) -> Result<&T> {
    column.ok_or_else(|| {
        DataFusionError::Internal("a required column vanished after planning".into())
    })
}

/// The column that dates an instrument snapshot (a Hive partition such as
/// `instruments/as_of_date=2025-12-31/`, or an ordinary column).
pub const SNAPSHOT_COLUMN: &str = "as_of_date";

/// For an instrument table holding several snapshots: the filter that keeps
/// the one for `as_of` (on a partition column it skips the other folders
/// unread). `None` when the table has no `as_of_date` column.
pub fn snapshot_filter(
    schema: &datafusion::arrow::datatypes::Schema,
    as_of: almanac_core::Date,
) -> Option<datafusion::logical_expr::Expr> {
    use datafusion::prelude::{col, lit};
    schema.index_of(SNAPSHOT_COLUMN).ok()?;
    Some(col(SNAPSHOT_COLUMN).eq(lit(datafusion::scalar::ScalarValue::Date32(Some(as_of.0)))))
}

/// `input` keeping only the rows where `predicate` (over its columns) holds.
pub fn filter_plan(
    state: &dyn datafusion::catalog::Session,
    input: std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    predicate: datafusion::logical_expr::Expr,
) -> datafusion::error::Result<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
    let schema = datafusion::common::DFSchema::try_from(input.schema().as_ref().clone())?;
    let physical = state.create_physical_expr(predicate, &schema)?;
    Ok(std::sync::Arc::new(
        datafusion::physical_plan::filter::FilterExec::try_new(physical, input)?,
    ))
}
