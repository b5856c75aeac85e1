//! Cash-flow projection of one instrument (methodology.md, "Schedules" and "Amounts").

use crate::calendar::{BusinessDayRule, Calendar};
use crate::date::Date;
use crate::daycount::{curve_time, DayCount};
use crate::error::{Error, Result};
use crate::grid::{FuturePeriod, Grids};
use crate::instrument::{Amortization, FloatingTerms, Instrument};
use crate::scenario::ScenarioCurve;
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
pub struct Projector<'a> {
    pub as_of: Date,
    pub calendar: &'a Calendar,
    /// Scratch: the whole schedule, paid periods included, while `future` is built.
    periods: Vec<Period>,
    /// The periods paid after as_of of the schedule of `schedule_of`.
    future: Vec<FuturePeriod>,
    schedule_of: Option<ScheduleKey>,
    /// The prepayment / run-off rate `future`'s run-off factors were computed for.
    runoff_rate: Option<f64>,
    /// A floater's fixings over `future` (each period's `fixing` indexes them).
    fixings: Vec<Fixing>,
    /// The start date and reset months `fixings` were computed for, on `schedule_of`.
    fixings_of: Option<(Date, u32)>,
    /// Schedules shared by instruments rolling on the same dates; `None`:
    /// every schedule rolled on its own (the reference the grids are tested against).
    grids: Option<Grids>,
}

/// One rate fixing of a floater: what its forward needs besides the
/// scenario's curve (the reset's and its index period end's curve times and
/// the index period's year fraction), or `None` when the reset is on or
/// before as_of (the `rate` column applies).
type Fixing = Option<ForwardTimes>;

/// The scenario-independent parts of a simple forward rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForwardTimes {
    pub t1: f64,
    pub t2: f64,
    pub year_frac: f64,
}

impl ForwardTimes {
    pub fn new(as_of: Date, d1: Date, d2: Date, day_count: DayCount) -> Self {
        ForwardTimes {
            t1: curve_time(as_of, d1),
            t2: curve_time(as_of, d2),
            year_frac: day_count.year_frac(d1, d2),
        }
    }

    /// F = (DF(t1)/DF(t2) − 1) / year_frac on the curve.
    pub fn forward(&self, curve: &ScenarioCurve) -> f64 {
        self.forward_after(curve, &mut None)
    }

    /// The same, given the last discount factor computed (`last`: its time
    /// and value, updated to DF(t2)): consecutive fixings usually meet, one's
    /// index period ending on the next one's reset, so DF(t1) is known.
    pub fn forward_after(&self, curve: &ScenarioCurve, last: &mut Option<(f64, f64)>) -> f64 {
        let df1 = match *last {
            Some((t, df)) if t == self.t1 => df,
            _ => curve.discount_factor(self.t1),
        };
        let df2 = curve.discount_factor(self.t2);
        *last = Some((self.t2, df2));
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

impl<'a> Projector<'a> {
    pub fn new(as_of: Date, calendar: &'a Calendar) -> Self {
        Projector {
            as_of,
            calendar,
            periods: Vec::with_capacity(512),
            future: Vec::with_capacity(512),
            schedule_of: None,
            runoff_rate: None,
            fixings: Vec::new(),
            fixings_of: None,
            grids: Some(Grids::default()),
        }
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
        let on_grid = self.grids.as_mut().is_some_and(|grids| {
            grids.future_periods(inst, as_of, self.calendar, &mut self.future)
        });
        if !on_grid {
            self.roll_schedule(inst);
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
                self.calendar,
                Some(as_of),
                &mut self.periods,
            ),
            None => monthly_from(
                as_of,
                inst.behavioral_months,
                inst.business_day,
                self.calendar,
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
        let mut window: Option<(Date, Date)> = None;
        for p in &mut self.future {
            let start = p.period.accrual_start;
            let current = matches!(window, Some((from, until)) if from <= start && start < until);
            if !current {
                let (reset, next) = reset_window(inst.start_date, terms.reset_months, start);
                window = Some((reset, next));
                let fixing_end = reset.add_months(terms.reset_months as i32);
                self.fixings.push(
                    (reset > as_of)
                        .then(|| ForwardTimes::new(as_of, reset, fixing_end, inst.day_count)),
                );
            }
            p.fixing = (self.fixings.len() - 1) as u32;
        }
        self.fixings_of = Some(key);
    }

    /// Sets each future period's run-off factor for the prepayment rate `cpr`.
    fn prepare_runoff(&mut self, cpr: f64) {
        if self.runoff_rate == Some(cpr) {
            return;
        }
        // 1 − (1 − CPR)^τ, as 1 − exp(τ·ln(1 − CPR)) with the log taken once;
        // computed once per length of period (monthly periods have four).
        let log_survival = (1.0 - cpr).ln();
        let mut known: [(i32, f64); 4] = [(0, 0.0); 4];
        for p in &mut self.future {
            p.runoff = if cpr > 0.0 && p.exposed_days > 0 {
                let slot = &mut known[p.exposed_days as usize % known.len()];
                if slot.0 != p.exposed_days {
                    let years = p.exposed_days as f64 / 365.0;
                    *slot = (p.exposed_days, -(years * log_survival).exp_m1());
                }
                slot.1
            } else {
                0.0
            };
        }
        self.runoff_rate = Some(cpr);
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
        let as_of = self.as_of;
        self.prepare_schedule(inst);
        self.prepare_runoff(inst.prepayment_rate);
        if let Some(terms) = &inst.floating {
            self.prepare_fixings(inst, terms);
        }
        let month_step = match inst.maturity_date {
            Some(_) => inst.payment_months,
            None => 1,
        };
        let remaining = &self.future;
        if remaining.is_empty() {
            if inst.balance > 0.0 {
                let maturity = inst
                    .maturity_date
                    .map_or("NULL".to_string(), |d| d.to_string());
                return Err(Error::Instrument {
                    instrument_id: instrument_id.to_string(),
                    column: "maturity_date",
                    value: maturity,
                    reason: format!(
                        "has no payment after as_of {as_of} but balance is {}",
                        inst.balance
                    ),
                });
            }
            return Ok(());
        }

        let sign = inst.side.sign();
        // The fixing of the previous period and its rate under this scenario.
        let mut fixed: Option<(u32, f64)> = None;
        // The last discount factor on the index curve (time, value).
        let mut last_df = None;
        // An annuity's (1 + p)^−k while its rate holds.
        let mut powers = Powers::new(f64::NAN, 0);
        let n = remaining.len();
        let mut b = inst.balance;
        for (j, future) in remaining.iter().enumerate() {
            let period = &future.period;
            if period.accrual_start >= until {
                break;
            }
            let payments_left = (n - j) as i32;
            let rate = match &inst.floating {
                None => inst.rate,
                Some(terms) => match fixed {
                    Some((at, rate)) if at == future.fixing => rate,
                    _ => {
                        let fixing = &self.fixings[future.fixing as usize];
                        let rate =
                            fixed_rate(instrument_id, inst, terms, fixing, index, &mut last_df)?;
                        fixed = Some((future.fixing, rate));
                        rate
                    }
                },
            };
            let interest = b * rate * future.accrual_years;
            let p = rate * month_step as f64 / 12.0;
            if inst.amortization == Amortization::Annuity && powers.base != 1.0 + p {
                powers = Powers::new(1.0 + p, payments_left);
            }
            let principal =
                scheduled_principal(inst.amortization, b, p, payments_left, Some(&powers));
            let after_schedule = b - principal;
            let prepayment = if future.runoff > 0.0 && after_schedule > 0.0 {
                after_schedule * future.runoff
            } else {
                0.0
            };
            out.push(Flow {
                pay_date: period.pay_date,
                accrual_start: period.accrual_start,
                accrual_end: period.accrual_end,
                balance: sign * b,
                rate,
                interest: sign * interest,
                principal: sign * principal,
                prepayment: sign * prepayment,
            });
            b = after_schedule - prepayment;
        }
        Ok(())
    }
}

/// Scheduled principal of a period with balance `b`, periodic rate `p`
/// (the all-in rate times the months between payments over 12) and
/// `payments_left` including this one. The last payment clears the balance.
/// `powers`, if given, holds the powers of 1 + p (the same numbers, faster).
pub fn scheduled_principal(
    amortization: Amortization,
    b: f64,
    p: f64,
    payments_left: i32,
    powers: Option<&Powers>,
) -> f64 {
    if payments_left <= 1 {
        return b;
    }
    match amortization {
        Amortization::Bullet => 0.0,
        // B/n without run-off; re-levelled on the balance left after a prepayment.
        Amortization::Linear => b / payments_left as f64,
        Amortization::Annuity => {
            let v = match powers {
                Some(powers) if powers.base == 1.0 + p => powers.inverse(payments_left),
                _ => (1.0 + p).powi(-payments_left),
            };
            // P − b·p with P = b·p / (1 − v), written as b · p·v / (1 − v): the
            // same number without the cancellation, and the division no longer
            // waits for b, so one period's balance follows the last's sooner.
            if p == 0.0 {
                b / payments_left as f64
            } else {
                b * (p * v / (1.0 - v))
            }
        }
    }
}

/// Level payment P = b·p / (1 − (1 + p)^−k); b / k when p = 0.
pub fn level_payment(b: f64, p: f64, k: i32) -> f64 {
    if p == 0.0 {
        b / k as f64
    } else {
        b * p / (1.0 - (1.0 + p).powi(-k))
    }
}

/// Powers x^−k of one base for many k, bit for bit what `x.powi(-k)` gives.
/// `powi` (compiler-builtins' `__powidf2`) squares x once per bit of k and
/// multiplies the squares of k's set bits, lowest first, then takes the
/// reciprocal; here the squares are computed once per base (an annuity's
/// rate holds for many periods) and only the multiplications remain.
#[derive(Debug, Clone)]
pub struct Powers {
    base: f64,
    /// x^(2^i).
    squares: [f64; 32],
}

impl Powers {
    /// The squares needed for every k up to `max_k`.
    pub fn new(base: f64, max_k: i32) -> Powers {
        let mut squares = [f64::NAN; 32];
        let bits = 32 - max_k.unsigned_abs().leading_zeros() as usize;
        let mut square = base;
        for (i, slot) in squares.iter_mut().enumerate().take(bits.max(1)) {
            if i > 0 {
                square *= square;
            }
            *slot = square;
        }
        Powers { base, squares }
    }

    /// base^−k, for 0 ≤ k ≤ the `max_k` given (else NaN; never a wrong number).
    pub fn inverse(&self, k: i32) -> f64 {
        let mut bits = k.unsigned_abs();
        let mut product = 1.0;
        while bits != 0 {
            product *= self.squares[bits.trailing_zeros() as usize];
            bits &= bits - 1;
        }
        1.0 / product
    }
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
    last_df: &mut Option<(f64, f64)>,
) -> Result<f64> {
    let Some(times) = fixing else {
        return Ok(inst.rate);
    };
    let curve = index.ok_or_else(|| Error::Instrument {
        instrument_id: instrument_id.to_string(),
        column: "index_curve",
        value: terms.index_curve.clone(),
        reason: "no such curve on the as_of date".into(),
    })?;
    Ok(terms.all_in(times.forward_after(curve, last_df)))
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
        assert!(stubs > 500, "{stubs} first periods from the start date");
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
        let curves = [
            ScenarioCurve::new(&curve, &Scenario::base(), &table, RateFloor::Eu),
            ScenarioCurve::new(&curve, &up, &table, RateFloor::Eu),
        ];
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

    /// The kept squares give `powi`'s numbers bit for bit, for the rates and
    /// terms annuities have and beyond.
    #[test]
    fn powers_equal_powi_bit_for_bit() {
        for p in [
            0.0,
            1e-9,
            0.0004,
            0.0025,
            0.003_141_5,
            0.01 / 12.0,
            0.07 / 12.0,
            0.25,
            3.0,
        ] {
            let powers = Powers::new(1.0 + p, 2400);
            for k in 0..=2400 {
                let (got, want) = (powers.inverse(k), (1.0 + p).powi(-k));
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "p {p} k {k}: {got} vs {want}"
                );
            }
            assert!(
                powers.inverse(4096).is_nan(),
                "beyond max_k: NaN, not a wrong number"
            );
        }
    }

    /// The annuity's scheduled principal, computed as b·p·v / (1 − v), is the
    /// methodology's P − b·p to rounding, with or without the kept powers.
    #[test]
    fn annuity_principal_is_level_payment_less_interest() {
        for p in [0.0, 1e-7, 0.001, 0.07 / 12.0, 0.05 / 4.0, 0.3] {
            let powers = Powers::new(1.0 + p, 600);
            for k in [2, 3, 12, 59, 60, 120, 360, 600] {
                let b = 123_456.789;
                let payment = level_payment(b, p, k);
                let want = payment - b * p;
                for kept in [None, Some(&powers)] {
                    let got = scheduled_principal(Amortization::Annuity, b, p, k, kept);
                    // To rounding of P: P − b·p itself loses digits when the
                    // principal is a small part of the payment (high p, long k).
                    assert!(
                        (got - want).abs() <= 1e-14 * payment,
                        "p {p} k {k}: {got} vs {want}"
                    );
                }
            }
            let last = scheduled_principal(Amortization::Annuity, 42.0, p, 1, Some(&powers));
            assert_eq!(last, 42.0, "the last payment clears the balance");
        }
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
