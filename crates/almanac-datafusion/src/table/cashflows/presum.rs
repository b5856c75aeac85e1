//! Sums pushed into `cashflows()`. A query that only sums flows by some of
//! their keys (`SELECT scenario, currency, pay_date, SUM(total) … GROUP BY …`,
//! the shape of every EVE and liquidity query) does not need one row per
//! flow: the operator adds the flows of equal keys itself and emits one row
//! per (instrument columns asked for, scenario, pay_date), often a thousand
//! times fewer rows. The aggregate above it still runs (its final step) and gives the same
//! sums, since a sum of partial sums is the sum.
//!
//! The rule [`PresumCashflows`] rewrites `AggregateExec → RepartitionExec* →
//! CashflowsExec` when every aggregate is a plain
//! `SUM(column)` (no DISTINCT, FILTER or ORDER BY) of a generated amount
//! column and no grouping expression reads a summed column. Then the rows the
//! operator merges differ only in the summed columns, which is what makes the
//! rewrite exact (up to the order of floating-point additions). A partial
//! aggregate is then replaced by a projection of each row as its own partial
//! state (`partial_states`): it would find almost no two rows alike.
//!
//! Scenario-independent flows (a fixed-rate instrument whose run-off is not
//! scaled by scenario) are added once, to a shared sum that every scenario
//! receives when the sums are emitted, instead of once per scenario. A
//! floater's flows under all scenarios fall on the same days: they go to
//! blocks that hold every scenario's sum of a day side by side, so the
//! seven amounts of one day touch one cache line, not seven.
//!
//! Most instruments are paid on a window of a schedule grid shared with
//! thousands of others (`almanac_core::GridWindow`): their flows are added to
//! sums kept per grid period (`grid_sums`), consecutive flows to consecutive
//! sums with no lookup per flow, and dated when emitted. When only `total` is
//! summed, the projector gives the totals alone, a floater's under every
//! scenario in one pass, and adds them to the grid sums itself
//! (`Projector::add_totals_to`, given `Presum::grid_totals`); no flow is built.

use datafusion::common::HashMap;
use std::sync::Arc;

use almanac_core::{Date, Flow, GridWindow};
use datafusion::arrow::array::{ArrayRef, Date32Array, Float64Array, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::ExecutionPlan;

use super::exec::CashflowsExec;
use super::grid_sums::GridSumsSet;
use super::output::{Gen, OutCol};
use super::stream::{CashflowsConfig, Mode};

/// The generated columns that can be summed before the aggregate.
fn summable(g: Gen) -> bool {
    matches!(
        g,
        Gen::Balance | Gen::Interest | Gen::Principal | Gen::Prepayment | Gen::Total
    )
}

fn amount(g: Gen, f: &Flow) -> f64 {
    match g {
        Gen::Balance => f.balance,
        Gen::Interest => f.interest,
        Gen::Principal => f.principal,
        Gen::Prepayment => f.prepayment,
        _ => f.total(),
    }
}

/// Appends a flow's amounts of the `summed` columns to `out`.
fn push_amounts(summed: &[(usize, Gen)], flow: &Flow, out: &mut Vec<f64>) {
    match summed {
        // The common case (EVE, liquidity), without a lookup per amount.
        [(_, Gen::Total)] => out.push(flow.total()),
        _ => out.extend(summed.iter().map(|(_, g)| amount(*g, flow))),
    }
}

/// The scenario slot of an instrument's totals in `lanes` lanes: 1, the
/// same under every scenario (slot 0), or one per scenario side by side.
fn totals_slot(lanes: usize) -> u64 {
    if lanes == 1 {
        0
    } else {
        ALL_SCENARIOS
    }
}

/// The physical optimizer rule; see the module documentation.
#[derive(Debug, Default)]
pub struct PresumCashflows;

impl PhysicalOptimizerRule for PresumCashflows {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !crate::AlmanacOptions::from_config(config).presum {
            return Ok(plan);
        }
        plan.transform_down(|node| {
            Ok(match rewrite(&node)? {
                Some(new) => Transformed::yes(new),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "presum_cashflows"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The aggregate with a pre-summing `cashflows()` under it, if it qualifies.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(agg) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    if !matches!(
        agg.mode(),
        AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
    ) || !agg.group_expr().is_single()
        || agg.filter_expr().iter().any(Option::is_some)
    {
        return Ok(None);
    }
    // Down through operators that keep rows and columns as they are.
    let mut chain: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
    let mut below = Arc::clone(agg.input());
    while below.is::<RepartitionExec>() {
        chain.push(Arc::clone(&below));
        below = Arc::clone(&below.children()[0]);
    }
    let Some(flows) = below.downcast_ref::<CashflowsExec>() else {
        return Ok(None);
    };
    let config = flows.config();
    if config.mode != Mode::Flows || config.presum.is_some() {
        return Ok(None);
    }
    let mut summed = vec![false; config.columns.len()];
    for aggregate in agg.aggr_expr() {
        let args = aggregate.expressions();
        let column = match args.as_slice() {
            [arg] => arg.downcast_ref::<Column>(),
            _ => None,
        };
        let plain_sum = aggregate.fun().name().eq_ignore_ascii_case("sum")
            && !aggregate.is_distinct()
            && aggregate.order_bys().is_empty();
        let Some(column) = column.filter(|_| plain_sum) else {
            return Ok(None);
        };
        match config.columns.get(column.index()) {
            Some(&OutCol::Generated(g)) if summable(g) => summed[column.index()] = true,
            _ => return Ok(None),
        }
    }
    for (expr, _) in agg.group_expr().expr() {
        if collect_columns(expr)
            .iter()
            .any(|c| summed.get(c.index()) == Some(&true))
        {
            return Ok(None);
        }
    }
    // The columns the operator groups by: every column not summed.
    let keys_ok = config.columns.iter().zip(&summed).all(|(col, &s)| {
        s || matches!(
            col,
            OutCol::Input(_) | OutCol::Generated(Gen::Scenario | Gen::PayDate)
        )
    });
    if !keys_ok {
        return Ok(None);
    }
    let mut new: Arc<dyn ExecutionPlan> = Arc::new(flows.with_presum(summed));
    for op in chain.into_iter().rev() {
        new = replace_children_if_necessary(op, vec![new])?;
    }
    if let Some(states) = partial_states(agg, &new)? {
        return Ok(Some(states));
    }
    Ok(Some(replace_children_if_necessary(
        Arc::clone(node),
        vec![new],
    )?))
}

/// A partial aggregate's output computed from the pre-summed rows of
/// `presummed` without aggregating them again, when `agg` is one: the
/// operator already emits about one row per key in each partition, and a
/// partial aggregate would only hash them all to find no two alike (in a
/// 1M-instrument EVE, 2 × 109k rows hashed into 2 × 109k groups, after every
/// flow is projected, where nothing else runs alongside). Each row is then its
/// own partial state: its keys and, for each `SUM`, the sum (a SUM's one state
/// column, of the same type). Rows of one key that remain (a flush of the
/// operator's sums, or keys such as `UPPER(currency)` that merge some) are
/// added by the final aggregate, as it adds the partitions' states. `None`
/// when `agg` is not such an aggregate.
fn partial_states(
    agg: &AggregateExec,
    presummed: &Arc<dyn ExecutionPlan>,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if *agg.mode() != AggregateMode::Partial || agg.limit_options().is_some() {
        return Ok(None);
    }
    let input = presummed.schema();
    let mut columns: Vec<(Arc<dyn PhysicalExpr>, String)> = agg.group_expr().expr().to_vec();
    for aggregate in agg.aggr_expr() {
        let (states, args) = (aggregate.state_fields()?, aggregate.expressions());
        let ([state], [sum]) = (states.as_slice(), args.as_slice()) else {
            return Ok(None);
        };
        if sum.data_type(&input)? != *state.data_type() {
            return Ok(None);
        }
        columns.push((Arc::clone(sum), state.name().clone()));
    }
    let projection = ProjectionExec::try_new(columns, Arc::clone(presummed))?;
    // (The final aggregate reads the states by position and type.)
    let same_columns = projection.schema().fields().len() == agg.schema().fields().len()
        && projection
            .schema()
            .fields()
            .iter()
            .zip(agg.schema().fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    Ok(same_columns.then(|| Arc::new(projection) as Arc<dyn ExecutionPlan>))
}

/// DataFusion's map (hashbrown with foldhash): fast on the packed u64 keys.
type KeyMap = HashMap<u64, u32>;

/// Days per block of sums: an instrument's flows under one scenario fall in a
/// few blocks (a 30-year monthly mortgage in 22), so the map is probed once
/// per block rather than once per flow.
const BLOCK_DAYS: usize = 512;
const BLOCK_BITS: u32 = 15;
const GROUP_BITS: u32 = 24;
const SCENARIO_BITS: u32 = 16;
/// The scenario slot of blocks holding every scenario's sums of each day.
const ALL_SCENARIOS: u64 = (1 << SCENARIO_BITS) - 1;
/// Bytes of sums kept before they are emitted; beyond, they are flushed (memory stays bounded).
const MAX_BYTES: usize = 64 << 20;
/// f64 sums per 64-byte cache line.
const F64_PER_LINE: usize = 8;

/// One key group's sums over `BLOCK_DAYS` days under one scenario (slot 0:
/// shared by all; slot `ALL_SCENARIOS`: every scenario, side by side).
struct Block {
    /// `[day][summed column]`, or from `first` on `[day][scenario][summed
    /// column]`, each day `Presum::day_stride` long, for every scenario.
    sums: Vec<f64>,
    /// Where the days start in `sums`: the first 64-byte boundary of a
    /// side-by-side block, so a day's sums under every scenario (seven, padded
    /// to eight) sit in one cache line instead of straddling two; 0 otherwise.
    first: usize,
    /// Days that received a flow: a sum of zero is still a row, as in the plain plan.
    touched: [u64; BLOCK_DAYS / 64],
    /// Sums per day: the summed columns', or every scenario's padded (`Presum::day_stride`).
    day_len: usize,
    /// Flows held for this block, not yet added: each one's day in the block…
    held_days: Vec<u16>,
    /// …and its amounts (`summed.len()`, or that times the scenarios side by side).
    held_amounts: Vec<f64>,
}

impl Block {
    /// Adds the held flows in the order they came, so each day's sum is the
    /// one adding them one by one gives; one block's sums stay in the cache.
    fn apply_held(&mut self) {
        // Amounts per flow (every flow of a block holds as many).
        let entry = self.held_amounts.len() / self.held_days.len().max(1);
        for (i, &day) in self.held_days.iter().enumerate() {
            let day = day as usize;
            self.touched[day / 64] |= 1 << (day % 64);
            let at = self.first + day * self.day_len;
            // (No sum at all is possible: `GROUP BY scenario, pay_date` alone.)
            for (sum, amount) in self.sums[at..at + entry]
                .iter_mut()
                .zip(&self.held_amounts[i * entry..(i + 1) * entry])
            {
                *sum += amount;
            }
        }
        // Keep room for the next round, but not a burst's worth forever.
        let used = self.held_amounts.len();
        self.held_days.clear();
        self.held_amounts.clear();
        if self.held_amounts.capacity() > 2 * used + 1024 {
            self.held_amounts.shrink_to(2 * used);
            self.held_days.shrink_to(2 * used / entry.max(1));
        }
    }
}

/// The block at `at`, holding one more flow on `day`, for its amounts to follow.
fn hold<'b>(
    blocks: &'b mut [Block],
    holding: &mut Vec<u32>,
    at: usize,
    day: usize,
) -> &'b mut Block {
    let block = &mut blocks[at];
    if block.held_days.is_empty() {
        holding.push(at as u32);
    }
    block.held_days.push((day % BLOCK_DAYS) as u16);
    block
}

/// Running sums by (instrument key, scenario, pay_date).
pub(crate) struct Presum {
    as_of: i32,
    scenarios: usize,
    /// Positions in the output of the summed columns and what they sum.
    summed: Vec<(usize, Gen)>,
    /// Positions in the output of the instrument key columns, and their input columns.
    keys: Vec<(usize, usize)>,
    converter: Option<RowConverter>,
    groups: HashMap<Box<[u8]>, u32>,
    group_rows: Vec<OwnedRow>,
    /// Group of each row of the current instrument batch.
    pub row_groups: Vec<u32>,
    /// (group, block of days, scenario + 1 or 0 for every scenario) → index in `blocks`.
    index: KeyMap,
    blocks: Vec<Block>,
    /// The block the last flow went to: the next flow usually goes there too.
    last: Option<(u64, usize)>,
    /// Bytes held in `blocks`.
    bytes: usize,
    /// Sums per day in a side-by-side block: every scenario's, padded so that
    /// days do not straddle cache lines (7 → 8, 3 → 4, 12 → 16).
    day_stride: usize,
    /// Days and amounts held in the blocks, not yet added.
    held: usize,
    /// The blocks holding flows not yet added.
    holding: Vec<u32>,
    /// Sums of flows paid on shared schedule grids, per grid period (dated when emitted).
    on_grids: GridSumsSet,
}

/// Days and amounts held before they are added. Adding each flow as it comes
/// touches a new cache line of sums for almost every flow (a monthly flow
/// lands ~30 days past the previous one, and all blocks together outgrow the
/// L2 cache: the adds wait on memory); each block holds its flows instead,
/// and about a million amounts are added at once, block by block.
const MAX_HELD: usize = 1 << 20;

/// A row to emit: (group, scenario, day after as_of), its sums at `index * width` in a side vector.
type SumRow = (u32, u32, u32);

impl Presum {
    pub fn new(
        config: &CashflowsConfig,
        input_schema: &SchemaRef,
        scenarios: usize,
    ) -> Result<Self> {
        let summed_flags = config.presum.clone().unwrap_or_default();
        let mut summed = Vec::new();
        let mut keys = Vec::new();
        for (position, (col, &is_summed)) in config.columns.iter().zip(&summed_flags).enumerate() {
            match col {
                OutCol::Generated(g) if is_summed => summed.push((position, *g)),
                OutCol::Input(i) => keys.push((position, *i)),
                OutCol::Generated(_) => {}
            }
        }
        if scenarios + 1 >= ALL_SCENARIOS as usize {
            return Err(datafusion::error::DataFusionError::Plan(format!(
                "{scenarios} scenarios are more than summing inside cashflows() can key; \
                 SET almanac.presum = false"
            )));
        }
        let converter = if keys.is_empty() {
            None
        } else {
            let fields = keys
                .iter()
                .map(|(_, i)| SortField::new(input_schema.field(*i).data_type().clone()))
                .collect();
            Some(RowConverter::new(fields)?)
        };
        let day = scenarios * summed.len();
        let day_stride = if day <= F64_PER_LINE {
            day.next_power_of_two()
        } else {
            day.next_multiple_of(F64_PER_LINE)
        };
        Ok(Presum {
            as_of: config.as_of.0,
            scenarios,
            summed,
            keys,
            converter,
            groups: Default::default(),
            group_rows: Vec::new(),
            row_groups: Vec::new(),
            index: KeyMap::default(),
            blocks: Vec::new(),
            last: None,
            bytes: 0,
            day_stride,
            held: 0,
            holding: Vec::new(),
            on_grids: GridSumsSet::default(),
        })
    }

    /// Assigns each row of a new instrument batch its key group.
    pub fn start_batch(&mut self, batch: &RecordBatch) -> Result<()> {
        self.row_groups.clear();
        let Some(converter) = &self.converter else {
            self.row_groups.resize(batch.num_rows(), 0);
            return Ok(());
        };
        let columns: Vec<ArrayRef> = self
            .keys
            .iter()
            .map(|(_, i)| Arc::clone(batch.column(*i)))
            .collect();
        let rows = converter.convert_columns(&columns)?;
        for row in rows.iter() {
            // (Looked up by reference: a key is copied only when new.)
            let group = match self.groups.get(row.as_ref()) {
                Some(&group) => group,
                None => {
                    let group = self.group_rows.len() as u32;
                    self.groups.insert(row.as_ref().into(), group);
                    self.group_rows.push(row.owned());
                    group
                }
            };
            self.row_groups.push(group);
        }
        Ok(())
    }

    /// Too many sums to keep: emit what is summed and start over (checked between instruments).
    pub fn needs_flush(&self) -> bool {
        self.bytes >= MAX_BYTES
    }

    /// Too many key groups for the packed key (checked between instrument
    /// batches, since a batch's rows hold their group numbers).
    pub fn too_many_groups(&self) -> bool {
        self.group_rows.len() >= (1 << GROUP_BITS) - 1
    }

    /// Forgets the key groups; only after their sums were emitted.
    pub fn forget_groups(&mut self) {
        self.groups.clear();
        self.group_rows.clear();
    }

    /// Adds one instrument's flows under one scenario (0: the same under
    /// every scenario, else the scenario's position + 1): straight to the
    /// sums of their grid's periods when `window` says where they lie on
    /// one, else held to be added by date.
    pub fn add_flows(
        &mut self,
        group: u32,
        scenario: u64,
        flows: &[Flow],
        window: Option<GridWindow>,
    ) {
        let width = self.summed.len();
        let on_grid = window.and_then(|window| {
            self.on_grids
                .window(group, scenario, window, flows.len(), width, &mut self.bytes)
        });
        if let Some(sums) = on_grid {
            match self.summed.as_slice() {
                [(_, Gen::Total)] => {
                    for (sum, flow) in sums.iter_mut().zip(flows) {
                        *sum += flow.total();
                    }
                }
                summed => {
                    for (period, flow) in sums.chunks_exact_mut(width.max(1)).zip(flows) {
                        for (sum, (_, g)) in period.iter_mut().zip(summed) {
                            *sum += amount(*g, flow);
                        }
                    }
                }
            }
            return;
        }
        for flow in flows {
            let day = self.day(flow.pay_date);
            let at = self.block_of(group, scenario, day);
            let block = hold(&mut self.blocks, &mut self.holding, at, day);
            push_amounts(&self.summed, flow, &mut block.held_amounts);
        }
        self.held += flows.len() * (1 + self.summed.len());
    }

    /// The index in `blocks` of the block holding `day` for (group, scenario); made if new.
    fn block_of(&mut self, group: u32, scenario: u64, day: usize) -> usize {
        let key = (u64::from(group) << (BLOCK_BITS + SCENARIO_BITS))
            | (((day / BLOCK_DAYS) as u64) << SCENARIO_BITS)
            | scenario;
        if let Some((last_key, at)) = self.last {
            if last_key == key {
                return at;
            }
        }
        let next = self.blocks.len();
        let at = *self.index.entry(key).or_insert(next as u32) as usize;
        if at == next {
            let (sums, first) = if scenario == ALL_SCENARIOS {
                // Room to start on a line boundary (the heap buffer never moves).
                let sums = vec![0.0; BLOCK_DAYS * self.day_stride + F64_PER_LINE - 1];
                let misaligned = (sums.as_ptr() as usize / 8) % F64_PER_LINE;
                (sums, (F64_PER_LINE - misaligned) % F64_PER_LINE)
            } else {
                (vec![0.0; BLOCK_DAYS * self.summed.len()], 0)
            };
            self.bytes += sums.len() * 8 + BLOCK_DAYS / 8;
            let day_len = if scenario == ALL_SCENARIOS {
                self.day_stride
            } else {
                self.summed.len()
            };
            self.blocks.push(Block {
                sums,
                first,
                touched: [0; BLOCK_DAYS / 64],
                day_len,
                held_days: Vec::new(),
                held_amounts: Vec::new(),
            });
        }
        self.last = Some((key, at));
        at
    }

    /// Whether only `total` is summed: then an instrument's flows can be
    /// added as their totals alone ([`Presum::add_totals`]).
    pub fn sums_totals_only(&self) -> bool {
        matches!(self.summed.as_slice(), [(_, Gen::Total)])
    }

    /// The sums of (group, `lanes` = 1: every scenario, or one per scenario)
    /// over `window`'s next `n` periods, where an instrument's flow totals on
    /// them are added (only when [`Presum::sums_totals_only`]), laid out as
    /// [`Presum::add_totals`] takes them; `None` if the grid cannot hold them.
    pub fn grid_totals(
        &mut self,
        group: u32,
        lanes: usize,
        window: GridWindow,
        n: usize,
    ) -> Option<&mut [f64]> {
        debug_assert!(lanes == 1 || lanes == self.scenarios);
        let slot = totals_slot(lanes);
        self.on_grids
            .window(group, slot, window, n, lanes, &mut self.bytes)
    }

    /// Adds one instrument's flow totals (only when [`Presum::sums_totals_only`]):
    /// `lanes` = 1, the same under every scenario (slot 0), or one per
    /// scenario side by side (`totals[j · lanes + s]`), paid on `pay_dates`
    /// or, if `window` places them, on its grid's periods.
    pub fn add_totals(
        &mut self,
        group: u32,
        totals: &[f64],
        lanes: usize,
        window: Option<GridWindow>,
        pay_dates: impl ExactSizeIterator<Item = Date>,
    ) {
        let n = pay_dates.len();
        if let Some(sums) = window.and_then(|window| self.grid_totals(group, lanes, window, n)) {
            for (sum, total) in sums.iter_mut().zip(totals) {
                *sum += total;
            }
            return;
        }
        let slot = totals_slot(lanes);
        for (j, date) in pay_dates.enumerate() {
            let day = self.day(date);
            let at = self.block_of(group, slot, day);
            let block = hold(&mut self.blocks, &mut self.holding, at, day);
            block
                .held_amounts
                .extend_from_slice(&totals[j * lanes..(j + 1) * lanes]);
        }
        self.held += n * (1 + lanes);
    }

    /// Adds one instrument's flows under every scenario (`by_scenario[s]`).
    /// When they fall on the same days, as a floater's do, each day's amounts
    /// go side by side (to its grid's periods if `window` places them, else
    /// held for one block); else each scenario's flows are added as
    /// [`Presum::add_flows`] adds them.
    pub fn add_scenarios(
        &mut self,
        group: u32,
        by_scenario: &[Vec<Flow>],
        window: Option<GridWindow>,
    ) {
        let Some(first) = by_scenario.first() else {
            return;
        };
        // Flows projected on one grid window are its periods in order: equal
        // lengths are the same days. Else compare the days.
        let same_days = by_scenario.windows(2).all(|pair| {
            pair[0].len() == pair[1].len()
                && (window.is_some()
                    || pair[0]
                        .iter()
                        .zip(&pair[1])
                        .all(|(a, b)| a.pay_date == b.pay_date))
        });
        if !same_days || by_scenario.len() != self.scenarios {
            for (s, flows) in by_scenario.iter().enumerate() {
                self.add_flows(group, s as u64 + 1, flows, window);
            }
            return;
        }
        let width = self.summed.len();
        let day_width = self.scenarios * width;
        let on_grid = window.and_then(|window| {
            self.on_grids.window(
                group,
                ALL_SCENARIOS,
                window,
                first.len(),
                day_width,
                &mut self.bytes,
            )
        });
        if let Some(sums) = on_grid {
            for (j, day) in sums.chunks_exact_mut(day_width.max(1)).enumerate() {
                match self.summed.as_slice() {
                    [(_, Gen::Total)] => {
                        for (sum, flows) in day.iter_mut().zip(by_scenario) {
                            *sum += flows[j].total();
                        }
                    }
                    summed => {
                        for (scenario, flows) in day.chunks_exact_mut(width.max(1)).zip(by_scenario)
                        {
                            for (sum, (_, g)) in scenario.iter_mut().zip(summed) {
                                *sum += amount(*g, &flows[j]);
                            }
                        }
                    }
                }
            }
            return;
        }
        for (j, flow) in first.iter().enumerate() {
            let day = self.day(flow.pay_date);
            let at = self.block_of(group, ALL_SCENARIOS, day);
            let block = hold(&mut self.blocks, &mut self.holding, at, day);
            for flows in by_scenario {
                push_amounts(&self.summed, &flows[j], &mut block.held_amounts);
            }
        }
        self.held += first.len() * (1 + by_scenario.len() * self.summed.len());
    }

    /// Moves the sums kept per grid period to the blocks of their pay dates
    /// (`pay_date(grid, period)`), held there to be added.
    fn date_grid_sums(&mut self, pay_date: &dyn Fn(u32, usize) -> Option<Date>) -> Result<()> {
        for grid in self.on_grids.take() {
            for (period, amounts) in grid.received() {
                let date = pay_date(grid.grid, period).ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal(format!(
                        "cashflows(): no period {period} on schedule grid {}",
                        grid.grid
                    ))
                })?;
                let day = self.day(date);
                let at = self.block_of(grid.group, grid.slot, day);
                let block = hold(&mut self.blocks, &mut self.holding, at, day);
                block.held_amounts.extend_from_slice(amounts);
            }
        }
        Ok(())
    }

    /// Days from as_of to `pay_date`, within the packed key's range.
    fn day(&self, pay_date: almanac_core::Date) -> usize {
        (pay_date.0 - self.as_of).clamp(0, (BLOCK_DAYS << BLOCK_BITS) as i32 - 1) as usize
    }

    /// Between instruments: adds the held flows once there are enough of them.
    pub fn settle(&mut self) {
        if self.held >= MAX_HELD {
            self.apply_held();
        }
    }

    /// Adds every block's held flows to its sums.
    fn apply_held(&mut self) {
        for &at in &self.holding {
            self.blocks[at as usize].apply_held();
        }
        self.holding.clear();
        self.held = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty() && self.on_grids.is_empty()
    }

    /// Emits every sum as rows of `schema` (shared sums added to each
    /// scenario), and empties. `pay_date` dates the periods of the grids
    /// the flows were summed on (the projector's).
    pub fn drain(
        &mut self,
        config: &CashflowsConfig,
        scenario_names: &[String],
        batch_size: usize,
        pay_date: &dyn Fn(u32, usize) -> Option<Date>,
    ) -> Result<Vec<RecordBatch>> {
        self.date_grid_sums(pay_date)?;
        self.apply_held();
        let width = self.summed.len();
        let mut entries: Vec<(u64, u32)> = self.index.drain().collect();
        // By group, then block of days, then scenario slot: shared first, every-scenario last.
        entries.sort_unstable();
        let mut rows: Vec<SumRow> = Vec::new();
        let mut values: Vec<f64> = Vec::new();
        let mut own: Vec<Option<&Block>> = vec![None; self.scenarios];
        let mut start = 0;
        while start < entries.len() {
            let run_key = entries[start].0 >> SCENARIO_BITS;
            let end = entries[start..]
                .iter()
                .position(|(k, _)| k >> SCENARIO_BITS != run_key)
                .map_or(entries.len(), |n| start + n);
            let group = (run_key >> BLOCK_BITS) as u32;
            let first_day = (run_key & ((1 << BLOCK_BITS) - 1)) as usize * BLOCK_DAYS;
            own.iter_mut().for_each(|b| *b = None);
            let (mut shared, mut all) = (None, None);
            for &(key, at) in &entries[start..end] {
                let block = &self.blocks[at as usize];
                match key & ((1 << SCENARIO_BITS) - 1) {
                    0 => shared = Some(block),
                    ALL_SCENARIOS => all = Some(block),
                    s => own[s as usize - 1] = Some(block),
                }
            }
            let stride = self.day_stride;
            for (s, own) in own.iter().enumerate() {
                let blocks = [shared, *own];
                for word in 0..BLOCK_DAYS / 64 {
                    let mut bits = blocks
                        .iter()
                        .chain([&all])
                        .flatten()
                        .fold(0, |acc, b| acc | b.touched[word]);
                    while bits != 0 {
                        let offset = word * 64 + bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        rows.push((group, s as u32, (first_day + offset) as u32));
                        for k in 0..width {
                            let sum: f64 = blocks
                                .iter()
                                .flatten()
                                .map(|b| b.sums[offset * width + k])
                                .sum();
                            let side_by_side = all
                                .map_or(0.0, |b| b.sums[b.first + offset * stride + s * width + k]);
                            values.push(sum + side_by_side);
                        }
                    }
                }
            }
            start = end;
        }
        drop(own);
        self.blocks.clear();
        self.bytes = 0;
        self.last = None;
        let mut batches = Vec::new();
        let step = batch_size.max(1);
        for first in (0..rows.len()).step_by(step) {
            let last = (first + step).min(rows.len());
            batches.push(self.batch(
                &rows[first..last],
                &values[first * width..last * width],
                config,
                scenario_names,
            )?);
        }
        Ok(batches)
    }

    fn batch(
        &self,
        chunk: &[SumRow],
        values: &[f64],
        config: &CashflowsConfig,
        scenario_names: &[String],
    ) -> Result<RecordBatch> {
        let width = self.summed.len();
        let key_arrays = match &self.converter {
            Some(converter) => converter.convert_rows(
                chunk
                    .iter()
                    .map(|(g, _, _)| self.group_rows[*g as usize].row()),
            )?,
            None => Vec::new(),
        };
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(config.columns.len());
        for (position, col) in config.columns.iter().enumerate() {
            let array: ArrayRef = match col {
                OutCol::Input(_) => {
                    let k = self
                        .keys
                        .iter()
                        .position(|(p, _)| *p == position)
                        .unwrap_or(0);
                    Arc::clone(&key_arrays[k])
                }
                OutCol::Generated(Gen::Scenario) => {
                    let mut b = StringBuilder::with_capacity(chunk.len(), chunk.len() * 12);
                    for (_, s, _) in chunk {
                        b.append_value(&scenario_names[*s as usize]);
                    }
                    Arc::new(b.finish())
                }
                OutCol::Generated(Gen::PayDate) => Arc::new(Date32Array::from_iter_values(
                    chunk.iter().map(|(_, _, day)| self.as_of + *day as i32),
                )),
                OutCol::Generated(_) => {
                    let k = self
                        .summed
                        .iter()
                        .position(|(p, _)| *p == position)
                        .unwrap_or(0);
                    Arc::new(Float64Array::from_iter_values(
                        values.iter().skip(k).step_by(width.max(1)).copied(),
                    ))
                }
            };
            arrays.push(array);
        }
        Ok(RecordBatch::try_new(config.schema.clone(), arrays)?)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use almanac_core::Date;

    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Schema};

    use super::*;

    /// `SELECT scenario, pay_date, SUM(total) … GROUP BY 1, 2` over two scenarios.
    fn config() -> CashflowsConfig {
        let schema = Arc::new(Schema::new(vec![
            Field::new("scenario", DataType::Utf8, false),
            Field::new("pay_date", DataType::Date32, false),
            Field::new("total", DataType::Float64, false),
        ]));
        CashflowsConfig {
            mode: Mode::Flows,
            as_of: Date(20_000),
            lenient: false,
            columns: vec![
                OutCol::Generated(Gen::Scenario),
                OutCol::Generated(Gen::PayDate),
                OutCol::Generated(Gen::Total),
            ],
            schema,
            batch_size: 8192,
            horizon_months: 0,
            presum: Some(vec![false, false, true]),
        }
    }

    fn flow(day: i32, principal: f64) -> Flow {
        Flow {
            pay_date: Date(20_000 + day),
            accrual_start: Date(20_000),
            accrual_end: Date(20_000 + day),
            balance: 0.0,
            rate: 0.0,
            interest: 0.0,
            principal,
            prepayment: 0.0,
        }
    }

    fn no_grids(_: u32, _: usize) -> Option<Date> {
        None
    }

    /// (scenario, day) → sum, from the emitted rows.
    fn emitted(presum: &mut Presum, config: &CashflowsConfig) -> BTreeMap<(String, i32), f64> {
        emitted_with(presum, config, &no_grids)
    }

    fn emitted_with(
        presum: &mut Presum,
        config: &CashflowsConfig,
        pay_date: &dyn Fn(u32, usize) -> Option<Date>,
    ) -> BTreeMap<(String, i32), f64> {
        let names = ["base".to_string(), "up".to_string()];
        let mut out = BTreeMap::new();
        for batch in presum.drain(config, &names, 1000, pay_date).expect("drain") {
            let scenario = batch.column(0).as_string::<i32>();
            let day = batch.column(1).as_primitive::<Date32Type>();
            let total = batch
                .column(2)
                .as_primitive::<datafusion::arrow::datatypes::Float64Type>();
            for r in 0..batch.num_rows() {
                let key = (scenario.value(r).to_string(), day.value(r) - 20_000);
                assert!(
                    out.insert(key, total.value(r)).is_none(),
                    "a key emitted twice"
                );
            }
            assert_eq!(scenario.null_count(), 0);
        }
        out
    }

    #[test]
    fn held_flows_sum_exactly_as_adding_them_one_by_one() {
        let config = config();
        let schema = Arc::new(Schema::empty());
        let mut presum = Presum::new(&config, &schema, 2).expect("presum");
        // More flows than are held at once, over several blocks, days repeating,
        // amounts of very different sizes so the order of additions shows.
        let mut expected: BTreeMap<(String, i32), f64> = BTreeMap::new();
        let mut seed = 7u64;
        let mut added = 0;
        while added < 3 * MAX_HELD / 2 {
            let mut flows = Vec::new();
            for _ in 0..300 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let day = ((seed >> 33) % 4000) as i32;
                let amount = ((seed >> 11) % 1_000_000) as f64 * 10f64.powi((seed % 13) as i32 - 6);
                flows.push(flow(day, amount));
            }
            let scenario = (seed >> 5) % 3; // 0: shared by both scenarios
            presum.add_flows(0, scenario, &flows, None);
            presum.settle();
            added += flows.len();
            // One by one, in arrival order; the shared sums are added to each
            // scenario's own when emitted, as `drain` does.
            for f in &flows {
                let names: &[&str] = match scenario {
                    0 => &["shared"],
                    1 => &["base"],
                    _ => &["up"],
                };
                for name in names {
                    *expected
                        .entry((name.to_string(), f.pay_date.0 - 20_000))
                        .or_insert(0.0) += f.total();
                }
            }
        }
        let mut want = BTreeMap::new();
        for scenario in ["base", "up"] {
            let days: std::collections::BTreeSet<i32> = expected
                .keys()
                .filter(|(s, _)| s == "shared" || s == scenario)
                .map(|(_, d)| *d)
                .collect();
            for day in days {
                let shared = expected.get(&("shared".to_string(), day));
                let own = expected.get(&(scenario.to_string(), day));
                let sum: f64 = [shared, own].into_iter().flatten().sum();
                want.insert((scenario.to_string(), day), sum);
            }
        }
        let got = emitted(&mut presum, &config);
        assert_eq!(got.len(), want.len());
        for (key, value) in &want {
            assert_eq!(got[key].to_bits(), value.to_bits(), "{key:?}");
        }
    }

    #[test]
    fn every_scenario_side_by_side_sums_as_each_scenario_alone() {
        let config = config();
        let schema = Arc::new(Schema::empty());
        let mut presum = Presum::new(&config, &schema, 2).expect("presum");
        // A floater: the same days under both scenarios (side by side).
        let floater = vec![
            vec![flow(30, 10.0), flow(600, 20.0)],
            vec![flow(30, 11.0), flow(600, 22.0)],
        ];
        presum.add_scenarios(0, &floater, None);
        // Days that differ by scenario: each scenario's own blocks.
        let uneven = vec![vec![flow(30, 1.0)], vec![flow(31, 2.0), flow(600, 3.0)]];
        presum.add_scenarios(0, &uneven, None);
        // The same under both, added once.
        presum.add_flows(0, 0, &[flow(600, 100.0), flow(900, 5.0)], None);
        presum.add_scenarios(0, &floater, None);
        let got = emitted(&mut presum, &config);
        let want: BTreeMap<(String, i32), f64> = [
            (("base".to_string(), 30), 10.0 + 1.0 + 10.0),
            (("base".to_string(), 600), 100.0 + 20.0 + 20.0),
            (("base".to_string(), 900), 5.0),
            (("up".to_string(), 30), 11.0 + 11.0),
            (("up".to_string(), 31), 2.0),
            (("up".to_string(), 600), 100.0 + 3.0 + 22.0 + 22.0),
            (("up".to_string(), 900), 5.0),
        ]
        .into();
        assert_eq!(got, want);
        assert!(presum.is_empty());
    }

    /// Two made-up grids: grid 0 pays every 30 days from day 30, grid 1
    /// every 60 days from day 30, so some of their periods share a pay date.
    fn grid_day(grid: u32, i: usize) -> i32 {
        match grid {
            0 => 30 * (i as i32 + 1),
            _ => 30 + 60 * i as i32,
        }
    }

    fn on_grid(grid: u32, first: usize, amounts: &[f64]) -> (Vec<Flow>, Option<GridWindow>) {
        let flows = amounts
            .iter()
            .enumerate()
            .map(|(j, &a)| flow(grid_day(grid, first + j), a))
            .collect();
        (flows, Some(GridWindow { grid, first }))
    }

    #[test]
    fn sums_kept_per_grid_period_equal_sums_by_pay_date() {
        let config = config();
        let schema = Arc::new(Schema::empty());
        let pay_date = |grid: u32, i: usize| Some(Date(20_000 + grid_day(grid, i)));
        // The same flows, placed on their grids, and not.
        let mut on = Presum::new(&config, &schema, 2).expect("presum");
        let mut off = Presum::new(&config, &schema, 2).expect("presum");
        // Whole numbers: the order of additions cannot change a sum.
        let shared = [
            (0, 2, vec![1.0, 2.0, 0.0]),
            (1, 0, vec![5.0, 7.0]),
            (0, 3, vec![4.0]),
            (0, 5, vec![0.0]),
        ];
        for (grid, first, amounts) in &shared {
            let (flows, window) = on_grid(*grid, *first, amounts);
            on.add_flows(0, 0, &flows, window);
            off.add_flows(0, 0, &flows, None);
        }
        // A floater on grid 1 (side by side), and one scenario's own flows on grid 0.
        let (base, window) = on_grid(1, 1, &[10.0, 20.0, 30.0]);
        let (up, _) = on_grid(1, 1, &[11.0, 21.0, 31.0]);
        on.add_scenarios(0, &[base.clone(), up.clone()], window);
        off.add_scenarios(0, &[base, up], None);
        let (own, window) = on_grid(0, 0, &[100.0, 200.0]);
        on.add_flows(0, 2, &own, window);
        off.add_flows(0, 2, &own, None);
        let got = emitted_with(&mut on, &config, &pay_date);
        let want = emitted(&mut off, &config);
        assert_eq!(got, want);
        // Hand-worked: day 90 is grid 0's period 2 and grid 1's period 1.
        assert_eq!(got[&("base".to_string(), 90)], 1.0 + 7.0 + 10.0);
        assert_eq!(got[&("up".to_string(), 30)], 5.0 + 100.0);
        assert_eq!(got[&("up".to_string(), 120)], 2.0 + 4.0);
        // A zero sum on a day that received a flow is still a row.
        assert_eq!(got[&("base".to_string(), 180)], 0.0);
        assert_eq!(got.len(), 2 * 6 + 1, "{got:?}");
        assert!(on.is_empty());
    }

    /// Totals alone (the EVE path) sum as whole flows do, on grids or by date.
    #[test]
    fn totals_sum_as_flows() {
        let config = config();
        let schema = Arc::new(Schema::empty());
        let pay_date = |grid: u32, i: usize| Some(Date(20_000 + grid_day(grid, i)));
        let mut by_flows = Presum::new(&config, &schema, 2).expect("presum");
        let mut by_totals = Presum::new(&config, &schema, 2).expect("presum");
        let mut on_grids = Presum::new(&config, &schema, 2).expect("presum");
        assert!(by_totals.sums_totals_only());
        // A fixed-rate instrument (the same under both scenarios)…
        let (fixed, window) = on_grid(0, 1, &[3.0, 4.0, 0.0]);
        by_flows.add_flows(0, 0, &fixed, None);
        let totals: Vec<f64> = fixed.iter().map(Flow::total).collect();
        let dates = || fixed.iter().map(|f| f.pay_date);
        by_totals.add_totals(0, &totals, 1, None, dates());
        on_grids.add_totals(0, &totals, 1, window, dates());
        // …and a floater, its two scenarios' totals side by side.
        let (base, window) = on_grid(1, 0, &[10.0, 20.0]);
        let (up, _) = on_grid(1, 0, &[11.0, 21.0]);
        let side_by_side = [10.0, 11.0, 20.0, 21.0];
        let dates = || base.iter().map(|f| f.pay_date);
        by_totals.add_totals(0, &side_by_side, 2, None, dates());
        on_grids.add_totals(0, &side_by_side, 2, window, dates());
        by_flows.add_scenarios(0, &[base.clone(), up], None);
        let want = emitted(&mut by_flows, &config);
        assert_eq!(emitted(&mut by_totals, &config), want);
        assert_eq!(emitted_with(&mut on_grids, &config, &pay_date), want);
        // Day 90: grid 0's period 2 (4) and the floater's second (20, 21).
        assert_eq!(want[&("base".to_string(), 90)], 24.0);
        assert_eq!(want[&("up".to_string(), 90)], 25.0);
        assert_eq!(want[&("up".to_string(), 30)], 11.0);
        assert_eq!(want[&("up".to_string(), 120)], 0.0);
        assert_eq!(want.len(), 2 * 4);
    }
}
