//! The streaming heart of `cashflows()`: instrument batches in, cash-flow
//! batches out, a bounded number of rows at a time so memory stays flat.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use almanac_core::nii::{horizon_end, nii_months, NiiMonth, Reinvestment};
use almanac_core::repricing::{repricing_events, Reprice};
use almanac_core::{Date, Error as CoreError, Flow, Instrument, Projector, ScenarioCurve};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use futures::{Stream, StreamExt};

use super::output::{FlowBuffer, OutCol};
use super::presum::Presum;
use crate::instruments::{InstrumentBatch, ValidRow};
use crate::market::Market;

/// What the stream emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Mode {
    /// Cash flows (`cashflows()`).
    Flows,
    /// Repricing amounts under the base scenario (`repricing()`).
    Repricing,
    /// Monthly net interest income under each scenario (`nii_projection()`).
    Nii,
    /// One row per instrument that breaks the contract (`instrument_errors()`).
    Errors,
}

/// Settings fixed at planning time.
#[derive(Debug)]
pub(crate) struct CashflowsConfig {
    pub mode: Mode,
    pub as_of: almanac_core::Date,
    pub lenient: bool,
    pub columns: Vec<OutCol>,
    pub schema: SchemaRef,
    pub batch_size: usize,
    /// Months of `nii_projection()`; 0 for the other functions.
    pub horizon_months: u32,
    /// Set by the presum rule: which output columns are summed inside the operator.
    pub presum: Option<Vec<bool>>,
}

pub(crate) struct CashflowStream {
    input: SendableRecordBatchStream,
    market: Arc<Market>,
    config: Arc<CashflowsConfig>,
    scenario_names: Vec<String>,
    current: Option<(RecordBatch, InstrumentBatch)>,
    next_row: usize,
    buffer: FlowBuffer,
    /// Scratch space for one instrument under one scenario.
    flows: Vec<Flow>,
    /// Scratch space for one instrument under each scenario (summing only).
    scenario_flows: Vec<Vec<Flow>>,
    /// Scratch space for one instrument's flow totals (summing `total` only).
    totals: Vec<f64>,
    /// Scratch space for one instrument's repricing amounts.
    reprices: Vec<Reprice>,
    /// Scratch space for one instrument's months of earnings.
    months: Vec<NiiMonth>,
    /// Sums by key, when the presum rule applies.
    presum: Option<Presum>,
    /// Batches ready to emit (from the sums).
    pending: VecDeque<RecordBatch>,
    /// The order the current batch's rows are summed in (see
    /// [`InstrumentBatch::locality_order`]).
    order: Vec<u32>,
    /// The current batch's rows, validated in row order (summing only).
    validated: Vec<Result<ValidRow, CoreError>>,
    /// One projector for the stream: its schedule grids are built once, and
    /// the sums kept per grid period are dated with them.
    projector: Projector,
}

impl CashflowStream {
    pub fn new(
        input: SendableRecordBatchStream,
        market: Arc<Market>,
        config: Arc<CashflowsConfig>,
    ) -> Result<Self> {
        let scenario_names = market.scenarios.iter().map(|s| s.name.clone()).collect();
        let projector = Projector::new(config.as_of, &market.calendar);
        let presum = match config.presum {
            Some(_) => Some(Presum::new(
                &config,
                &input.schema(),
                market.scenarios.len(),
            )?),
            None => None,
        };
        Ok(CashflowStream {
            input,
            market,
            config,
            scenario_names,
            current: None,
            next_row: 0,
            buffer: FlowBuffer::default(),
            flows: Vec::with_capacity(512),
            scenario_flows: Vec::new(),
            totals: Vec::with_capacity(4096),
            reprices: Vec::with_capacity(512),
            months: Vec::with_capacity(128),
            presum,
            pending: VecDeque::new(),
            order: Vec::new(),
            validated: Vec::new(),
            projector,
        })
    }

    /// Expands rows of the current batch until the output is full or the batch
    /// is done; returns the output batch if there is one to emit.
    fn expand_current(&mut self) -> Result<Option<RecordBatch>> {
        if self.presum.is_some() {
            return self.sum_current();
        }
        let Some((batch, instruments)) = &self.current else {
            return Ok(None);
        };
        let market = &self.market;
        let projector = &mut self.projector;
        while self.next_row < batch.num_rows() && self.buffer.len() < self.config.batch_size {
            let row = self.next_row;
            self.next_row += 1;
            let before = self.buffer.len();
            let result = match self.config.mode {
                Mode::Nii => nii_row(
                    instruments,
                    row,
                    market,
                    projector,
                    &mut self.flows,
                    &mut self.months,
                    self.config.horizon_months,
                    &mut self.buffer,
                ),
                Mode::Repricing => reprice_row(
                    instruments,
                    row,
                    market,
                    projector,
                    &mut self.flows,
                    &mut self.reprices,
                    &mut self.buffer,
                ),
                _ => expand_row(
                    instruments,
                    row,
                    market,
                    projector,
                    &mut self.flows,
                    &mut self.buffer,
                ),
            };
            match (result, self.config.mode) {
                (Ok(()), Mode::Flows | Mode::Repricing | Mode::Nii) => {}
                // instrument_errors() lists bad rows only; a good row's flows are dropped.
                (Ok(()), Mode::Errors) => self.buffer.truncate(before),
                (Err(e), Mode::Errors) => {
                    self.buffer.truncate(before);
                    self.buffer.push_error(row, e);
                }
                (Err(_), Mode::Flows | Mode::Repricing | Mode::Nii) if self.config.lenient => {
                    self.buffer.truncate(before)
                }
                (Err(e), Mode::Flows | Mode::Repricing | Mode::Nii) => {
                    return Err(contract_violation(e))
                }
            }
        }
        let batch_done = self.next_row >= batch.num_rows();
        let out = if self.buffer.len() >= self.config.batch_size
            || (batch_done && self.buffer.len() > 0)
        {
            Some(self.buffer.finish(
                batch,
                &self.config.columns,
                &self.config.schema,
                &self.scenario_names,
            )?)
        } else {
            None
        };
        if batch_done {
            self.current = None;
        }
        Ok(out)
    }
}

impl CashflowStream {
    /// Adds the flows of the rows of the current batch to the sums; emits
    /// only when the sums must be flushed to bound memory.
    fn sum_current(&mut self) -> Result<Option<RecordBatch>> {
        let (Some((batch, instruments)), Some(presum)) = (&self.current, self.presum.as_mut())
        else {
            return Ok(None);
        };
        let market = &self.market;
        let projector = &mut self.projector;
        while self.next_row < batch.num_rows() && !presum.needs_flush() {
            let row = self
                .order
                .get(self.next_row)
                .map_or(self.next_row, |&r| r as usize);
            self.next_row += 1;
            // (Every row was validated at the batch's start; validated here
            // should that ever not hold, rather than index out of bounds.)
            let fresh;
            let valid = match self.validated.get(row) {
                Some(valid) => valid,
                None => {
                    fresh = instruments.validate(row, market);
                    &fresh
                }
            };
            let summed = match valid {
                Ok(valid) => sum_row(
                    (instruments.id(row), valid),
                    row,
                    market,
                    projector,
                    (&mut self.flows, &mut self.scenario_flows, &mut self.totals),
                    presum,
                ),
                Err(e) => Err(e.clone()),
            };
            match summed {
                Ok(()) => {}
                Err(_) if self.config.lenient => {}
                Err(e) => {
                    self.current = None;
                    return Err(contract_violation(e));
                }
            }
        }
        let batch_done = self.next_row >= batch.num_rows();
        if batch_done {
            self.current = None;
        }
        let forget_groups = batch_done && presum.too_many_groups();
        if presum.needs_flush() || forget_groups {
            let batches = emit_sums(presum, &self.config, &self.scenario_names, projector)?;
            self.pending.extend(batches);
        }
        if forget_groups {
            presum.forget_groups();
        }
        Ok(self.pending.pop_front())
    }

    /// At the end of the input: the remaining sums.
    fn drain_sums(&mut self) -> Result<()> {
        if let Some(presum) = self.presum.as_mut().filter(|p| !p.is_empty()) {
            let batches = emit_sums(presum, &self.config, &self.scenario_names, &self.projector)?;
            self.pending.extend(batches);
        }
        Ok(())
    }
}

/// Every sum held, as batches; the projector dates the grid periods' sums.
fn emit_sums(
    presum: &mut Presum,
    config: &CashflowsConfig,
    scenario_names: &[String],
    projector: &Projector,
) -> Result<Vec<RecordBatch>> {
    presum.drain(config, scenario_names, config.batch_size, &|grid, i| {
        projector.grid_pay_date(grid, i)
    })
}

/// Adds the flows of one validated instrument row to the sums: once for
/// every scenario when they cannot differ, else under each scenario (all or
/// none: a failure under one scenario adds nothing).
fn sum_row(
    (id, valid): (&str, &ValidRow),
    row: usize,
    market: &Market,
    projector: &mut Projector,
    (flows, by_scenario, totals): (&mut Vec<Flow>, &mut Vec<Vec<Flow>>, &mut Vec<f64>),
    presum: &mut Presum,
) -> Result<(), CoreError> {
    let group = presum.row_groups.get(row).copied().unwrap_or(0);
    let first = market.cpr_multiplier.first().copied().unwrap_or(1.0);
    let same_runoff = valid.instrument.prepayment_rate == 0.0
        || market.cpr_multiplier.iter().all(|&m| m == first);
    let shared = valid.index_curve.is_none() && same_runoff;
    if presum.sums_totals_only() && same_runoff {
        // Totals alone, every scenario in one pass (a floater) or once (the rest).
        let inst = under_scenario(&valid.instrument, first);
        let index_by_scenario: Vec<Option<&ScenarioCurve>>;
        let indexes = match valid.index_curve {
            Some(c) => {
                index_by_scenario = market.shocked.iter().map(|all| all.get(c)).collect();
                (&index_by_scenario[..], market.lane_factors(c))
            }
            // (Most rows: no allocation.)
            None => (&[None][..], None),
        };
        // Added to their grid's sums as they are projected, else after.
        let lanes = indexes.0.len();
        let sums = &mut *presum;
        let added = projector.add_totals_to(
            id,
            &inst,
            indexes,
            (totals, move |window, n| {
                sums.grid_totals(group, lanes, window, n)
            }),
        )?;
        if !added {
            let (window, pay_dates) = (projector.grid_window(), projector.pay_dates());
            presum.add_totals(group, totals, lanes, window, pay_dates);
        }
    } else if shared {
        let inst = under_scenario(&valid.instrument, first);
        flows.clear();
        projector.project(id, &inst, None, flows)?;
        presum.add_flows(group, 0, flows, projector.grid_window());
    } else {
        by_scenario.resize_with(market.scenarios.len(), Vec::new);
        let mut projected_cpr = None;
        for s in 0..market.scenarios.len() {
            let (inst, index) = scenario_view(valid, s, market);
            let (before, rest) = by_scenario.split_at_mut(s);
            let out = &mut rest[0];
            out.clear();
            match before.last() {
                // A fixed-rate instrument whose run-off rate did not change: the same flows.
                Some(previous)
                    if index.is_none() && projected_cpr == Some(inst.prepayment_rate) =>
                {
                    out.extend_from_slice(previous)
                }
                _ => projector.project(id, &inst, index, out)?,
            }
            projected_cpr = Some(inst.prepayment_rate);
        }
        // Every scenario's flows were projected on the same schedule.
        presum.add_scenarios(group, by_scenario, projector.grid_window());
    }
    presum.settle();
    Ok(())
}

/// Validates one instrument row and appends its flows under every scenario.
/// Fixed-rate flows are computed once and repeated for each scenario.
fn expand_row(
    instruments: &InstrumentBatch,
    row: usize,
    market: &Market,
    projector: &mut Projector,
    flows: &mut Vec<Flow>,
    buffer: &mut FlowBuffer,
) -> Result<(), CoreError> {
    let valid = instruments.validate(row, market)?;
    let mut projected_cpr = None;
    for s in 0..market.scenarios.len() {
        project_under(
            (instruments.id(row), &valid),
            s,
            market,
            projector,
            EVERY_FLOW,
            flows,
            &mut projected_cpr,
        )?;
        buffer.push_all(row, s, flows);
    }
    Ok(())
}

/// `project_under`'s `until` for every flow of an instrument's life.
const EVERY_FLOW: Date = Date(i32::MAX);

/// Projects `valid` under scenario `s` into `flows` (those accruing from
/// before `until`), unless they already hold its flows: a fixed-rate
/// instrument depends on the scenario only through its run-off multiplier, so
/// it is projected again only when that changes. Returns the instrument and
/// index curve as the scenario sees them.
fn project_under<'a>(
    (id, valid): (&str, &'a ValidRow),
    s: usize,
    market: &'a Market,
    projector: &mut Projector,
    until: Date,
    flows: &mut Vec<Flow>,
    projected_cpr: &mut Option<f64>,
) -> Result<(Cow<'a, Instrument>, Option<&'a ScenarioCurve>), CoreError> {
    let (inst, index) = scenario_view(valid, s, market);
    if index.is_some() || *projected_cpr != Some(inst.prepayment_rate) {
        flows.clear();
        projector.project_until(id, &inst, index, until, flows)?;
        *projected_cpr = Some(inst.prepayment_rate);
    }
    Ok((inst, index))
}

/// The instrument under scenario `s` and, for a floater, its index curve there.
fn scenario_view<'a>(
    valid: &'a ValidRow,
    s: usize,
    market: &'a Market,
) -> (Cow<'a, Instrument>, Option<&'a ScenarioCurve>) {
    let inst = under_scenario(&valid.instrument, market.cpr_multiplier[s]);
    (inst, valid.index_curve.map(|c| &market.shocked[s][c]))
}

/// The instrument as a scenario sees it: its prepayment / run-off rate scaled
/// by the scenario's behavioural multiplier (1 unless the setting is on).
fn under_scenario(inst: &Instrument, multiplier: f64) -> Cow<'_, Instrument> {
    if multiplier == 1.0 || inst.prepayment_rate == 0.0 {
        Cow::Borrowed(inst)
    } else {
        Cow::Owned(Instrument {
            prepayment_rate: (inst.prepayment_rate * multiplier).min(1.0),
            ..inst.clone()
        })
    }
}

/// Validates one instrument row and appends its repricing amounts, from its
/// flows under the first scenario (`repricing()` plans `base` only).
fn reprice_row(
    instruments: &InstrumentBatch,
    row: usize,
    market: &Market,
    projector: &mut Projector,
    flows: &mut Vec<Flow>,
    reprices: &mut Vec<Reprice>,
    buffer: &mut FlowBuffer,
) -> Result<(), CoreError> {
    let valid = instruments.validate(row, market)?;
    let index = valid.index_curve.map(|c| &market.shocked[0][c]);
    flows.clear();
    projector.project(instruments.id(row), &valid.instrument, index, flows)?;
    reprices.clear();
    repricing_events(&valid.instrument, flows, projector.as_of, reprices);
    buffer.push_reprices(row, reprices);
    Ok(())
}

/// Validates one instrument row and appends its months of NII under every
/// scenario. A fixed-rate instrument's own flows are projected once; its
/// replacement rate still differs by scenario.
#[allow(clippy::too_many_arguments)]
fn nii_row(
    instruments: &InstrumentBatch,
    row: usize,
    market: &Market,
    projector: &mut Projector,
    flows: &mut Vec<Flow>,
    months: &mut Vec<NiiMonth>,
    horizon_months: u32,
    buffer: &mut FlowBuffer,
) -> Result<(), CoreError> {
    let valid = instruments.validate(row, market)?;
    let mut projected_cpr = None;
    // Nothing accruing from the horizon's end on earns in it.
    let until = horizon_end(projector.as_of, horizon_months);
    for s in 0..market.scenarios.len() {
        let (inst, index) = project_under(
            (instruments.id(row), &valid),
            s,
            market,
            projector,
            until,
            flows,
            &mut projected_cpr,
        )?;
        let reinvest = match (index, inst.maturity_date) {
            (_, None) => Reinvestment::Administered,
            (Some(curve), _) => Reinvestment::Floating { curve },
            (None, Some(_)) => Reinvestment::Fixed {
                curve: &market.shocked[s][valid.discount_curve],
            },
        };
        months.clear();
        nii_months(
            &inst,
            flows,
            projector.as_of,
            horizon_months,
            reinvest,
            months,
        );
        buffer.push_months(row, s, months);
    }
    Ok(())
}

fn contract_violation(e: CoreError) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

impl Stream for CashflowStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(batch) = self.pending.pop_front() {
                return Poll::Ready(Some(Ok(batch)));
            }
            if self.current.is_some() {
                match self.expand_current() {
                    Ok(Some(batch)) => return Poll::Ready(Some(Ok(batch))),
                    Ok(None) => continue,
                    Err(e) => {
                        self.current = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                }
            }
            match futures::ready!(self.input.poll_next_unpin(cx)) {
                Some(Ok(batch)) => match InstrumentBatch::new(&batch) {
                    Ok(instruments) => {
                        if let Some(presum) = self.presum.as_mut() {
                            if let Err(e) = presum.start_batch(&batch) {
                                return Poll::Ready(Some(Err(e)));
                            }
                            let this = &mut *self;
                            instruments.locality_order(batch.num_rows(), &mut this.order);
                            let validated = &mut this.validated;
                            instruments.validate_all(batch.num_rows(), &this.market, validated);
                        }
                        self.current = Some((batch, instruments));
                        self.next_row = 0;
                    }
                    Err(e) => return Poll::Ready(Some(Err(e))),
                },
                None => {
                    if let Err(e) = self.drain_sums() {
                        return Poll::Ready(Some(Err(e)));
                    }
                    match self.pending.pop_front() {
                        Some(batch) => return Poll::Ready(Some(Ok(batch))),
                        None => return Poll::Ready(None),
                    }
                }
                other => return Poll::Ready(other),
            }
        }
    }
}
