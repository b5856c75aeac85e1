//! `discount_factors(curves, as_of [, scenarios [, horizon_years]])` and
//! `curve_points(curves, as_of [, scenarios])`: the (shocked) curves as tables.
//!
//! ```sql
//! -- EVE per scenario as a join and a sum
//! SELECT c.scenario, SUM(c.total * d.discount_factor) AS eve
//! FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') c
//! JOIN discount_factors('curves', DATE '2025-12-31', 'bcbs') d
//!   ON c.scenario = d.scenario AND c.currency = d.currency AND c.pay_date = d.date
//! GROUP BY c.scenario;
//!
//! SELECT * FROM curve_points('curves', DATE '2025-12-31', 'bcbs') WHERE tenor = '10Y';
//! ```

use std::fmt;
use std::sync::Arc;

use almanac_core::daycount::curve_time;
use almanac_core::Date;
use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Float64Array, RecordBatch, RecordBatchOptions, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::config::ConfigOptions;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation, PushedDown,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use crate::args::CallArgs;
use crate::error::arg_err;
use crate::market::{load_shared, Market, MarketInputs, MarketSpec, SharedMarket};
use crate::table::date_bounds::{day_bounds, is_dynamic, DayBounds};
use crate::table::market_args::{MarketArgs, MarketTables};

pub const DISCOUNT_FACTORS_DOC: crate::docs::FunctionDoc = crate::docs::FunctionDoc {
    name: "discount_factors",
    kind: "table",
    syntax: "discount_factors(curves, as_of [, scenarios [, horizon_years]])",
    description: "One row per scenario, discount curve (one per currency) and calendar day from as_of to as_of + horizon_years (default 50): scenario, curve_id, currency, date, t_years (ACT/365F), zero_rate (shocked, floored), discount_factor. Join it to cashflows() on (scenario, currency, pay_date = date) to discount.",
    example: "SELECT * FROM discount_factors('curves', DATE '2025-12-31', 'bcbs', 1) WHERE date = DATE '2026-12-31';",
};

pub const CURVE_POINTS_DOC: crate::docs::FunctionDoc = crate::docs::FunctionDoc {
    name: "curve_points",
    kind: "table",
    syntax: "curve_points(curves, as_of [, scenarios])",
    description: "The curve nodes under each scenario: scenario, curve_id, currency, tenor, t_years, zero_rate (shocked, after the post-shock floor), shift_bp (the shift actually applied).",
    example: "SELECT * FROM curve_points('curves', DATE '2025-12-31', 'bcbs') WHERE tenor = '10Y';",
};

pub const DISCOUNT_FACTORS_USAGE: &str =
    "discount_factors(curves, as_of [, scenarios [, horizon_years]]), e.g. discount_factors('curves', DATE '2025-12-31', 'bcbs', 50)";
pub const CURVE_POINTS_USAGE: &str = "curve_points(curves, as_of [, scenarios]), e.g. curve_points('curves', DATE '2025-12-31', 'bcbs')";

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Kind {
    DiscountFactors { horizon_months: i32 },
    CurvePoints,
}

impl Kind {
    fn schema(self) -> SchemaRef {
        let text = |n: &str| Field::new(n, DataType::Utf8, false);
        let num = |n: &str| Field::new(n, DataType::Float64, false);
        let fields = match self {
            Kind::DiscountFactors { .. } => vec![
                text("scenario"),
                text("curve_id"),
                text("currency"),
                Field::new("date", DataType::Date32, false),
                num("t_years"),
                num("zero_rate"),
                num("discount_factor"),
            ],
            Kind::CurvePoints => vec![
                text("scenario"),
                text("curve_id"),
                text("currency"),
                text("tenor"),
                num("t_years"),
                num("zero_rate"),
                num("shift_bp"),
            ],
        };
        Arc::new(Schema::new(fields))
    }
}

#[derive(Debug, Default)]
pub struct DiscountFactorsFunction;

#[derive(Debug, Default)]
pub struct CurvePointsFunction;

impl TableFunctionImpl for DiscountFactorsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let call = CallArgs {
            function: "discount_factors",
            usage: DISCOUNT_FACTORS_USAGE,
            exprs: args.exprs(),
        };
        call.check_count(2, 4)?;
        let horizon = call.optional_f64(3, "horizon_years", 50.0)?;
        if !(0.0..=200.0).contains(&horizon) {
            return Err(arg_err!(
                "discount_factors: horizon_years must be between 0 and 200, got {horizon}"
            ));
        }
        let kind = Kind::DiscountFactors {
            horizon_months: (horizon * 12.0).round() as i32,
        };
        curve_table(&call, args.session(), kind)
    }
}

impl TableFunctionImpl for CurvePointsFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let call = CallArgs {
            function: "curve_points",
            usage: CURVE_POINTS_USAGE,
            exprs: args.exprs(),
        };
        call.check_count(2, 3)?;
        curve_table(&call, args.session(), Kind::CurvePoints)
    }
}

fn curve_table(
    call: &CallArgs,
    session: &dyn Session,
    kind: Kind,
) -> Result<Arc<dyn TableProvider>> {
    let curves = call.table(0, "curves")?;
    let as_of = call.date(1, "as_of")?;
    let scenarios = call.optional_string(2, "scenarios", "base")?;
    let market = MarketArgs::resolve(session, call.function, as_of, &scenarios, &curves)?;
    Ok(Arc::new(CurveTable::new(market, kind)))
}

#[derive(Debug)]
pub(crate) struct CurveTable {
    pub(crate) market: MarketTables,
    pub(crate) kind: Kind,
    schema: SchemaRef,
}

impl CurveTable {
    pub(crate) fn new(market: MarketTables, kind: Kind) -> CurveTable {
        CurveTable {
            market,
            kind,
            schema: kind.schema(),
        }
    }
}

#[async_trait]
impl TableProvider for CurveTable {
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
        let (inputs, spec) = self.market.plan(state).await?;
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        Ok(Arc::new(CurveTableExec::new(
            inputs,
            spec,
            self.kind,
            projection.cloned(),
            schema,
            (
                state.config().batch_size(),
                state.config().target_partitions(),
            ),
        )))
    }
}

#[derive(Debug)]
pub(crate) struct CurveTableExec {
    pub(crate) inputs: MarketInputs,
    pub(crate) spec: MarketSpec,
    pub(crate) kind: Kind,
    pub(crate) projection: Option<Vec<usize>>,
    pub(crate) batch_size: usize,
    /// The (scenario, curve) blocks are dealt to this many partitions in
    /// turn, built side by side.
    pub(crate) partitions: usize,
    /// The market, loaded once for all partitions (a scan of the curves
    /// table run twice would share its file queue, and one would read nothing).
    market: SharedMarket,
    properties: Arc<PlanProperties>,
    /// Dynamic filters a join above pushed down (see [`super::date_bounds`]):
    /// discount factors are built only for the days within their bounds.
    join_filters: Vec<Arc<dyn PhysicalExpr>>,
}

impl CurveTableExec {
    pub(crate) fn new(
        inputs: MarketInputs,
        spec: MarketSpec,
        kind: Kind,
        projection: Option<Vec<usize>>,
        schema: SchemaRef,
        (batch_size, partitions): (usize, usize),
    ) -> Self {
        let partitions = partitions.max(1);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        CurveTableExec {
            inputs,
            spec,
            kind,
            projection,
            batch_size,
            partitions,
            market: SharedMarket::default(),
            properties: Arc::new(properties),
            join_filters: Vec::new(),
        }
    }

    /// A copy that has not loaded its market (a new plan node loads its own).
    fn clone_unstarted(&self) -> CurveTableExec {
        CurveTableExec {
            inputs: self.inputs.clone(),
            spec: self.spec.clone(),
            kind: self.kind,
            projection: self.projection.clone(),
            batch_size: self.batch_size,
            partitions: self.partitions,
            market: SharedMarket::default(),
            properties: Arc::clone(&self.properties),
            join_filters: self.join_filters.clone(),
        }
    }

    /// The column `date` of the output, if it is projected.
    fn date_column(&self) -> Option<usize> {
        match self.kind {
            Kind::DiscountFactors { .. } => self.schema().index_of("date").ok(),
            Kind::CurvePoints => None,
        }
    }
}

impl DisplayAs for CurveTableExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "CurveTableExec: {:?}, as_of={}{}",
            self.kind,
            self.spec.as_of,
            if self.join_filters.is_empty() {
                ""
            } else {
                ", dates bounded by the join"
            }
        )
    }
}

impl ExecutionPlan for CurveTableExec {
    fn name(&self) -> &str {
        "CurveTableExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inputs.plans()
    }

    /// Every market table is read whole (see `CashflowsExec`).
    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition; self.inputs.plans().len()]
    }

    /// The join filters held: a hash join computes its dynamic filter only
    /// when it finds the filter in its probe side's plan.
    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        for filter in &self.join_filters {
            if f(filter)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    /// Keeps the dynamic filters a join pushes down onto the date column (after
    /// the optimizer's last pass, when they are placed); every filter is still
    /// applied above, as nothing here promises to drop all the rows it rejects.
    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let parents = &child_pushdown_result.parent_filters;
        let result = FilterPushdownPropagation::with_parent_pushdown_result(vec![
            PushedDown::No;
            parents.len()
        ]);
        let dynamic: Vec<Arc<dyn PhysicalExpr>> = parents
            .iter()
            .map(|p| Arc::clone(&p.filter))
            .filter(is_dynamic)
            .collect();
        if phase != FilterPushdownPhase::Post || dynamic.is_empty() || self.date_column().is_none()
        {
            return Ok(result);
        }
        let mut taken = self.clone_unstarted();
        taken.join_filters.extend(dynamic);
        Ok(result.with_updated_node(Arc::new(taken)))
    }

    /// A node for another run, without the join filters: they belong to the
    /// join's last run (a reset join drops its own and makes none, so bounds
    /// kept here would be that run's, not the next one's).
    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        let mut fresh = self.clone_unstarted();
        fresh.join_filters.clear();
        Ok(Arc::new(fresh))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != self.inputs.plans().len() {
            return Err(DataFusionError::Internal(
                "CurveTableExec: wrong number of children".into(),
            ));
        }
        let mut new = self.clone_unstarted();
        new.inputs = self.inputs.with_plans(children);
        Ok(Arc::new(new))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let partitions = self.partitions;
        if partition >= partitions {
            return Err(DataFusionError::Internal(format!(
                "CurveTableExec has {partitions} partitions, asked for {partition}"
            )));
        }
        let (spec, kind, projection, batch_size) = (
            self.spec.clone(),
            self.kind,
            self.projection.clone(),
            self.batch_size,
        );
        let schema = self.properties.eq_properties.schema().clone();
        let market = load_shared(
            self.market.clone(),
            self.inputs.clone(),
            self.spec.clone(),
            context,
        );
        let (join_filters, date) = (self.join_filters.clone(), self.date_column());
        let stream = futures::stream::once(async move {
            let market = market.await?;
            // Read when the first batch is asked for: a hash join asks only
            // once every partition of its build side is in and its filter set.
            let days = match date {
                Some(date) => join_filters
                    .iter()
                    .fold(DayBounds::ALL, |days, f| days.and(day_bounds(f, date))),
                None => DayBounds::ALL,
            };
            // One block (scenario x curve) at a time, cut into batches, so memory stays small.
            // This partition's share of the blocks, dealt in turn.
            let mine = kind
                .blocks(&market)
                .into_iter()
                .skip(partition)
                .step_by(partitions);
            let batches = mine.flat_map(move |block| {
                let block = build_block(
                    &market,
                    (spec.as_of, kind, days),
                    block,
                    projection.as_deref(),
                );
                match block {
                    Ok(b) => (0..b.num_rows())
                        .step_by(batch_size.max(1))
                        .map(|offset| Ok(b.slice(offset, batch_size.min(b.num_rows() - offset))))
                        .collect::<Vec<_>>(),
                    Err(e) => vec![Err(e)],
                }
            });
            Ok::<_, DataFusionError>(futures::stream::iter(batches))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream.boxed(),
        )))
    }
}

impl Kind {
    /// The (scenario, curve) pairs of the output, in order: discount curves
    /// only for discount factors, every curve for curve points.
    fn blocks(self, market: &Market) -> Vec<(usize, usize)> {
        let curves: Vec<usize> = match self {
            Kind::DiscountFactors { .. } => market.discount_curve.values().copied().collect(),
            Kind::CurvePoints => (0..market.curve_index.len()).collect(),
        };
        (0..market.scenarios.len())
            .flat_map(|s| curves.iter().map(move |&c| (s, c)))
            .collect()
    }
}

/// The rows of one scenario and curve: every calendar day for discount
/// factors, every node for curve points.
fn build_block(
    market: &Market,
    (as_of, kind, within): (Date, Kind, DayBounds),
    (s, c): (usize, usize),
    projection: Option<&[usize]>,
) -> Result<RecordBatch> {
    let curve = &market.shocked[s][c];
    let (dates, times): (Option<Vec<i32>>, Vec<f64>) = match kind {
        Kind::DiscountFactors { horizon_months } => {
            let first = as_of.0.max(within.lo);
            let last = as_of.add_months(horizon_months).0.min(within.hi);
            let days: Vec<i32> = (first..=last).collect();
            let times = days.iter().map(|&d| curve_time(as_of, Date(d))).collect();
            (Some(days), times)
        }
        Kind::CurvePoints => (None, curve.curve.times.clone()),
    };
    let n = times.len();
    let repeat = |text: &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(std::iter::repeat_n(text, n)))
    };
    let zero_rates: Vec<f64> = times.iter().map(|&t| curve.zero_rate(t)).collect();
    let (middle, last): (ArrayRef, Vec<f64>) = match dates {
        Some(days) => {
            let dfs = zero_rates
                .iter()
                .zip(&times)
                .map(|(z, t)| (-z * t).exp())
                .collect();
            (Arc::new(Date32Array::from(days)), dfs)
        }
        None => {
            let shifts = times.iter().map(|&t| curve.applied_shift_bp(t)).collect();
            (
                Arc::new(StringArray::from_iter_values(&curve.curve.tenors)),
                shifts,
            )
        }
    };
    // Only the columns asked for (an EVE reads four of the seven: a
    // million rows of curve ids it would not read are not built).
    let all: Vec<usize> = (0..7).collect();
    let wanted = projection.unwrap_or(&all);
    let (mut middle, mut times, mut zero_rates, mut last) =
        (Some(middle), Some(times), Some(zero_rates), Some(last));
    let numbers = |v: Vec<f64>| Arc::new(Float64Array::from(v)) as ArrayRef;
    let columns = wanted
        .iter()
        .map(|&i| {
            let column: Option<ArrayRef> = match i {
                0 => Some(repeat(&market.scenarios[s].name)),
                1 => Some(repeat(&curve.curve.curve_id)),
                2 => Some(repeat(&curve.curve.currency)),
                3 => middle.take(),
                4 => times.take().map(numbers),
                5 => zero_rates.take().map(numbers),
                6 => last.take().map(numbers),
                _ => None,
            };
            column.ok_or_else(|| {
                DataFusionError::Internal(format!("{kind:?}: no column {i} to project, or twice"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let schema = Arc::new(kind.schema().project(wanted)?);
    // (A COUNT(*) asks for no column: the rows are still n.)
    let rows = RecordBatchOptions::new().with_row_count(Some(n));
    Ok(RecordBatch::try_new_with_options(schema, columns, &rows)?)
}
