//! The generated columns of `cashflows()` and a buffer that builds only the
//! columns a query asks for.

use std::sync::Arc;

use almanac_core::nii::NiiMonth;
use almanac_core::repricing::Reprice;
use almanac_core::Flow;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Float64Array, RecordBatch, RecordBatchOptions, StringArray,
    StringBuilder, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::error::Result;

/// A column of the output: an instrument column passed through, or a generated one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum OutCol {
    /// Index in the instrument batch.
    Input(usize),
    Generated(Gen),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Gen {
    PeriodStart,
    PeriodEnd,
    NiiBalance,
    NiiRate,
    NiiInterest,
    ReinvestedBalance,
    ReinvestmentRate,
    RepriceDate,
    Amount,
    RepriceKind,
    ErrorColumn,
    ErrorValue,
    ErrorReason,
    Scenario,
    PayDate,
    AccrualStart,
    AccrualEnd,
    Balance,
    Rate,
    Interest,
    Principal,
    Prepayment,
    Total,
}

/// A table function that expands each instrument row into several rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Expansion {
    /// `cashflows()`: one row per scenario and payment.
    Cashflows,
    /// `repricing()`: one row per repricing date and kind.
    Repricing,
    /// `nii_projection()`: one row per scenario and month.
    Nii,
}

impl Expansion {
    pub fn name(self) -> &'static str {
        match self {
            Expansion::Cashflows => "cashflows",
            Expansion::Repricing => "repricing",
            Expansion::Nii => "nii_projection",
        }
    }

    /// The columns it adds after the instrument columns.
    pub fn generated(self) -> &'static [(Gen, &'static str, DataType)] {
        match self {
            Expansion::Cashflows => &GENERATED,
            Expansion::Repricing => &REPRICING,
            Expansion::Nii => &NII,
        }
    }

    /// Instrument columns renamed because an output column takes their name.
    pub fn renamed(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Expansion::Cashflows | Expansion::Nii => {
                &[("balance", "balance_as_of"), ("rate", "rate_as_of")]
            }
            Expansion::Repricing => &[],
        }
    }

    pub fn fields(self) -> Vec<Field> {
        self.generated()
            .iter()
            .map(|(_, name, t)| Field::new(*name, t.clone(), false))
            .collect()
    }
}

pub(crate) static NII: [(Gen, &str, DataType); 8] = [
    (Gen::Scenario, "scenario", DataType::Utf8),
    (Gen::PeriodStart, "period_start", DataType::Date32),
    (Gen::PeriodEnd, "period_end", DataType::Date32),
    (Gen::NiiBalance, "balance", DataType::Float64),
    (Gen::NiiRate, "rate", DataType::Float64),
    (Gen::NiiInterest, "interest", DataType::Float64),
    (
        Gen::ReinvestedBalance,
        "reinvested_balance",
        DataType::Float64,
    ),
    (
        Gen::ReinvestmentRate,
        "reinvestment_rate",
        DataType::Float64,
    ),
];

pub(crate) static REPRICING: [(Gen, &str, DataType); 3] = [
    (Gen::RepriceDate, "reprice_date", DataType::Date32),
    (Gen::Amount, "amount", DataType::Float64),
    (Gen::RepriceKind, "kind", DataType::Utf8),
];

pub(crate) static GENERATED: [(Gen, &str, DataType); 10] = [
    (Gen::Scenario, "scenario", DataType::Utf8),
    (Gen::PayDate, "pay_date", DataType::Date32),
    (Gen::AccrualStart, "accrual_start", DataType::Date32),
    (Gen::AccrualEnd, "accrual_end", DataType::Date32),
    (Gen::Balance, "balance", DataType::Float64),
    (Gen::Rate, "rate", DataType::Float64),
    (Gen::Interest, "interest", DataType::Float64),
    (Gen::Principal, "principal", DataType::Float64),
    (Gen::Prepayment, "prepayment", DataType::Float64),
    (Gen::Total, "total", DataType::Float64),
];

/// The columns of `instrument_errors()` after the instrument id.
pub(crate) const ERROR_COLUMNS: [(Gen, &str); 3] = [
    (Gen::ErrorColumn, "column"),
    (Gen::ErrorValue, "value"),
    (Gen::ErrorReason, "reason"),
];

/// Rows produced so far for the current instrument batch.
#[derive(Debug, Default)]
pub(crate) struct FlowBuffer {
    rows: Vec<u32>,
    scenarios: Vec<u32>,
    flows: Vec<Flow>,
    /// (column, value, reason) of rejected rows, for `instrument_errors()`.
    errors: Vec<[String; 3]>,
    /// Repricing amounts, for `repricing()`.
    reprices: Vec<Reprice>,
    /// Months of earnings, for `nii_projection()`.
    months: Vec<NiiMonth>,
}

impl FlowBuffer {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Drops rows appended after the first `len` (a row that failed half way).
    pub fn truncate(&mut self, len: usize) {
        self.rows.truncate(len);
        self.scenarios.truncate(len);
        self.flows.truncate(len);
        self.reprices.truncate(len);
        self.months.truncate(len);
    }

    pub fn push_months(&mut self, row: usize, scenario: usize, months: &[NiiMonth]) {
        self.rows
            .extend(std::iter::repeat_n(row as u32, months.len()));
        self.scenarios
            .extend(std::iter::repeat_n(scenario as u32, months.len()));
        self.months.extend_from_slice(months);
    }

    pub fn push_reprices(&mut self, row: usize, reprices: &[Reprice]) {
        self.rows
            .extend(std::iter::repeat_n(row as u32, reprices.len()));
        self.reprices.extend_from_slice(reprices);
    }

    pub fn push_error(&mut self, row: usize, error: almanac_core::Error) {
        let entry = match error {
            almanac_core::Error::Instrument {
                column,
                value,
                reason,
                ..
            } => [column.to_string(), value, reason],
            other => [String::new(), String::new(), other.to_string()],
        };
        self.rows.push(row as u32);
        self.errors.push(entry);
    }

    pub fn push_all(&mut self, row: usize, scenario: usize, flows: &[Flow]) {
        self.rows
            .extend(std::iter::repeat_n(row as u32, flows.len()));
        self.scenarios
            .extend(std::iter::repeat_n(scenario as u32, flows.len()));
        self.flows.extend_from_slice(flows);
    }

    /// Builds the requested columns and empties the buffer.
    pub fn finish(
        &mut self,
        input: &RecordBatch,
        columns: &[OutCol],
        schema: &SchemaRef,
        scenario_names: &[String],
    ) -> Result<RecordBatch> {
        let n = self.rows.len();
        let rows = std::mem::take(&mut self.rows);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
        let mut take_indices: Option<UInt32Array> = None;
        for col in columns {
            let array: ArrayRef = match col {
                OutCol::Input(i) => {
                    let indices = take_indices
                        .get_or_insert_with(|| UInt32Array::from_iter_values(rows.iter().copied()));
                    take(input.column(*i), indices, None)?
                }
                OutCol::Generated(g) => self.generated(*g, scenario_names),
            };
            arrays.push(array);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        let batch = RecordBatch::try_new_with_options(schema.clone(), arrays, &options)?;
        self.rows = rows;
        self.rows.clear();
        self.scenarios.clear();
        self.flows.clear();
        self.errors.clear();
        self.reprices.clear();
        self.months.clear();
        Ok(batch)
    }

    fn generated(&self, g: Gen, scenario_names: &[String]) -> ArrayRef {
        let dates = |f: fn(&Flow) -> i32| -> ArrayRef {
            Arc::new(Date32Array::from_iter_values(self.flows.iter().map(f)))
        };
        let amounts = |f: fn(&Flow) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(self.flows.iter().map(f)))
        };
        let month_amounts = |f: fn(&NiiMonth) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(self.months.iter().map(f)))
        };
        let error_text = |k: usize| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(
                self.errors.iter().map(|e| &e[k]),
            ))
        };
        match g {
            Gen::PeriodStart => Arc::new(Date32Array::from_iter_values(
                self.months.iter().map(|m| m.period_start.0),
            )),
            Gen::PeriodEnd => Arc::new(Date32Array::from_iter_values(
                self.months.iter().map(|m| m.period_end.0),
            )),
            Gen::NiiBalance => month_amounts(|m| m.balance),
            Gen::NiiRate => month_amounts(|m| m.rate),
            Gen::NiiInterest => month_amounts(|m| m.interest),
            Gen::ReinvestedBalance => month_amounts(|m| m.reinvested_balance),
            Gen::ReinvestmentRate => month_amounts(|m| m.reinvestment_rate),
            Gen::RepriceDate => Arc::new(Date32Array::from_iter_values(
                self.reprices.iter().map(|r| r.date.0),
            )),
            Gen::Amount => Arc::new(Float64Array::from_iter_values(
                self.reprices.iter().map(|r| r.amount),
            )),
            Gen::RepriceKind => Arc::new(StringArray::from_iter_values(
                self.reprices.iter().map(|r| r.kind.name()),
            )),
            Gen::ErrorColumn => error_text(0),
            Gen::ErrorValue => error_text(1),
            Gen::ErrorReason => error_text(2),
            Gen::Scenario => {
                let bytes: usize = self
                    .scenarios
                    .iter()
                    .map(|&s| scenario_names[s as usize].len())
                    .sum();
                let mut b = StringBuilder::with_capacity(self.scenarios.len(), bytes);
                for &s in &self.scenarios {
                    b.append_value(&scenario_names[s as usize]);
                }
                Arc::new(b.finish())
            }
            Gen::PayDate => dates(|f| f.pay_date.0),
            Gen::AccrualStart => dates(|f| f.accrual_start.0),
            Gen::AccrualEnd => dates(|f| f.accrual_end.0),
            Gen::Balance => amounts(|f| f.balance),
            Gen::Rate => amounts(|f| f.rate),
            Gen::Interest => amounts(|f| f.interest),
            Gen::Principal => amounts(|f| f.principal),
            Gen::Prepayment => amounts(|f| f.prepayment),
            Gen::Total => amounts(Flow::total),
        }
    }
}
