//! `instrument_errors(instruments, as_of [, curves])`: the rows of an
//! instrument table that break the data contract, with the reason. This is
//! the errors output of lenient mode (`SET almanac.lenient = true`), where
//! `cashflows()` leaves such rows out instead of failing.
//!
//! ```sql
//! SELECT * FROM instrument_errors('instruments', DATE '2025-12-31');
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::cashflows::exec::CashflowsExec;
use super::cashflows::stream::{CashflowsConfig, Mode};
use super::cashflows::{OutCol, ERROR_COLUMNS};
use super::market_args::{MarketArgs, MarketTables};
use crate::args::CallArgs;
use crate::docs::FunctionDoc;
use crate::tables::{check_schema, resolve_table, INSTRUMENT_COLUMNS};

pub const DOC: FunctionDoc = FunctionDoc {
    name: "instrument_errors",
    kind: "table",
    syntax: "instrument_errors(instruments, as_of [, curves])",
    description: "One row per instrument that breaks the data contract or has no curve on as_of: instrument_id, column, value, reason. The errors output of lenient mode (SET almanac.lenient = true), in which cashflows() skips these rows.",
    example: "SELECT * FROM instrument_errors('instruments', DATE '2025-12-31');",
};

const USAGE: &str = "instrument_errors(instruments, as_of [, curves]), e.g. instrument_errors('instruments', DATE '2025-12-31')";

#[derive(Debug, Default)]
pub struct InstrumentErrorsFunction;

impl TableFunctionImpl for InstrumentErrorsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let call = CallArgs {
            function: DOC.name,
            usage: USAGE,
            exprs: args.exprs(),
        };
        call.check_count(2, 3)?;
        let name = call.table(0, "instruments")?;
        let as_of = call.date(1, "as_of")?;
        let curves = call.optional_string(2, "curves", "curves")?;
        let instruments = resolve_table(args.session(), DOC.name, &name)?;
        check_schema(
            DOC.name,
            &name,
            &instruments.schema(),
            &INSTRUMENT_COLUMNS[..1],
        )?;
        let market = MarketArgs::resolve(args.session(), DOC.name, as_of, "base", &curves)?;
        Ok(Arc::new(InstrumentErrorsTable::try_new(
            instruments,
            market,
        )?))
    }
}

impl InstrumentErrorsTable {
    pub(crate) fn try_new(
        instruments: Arc<dyn TableProvider>,
        market: MarketTables,
    ) -> Result<InstrumentErrorsTable> {
        let id_type = instruments
            .schema()
            .field_with_name("instrument_id")?
            .data_type()
            .clone();
        let mut fields = vec![Field::new("instrument_id", id_type, true)];
        fields.extend(
            ERROR_COLUMNS
                .iter()
                .map(|(_, n)| Field::new(*n, DataType::Utf8, false)),
        );
        Ok(InstrumentErrorsTable {
            instruments,
            market,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

#[derive(Debug)]
pub(crate) struct InstrumentErrorsTable {
    pub(crate) instruments: Arc<dyn TableProvider>,
    pub(crate) market: MarketTables,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for InstrumentErrorsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let input_schema = self.instruments.schema();
        // Read the contract columns the table has; a missing required one is reported per row as NULL.
        let mut read: Vec<usize> = INSTRUMENT_COLUMNS
            .iter()
            .filter_map(|c| input_schema.index_of(c.name).ok())
            .collect();
        let snapshot = crate::tables::snapshot_filter(&input_schema, self.market.as_of);
        if snapshot.is_some() {
            read.extend(input_schema.index_of(crate::tables::SNAPSHOT_COLUMN).ok());
        }
        let pushed: Vec<Expr> = snapshot.clone().into_iter().collect();
        let mut input = self
            .instruments
            .scan(state, Some(&read), &pushed, None)
            .await?;
        if let Some(predicate) = snapshot {
            input = crate::tables::filter_plan(state, input, predicate)?;
        }
        let id_at = input.schema().index_of("instrument_id")?;
        let all: Vec<OutCol> = std::iter::once(OutCol::Input(id_at))
            .chain(ERROR_COLUMNS.iter().map(|(g, _)| OutCol::Generated(*g)))
            .collect();
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..all.len()).collect());
        let config = CashflowsConfig {
            mode: Mode::Errors,
            as_of: self.market.as_of,
            lenient: true,
            columns: wanted.iter().map(|&i| all[i]).collect(),
            schema: Arc::new(self.schema.project(&wanted)?),
            batch_size: state.config().batch_size(),
            horizon_months: 0,
            presum: None,
        };
        let (market_inputs, market_spec) = self.market.plan(state).await?;
        Ok(Arc::new(CashflowsExec::new(
            input,
            market_inputs,
            market_spec,
            Arc::new(config),
        )))
    }
}
