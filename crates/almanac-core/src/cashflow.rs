//! Cash-flow projection of one instrument (methodology.md, "Schedules" and "Amounts").

use std::ops::Range;

use crate::calendar::{BusinessDayRule, Calendar};
use crate::date::Date;
use crate::daycount::DayCount;
use crate::error::{Error, Result};
use crate::grid::{FuturePeriod, GridWindow, Grids, OnGrid};
use crate::instrument::{Amortization, FloatingTerms, Instrument};
use crate::reset_chain::ResetChains;
use crate::scenario::{LaneFactors, ScenarioCurve};
use crate::schedule::{backward_schedule, monthly_from, Period};

/// One future payment, signed from the bank's view (assets +, liabilities −).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flow {
    pub pay_date: Date,
    pub accrual_start: Date,
    pub accrual_end: Date,
    /// Principal outstanding during the period.
    pub balance: f64,
    /// All-in annual rate applied in the period.
    pub rate: f64,
    pub interest: f64,
    /// Scheduled principal.
    pub principal: f64,
    /// Behavioural run-off.
    pub prepayment: f64,
}

impl Flow {
    pub fn total(&self) -> f64 {
        self.interest + self.principal + self.prepayment
    }
}

/// Reusable buffers and settings for projecting many instruments.
///
/// The schedule of the last instrument projected is kept with what does not
/// depend on the rate (each period's accrual year fraction and run-off
/// factor, a floater's reset dates and the times of its forwards), so a
/// floater projected once per scenario, or a run of instruments with the same
/// terms, builds it once.
#[derive(Debug)]
pub struct Projector {
    pub as_of: Date,
    pub calendar: Calendar,
    /// Scratch: the whole schedule, paid periods included, while `future` is built.
    periods: Vec<Period>,
    /// The periods paid after as_of of the schedule of `schedule_of`, when
    /// they are not simply a range of a grid's periods (`on_grid`): see
    /// [`Projector::future`].
    future: Vec<FuturePeriod>,
    /// The grid and range of its periods that are the future periods.
    on_grid: Option<(u32, Range<usize>)>,
    /// Each future period's run-off share, 1 − (1 − CPR)^τ…
    runoff: Vec<f64>,
    /// …and a floater's fixing for it, in `fixings`.
    fixing: Vec<u32>,
    schedule_of: Option<ScheduleKey>,
    /// The prepayment / run-off rate `future`'s run-off factors were computed for.
    runoff_rate: Option<f64>,
    /// Run-off shares by rate, kept from one instrument to the next.
    runoff_memo: RunoffMemo,
    /// A floater's fixings over `future` (each period's `fixing` indexes them).
    fixings: Vec<Fixing>,
    /// The start date and reset months `fixings` were computed for, on `schedule_of`.
    fixings_of: Option<(Date, u32)>,
    /// Schedules shared by instruments rolling on the same dates; `None`:
    /// every schedule rolled on its own (the reference the grids are tested against).
    grids: Option<Grids>,
    /// Where `future` lies on its grid, if it was taken from one.
    window: Option<GridWindow>,
    /// Scratch: each fixing's rate under each scenario in `project_totals`…
    lane_rates: Vec<f64>,
    /// …and the discount factor each scenario's last forward ended on.
    lane_factors: Vec<f64>,
    /// Scratch: a floater's fixings' prices (each with the period after its
    /// last), chunk by chunk, in `project_lanes`.
    fixing_prices: Vec<(usize, FixingPrices)>,
    /// Floaters' resets and forwards, shared by the floaters resetting on the same dates.
    reset_chains: ResetChains,
    /// The runs of `future` periods sharing a fixing, for `project_lanes`
    /// and `project_one_lane`.
    fixing_runs: FixingRuns,
}

/// Runs of consecutive periods that share a floater's fixing: each covers
/// the periods from the previous run's end (0 for the first) to its own
/// `end`, at fixing `fixing` (numbered from the first period's; a reset
/// that no period starts after is skipped). Each run is a new fixing.
#[derive(Debug, Default)]
pub(crate) struct FixingRuns {
    /// (end, fixing)
    runs: Vec<(u32, u32)>,
}

impl FixingRuns {
    pub fn clear(&mut self) {
        self.runs.clear();
    }

    /// A run to `end` at `fixing`, after the others.
    pub fn push(&mut self, end: u32, fixing: u32) {
        self.runs.push((end, fixing));
    }

    /// The runs of periods whose fixings are `fixing` (one per period).
    fn set_from(&mut self, fixing: &[u32]) {
        self.runs.clear();
        for (j, &f) in fixing.iter().enumerate() {
            match self.runs.last_mut() {
                Some((end, last)) if *last == f => *end = j as u32 + 1,
                _ => self.runs.push((j as u32 + 1, f)),
            }
        }
    }

    /// Each run's (first period, end, fixing).
    fn iter(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        let mut first = 0;
        self.runs.iter().map(move |&(end, fixing)| {
            let run = (first, end as usize, fixing as usize);
            first = end as usize;
            run
        })
    }
}

/// One rate fixing of a floater: what its forward needs besides the
/// scenario's curve (the reset's and its index period end's curve times and
/// the index period's year fraction), or `None` when the reset is on or
/// before as_of (the `rate` column applies).
type Fixing = Option<ForwardTimes>;

/// The scenario-independent parts of a simple forward rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForwardTimes {
    /// Days from as_of to the reset and to the index period's end (curve
    /// time is days / 365).
    pub days1: i64,
    pub days2: i64,
    pub year_frac: f64,
}

impl ForwardTimes {
    pub fn new(as_of: Date, d1: Date, d2: Date, day_count: DayCount) -> Self {
        ForwardTimes {
            days1: as_of.days_until(d1),
            days2: as_of.days_until(d2),
            year_frac: day_count.year_frac(d1, d2),
        }
    }

    /// F = (DF(t1)/DF(t2) − 1) / year_frac on the curve.
    pub fn forward(&self, curve: &ScenarioCurve) -> f64 {
        self.forward_after(curve, &mut None)
    }

    /// The same, given the last discount factor computed (`last`: its day
    /// and value, updated to DF(t2)'s): consecutive fixings usually meet, one's
    /// index period ending on the next one's reset, so DF(t1) is known.
    pub fn forward_after(&self, curve: &ScenarioCurve, last: &mut Option<(i64, f64)>) -> f64 {
        let df1 = match *last {
            Some((day, df)) if day == self.days1 => df,
            _ => curve.discount_factor_on_day(self.days1),
        };
        let df2 = curve.discount_factor_on_day(self.days2);
        *last = Some((self.days2, df2));
        self.forward_from(df1, df2)
    }

    /// The forward from the discount factors at the reset and at the index
    /// period's end.
    #[inline(always)]
    pub(crate) fn forward_from(&self, df1: f64, df2: f64) -> f64 {
        (df1 / df2 - 1.0) / self.year_frac
    }
}

/// What an instrument's schedule and year fractions depend on (as_of and the
/// calendar are the projector's own).
#[derive(Debug, Clone, Copy, PartialEq)]
struct ScheduleKey {
    start_date: Date,
    maturity_date: Option<Date>,
    payment_months: u32,
    behavioral_months: u32,
    business_day: BusinessDayRule,
    day_count: DayCount,
}

impl ScheduleKey {
    fn of(inst: &Instrument, as_of: Date) -> ScheduleKey {
        ScheduleKey {
            // A non-maturity product's schedule runs from as_of, whatever its start.
            start_date: inst.maturity_date.map_or(as_of, |_| inst.start_date),
            maturity_date: inst.maturity_date,
            payment_months: inst.payment_months,
            behavioral_months: inst.behavioral_months,
            business_day: inst.business_day,
            day_count: inst.day_count,
        }
    }
}

impl Projector {
    /// A projector for `as_of` on `calendar` (copied: a projector lives as
    /// long as the stream of instruments it projects, grids included).
    pub fn new(as_of: Date, calendar: &Calendar) -> Self {
        Projector {
            as_of,
            calendar: calendar.clone(),
            periods: Vec::with_capacity(512),
            future: Vec::with_capacity(512),
            on_grid: None,
            runoff: Vec::with_capacity(512),
            fixing: Vec::with_capacity(512),
            schedule_of: None,
            runoff_rate: None,
            runoff_memo: RunoffMemo::new(),
            fixings: Vec::new(),
            fixings_of: None,
            grids: Some(Grids::default()),
            window: None,
            lane_rates: Vec::new(),
            lane_factors: Vec::new(),
            fixing_prices: Vec::new(),
            reset_chains: ResetChains::default(),
            fixing_runs: FixingRuns::default(),
        }
    }

    /// Where the flows of the instrument projected last lie on a shared
    /// grid of pay dates (see [`GridWindow`]), if they do.
    pub fn grid_window(&self) -> Option<GridWindow> {
        self.window
    }

    /// Pay date of period `i` of grid `grid`, as a [`GridWindow`] numbers them.
    pub fn grid_pay_date(&self, grid: u32, i: usize) -> Option<Date> {
        self.grids.as_ref()?.pay_date(grid, i)
    }

    /// A projector that rolls each instrument's schedule back from its
    /// maturity instead of taking it from the shared grids: the same periods,
    /// slower; what the grids are tested and benchmarked against.
    pub fn rolling_each_schedule(mut self) -> Self {
        self.grids = None;
        self
    }

    /// Builds the future periods of `inst`'s schedule, unless they are the
    /// ones already held.
    fn prepare_schedule(&mut self, inst: &Instrument) {
        let as_of = self.as_of;
        let key = ScheduleKey::of(inst, as_of);
        if self.schedule_of == Some(key) {
            return;
        }
        self.future.clear();
        self.on_grid = None;
        let on_grid = self
            .grids
            .as_mut()
            .and_then(|grids| grids.future_periods(inst, as_of, &self.calendar));
        self.window = on_grid.as_ref().map(|on| on.window);
        match on_grid {
            // Most schedules: a range of the grid, read in place.
            Some(OnGrid {
                window,
                stub: None,
                grid_periods,
            }) => self.on_grid = Some((window.grid, grid_periods)),
            // A front stub, then the grid's periods.
            Some(OnGrid {
                window,
                stub: Some(stub),
                grid_periods,
            }) => {
                self.future.push(stub);
                if let Some(grids) = &self.grids {
                    let periods = grids.periods(window.grid, grid_periods);
                    self.future.extend_from_slice(periods);
                }
            }
            None => self.roll_schedule(inst),
        }
        self.schedule_of = Some(key);
        self.runoff_rate = None;
        self.fixings_of = None;
    }

    /// Builds the future periods of `inst`'s schedule by rolling it.
    fn roll_schedule(&mut self, inst: &Instrument) {
        let as_of = self.as_of;
        self.periods.clear();
        match inst.maturity_date {
            Some(maturity) => backward_schedule(
                inst.start_date,
                maturity,
                inst.payment_months,
                inst.business_day,
                &self.calendar,
                Some(as_of),
                &mut self.periods,
            ),
            None => monthly_from(
                as_of,
                inst.behavioral_months,
                inst.business_day,
                &self.calendar,
                &mut self.periods,
            ),
        }
        let first_future = self.periods.partition_point(|p| p.pay_date <= as_of);
        self.future.extend(
            self.periods[first_future..]
                .iter()
                .map(|&period| FuturePeriod::new(period, inst.day_count, as_of)),
        );
    }

    /// Sets each future period's fixing for a floater with `terms`. Periods
    /// share a fixing when resets are rarer than payments: a fixing holds
    /// from its reset until the next (`reset_window`).
    fn prepare_fixings(&mut self, inst: &Instrument, terms: &FloatingTerms) {
        let key = (inst.start_date, terms.reset_months);
        if self.fixings_of == Some(key) {
            return;
        }
        let as_of = self.as_of;
        self.fixings.clear();
        self.fixing.clear();
        let future = held_periods(&self.future, &self.grids, &self.on_grid);
        let Some(first) = future.first() else {
            self.fixings_of = Some(key);
            return;
        };
        // The periods start in order, so the resets are walked forward from
        // the first period's window: one date computed per reset
        // (`reset_window`'s `start + k·months`), not a search per period.
        let (start, months) = (inst.start_date, terms.reset_months);
        let (ys, ms, ds) = start.ymd();
        let reset = |k: i64| Date::from_ym_clamped(ys, i64::from(ms) + k * i64::from(months), ds);
        let (mut from, mut until) = reset_window(start, months, first.period.accrual_start);
        // `from` is reset k.
        let mut k = if months == 0 {
            0
        } else {
            let (yf, mf, _) = from.ymd();
            ((i64::from(yf) - i64::from(ys)) * 12 + i64::from(mf) - i64::from(ms))
                / i64::from(months)
        };
        let fixing_of = |from: Date, fixings: &mut Vec<Fixing>| {
            let fixing_end = from.add_months(months as i32);
            fixings.push(
                (from > as_of).then(|| ForwardTimes::new(as_of, from, fixing_end, inst.day_count)),
            );
            (fixings.len() - 1) as u32
        };
        let mut fixing = fixing_of(from, &mut self.fixings);
        for p in future {
            // (A period starting before the first reset belongs to the first window.)
            if months > 0 && p.period.accrual_start >= until {
                while p.period.accrual_start >= until {
                    k += 1;
                    (from, until) = (until, reset(k + 1));
                }
                fixing = fixing_of(from, &mut self.fixings);
            }
            self.fixing.push(fixing);
        }
        self.fixings_of = Some(key);
    }

    /// Sets each future period's run-off factor for the prepayment rate `cpr`.
    fn prepare_runoff(&mut self, cpr: f64) {
        let future = held_periods(&self.future, &self.grids, &self.on_grid);
        let shares = self.runoff_memo.shares(cpr);
        fill_runoff(future, shares, (&mut self.runoff, &mut self.runoff_rate));
    }

    /// Appends the instrument's future flows (pay_date > as_of) to `out`.
    /// `index` is the floater's index curve under the scenario; it is only
    /// read for resets after `as_of` and may be `None` for fixed-rate products.
    pub fn project(
        &mut self,
        instrument_id: &str,
        inst: &Instrument,
        index: Option<&ScenarioCurve>,
        out: &mut Vec<Flow>,
    ) -> Result<()> {
        self.project_until(instrument_id, inst, index, Date(i32::MAX), out)
    }

    /// The same flows, up to the last one whose accrual starts before
    /// `until` (a horizon's NII reads nothing later; the flows kept are
    /// the ones `project` gives).
    pub fn project_until(
        &mut self,
        instrument_id: &str,
        inst: &Instrument,
        index: Option<&ScenarioCurve>,
        until: Date,
        out: &mut Vec<Flow>,
    ) -> Result<()> {
        if !self.prepare(instrument_id, inst, true)? {
            return Ok(());
        }
        self.prepare_runoff(inst.prepayment_rate);
        let periods = (
            self.future(),
            &self.runoff[..],
            &self.fixing[..],
            &self.fixings[..],
        );
        project_flows((instrument_id, inst), periods, (index, until), out)
    }

    /// The totals (interest + principal + run-off, signed) of `inst`'s
    /// flows under each of `indexes` (a floater's index curve under each
    /// scenario; `None` for a fixed rate) in one pass over its schedule:
    /// `totals[j · indexes.len() + s]` is flow j's under `indexes[s]`, bit
    /// for bit [`Flow::total`] of what [`Projector::project`] gives. The
    /// scenarios' balances are independent chains, so a processor works on
    /// seven at once instead of waiting on one. Pay dates: [`Projector::pay_dates`].
    ///
    /// `tabled`, optional, holds the factors of the curves of `indexes`,
    /// lane by lane: a floater's forwards read them there, faster.
    pub fn project_totals(
        &mut self,
        instrument_id: &str,
        inst: &Instrument,
        indexes: (&[Option<&ScenarioCurve>], Option<&LaneFactors>),
        totals: &mut Vec<f64>,
    ) -> Result<()> {
        self.add_totals_to(instrument_id, inst, indexes, (totals, |_, _| None))?;
        Ok(())
    }

    /// The same totals, but added to the sums that `place` gives for the
    /// flows' grid window and number (`n · indexes.len()` of them, laid out
    /// as `totals`), when the flows lie on a grid and it gives them; else
    /// stored in `totals`. True when added (`totals` is then scratch). A
    /// single lane's are added as they are projected, in the time its
    /// projection waits on its balance anyway, not in a second pass.
    /// `place` is called only once nothing can fail, so an instrument in
    /// error adds nothing.
    pub fn add_totals_to<'s>(
        &mut self,
        instrument_id: &str,
        inst: &Instrument,
        (indexes, tabled): (&[Option<&ScenarioCurve>], Option<&LaneFactors>),
        (totals, place): (
            &mut Vec<f64>,
            impl FnOnce(GridWindow, usize) -> Option<&'s mut [f64]>,
        ),
    ) -> Result<bool> {
        // A floater on tabled curves takes its fixings from its reset chain.
        let chained = match (&inst.floating, tabled) {
            (Some(terms), Some(tabled)) => {
                terms.reset_months > 0
                    && tabled.lanes() == indexes.len()
                    && indexes.iter().all(Option::is_some)
            }
            _ => false,
        };
        let has_flows = self.prepare(instrument_id, inst, !chained);
        if !matches!(has_flows, Ok(true)) || indexes.is_empty() {
            totals.clear();
            return has_flows.map(|_| false);
        }
        let future = held_periods(&self.future, &self.grids, &self.on_grid);
        let (n, lanes) = (future.len(), indexes.len());
        // Every fixing's rate under every scenario first (`[fixing][lane]`):
        // each reads a discount factor table at a day of its own, and these
        // reads, independent of the balances, overlap instead of stalling them.
        let mut rates = std::mem::take(&mut self.lane_rates);
        rates.clear();
        match (&inst.floating, tabled) {
            (None, _) => rates.resize(lanes, inst.rate),
            (Some(terms), Some(tabled)) if chained => {
                self.reset_chains.rates(
                    (inst, terms),
                    self.as_of,
                    future,
                    (indexes, tabled),
                    (&mut rates, &mut self.fixing_runs),
                );
            }
            (Some(terms), _) => {
                let fixing = (instrument_id, inst, terms);
                let scratch = (&mut rates, &mut self.lane_factors);
                let fixed = fixed_rates(fixing, &self.fixings, (indexes, tabled), scratch);
                if let Err(e) = fixed {
                    self.lane_rates = rates;
                    totals.clear();
                    return Err(e);
                }
                self.fixing_runs.set_from(&self.fixing);
            }
        }
        let placed = self
            .window
            .and_then(|window| place(window, n))
            .filter(|sums| sums.len() == n * lanes);
        let added = placed.is_some();
        // (Every total is written below, so the last instrument's are left
        // to be overwritten rather than zeroed first: a floater's are thousands.)
        if lanes == 1 || inst.floating.is_none() {
            // One lane (a fixed rate, the same under every index, or one
            // scenario), spread to every lane.
            let shares = self.runoff_memo.shares(inst.prepayment_rate);
            let fixing = inst.floating.as_ref().map(|_| &self.fixing_runs);
            match placed {
                Some(sums) if lanes == 1 => {
                    project_one_lane::<true>(inst, future, (shares, fixing, &rates), sums)
                }
                placed => {
                    totals.resize(n * lanes, 0.0);
                    project_one_lane::<false>(
                        inst,
                        future,
                        (shares, fixing, &rates),
                        &mut totals[..n],
                    );
                    spread_lanes(totals, n, lanes);
                    if let Some(sums) = placed {
                        add_to(sums, totals);
                    }
                }
            }
        } else {
            let shares = self.runoff_memo.shares(inst.prepayment_rate);
            fill_runoff(future, shares, (&mut self.runoff, &mut self.runoff_rate));
            // (Several lanes: a floater, whose periods all have a fixing.)
            let periods = (future, &self.runoff[..], &self.fixing_runs);
            let scratch = &mut self.fixing_prices;
            project_lanes(inst, periods, (&rates, lanes), (totals, placed, scratch));
        }
        self.lane_rates = rates;
        Ok(added)
    }

    /// The pay dates of the instrument projected last, one per flow.
    pub fn pay_dates(&self) -> impl ExactSizeIterator<Item = Date> + '_ {
        self.future().iter().map(|f| f.period.pay_date)
    }

    /// The future periods of the schedule held.
    fn future(&self) -> &[FuturePeriod] {
        held_periods(&self.future, &self.grids, &self.on_grid)
    }

    /// Readies `inst`'s schedule and, if `fixings`, a floater's fixings (not its run-off shares:
    /// `prepare_runoff`); false when it has no future period (an error if a
    /// balance is still outstanding).
    fn prepare(&mut self, instrument_id: &str, inst: &Instrument, fixings: bool) -> Result<bool> {
        self.prepare_schedule(inst);
        if let (Some(terms), true) = (&inst.floating, fixings) {
            self.prepare_fixings(inst, terms);
        }
        if !self.future().is_empty() {
            return Ok(true);
        }
        if inst.balance > 0.0 {
            let maturity = inst
                .maturity_date
                .map_or("NULL".to_string(), |d| d.to_string());
            return Err(Error::Instrument {
                instrument_id: instrument_id.to_string(),
                column: "maturity_date",
                value: maturity,
                reason: format!(
                    "has no payment after as_of {} but balance is {}",
                    self.as_of, inst.balance
                ),
            });
        }
        Ok(false)
    }
}

/// [`Projector::project_until`]'s flows of the `future` periods held (with
/// their run-off shares and, for a floater, each period's fixing in
/// `fixings`). Compiled also for FMA, chosen at run time: the balance chain's
/// fused multiply-adds ([`Repayment::scheduled`]) are then one instruction
/// each, not a call to the C library's `fma` (the same bits either way).
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn project_flows(
    (instrument_id, inst): (&str, &Instrument),
    (future, runoff, fixing, fixings): (&[FuturePeriod], &[f64], &[u32], &[Fixing]),
    (index, until): (Option<&ScenarioCurve>, Date),
    out: &mut Vec<Flow>,
) -> Result<()> {
    let month_step = month_step(inst);
    let sign = inst.side.sign();
    // The fixing of the previous period and its rate under this scenario.
    let mut fixed: Option<(u32, f64)> = None;
    // The last discount factor on the index curve (day, value).
    let mut last_df = None;
    let mut pricing = Pricing::new();
    let n = future.len();
    let mut b = inst.balance;
    for (j, (period, &runoff)) in future.iter().zip(runoff).enumerate() {
        if period.period.accrual_start >= until {
            break;
        }
        let rate = match &inst.floating {
            None => inst.rate,
            Some(terms) => {
                // (`prepare_fixings` gave every period its fixing.)
                let at = fixing[j];
                match fixed {
                    Some((fixed_at, rate)) if fixed_at == at => rate,
                    _ => {
                        let fixing = &fixings[at as usize];
                        let rate =
                            fixed_rate(instrument_id, inst, terms, fixing, index, &mut last_df)?;
                        fixed = Some((at, rate));
                        rate
                    }
                }
            }
        };
        let payments_left = (n - j) as i32;
        pricing.set_rate(inst.amortization, rate, month_step, b, payments_left);
        let (interest, principal, prepayment, balance_after) =
            period_amounts(inst, period, runoff, b, &mut pricing, payments_left);
        out.push(Flow {
            pay_date: period.period.pay_date,
            accrual_start: period.period.accrual_start,
            accrual_end: period.period.accrual_end,
            balance: sign * b,
            rate,
            interest: sign * interest,
            principal: sign * principal,
            prepayment: sign * prepayment,
        });
        b = balance_after;
    }
    Ok(())
}

/// The totals of a single lane's `future` periods (a fixed rate, or a
/// floater under one scenario: `fixing` gives the runs of periods at each
/// fixing in `rates`; a fixed rate has one), stored in `out` (`[period]`) or, if
/// `ADD`, added to it. Its balance stays in a register instead of going
/// through memory each period; its run-off shares are computed here, in
/// the time the loop waits on that balance anyway.
#[multiversion::multiversion(targets("x86_64+avx2+fma"))]
fn project_one_lane<const ADD: bool>(
    inst: &Instrument,
    future: &[FuturePeriod],
    (shares, fixing, rates): (&mut RunoffShares, Option<&FixingRuns>, &[f64]),
    out: &mut [f64],
) {
    let n = future.len();
    let (month_step, sign) = (month_step(inst), inst.side.sign());
    if let (None, Some(&rate)) = (fixing, rates.first()) {
        // A fixed rate, set once; then every period but the last repays
        // the same way: one loop for each way, with no test of it per period.
        let mut pricing = Pricing::new();
        pricing.set_rate(inst.amortization, rate, month_step, inst.balance, n as i32);
        let lane = (inst, future, shares, pricing);
        // (With two payments left, no repayment is the last one's.)
        match Repayment::of(inst, 2) {
            Repayment::Level => fixed_lane::<ADD>(lane, |_| Repayment::Level, out),
            Repayment::Linear(_) => fixed_lane::<ADD>(lane, |k| Repayment::Linear(k), out),
            Repayment::Bullet | Repayment::Final => {
                fixed_lane::<ADD>(lane, |_| Repayment::Bullet, out)
            }
        }
        return;
    }
    // A floater under one scenario: its rate set again at each new fixing.
    let (mut b, mut pricing) = (inst.balance, Pricing::new());
    for (first, end, fixed) in fixing.into_iter().flat_map(FixingRuns::iter) {
        let payments_left = (n - first) as i32;
        pricing.set_rate(
            inst.amortization,
            rates[fixed],
            month_step,
            b,
            payments_left,
        );
        let periods = future[first..end].iter().zip(&mut out[first..end]);
        for (j, (future, out)) in (first..end).zip(periods) {
            let runoff = shares.of(future.exposed_days);
            let payments_left = (n - j) as i32;
            let (interest, principal, prepayment, balance_after) =
                period_amounts(inst, future, runoff, b, &mut pricing, payments_left);
            let total = signed_total(sign, interest, principal, prepayment);
            if ADD {
                *out += total;
            } else {
                *out = total;
            }
            b = balance_after;
        }
    }
}

/// [`project_one_lane`] for a fixed rate, priced by `pricing`, whose
/// periods but the last repay as `repayment` says, given the payments left
/// (as a float): the same operations, so the same bits.
#[inline(always)]
fn fixed_lane<const ADD: bool>(
    (inst, future, shares, mut pricing): (&Instrument, &[FuturePeriod], &mut RunoffShares, Pricing),
    repayment: impl Fn(f64) -> Repayment,
    out: &mut [f64],
) {
    let Some((last, before)) = future.split_last() else {
        return;
    };
    let (n, sign) = (future.len(), inst.side.sign());
    let mut b = inst.balance;
    let put = |out: &mut f64, (interest, principal, prepayment): (f64, f64, f64)| {
        let total = signed_total(sign, interest, principal, prepayment);
        if ADD {
            *out += total;
        } else {
            *out = total;
        }
    };
    for (j, (period, out)) in before.iter().zip(out.iter_mut()).enumerate() {
        let runoff = shares.of(period.exposed_days);
        let repayment = repayment((n - j) as f64);
        let (interest, principal, prepayment, balance_after) =
            amounts_as(repayment, period, runoff, b, &mut pricing);
        put(out, (interest, principal, prepayment));
        b = balance_after;
    }
    if let Some(out) = out.get_mut(n - 1) {
        let runoff = shares.of(last.exposed_days);
        let (interest, principal, prepayment, _) =
            amounts_as(Repayment::Final, last, runoff, b, &mut pricing);
        put(out, (interest, principal, prepayment));
    }
}

/// Each lane's totals of a floater's `future` periods (with their run-off
/// shares and fixings), at `rates` (`[fixing · lanes + lane]`), a chunk of
/// [`LANES`] lanes at a time, into `totals` (`[period · lanes + lane]`),
/// then added to `sums` (laid out the same) if given. `priced` is scratch
/// for each fixing's [`FixingPrices`] and the period after its last.
///
/// A chunk's totals are stored first, not added to the sums directly as
/// [`project_one_lane`] can: a chunk's spare lanes overlap the next period's,
/// and reading a sum that the previous period's chunk partly wrote would
/// wait for that write to complete. With one chunk, a fixing's totals are
/// added once the next fixing's periods are projected (so their stores are
/// done), and the additions overlap the projection's wait on its balances.
///
/// Compiled also for AVX-512 and AVX2 with FMA, chosen at run time: a chunk's
/// eight lanes then fill one or two vector registers instead of four SSE2
/// ones (the baseline x86-64), and the balance chain's fused multiply-adds
/// are instructions. The same IEEE operations in the same order, so the
/// same bits: Rust never fuses a multiplication and an addition on its own,
/// and the fused ones written (`mul_add`) are exactly rounded everywhere.
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2+fma"))]
fn project_lanes(
    inst: &Instrument,
    (future, runoff, fixing): (&[FuturePeriod], &[f64], &FixingRuns),
    (rates, lanes): (&[f64], usize),
    (totals, mut sums, priced): (
        &mut Vec<f64>,
        Option<&mut [f64]>,
        &mut Vec<(usize, FixingPrices)>,
    ),
) {
    let n = future.len();
    let month_step = month_step(inst);
    let sign = inst.side.sign();
    // (Room for the spare lanes of the last period's chunk: see below.)
    totals.resize(n * lanes + LANES, 0.0);
    // The lanes are independent: each chunk runs the whole schedule with
    // its state in registers. A chunk stores all its lanes' totals, the
    // spare ones too; they land on later slots, which a later store
    // overwrites: the next period's (one chunk), or those of the first
    // chunk, run last (several), or the room past the end.
    for chunk_at in (0..lanes.div_ceil(LANES)).rev() {
        let first_lane = chunk_at * LANES;
        let chunk_lanes = first_lane..lanes.min(first_lane + LANES);
        // Every fixing's prices first: an annuity's (1 + p)^−k is a chain
        // of a dozen multiplications that does not depend on the balances,
        // so computed here, fixing after fixing, the chains overlap, where
        // at each reset of the projection below they stalled it.
        priced.clear();
        for (first, end, fixed) in fixing.iter() {
            let rates = &rates[fixed * lanes..(fixed + 1) * lanes][chunk_lanes.clone()];
            let payments_left = (n - first) as i32;
            let prices = FixingPrices::new(inst.amortization, rates, month_step, payments_left);
            priced.push((end, prices));
        }
        let mut chunk = LaneChunk::new(inst.balance);
        // A fixing's periods at a time (fixings change on the same period
        // under every scenario): its prices set at its start, then its
        // periods with the chunk in registers.
        let mut first = 0;
        // The periods whose totals are final but not yet added.
        let mut unadded = 0..0;
        for &(end, ref prices) in priced.iter() {
            if let (Some(sums), true) = (sums.as_deref_mut(), lanes <= LANES) {
                let slots = unadded.start * lanes..unadded.end * lanes;
                add_to(&mut sums[slots.clone()], &totals[slots]);
                unadded = unadded.end..first;
            }
            chunk.set_prices(prices, (n - first) as i32);
            let mut held = chunk;
            for j in first..end {
                let payments_left = (n - j) as i32;
                // One loop per kind of repayment, so none tests it per lane.
                let period = (future[j].accrual_years, runoff[j]);
                let out = match Repayment::of(inst, payments_left) {
                    Repayment::Level => held.step(period, sign, Repayment::Level),
                    Repayment::Linear(k) => held.step(period, sign, Repayment::Linear(k)),
                    Repayment::Bullet => held.step(period, sign, Repayment::Bullet),
                    Repayment::Final => held.step(period, sign, Repayment::Final),
                };
                let at = j * lanes + first_lane;
                totals[at..at + LANES].copy_from_slice(&out);
            }
            chunk = held;
            first = end;
        }
        if let (Some(sums), true) = (sums.as_deref_mut(), lanes <= LANES) {
            let slots = unadded.start * lanes..n * lanes;
            add_to(&mut sums[slots.clone()], &totals[slots]);
        }
    }
    totals.truncate(n * lanes);
    if let (Some(sums), false) = (sums, lanes <= LANES) {
        add_to(sums, totals);
    }
}

/// Adds each of `totals` to its sum in `sums`.
#[inline(always)]
fn add_to(sums: &mut [f64], totals: &[f64]) {
    for (sum, total) in sums.iter_mut().zip(totals) {
        *sum += total;
    }
}

/// Spreads the `n` totals at the head of `totals` (`totals[j]`) to each of
/// `lanes` lanes (`totals[j · lanes + s]`, as `project_totals` lays them out).
fn spread_lanes(totals: &mut [f64], n: usize, lanes: usize) {
    if lanes > 1 {
        for j in (0..n).rev() {
            let total = totals[j];
            totals[j * lanes..(j + 1) * lanes].fill(total);
        }
    }
}

/// Sets `runoff` to each of the `future` periods' run-off share (`shares`,
/// for one prepayment rate), unless `runoff_rate` says it holds them. (A free
/// function so that a projector's other fields can be read meanwhile.)
fn fill_runoff(
    future: &[FuturePeriod],
    shares: &mut RunoffShares,
    (runoff, runoff_rate): (&mut Vec<f64>, &mut Option<f64>),
) {
    if *runoff_rate == Some(shares.cpr) {
        return;
    }
    runoff.clear();
    runoff.extend(future.iter().map(|p| shares.of(p.exposed_days)));
    *runoff_rate = Some(shares.cpr);
}

/// [`RunoffShares`] by prepayment rate, kept from one instrument to the
/// next: a book has a few thousand rates, and each instrument would
/// otherwise take a logarithm and up to four exponentials. Direct-mapped: a
/// rate takes the slot its bits hash to, from whichever rate held it.
struct RunoffMemo {
    slots: Vec<RunoffShares>,
}

impl std::fmt::Debug for RunoffMemo {
    /// (Not the 4096 slots.)
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.slots.iter().filter(|s| s.cpr != 0.0).count();
        write!(
            f,
            "RunoffMemo {{ {held} of {} slots held }}",
            self.slots.len()
        )
    }
}

impl RunoffMemo {
    /// 2^12 slots of 80 bytes.
    const SLOT_BITS: u32 = 12;

    fn new() -> RunoffMemo {
        RunoffMemo {
            slots: vec![RunoffShares::new(0.0); 1 << Self::SLOT_BITS],
        }
    }

    fn shares(&mut self, cpr: f64) -> &mut RunoffShares {
        // Fibonacci hashing: the multiplication's top bits mix all of the rate's.
        let bits = cpr.to_bits();
        let slot = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::SLOT_BITS)) as usize;
        let shares = &mut self.slots[slot];
        if shares.cpr.to_bits() != bits {
            *shares = RunoffShares::new(cpr);
        }
        shares
    }
}

/// Run-off shares 1 − (1 − CPR)^τ of periods exposed for some days (τ =
/// days / 365), as 1 − exp(τ·ln(1 − CPR)) with the log taken once, and each
/// computed once per length of period (monthly periods have four).
#[derive(Debug, Clone, Copy)]
struct RunoffShares {
    cpr: f64,
    log_survival: f64,
    /// The shares known, by days: a slot per days mod 4.
    known: [(i32, f64); 4],
}

impl RunoffShares {
    fn new(cpr: f64) -> RunoffShares {
        RunoffShares {
            cpr,
            log_survival: (1.0 - cpr).ln(),
            known: [(0, 0.0); 4],
        }
    }

    /// The share of a period exposed `days`.
    #[inline(always)]
    fn of(&mut self, days: i32) -> f64 {
        if !(self.cpr > 0.0 && days > 0) {
            return 0.0;
        }
        let slot = &mut self.known[days as usize % 4];
        if slot.0 != days {
            let share = share_of_days(days, self.log_survival);
            if days < SHORTEST_MONTH {
                // A period cut short by as_of: its days are the instrument's
                // own, and kept they would evict a whole month's share that
                // the next instrument at this rate needs.
                return share;
            }
            *slot = (days, share);
        }
        slot.1
    }
}

/// Days of the shortest whole period (a February): a period paid monthly or
/// less often is at least this long unless as_of cuts it.
const SHORTEST_MONTH: i32 = 28;

/// 1 − exp(τ·ln(1 − CPR)) for τ = `days` / 365 (out of line: the rare case
/// of [`RunoffShares::of`], whose callers loop over periods).
#[cold]
#[inline(never)]
fn share_of_days(days: i32, log_survival: f64) -> f64 {
    let years = days as f64 / 365.0;
    -(years * log_survival).exp_m1()
}

/// The future periods a projector holds: `on_grid`'s range of a grid's
/// periods, else its own (`owned`). (A free function so that a projector's
/// other fields can be written while they are read.)
fn held_periods<'a>(
    owned: &'a [FuturePeriod],
    grids: &'a Option<Grids>,
    on_grid: &Option<(u32, Range<usize>)>,
) -> &'a [FuturePeriod] {
    match (on_grid, grids) {
        (Some((grid, range)), Some(grids)) => grids.periods(*grid, range.clone()),
        _ => owned,
    }
}

/// What one fixing's rates give each lane of a [`LaneChunk`] before any
/// balance is known: the rate, its periodic rate p and, for an annuity,
/// (1 + p)^−k over the payments left at the fixing's first period.
#[derive(Debug, Clone, Copy)]
struct FixingPrices {
    annuity: bool,
    rate: [f64; LANES],
    p: [f64; LANES],
    power: [f64; LANES],
}

impl FixingPrices {
    /// `rates`: one per lane used (the spare lanes repeat the last);
    /// `payments_left` at the fixing's first period.
    #[inline(always)]
    fn new(
        amortization: Amortization,
        rates: &[f64],
        month_step: u32,
        payments_left: i32,
    ) -> FixingPrices {
        let annuity = amortization == Amortization::Annuity;
        let last = rates.last().copied().unwrap_or(f64::NAN);
        let rate: [f64; LANES] = std::array::from_fn(|i| rates.get(i).copied().unwrap_or(last));
        let p = rate.map(|rate| periodic_rate(rate, month_step));
        let power = if annuity {
            powi_chunk(p.map(|p| 1.0 + p), -payments_left)
        } else {
            [f64::NAN; LANES]
        };
        FixingPrices {
            annuity,
            rate,
            p,
            power,
        }
    }
}

/// The states of up to `LANES` scenarios in [`Projector::project_totals`]
/// (lane s is the chunk's scenario s; spare lanes repeat its last scenario,
/// and what they give is dropped), a field per array: a period's step runs
/// over the whole chunk in vector registers, with no remainder loop for the
/// odd lane (the base and six shocks are seven).
#[derive(Debug, Clone, Copy)]
struct LaneChunk {
    balance: [f64; LANES],
    rate: [f64; LANES],
    p: [f64; LANES],
    growth: [f64; LANES],
    payment: [f64; LANES],
}

impl LaneChunk {
    /// Every lane on `balance`, no rate set.
    fn new(balance: f64) -> LaneChunk {
        let unset = Pricing::new();
        LaneChunk {
            balance: [balance; LANES],
            rate: [unset.rate; LANES],
            p: [unset.p; LANES],
            growth: [unset.growth; LANES],
            payment: [unset.payment; LANES],
        }
    }

    /// Sets each lane's rate, as [`Pricing::set_rate`] does, with the same
    /// bits, from the fixing's `prices`, at the chunk's balances with
    /// `payments_left`: a lane whose rate changed takes the rate's periodic
    /// rate and, an annuity, its level payment on the balance at hand.
    /// (A lane whose rate did not change keeps its payment; its periodic
    /// rate and growth, functions of the rate, are the same bits anyway.)
    /// Without a branch per lane, so that it runs in vector registers.
    #[inline(always)]
    fn set_prices(&mut self, prices: &FixingPrices, payments_left: i32) {
        let k = f64::from(payments_left);
        for i in 0..LANES {
            let changed = prices.rate[i].to_bits() != self.rate[i].to_bits();
            let (b, p) = (self.balance[i], prices.p[i]);
            // `level_payment`, on the power computed ahead.
            let payment = if p == 0.0 {
                b / k
            } else {
                level_payment_on(b, p, prices.power[i])
            };
            if changed && prices.annuity {
                self.payment[i] = payment;
            }
            self.rate[i] = prices.rate[i];
            self.p[i] = p;
            self.growth[i] = 1.0 + p;
        }
    }

    /// One period of the chunk's lanes, giving each lane's signed total:
    /// [`period_amounts`]'s arithmetic, in the same order (so the same bits),
    /// with no branch, so that it runs over the lanes in vector registers.
    #[inline(always)]
    fn step(
        &mut self,
        (years, runoff): (f64, f64),
        sign: f64,
        repayment: Repayment,
    ) -> [f64; LANES] {
        let mut out = [0.0; LANES];
        if runs_off(runoff, repayment) {
            let kept = 1.0 - runoff;
            for s in 0..LANES {
                let (b, growth, payment) = (self.balance[s], self.growth[s], self.payment[s]);
                let interest = b * self.rate[s] * years;
                let (principal, after_schedule) =
                    repayment.scheduled(b, self.p[s], growth, payment);
                let prepayment = after_schedule * runoff;
                out[s] = signed_total(sign, interest, principal, prepayment);
                self.balance[s] = repayment.kept_share(b, growth, payment, after_schedule, kept);
                self.payment[s] = payment * kept;
            }
        } else {
            for s in 0..LANES {
                let (b, growth, payment) = (self.balance[s], self.growth[s], self.payment[s]);
                let interest = b * self.rate[s] * years;
                let (principal, after_schedule) =
                    repayment.scheduled(b, self.p[s], growth, payment);
                out[s] = signed_total(sign, interest, principal, 0.0);
                self.balance[s] = after_schedule;
            }
        }
        out
    }
}

/// [`Flow::total`] of a flow with these amounts, signed by `sign` (±1):
/// −a + −b = −(a + b) exactly (rounding to nearest is symmetric), so one
/// multiplication gives its bits instead of three. The one exception is a
/// liability's amounts cancelling exactly (a floater's interest can be
/// negative): −0 here against +0 there, equal as numbers and in any sum.
#[inline(always)]
fn signed_total(sign: f64, interest: f64, principal: f64, prepayment: f64) -> f64 {
    sign * (interest + principal + prepayment)
}

/// Months between payments: a non-maturity product runs off monthly.
fn month_step(inst: &Instrument) -> u32 {
    match inst.maturity_date {
        Some(_) => inst.payment_months,
        None => 1,
    }
}

/// A period's rate and what its amounts need of it, kept while it holds.
#[derive(Debug, Clone, Copy)]
struct Pricing {
    rate: f64,
    /// The periodic rate: `rate` times the months between payments over 12…
    p: f64,
    /// …and 1 + p, what a balance grows by in a period before its payment.
    growth: f64,
    /// An annuity's level payment on the balance at hand, carried from one
    /// period to the next (see [`period_amounts`]).
    payment: f64,
}

impl Pricing {
    fn new() -> Pricing {
        Pricing {
            rate: f64::NAN,
            p: f64::NAN,
            growth: f64::NAN,
            payment: f64::NAN,
        }
    }

    /// The rate of the period with balance `b` and `payments_left`; what
    /// depends on it is computed again only when it changes.
    #[inline(always)]
    fn set_rate(
        &mut self,
        amortization: Amortization,
        rate: f64,
        month_step: u32,
        b: f64,
        payments_left: i32,
    ) {
        if rate.to_bits() == self.rate.to_bits() {
            return;
        }
        self.rate = rate;
        self.p = periodic_rate(rate, month_step);
        self.growth = 1.0 + self.p;
        if amortization == Amortization::Annuity {
            self.payment = level_payment(b, self.p, payments_left);
        }
    }
}

/// One period's interest, scheduled principal and run-off on balance `b`
/// at the rate `pricing` holds. The one formula both projections use, so
/// their numbers are the same.
///
/// An annuity's level payment P = b·p / (1 − (1 + p)^−k) is computed when
/// its rate is set and then carried: paying P − b·p of principal leaves
/// exactly the balance whose level payment over the k − 1 payments left is
/// P again, and a run-off of a share c of that balance leaves P·(1 − c).
/// methodology.md recomputes P every period; carrying it gives the same
/// payments without a power and a division per period, within rounding:
/// P's own rounding (about 1e-12 relative) is not corrected period by
/// period, so the last payments of a long loan absorb up to about 1e-12 of
/// the notional (`carried_payment_is_the_recomputed_one`).
///
/// Returns (interest, scheduled principal, run-off, balance left).
#[inline(always)]
fn period_amounts(
    inst: &Instrument,
    future: &FuturePeriod,
    runoff: f64,
    b: f64,
    pricing: &mut Pricing,
    payments_left: i32,
) -> (f64, f64, f64, f64) {
    let repayment = Repayment::of(inst, payments_left);
    amounts_as(repayment, future, runoff, b, pricing)
}

/// [`period_amounts`], given how the period repays.
#[inline(always)]
fn amounts_as(
    repayment: Repayment,
    future: &FuturePeriod,
    runoff: f64,
    b: f64,
    pricing: &mut Pricing,
) -> (f64, f64, f64, f64) {
    let interest = b * pricing.rate * future.accrual_years;
    let (principal, after_schedule) =
        repayment.scheduled(b, pricing.p, pricing.growth, pricing.payment);
    if runs_off(runoff, repayment) {
        let kept = 1.0 - runoff;
        let balance =
            repayment.kept_share(b, pricing.growth, pricing.payment, after_schedule, kept);
        pricing.payment *= kept;
        (interest, principal, after_schedule * runoff, balance)
    } else {
        (interest, principal, 0.0, after_schedule)
    }
}

/// How a period's scheduled principal comes off its balance.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Repayment {
    /// An annuity's carried level payment P, less the interest at p; the
    /// balance after it is b·(1 + p) − P (see [`Repayment::scheduled`]).
    Level,
    /// The balance over the `k` payments left.
    Linear(f64),
    /// Nothing before the last payment.
    Bullet,
    /// The last payment: the whole balance.
    Final,
}

impl Repayment {
    /// How `inst` repays in a period with `payments_left` (this one included).
    #[inline(always)]
    fn of(inst: &Instrument, payments_left: i32) -> Repayment {
        match inst.amortization {
            _ if payments_left <= 1 => Repayment::Final,
            Amortization::Annuity => Repayment::Level,
            Amortization::Linear => Repayment::Linear(payments_left as f64),
            Amortization::Bullet => Repayment::Bullet,
        }
    }

    /// The scheduled principal on balance `b` and the balance after it
    /// (`p`, `growth` = 1 + p and `payment`: the period's pricing).
    ///
    /// [`Repayment::Level`]'s balance after its payment is b·(1 + p) − P:
    /// b minus its principal P − b·p, but for rounding, as one fused
    /// multiply-add (rounded once) on the chain from one period's balance to
    /// the next instead of three operations (a projection waits on that
    /// chain, period after period). `mul_add` is exactly rounded on every
    /// processor: one instruction where the projection is compiled for FMA
    /// (see [`project_flows`]), the C library's `fma` elsewhere, the same bits.
    #[inline(always)]
    fn scheduled(self, b: f64, p: f64, growth: f64, payment: f64) -> (f64, f64) {
        match self {
            Repayment::Level => (payment - b * p, b.mul_add(growth, -payment)),
            Repayment::Linear(k) => {
                let principal = b / k;
                (principal, b - principal)
            }
            Repayment::Bullet => (0.0, b),
            Repayment::Final => (b, b - b),
        }
    }

    /// The balance left when a share 1 − `kept` of `after_schedule` (what
    /// [`Repayment::scheduled`] left) runs off: after_schedule·kept, as
    /// methodology.md words it. [`Repayment::Level`]'s is computed as
    /// b·(growth·kept) − P·kept, equal but for rounding: growth·kept and
    /// P·kept do not wait on b, so again one fused multiply-add is on the
    /// chain, not four operations.
    #[inline(always)]
    fn kept_share(self, b: f64, growth: f64, payment: f64, after_schedule: f64, kept: f64) -> f64 {
        match self {
            Repayment::Level => b.mul_add(growth * kept, -(payment * kept)),
            _ => after_schedule * kept,
        }
    }
}

/// Whether a period runs off a share `runoff` of the balance its scheduled
/// principal leaves: in every period but the last, which leaves nothing. (So
/// the test is the same for every scenario's balance, and a projection's
/// chain from one balance to the next has no comparison on it.)
#[inline(always)]
fn runs_off(runoff: f64, repayment: Repayment) -> bool {
    runoff > 0.0 && repayment != Repayment::Final
}

/// Scheduled principal of a period with balance `b`, periodic rate `p`
/// (the all-in rate times the months between payments over 12) and
/// `payments_left` including this one. The last payment clears the balance.
pub fn scheduled_principal(amortization: Amortization, b: f64, p: f64, payments_left: i32) -> f64 {
    if payments_left <= 1 {
        return b;
    }
    match amortization {
        Amortization::Bullet => 0.0,
        // B/n without run-off; re-levelled on the balance left after a prepayment.
        Amortization::Linear => b / payments_left as f64,
        Amortization::Annuity => level_payment(b, p, payments_left) - b * p,
    }
}

/// Scenarios to a [`LaneChunk`]: the base and six shocks fill one.
const LANES: usize = 8;

/// `base[i].powi(k)` for each lane, bit for bit: the same square-and-multiply
/// as `f64::powi` (the compiler's `__powidf2`: a product per bit of |k|,
/// then the reciprocal if k < 0), a step at a time over the lanes, which
/// share the exponent.
#[inline(always)]
fn powi_chunk(mut base: [f64; LANES], k: i32) -> [f64; LANES] {
    let mut power = [1.0; LANES];
    let mut bits = k.unsigned_abs();
    loop {
        if bits & 1 != 0 {
            for i in 0..LANES {
                power[i] *= base[i];
            }
        }
        bits >>= 1;
        if bits == 0 {
            break;
        }
        for b in &mut base {
            *b *= *b;
        }
    }
    if k < 0 {
        for p in &mut power {
            *p = 1.0 / *p;
        }
    }
    power
}

/// Level payment P = b·p / (1 − (1 + p)^−k); b / k when p = 0.
pub fn level_payment(b: f64, p: f64, k: i32) -> f64 {
    if p == 0.0 {
        b / k as f64
    } else {
        level_payment_on(b, p, (1.0 + p).powi(-k))
    }
}

/// P = b·p / (1 − power) with `power` = (1 + p)^−k already computed (p ≠ 0).
#[inline(always)]
fn level_payment_on(b: f64, p: f64, power: f64) -> f64 {
    b * p / (1.0 - power)
}

/// The periodic rate p of an annual `rate` paid every `month_step` months.
#[inline(always)]
fn periodic_rate(rate: f64, month_step: u32) -> f64 {
    rate * month_step as f64 / 12.0
}

/// The all-in rate of a fixing (its reset is start_date + k·reset_months,
/// the last reset on or before a period's accrual start): the `rate` column
/// if the reset is on or before as_of, else the projected forward plus
/// spread, clamped to [floor, cap].
fn fixed_rate(
    instrument_id: &str,
    inst: &Instrument,
    terms: &FloatingTerms,
    fixing: &Fixing,
    index: Option<&ScenarioCurve>,
    last_df: &mut Option<(i64, f64)>,
) -> Result<f64> {
    let Some(times) = fixing else {
        return Ok(inst.rate);
    };
    let curve = index.ok_or_else(|| no_index_curve(instrument_id, terms))?;
    Ok(terms.all_in(times.forward_after(curve, last_df)))
}

/// Every one of `fixings`' all-in rates under each of `indexes` (a
/// floater's index curve under each scenario), `rates[f · lanes + s]`: what
/// [`fixed_rate`] gives, fixing after fixing with the scenarios side by side,
/// so that their table reads and divisions overlap. `factors` is scratch for
/// each scenario's discount factor at the last forward's end, where the next
/// one usually starts. `tabled`: the same curves' factors, tabled by lane.
fn fixed_rates(
    (instrument_id, inst, terms): (&str, &Instrument, &FloatingTerms),
    fixings: &[Fixing],
    (indexes, tabled): (&[Option<&ScenarioCurve>], Option<&LaneFactors>),
    (rates, factors): (&mut Vec<f64>, &mut Vec<f64>),
) -> Result<()> {
    let lanes = indexes.len();
    rates.clear();
    // (A reset on or before as_of keeps the `rate` column.)
    rates.resize(fixings.len() * lanes, inst.rate);
    factors.clear();
    factors.resize(lanes, f64::NAN);
    // The day of the discount factors in `factors`.
    let mut factors_on = None;
    let tabled = tabled.filter(|t| t.lanes() == lanes);
    for (fixing, rates) in fixings.iter().zip(rates.chunks_exact_mut(lanes.max(1))) {
        let Some(times) = fixing else { continue };
        let both_tabled =
            tabled.and_then(|t| Some((t.on_day(times.days1)?, t.on_day(times.days2)?)));
        if let Some((at_start, at_end)) = both_tabled {
            for s in 0..lanes {
                let (df1, df2) = (at_start[s], at_end[s]);
                factors[s] = df2;
                rates[s] = terms.all_in(times.forward_from(df1, df2));
            }
            factors_on = Some(times.days2);
            continue;
        }
        let start_known = factors_on == Some(times.days1);
        for ((index, rate), factor) in indexes.iter().zip(rates).zip(factors.iter_mut()) {
            let curve = index.ok_or_else(|| no_index_curve(instrument_id, terms))?;
            let df1 = if start_known {
                *factor
            } else {
                curve.discount_factor_on_day(times.days1)
            };
            let df2 = curve.discount_factor_on_day(times.days2);
            *factor = df2;
            *rate = terms.all_in(times.forward_from(df1, df2));
        }
        factors_on = Some(times.days2);
    }
    Ok(())
}

/// A floater's index curve is missing on the as_of date.
fn no_index_curve(instrument_id: &str, terms: &FloatingTerms) -> Error {
    Error::Instrument {
        instrument_id: instrument_id.to_string(),
        column: "index_curve",
        value: terms.index_curve.clone(),
        reason: "no such curve on the as_of date".into(),
    }
}

/// Simple forward F = (DF(d1)/DF(d2) − 1) / yearfrac(d1, d2) on the curve.
pub fn forward_rate(
    curve: &ScenarioCurve,
    as_of: Date,
    d1: Date,
    d2: Date,
    day_count: DayCount,
) -> f64 {
    ForwardTimes::new(as_of, d1, d2, day_count).forward(curve)
}

/// Largest `start + k·months` (k ≥ 0) on or before `date`; `start` when `date` precedes it.
pub fn last_reset_on_or_before(start: Date, months: u32, date: Date) -> Date {
    reset_window(start, months, date).0
}

/// The last reset on or before `date` and the reset after it (each
/// `start + k·months`, computed from `start`).
pub fn reset_window(start: Date, months: u32, date: Date) -> (Date, Date) {
    if months == 0 {
        return (start, Date(i32::MAX));
    }
    let (ys, ms, ds) = start.ymd();
    let reset = |k: i64| Date::from_ym_clamped(ys, i64::from(ms) + k * i64::from(months), ds);
    if date <= start {
        return (start, reset(1));
    }
    let (yd, md, _) = date.ymd();
    let month_gap = (i64::from(yd) - i64::from(ys)) * 12 + i64::from(md) - i64::from(ms);
    let mut k = (month_gap / i64::from(months)).max(0);
    while k > 0 && reset(k) > date {
        k -= 1;
    }
    while reset(k + 1) <= date {
        k += 1;
    }
    (reset(k), reset(k + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curve::Curve;
    use crate::instrument::RawInstrument;
    use crate::scenario::{RateFloor, Scenario, ShockSizeTable};

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    fn flows(raw: RawInstrument, as_of: Date, index: Option<&ScenarioCurve>) -> Vec<Flow> {
        let inst = raw.validate().unwrap();
        let cal = Calendar::weekends_only();
        let mut out = Vec::new();
        Projector::new(as_of, &cal)
            .project(raw.instrument_id, &inst, index, &mut out)
            .unwrap();
        out
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    fn raw(id: &'static str) -> RawInstrument<'static> {
        RawInstrument {
            instrument_id: id,
            side: Some("asset"),
            balance: Some(100_000.0),
            start_date: Some(d(2025, 1, 1)),
            maturity_date: Some(d(2035, 1, 1)),
            rate_type: Some("fixed"),
            rate: Some(0.07),
            payment_months: Some(1),
            amortization: Some("annuity"),
            day_count: Some("30E/360"),
            ..Default::default()
        }
    }

    /// A run per change of fixing, skipped fixings kept, every period in one.
    #[test]
    fn fixing_runs_cover_each_period_at_its_fixing() {
        let mut runs = FixingRuns::default();
        runs.set_from(&[0, 0, 1, 1, 1, 3]);
        let got: Vec<_> = runs.iter().collect();
        assert_eq!(got, [(0, 2, 0), (2, 5, 1), (5, 6, 3)]);
        runs.set_from(&[]);
        assert_eq!(runs.iter().count(), 0);
        runs.push(1, 0);
        assert_eq!(runs.iter().collect::<Vec<_>>(), [(0, 1, 0)]);
    }

    /// ACTUS test case ann02: 100,000 at 7 %, 30E/360, monthly, 10 years:
    /// payment 1161.08479, first interest 583.33333, first principal 577.75146.
    #[test]
    fn actus_ann02() {
        let f = flows(raw("ann02"), d(2024, 12, 31), None);
        assert_eq!(f.len(), 120);
        assert!(close(f[0].interest, 583.33333, 1e-8), "{}", f[0].interest);
        assert!(close(f[0].principal, 577.75146, 1e-8), "{}", f[0].principal);
        assert!(close(f[0].total(), 1161.08479, 1e-8), "{}", f[0].total());
        // Level throughout (30E/360 monthly interest equals b·p exactly) and the balance is cleared.
        assert!(f.iter().all(|x| close(x.total(), 1161.08479, 1e-8)));
        let repaid: f64 = f.iter().map(|x| x.principal).sum();
        assert!(close(repaid, 100_000.0, 1e-12));
    }

    /// QuantLib's amortizing-bond test: 30 years monthly on 100, level payment
    /// 0.421604034 at 3 % and 0.536821623 at 5 %.
    #[test]
    fn quantlib_amortizing_bond_payments() {
        for (rate, payment) in [(0.03, 0.421604034), (0.05, 0.536821623)] {
            let r = RawInstrument {
                balance: Some(100.0),
                rate: Some(rate),
                maturity_date: Some(d(2055, 1, 1)),
                ..raw("ql")
            };
            let f = flows(r, d(2024, 12, 31), None);
            assert_eq!(f.len(), 360);
            assert!(
                (f[0].total() - payment).abs() < 5e-10,
                "{rate}: {}",
                f[0].total()
            );
        }
    }

    /// Hand-worked CPR run-off on a 1,000 bullet, 12 % CPR, annual payments,
    /// ACT/365F at 5 %, as_of mid-period:
    /// period 1: 2025-01-01..2026-01-01 (365 days), as_of 2025-07-02 leaves 183 days:
    ///   τ = 183/365, prepay = 1000·(1 − 0.88^τ).
    /// period 2 (last): interest on what is left, all of it repaid as principal.
    #[test]
    fn cpr_run_off_hand_worked() {
        let r = RawInstrument {
            balance: Some(1000.0),
            rate: Some(0.05),
            amortization: Some("bullet"),
            day_count: Some("ACT/365F"),
            payment_months: Some(12),
            maturity_date: Some(d(2027, 1, 1)),
            prepayment_rate: Some(0.12),
            ..raw("cpr")
        };
        let f = flows(r, d(2025, 7, 2), None);
        assert_eq!(f.len(), 2);
        let tau: f64 = 183.0 / 365.0;
        let prepay = 1000.0 * (1.0 - 0.88f64.powf(tau));
        assert!(close(f[0].interest, 50.0, 1e-12)); // full period interest on 1,000
        assert_eq!(f[0].principal, 0.0);
        assert!(close(f[0].prepayment, prepay, 1e-12));
        let left = 1000.0 - prepay;
        assert!(close(f[1].balance, left, 1e-12));
        assert!(close(f[1].interest, left * 0.05, 1e-12));
        assert!(close(f[1].principal, left, 1e-12));
        assert_eq!(f[1].prepayment, 0.0);
    }

    /// Hand-worked non-maturity deposit: 1,200 savings (liability) at 1 %, ACT/365F,
    /// 3 months of behavioural life, 20 % CPR, as_of 2025-12-31:
    /// periods end 2026-01-31 (31 d), 2026-02-28 (28 d), 2026-03-31 (31 d).
    #[test]
    fn non_maturity_run_off_hand_worked() {
        let r = RawInstrument {
            side: Some("liability"),
            balance: Some(1200.0),
            rate: Some(0.01),
            maturity_date: None,
            amortization: Some("bullet"),
            day_count: Some("ACT/365F"),
            business_day: Some("following"),
            prepayment_rate: Some(0.2),
            behavioral_months: Some(3),
            ..raw("nmd")
        };
        let f = flows(r, d(2025, 12, 31), None);
        assert_eq!(f.len(), 3);
        let run = |b: f64, days: f64| b * (1.0 - 0.8f64.powf(days / 365.0));
        let p1 = run(1200.0, 31.0);
        let b2 = 1200.0 - p1;
        let p2 = run(b2, 28.0);
        let b3 = b2 - p2;
        assert!(close(f[0].interest, -1200.0 * 0.01 * 31.0 / 365.0, 1e-12));
        assert!(close(f[0].prepayment, -p1, 1e-12));
        assert!(close(f[1].balance, -b2, 1e-12));
        assert!(close(f[1].prepayment, -p2, 1e-12));
        // Last period: whatever is left is repaid as principal, no run-off.
        assert!(close(f[2].principal, -b3, 1e-12));
        assert_eq!(f[2].prepayment, 0.0);
        assert!(close(f[2].interest, -b3 * 0.01 * 31.0 / 365.0, 1e-12));
        // 2026-01-31 is a Saturday, 2026-02-28 a Saturday: following moves the pay dates.
        assert_eq!(f[0].pay_date, d(2026, 2, 2));
        assert_eq!(f[0].accrual_end, d(2026, 1, 31));
        assert_eq!(f[1].pay_date, d(2026, 3, 2));
        let total: f64 = f.iter().map(|x| x.principal + x.prepayment).sum();
        assert!(close(total, -1200.0, 1e-12));
    }

    /// Hand-worked floater on a flat 4 % curve (continuous), quarterly resets,
    /// ACT/360, spread 1 %: the forward over [d1, d2] is
    /// (exp(0.04·days/365) − 1)·360/days ≈ 3.96 %, all-in ≈ 4.96 %; a floor
    /// at 5.2 % and a cap at 4.9 % both bind.
    #[test]
    fn floating_projection_with_floor_and_cap() {
        let curve = Curve::new("USD_SOFR", "USD", vec![("1Y".into(), 0.04)]).unwrap();
        let base = Scenario::base();
        let table = ShockSizeTable::default();
        let sc = ScenarioCurve::new(&curve, &base, &table, RateFloor::Eu);
        let floater = |floor: Option<f64>, cap: Option<f64>| RawInstrument {
            balance: Some(1000.0),
            rate: Some(0.06),
            rate_type: Some("floating"),
            index_curve: Some("USD_SOFR"),
            spread: Some(0.01),
            reset_months: Some(3),
            rate_floor: floor,
            rate_cap: cap,
            payment_months: Some(3),
            amortization: Some("bullet"),
            day_count: Some("ACT/360"),
            start_date: Some(d(2025, 10, 15)),
            maturity_date: Some(d(2026, 7, 15)),
            ..raw("frn")
        };
        let as_of = d(2025, 12, 31);
        // Periods: 10-15..01-15 (reset 10-15 <= as_of: the rate column, 6 %),
        // 01-15..04-15 (reset 2026-01-15, 90 days), 04-15..07-15 (reset 2026-04-15, 91 days).
        let fwd = |from: i32, days: i32| {
            let (t1, t2) = (from as f64 / 365.0, (from + days) as f64 / 365.0);
            ((0.04 * (t2 - t1)).exp() - 1.0) * 360.0 / days as f64
        };
        let f2 = fwd(15, 90) + 0.01; // ≈ 4.96 %
        let f3 = fwd(105, 91) + 0.01;
        let plain = flows(floater(None, None), as_of, Some(&sc));
        assert_eq!(plain.len(), 3);
        assert_eq!(plain[0].rate, 0.06);
        assert!(close(
            plain[0].interest,
            1000.0 * 0.06 * 92.0 / 360.0,
            1e-12
        ));
        assert!(close(plain[1].rate, f2, 1e-12), "{} vs {f2}", plain[1].rate);
        assert!(close(plain[2].rate, f3, 1e-12));
        assert!(close(plain[1].interest, 1000.0 * f2 * 90.0 / 360.0, 1e-12));
        let floored = flows(floater(Some(0.052), None), as_of, Some(&sc));
        assert_eq!(floored[0].rate, 0.06); // the current fixing is not re-floored
        assert_eq!(floored[1].rate, 0.052);
        assert_eq!(floored[2].rate, 0.052);
        assert!(close(
            floored[2].interest,
            1000.0 * 0.052 * 91.0 / 360.0,
            1e-12
        ));
        let capped = flows(floater(None, Some(0.049)), as_of, Some(&sc));
        assert_eq!(capped[0].rate, 0.06);
        assert_eq!(capped[1].rate, 0.049);
        assert_eq!(capped[2].rate, 0.049);
    }

    /// A floater resetting every 6 months but paying monthly: each period uses the
    /// fixing of the last reset on or before its start (hand rule: resets on
    /// 2025-07-31, 2026-01-31, 2026-07-31; Jan 31 + 6M clamps to Jul 31).
    #[test]
    fn monthly_payments_share_the_six_monthly_fixing() {
        let curve = Curve::new("C", "USD", vec![("1Y".into(), 0.03), ("5Y".into(), 0.05)]).unwrap();
        let table = ShockSizeTable::default();
        let sc = ScenarioCurve::new(&curve, &Scenario::base(), &table, RateFloor::Eu);
        let raw = RawInstrument {
            rate_type: Some("floating"),
            index_curve: Some("C"),
            reset_months: Some(6),
            spread: Some(0.0),
            start_date: Some(d(2025, 1, 31)),
            maturity_date: Some(d(2027, 1, 31)),
            payment_months: Some(1),
            rate: Some(0.04),
            ..raw("arm")
        };
        let as_of = d(2025, 12, 31);
        let f = flows(raw, as_of, Some(&sc));
        assert_eq!(f.len(), 13);
        let fixing = |reset: Date| {
            forward_rate(&sc, as_of, reset, reset.add_months(6), DayCount::Thirty360E)
        };
        assert_eq!(f[0].rate, 0.04); // period from 2025-12-31, last reset 2025-07-31 <= as_of
        for flow in &f[1..7] {
            assert_eq!(flow.rate, fixing(d(2026, 1, 31)), "{}", flow.accrual_start);
        }
        for flow in &f[7..] {
            assert_eq!(flow.rate, fixing(d(2026, 7, 31)), "{}", flow.accrual_start);
        }
        assert_ne!(f[6].rate, f[7].rate);
    }

    /// One projector reused across instruments (it keeps the last schedule
    /// and run-off factors) gives exactly what a fresh projector gives, in
    /// any order: same terms with another rate or prepayment, other terms,
    /// and back again.
    /// Schedules taken from the shared grids are the rolled ones: every flow
    /// of thousands of instruments (start and maturity days across month
    /// ends, front stubs, forward starts, loans maturing days after as_of,
    /// non-maturity products) under every roll frequency, business-day rule
    /// and day count, on a calendar with holidays and on as_of dates at a
    /// month's end and on a weekend, is identical field for field; the
    /// grid projector, reused across all of them, is the book's case.
    #[test]
    fn grid_schedules_equal_rolled_schedules() {
        let holidays = (2020..2060)
            .flat_map(|y| [d(y, 1, 1), d(y, 5, 1), d(y, 12, 25), d(y, 12, 31)])
            .collect();
        let calendars = [Calendar::weekends_only(), Calendar::with_holidays(holidays)];
        let day_counts = ["ACT/360", "ACT/365F", "30/360", "30E/360", "ACT/ACT"];
        let rules = ["unadjusted", "following", "modified_following"];
        let mut seed = 11u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut compared = 0;
        let mut on_grid = 0;
        let mut stubs = 0;
        // Wednesday 31 Dec 2025, Saturday 29 Feb 2020, Sunday 30 Apr 2023.
        for as_of in [d(2025, 12, 31), d(2020, 2, 29), d(2023, 4, 30)] {
            for cal in &calendars {
                let mut grid = Projector::new(as_of, cal);
                for i in 0..2500 {
                    let months = [0, 1, 1, 3, 6, 12][next(6) as usize];
                    let start = as_of.add_days(next(4000) as i32 - 3650);
                    let maturity = match next(10) {
                        // Days after as_of, or on a month's last days.
                        0 => as_of.add_days(1 + next(40) as i32),
                        1 => Date::from_ym_clamped(
                            2026 + next(30) as i32,
                            1 + next(12) as i64,
                            28 + next(4) as u32,
                        ),
                        _ => start
                            .add_months(12 * (1 + next(30) as i32))
                            .add_days(next(3) as i32),
                    };
                    let non_maturity = next(8) == 0;
                    let id = format!("i{i}");
                    let r = RawInstrument {
                        instrument_id: "x",
                        start_date: Some(start),
                        maturity_date: (!non_maturity).then_some(maturity),
                        behavioral_months: non_maturity.then_some(1 + next(120) as i32),
                        payment_months: Some(months),
                        amortization: Some(["annuity", "linear", "bullet"][next(3) as usize]),
                        day_count: Some(day_counts[next(5) as usize]),
                        business_day: Some(rules[next(3) as usize]),
                        prepayment_rate: Some([0.0, 0.07][next(2) as usize]),
                        ..raw("x")
                    };
                    let Ok(inst) = r.validate() else { continue };
                    let (mut want, mut got) = (Vec::new(), Vec::new());
                    let rolled = Projector::new(as_of, cal)
                        .rolling_each_schedule()
                        .project(&id, &inst, None, &mut want);
                    let shared = grid.project(&id, &inst, None, &mut got);
                    assert_eq!(rolled.is_ok(), shared.is_ok(), "{id} {inst:?}");
                    assert_eq!(got, want, "{id} as of {as_of}: {inst:?}");
                    // Each flow's pay date is the one its grid window gives.
                    if let Some(window) = grid.grid_window() {
                        for (j, flow) in got.iter().enumerate() {
                            let on_grid = grid.grid_pay_date(window.grid, window.first + j);
                            assert_eq!(on_grid, Some(flow.pay_date), "{id} flow {j}: {inst:?}");
                        }
                        on_grid += got.len();
                    }
                    if got
                        .first()
                        .is_some_and(|f| f.accrual_start == inst.start_date)
                    {
                        stubs += 1;
                    }
                    compared += got.len();
                }
            }
        }
        assert!(compared > 500_000, "{compared} flows compared");
        assert!(
            on_grid > compared / 2,
            "{on_grid} of {compared} flows on grids"
        );
        assert!(stubs > 500, "{stubs} first periods from the start date");
    }

    /// `project_totals` of `inst` under `indexes`.
    fn totals_of(
        projector: &mut Projector,
        inst: &Instrument,
        indexes: (&[Option<&ScenarioCurve>], Option<&LaneFactors>),
    ) -> Vec<f64> {
        let mut totals = Vec::new();
        projector
            .project_totals("x", inst, indexes, &mut totals)
            .unwrap();
        // Added to sums instead, on a grid: each sum grows by its total.
        let start = |k: usize| 1e6 + k as f64 * 0.37;
        let mut sums: Vec<f64> = (0..totals.len()).map(start).collect();
        let mut placed = None;
        let added = projector
            .add_totals_to(
                "x",
                inst,
                indexes,
                (&mut Vec::new(), |window, n| {
                    placed = Some((window, n));
                    Some(&mut sums[..])
                }),
            )
            .unwrap();
        assert_eq!(added, projector.grid_window().is_some());
        if added {
            let n = totals.len() / indexes.0.len();
            assert_eq!(placed, Some((projector.grid_window().unwrap(), n)));
            for (k, (sum, total)) in sums.iter().zip(&totals).enumerate() {
                assert_eq!(sum.to_bits(), (start(k) + total).to_bits(), "sum {k}");
            }
        }
        totals
    }

    /// Lane `s` of `lanes` of `project_totals`' totals is each of `flows`'
    /// total, bit for bit.
    fn assert_lane_is_flows(
        totals: &[f64],
        (s, lanes): (usize, usize),
        flows: &[Flow],
        what: &str,
    ) {
        assert_eq!(totals.len(), flows.len() * lanes, "{what}");
        for (j, flow) in flows.iter().enumerate() {
            let (got, want) = (totals[j * lanes + s], flow.total());
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{what}: flow {j}, {got} against {want}"
            );
        }
    }

    #[test]
    fn reused_projector_equals_fresh_projections() {
        let variants = [
            raw("annuity"),
            RawInstrument {
                rate: Some(0.03),
                ..raw("same schedule, other rate")
            },
            RawInstrument {
                prepayment_rate: Some(0.08),
                ..raw("same schedule, prepaying")
            },
            RawInstrument {
                prepayment_rate: Some(0.15),
                ..raw("same schedule, faster")
            },
            RawInstrument {
                day_count: Some("ACT/360"),
                ..raw("other day count")
            },
            RawInstrument {
                payment_months: Some(3),
                amortization: Some("linear"),
                ..raw("quarterly")
            },
            RawInstrument {
                business_day: Some("following"),
                ..raw("adjusted")
            },
            RawInstrument {
                start_date: Some(d(2024, 6, 15)),
                ..raw("other start")
            },
            RawInstrument {
                maturity_date: None,
                behavioral_months: Some(24),
                prepayment_rate: Some(0.2),
                amortization: Some("bullet"),
                ..raw("non-maturity")
            },
            RawInstrument {
                maturity_date: None,
                behavioral_months: Some(36),
                prepayment_rate: Some(0.2),
                amortization: Some("bullet"),
                ..raw("longer non-maturity")
            },
            floating(3, d(2025, 1, 1), "floater"),
            RawInstrument {
                maturity_date: Some(d(2031, 1, 1)),
                ..floating(3, d(2025, 1, 1), "same resets, other schedule")
            },
            floating(12, d(2025, 1, 1), "same schedule, other resets"),
            floating(1, d(2025, 1, 1), "same schedule, monthly resets"),
            floating(3, d(2024, 11, 20), "other start"),
            // Reset chains: a start long before as_of (its first resets
            // before any chain's), a month's end clamped in February and in
            // a leap year, resets more frequent than payments.
            RawInstrument {
                start_date: Some(d(2012, 1, 31)),
                maturity_date: Some(d(2037, 1, 31)),
                ..floating(
                    1,
                    d(2012, 1, 31),
                    "monthly resets from a month's end, long ago",
                )
            },
            RawInstrument {
                start_date: Some(d(2016, 2, 29)),
                maturity_date: Some(d(2046, 2, 28)),
                business_day: Some("following"),
                ..floating(12, d(2016, 2, 29), "annual resets from a leap day")
            },
            RawInstrument {
                maturity_date: Some(d(2036, 8, 31)),
                payment_months: Some(12),
                amortization: Some("bullet"),
                day_count: Some("ACT/360"),
                ..floating(3, d(2014, 8, 31), "quarterly resets, annual payments")
            },
            RawInstrument {
                maturity_date: Some(d(2036, 8, 31)),
                ..floating(3, d(2014, 8, 31), "same resets, monthly payments")
            },
            RawInstrument {
                maturity_date: Some(d(2036, 8, 31)),
                rate_floor: Some(0.03),
                rate_cap: Some(0.045),
                ..floating(3, d(2014, 8, 31), "same resets, floored and capped")
            },
            RawInstrument {
                maturity_date: None,
                behavioral_months: Some(24),
                ..floating(6, d(2023, 3, 10), "non-maturity floater")
            },
            RawInstrument {
                maturity_date: None,
                behavioral_months: Some(24),
                ..floating(
                    6,
                    d(2024, 5, 31),
                    "same schedule, resets from another start",
                )
            },
        ];
        let as_of = d(2025, 12, 31);
        let cal = Calendar::weekends_only();
        // An upward-sloping index curve, and the same under a +200 bp shock.
        let curve = Curve::new(
            "EUR_ESTR",
            "EUR",
            vec![
                ("1Y".into(), 0.02),
                ("5Y".into(), 0.03),
                ("30Y".into(), 0.035),
            ],
        )
        .unwrap();
        let table = ShockSizeTable::default();
        let up = Scenario::uniform("up", crate::scenario::Shift::Parallel(200.0));
        let down = Scenario::uniform("down", crate::scenario::Shift::Parallel(-150.0));
        let curves = [
            ScenarioCurve::new(&curve, &Scenario::base(), &table, RateFloor::Eu),
            ScenarioCurve::new(&curve, &up, &table, RateFloor::Eu),
            ScenarioCurve::new(&curve, &down, &table, RateFloor::Eu),
        ];
        // Ten scenarios: more than a chunk of lanes holds.
        let many: Vec<ScenarioCurve> = (-4..6)
            .map(|k| {
                let shift = crate::scenario::Shift::Parallel(f64::from(k) * 50.0);
                let scenario = Scenario::uniform(&format!("p{k}"), shift);
                ScenarioCurve::new(&curve, &scenario, &table, RateFloor::Eu)
            })
            .collect();
        let many_tabled = LaneFactors::new(&many.iter().collect::<Vec<_>>());
        let mut reused = Projector::new(as_of, &cal);
        let order: Vec<usize> = (0..variants.len())
            .chain((0..variants.len()).rev())
            .collect();
        for i in order {
            let inst = variants[i].validate().unwrap();
            // A floater under each scenario in turn, as cashflows() projects it.
            for index in &curves {
                let mut got = Vec::new();
                reused.project("x", &inst, Some(index), &mut got).unwrap();
                let fresh = flows(variants[i].clone(), as_of, Some(index));
                assert!(!fresh.is_empty());
                assert_eq!(got, fresh, "{}", variants[i].instrument_id);
            }
            // Every scenario in one pass: each flow's total, bit for bit.
            let indexes: Vec<_> = curves.iter().map(Some).collect();
            let totals = totals_of(&mut reused, &inst, (&indexes, None));
            for (s, index) in curves.iter().enumerate() {
                let fresh = flows(variants[i].clone(), as_of, Some(index));
                // One scenario alone (the one-lane loop), too.
                let alone = totals_of(&mut reused, &inst, (&[Some(index)], None));
                let what = format!("{} alone under curve {s}", variants[i].instrument_id);
                assert_lane_is_flows(&alone, (0, 1), &fresh, &what);
                assert!(reused.pay_dates().eq(fresh.iter().map(|f| f.pay_date)));
                let what = format!("{} under curve {s}", variants[i].instrument_id);
                assert_lane_is_flows(&totals, (s, curves.len()), &fresh, &what);
            }
            // Two chunks of lanes, with and without the factors tabled by lane.
            let many_indexes: Vec<_> = many.iter().map(Some).collect();
            for tabled in [None, Some(&many_tabled)] {
                let totals = totals_of(&mut reused, &inst, (&many_indexes, tabled));
                for (s, index) in many.iter().enumerate() {
                    let fresh = flows(variants[i].clone(), as_of, Some(index));
                    let what = format!(
                        "{} under shift {s} of ten, tabled: {}",
                        variants[i].instrument_id,
                        tabled.is_some()
                    );
                    assert_lane_is_flows(&totals, (s, many.len()), &fresh, &what);
                }
            }
        }
        let (base, shocked) = (
            flows(variants[10].clone(), as_of, Some(&curves[0])),
            flows(variants[10].clone(), as_of, Some(&curves[1])),
        );
        assert!(
            shocked[1].rate > base[1].rate + 0.019,
            "the floater's fixings follow the shocked curve"
        );
    }

    /// The carried level payment is methodology.md's P recomputed every
    /// period on the balance at hand: a 40-year monthly annuity, prepaying,
    /// at rates from zero to very high, each period's principal against
    /// P − b·p with P = b·p / (1 − (1 + p)^−k) from the flow's own balance.
    #[test]
    fn chunk_power_is_powi_bit_for_bit() {
        // 1 + p for periodic rates from 0 to 3 %, over every exponent a
        // schedule can have, both signs.
        for k in (-1300..=1300).step_by(7).chain([-1, 0, 1, 2, -2]) {
            for i in 0..10 {
                let base: [f64; LANES] = std::array::from_fn(|j| {
                    let x = f64::from(i * LANES as i32 + j as i32);
                    1.0 + x * 0.000_773_1 + x * x * 1e-9
                });
                let got = powi_chunk(base, k);
                for (b, g) in base.iter().zip(got) {
                    assert_eq!(g.to_bits(), b.powi(k).to_bits(), "{b}^{k}");
                }
            }
        }
    }

    #[test]
    fn carried_payment_is_the_recomputed_one() {
        for (rate, cpr) in [
            (0.0, 0.0),
            (0.0, 0.08),
            (0.001, 0.0),
            (0.045, 0.06),
            (0.30, 0.25),
        ] {
            let r = RawInstrument {
                rate: Some(rate),
                prepayment_rate: Some(cpr),
                maturity_date: Some(d(2065, 1, 1)),
                ..raw("carried")
            };
            let f = flows(r, d(2024, 12, 31), None);
            assert_eq!(f.len(), 480);
            let p = rate / 12.0;
            for (j, x) in f.iter().enumerate() {
                let k = (f.len() - j) as i32;
                let want = if k == 1 {
                    x.balance
                } else {
                    level_payment(x.balance, p, k) - x.balance * p
                };
                // Relative to the payment (P − b·p loses digits of its own
                // when the principal is a small part of it: high p, long k),
                // plus what the balance gathers over 480 periods: the carried
                // P's own rounding (about 1e-12 relative, from 1 + p) is
                // repaid with every payment where a recomputed P would
                // correct it, so up to some 1e-12 of the notional is left for
                // the last payments (a millionth of a cent on 100,000).
                let payment = level_payment(x.balance, p, k);
                assert!(
                    (x.principal - want).abs() <= 1e-12 * payment + 1e-11 * 100_000.0,
                    "rate {rate} cpr {cpr} period {j}: {} vs {want}",
                    x.principal
                );
            }
            // Run-off shrinks the payment: the carried one must follow it.
            if cpr > 0.0 && rate > 0.0 {
                assert!(
                    f[100].principal + f[100].interest < 0.9 * (f[0].principal + f[0].interest)
                );
            }
            let left = f.last().unwrap();
            let repaid: f64 = f.iter().map(|x| x.principal + x.prepayment).sum();
            assert!(close(repaid, 100_000.0, 1e-12), "rate {rate}: {repaid}");
            assert!(
                left.prepayment == 0.0,
                "the last payment clears the balance"
            );
        }
    }

    /// The standalone scheduled principal is P − b·p; the last payment clears the balance.
    #[test]
    fn scheduled_principal_is_level_payment_less_interest() {
        let (b, p) = (123_456.789, 0.07 / 12.0);
        // P = 821.361097685, b·p = 720.164602500 (worked in Python floats).
        let principal = scheduled_principal(Amortization::Annuity, b, p, 360);
        assert!(close(principal, 101.196_495_185_098, 1e-12), "{principal}");
        assert_eq!(scheduled_principal(Amortization::Annuity, 42.0, p, 1), 42.0);
        assert_eq!(scheduled_principal(Amortization::Linear, 120.0, p, 4), 30.0);
        assert_eq!(scheduled_principal(Amortization::Bullet, 120.0, p, 4), 0.0);
    }

    /// A monthly floating annuity to 2035 resetting every `reset_months` from `start`.
    fn floating(reset_months: i32, start: Date, id: &'static str) -> RawInstrument<'static> {
        RawInstrument {
            rate_type: Some("floating"),
            rate: Some(0.025),
            index_curve: Some("EUR_ESTR"),
            spread: Some(0.012),
            reset_months: Some(reset_months),
            start_date: Some(start),
            ..raw(id)
        }
    }

    #[test]
    fn matured_instrument_with_balance_is_an_error() {
        let inst = raw("old").validate().unwrap();
        let cal = Calendar::weekends_only();
        let err = Projector::new(d(2040, 1, 1), &cal)
            .project("old", &inst, None, &mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'old'") && err.contains("maturity_date") && err.contains("2035-01-01"),
            "{err}"
        );
    }

    #[test]
    fn reset_lookup() {
        let s = d(2024, 1, 31);
        assert_eq!(
            last_reset_on_or_before(s, 3, d(2024, 4, 29)),
            d(2024, 1, 31)
        );
        assert_eq!(
            last_reset_on_or_before(s, 3, d(2024, 4, 30)),
            d(2024, 4, 30)
        );
        assert_eq!(
            last_reset_on_or_before(s, 1, d(2024, 3, 30)),
            d(2024, 2, 29)
        );
        assert_eq!(
            last_reset_on_or_before(s, 1, d(2024, 3, 31)),
            d(2024, 3, 31)
        );
        assert_eq!(last_reset_on_or_before(s, 12, d(2020, 1, 1)), s);
    }
}
