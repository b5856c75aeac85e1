//! `cashflows(instruments, as_of [, scenarios [, curves]])`: one row per
//! instrument, scenario and future payment date.
//!
//! ```sql
//! SELECT scenario, SUM(total) AS net_flows
//! FROM cashflows('instruments', DATE '2025-12-31', 'bcbs')
//! GROUP BY scenario ORDER BY scenario;
//! ```
//!
//! Output: every column of the instrument table (its `balance` and `rate`
//! renamed `balance_as_of` and `rate_as_of`, since the output's own `balance`
//! and `rate` are the period's), then `scenario, pay_date, accrual_start,
//! accrual_end, balance, rate, interest, principal, prepayment, total`, signed
//! from the bank's view (assets +, liabilities −).
//!
//! Columns not referenced are never built; filters on instrument columns are
//! applied before expansion; fixed-rate rows are computed once and repeated
//! for each scenario.

pub(crate) mod exec;
mod grid_sums;
mod output;
pub(crate) mod presum;
pub(crate) mod stream;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Column;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

pub(crate) use output::{Expansion, OutCol, ERROR_COLUMNS};
use stream::{CashflowsConfig, Mode};

use crate::args::CallArgs;
use crate::error::arg_err;
use crate::table::market_args::{MarketArgs, MarketTables};
use crate::tables::{check_schema, INSTRUMENT_COLUMNS, PASSED_THROUGH_ONLY};

pub const DOC: crate::docs::FunctionDoc = crate::docs::FunctionDoc {
    name: "cashflows",
    kind: "table",
    syntax: "cashflows(instruments, as_of [, scenarios [, curves]])",
    description: "One row per instrument, scenario and future payment date (pay_date > as_of): every instrument column (balance and rate renamed balance_as_of and rate_as_of), then scenario, pay_date, accrual_start, accrual_end, balance, rate, interest, principal, prepayment, total, signed from the bank's view (assets +, liabilities -). scenarios: 'base' (default), 'bcbs', 'parallel:+100,-100', 'ramp:+200', 'keyrate:1' or a table name; curves defaults to the table curves.",
    example: "SELECT scenario, SUM(total) FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') GROUP BY scenario ORDER BY scenario;",
};

pub const USAGE: &str = "cashflows(instruments, as_of [, scenarios [, curves]]), e.g. cashflows('instruments', DATE '2025-12-31', 'bcbs')";

#[derive(Debug, Default)]
pub struct CashflowsFunction;

impl TableFunctionImpl for CashflowsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let call = CallArgs {
            function: "cashflows",
            usage: USAGE,
            exprs: args.exprs(),
        };
        call.check_count(2, 4)?;
        let scenarios = call.optional_string(2, "scenarios", "base")?;
        let curves = call.optional_string(3, "curves", "curves")?;
        expanding_table(
            &call,
            args.session(),
            Expansion::Cashflows,
            &scenarios,
            &curves,
            0,
        )
    }
}

/// The provider of an instrument-expanding function: `instruments` (argument 1)
/// and `as_of` (argument 2) checked, the market tables resolved.
pub(crate) fn expanding_table(
    call: &CallArgs,
    session: &dyn Session,
    expansion: Expansion,
    scenarios: &str,
    curves: &str,
    horizon_months: u32,
) -> Result<Arc<dyn TableProvider>> {
    let function = expansion.name();
    let instruments_name = call.table(0, "instruments")?;
    let as_of = call.date(1, "as_of")?;
    let instruments = crate::tables::resolve_table(session, function, &instruments_name)?;
    check_schema(
        function,
        &instruments_name,
        &instruments.schema(),
        &INSTRUMENT_COLUMNS,
    )?;
    let market = MarketArgs::resolve(session, function, as_of, scenarios, curves)?;
    let mut table = CashflowsTable::try_new(expansion, instruments_name, instruments, market)?;
    table.horizon_months = horizon_months;
    Ok(Arc::new(table))
}

#[derive(Debug)]
pub(crate) struct CashflowsTable {
    pub(crate) expansion: Expansion,
    pub(crate) horizon_months: u32,
    pub(crate) instruments_name: String,
    pub(crate) instruments: Arc<dyn TableProvider>,
    pub(crate) market: MarketTables,
    /// Number of instrument columns at the front of `schema`.
    n_input: usize,
    schema: SchemaRef,
}

impl CashflowsTable {
    pub(crate) fn try_new(
        expansion: Expansion,
        table_name: String,
        instruments: Arc<dyn TableProvider>,
        market: MarketTables,
    ) -> Result<Self> {
        let input = instruments.schema();
        let generated = expansion.fields();
        let renames = expansion.renamed();
        let mut fields: Vec<Field> = Vec::with_capacity(input.fields().len() + generated.len());
        for f in input.fields() {
            let renamed = renames
                .iter()
                .find(|(from, _)| f.name() == from)
                .map(|(_, to)| *to);
            let name = renamed.unwrap_or(f.name());
            if generated.iter().any(|g| g.name() == name)
                || renames.iter().any(|(_, to)| *to == f.name())
            {
                return Err(arg_err!(
                    "{0}: table '{table_name}' has a column '{1}' that clashes with an output column of {0}(); rename it in a view",
                    expansion.name(),
                    f.name()
                ));
            }
            fields.push(f.as_ref().clone().with_name(name));
        }
        fields.extend(generated);
        Ok(CashflowsTable {
            expansion,
            horizon_months: 0,
            instruments_name: table_name,
            n_input: input.fields().len(),
            instruments,
            market,
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// The instrument-table name of an output column, if it is an instrument column.
    fn input_name(&self, output_name: &str) -> Option<String> {
        let index = self
            .schema
            .index_of(output_name)
            .ok()
            .filter(|&i| i < self.n_input)?;
        Some(self.instruments.schema().field(index).name().clone())
    }

    fn is_instrument_filter(&self, expr: &Expr) -> bool {
        !expr.is_volatile()
            && expr
                .column_refs()
                .iter()
                .all(|c| self.input_name(&c.name).is_some())
    }

    /// Rewrites an output-schema filter to the instrument table's column names.
    fn to_input_filter(&self, expr: &Expr) -> Result<Expr> {
        expr.clone()
            .transform(|e| match e {
                Expr::Column(c) => {
                    let name = self.input_name(&c.name).unwrap_or(c.name);
                    Ok(Transformed::yes(Expr::Column(Column::from_name(name))))
                }
                other => Ok(Transformed::no(other)),
            })
            .map(|t| t.data)
    }
}

#[async_trait]
impl TableProvider for CashflowsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if self.is_instrument_filter(f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input_schema = self.instruments.schema();
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let mut input_filters = filters
            .iter()
            .map(|f| self.to_input_filter(f))
            .collect::<Result<Vec<_>>>()?;
        let snapshot = crate::tables::snapshot_filter(&input_schema, self.market.as_of);
        input_filters.extend(snapshot.clone());

        // Instrument columns to read: the contract's that the projection
        // reads, those passed through, those filtered on.
        let mut needed: BTreeSet<usize> = INSTRUMENT_COLUMNS
            .iter()
            .filter(|c| !PASSED_THROUGH_ONLY.contains(&c.name))
            .filter_map(|c| input_schema.index_of(c.name).ok())
            .collect();
        needed.extend(wanted.iter().copied().filter(|&i| i < self.n_input));
        for f in &input_filters {
            needed.extend(
                f.column_refs()
                    .iter()
                    .filter_map(|c| input_schema.index_of(&c.name).ok()),
            );
        }
        let read: Vec<usize> = needed.into_iter().collect();
        // The snapshot filter goes to the scan too: on a partition column it prunes folders.
        let pushed: Vec<Expr> = snapshot.into_iter().collect();
        let mut input = self
            .instruments
            .scan(state, Some(&read), &pushed, None)
            .await?;
        if let Some(predicate) = conjunction(input_filters) {
            input = crate::tables::filter_plan(state, input, predicate)?;
        }

        let columns: Vec<OutCol> = wanted
            .iter()
            .map(|&i| {
                if i < self.n_input {
                    OutCol::Input(read.iter().position(|&r| r == i).unwrap_or(0))
                } else {
                    OutCol::Generated(self.expansion.generated()[i - self.n_input].0)
                }
            })
            .collect();
        let schema = Arc::new(self.schema.project(&wanted)?);
        let (market_inputs, market_spec) = self.market.plan(state).await?;
        let config = CashflowsConfig {
            mode: match self.expansion {
                Expansion::Cashflows => Mode::Flows,
                Expansion::Repricing => Mode::Repricing,
                Expansion::Nii => Mode::Nii,
            },
            horizon_months: self.horizon_months,
            as_of: market_spec.as_of,
            lenient: self.market.lenient,
            columns,
            schema,
            batch_size: state.config().batch_size(),
            presum: None,
        };
        Ok(Arc::new(exec::CashflowsExec::new(
            input,
            market_inputs,
            market_spec,
            Arc::new(config),
        )))
    }
}
