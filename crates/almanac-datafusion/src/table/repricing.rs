//! `repricing(instruments, as_of [, curves])`: one row per instrument and
//! date on which some of its balance reprices.
//!
//! ```sql
//! SELECT gap_bucket(reprice_date, DATE '2025-12-31') AS bucket, kind, SUM(amount)
//! FROM repricing('instruments', DATE '2025-12-31')
//! GROUP BY 1, 2 ORDER BY 1, 2;
//! ```
//!
//! Output: every instrument column, then `reprice_date, amount, kind`. The
//! amount is signed (assets +, liabilities −); kind is `maturity`,
//! `amortization`, `prepayment` or `reset` (a floater's whole remaining
//! balance at its next reset). An instrument's amounts add up to its balance.
//! `curves` (default `curves`) is read to check currencies and index curves,
//! as `cashflows()` does; the amounts themselves use the base scenario.

use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::error::Result;

use super::cashflows::{expanding_table, Expansion};
use crate::args::CallArgs;
use crate::docs::FunctionDoc;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "repricing",
    kind: "table",
    syntax: "repricing(instruments, as_of [, curves])",
    description: "One row per instrument and date on which some of its balance reprices: every instrument column, then reprice_date, amount (signed: assets +, liabilities -) and kind: 'maturity', 'amortization', 'prepayment', or 'reset' (a floater's whole remaining balance at its next reset after as_of). Each instrument's amounts add up to its balance. Feeds the repricing gap.",
    example: "SELECT gap_bucket(reprice_date, DATE '2025-12-31') AS bucket, SUM(amount) FROM repricing('instruments', DATE '2025-12-31') GROUP BY 1 ORDER BY 1;",
};

const USAGE: &str =
    "repricing(instruments, as_of [, curves]), e.g. repricing('instruments', DATE '2025-12-31')";

#[derive(Debug, Default)]
pub struct RepricingFunction;

impl TableFunctionImpl for RepricingFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let call = CallArgs {
            function: DOC.name,
            usage: USAGE,
            exprs: args.exprs(),
        };
        call.check_count(2, 3)?;
        let curves = call.optional_string(2, "curves", "curves")?;
        expanding_table(
            &call,
            args.session(),
            Expansion::Repricing,
            "base",
            &curves,
            0,
        )
    }
}
