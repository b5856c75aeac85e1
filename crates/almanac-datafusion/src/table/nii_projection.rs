//! `nii_projection(instruments, as_of, horizon_months [, scenarios [, curves]])`:
//! monthly net interest income on a constant balance sheet.
//!
//! ```sql
//! SELECT scenario, SUM(interest) AS nii_12m
//! FROM nii_projection('instruments', DATE '2025-12-31', 12, 'parallel:+200,-200')
//! GROUP BY scenario ORDER BY scenario;
//! ```
//!
//! Output: every instrument column (`balance`, `rate` renamed `balance_as_of`,
//! `rate_as_of`), then `scenario, period_start, period_end, balance, rate,
//! interest, reinvested_balance, reinvestment_rate`. Month m runs from
//! as_of + (m−1) months to as_of + m months; interest is accrued in it, signed
//! (assets +, liabilities −). Principal repaid inside the horizon is replaced
//! by the same product at the scenario's rate (see `almanac_core::nii`).

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;

use super::cashflows::{expanding_table, Expansion};
use crate::args::CallArgs;
use crate::docs::FunctionDoc;
use crate::error::arg_err;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "nii_projection",
    kind: "table",
    syntax: "nii_projection(instruments, as_of, horizon_months [, scenarios [, curves]])",
    description: "Monthly net interest income on a constant balance sheet: one row per instrument, scenario and month of the horizon: every instrument column (balance and rate renamed balance_as_of and rate_as_of), then scenario, period_start, period_end, balance and rate of the instrument at the month's start, interest accrued in the month (signed), reinvested_balance and reinvestment_rate of what replaced repaid principal: fixed products at the scenario's forward rate for their original term, floaters at the index forward plus spread, non-maturity deposits at their own rate.",
    example: "SELECT scenario, SUM(interest) AS nii_12m FROM nii_projection('instruments', DATE '2025-12-31', 12, 'parallel:+200,-200') GROUP BY scenario ORDER BY scenario;",
};

const USAGE: &str =
    "nii_projection(instruments, as_of, horizon_months [, scenarios [, curves]]), e.g. nii_projection('instruments', DATE '2025-12-31', 12, 'parallel:+200,-200')";

/// Longest horizon accepted, in months.
const MAX_HORIZON_MONTHS: f64 = 600.0;

#[derive(Debug, Default)]
pub struct NiiProjectionFunction;

impl TableFunctionImpl for NiiProjectionFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let call = CallArgs {
            function: DOC.name,
            usage: USAGE,
            exprs: args.exprs(),
        };
        call.check_count(3, 5)?;
        let horizon = call.optional_f64(2, "horizon_months", 12.0)?;
        if horizon.fract() != 0.0 || !(1.0..=MAX_HORIZON_MONTHS).contains(&horizon) {
            return Err(arg_err!("nii_projection: horizon_months must be a whole number of months from 1 to 600, got {horizon}"));
        }
        let scenarios = call.optional_string(3, "scenarios", "base")?;
        let curves = call.optional_string(4, "curves", "curves")?;
        expanding_table(
            &call,
            args.session(),
            Expansion::Nii,
            &scenarios,
            &curves,
            horizon as u32,
        )
    }
}
