//! Schedules shared by instruments (methodology.md, "Schedules").
//!
//! A backward schedule's dates are the maturity's day of the month (clamped
//! to the month's end) every `months` months back from it. Every instrument
//! that rolls on the same day, every `months` months, in the same months of
//! the year, therefore has its periods on one infinite grid of dates: its
//! future periods are a window of that grid, from the first period paid after
//! as_of to its maturity, plus at most a short front stub from its start
//! date. A non-maturity product's monthly periods from as_of are a window of
//! the grid on as_of's day.
//!
//! The grid of each (day, months, month of the year, business-day rule, day
//! count) is built once per projector, with each period's pay date and year
//! fraction computed by the same functions a rolled schedule uses, so the
//! numbers are the same (tested against rolling, in `cashflow`'s tests).
//! A book of a million mortgages shares a few hundred grids instead of
//! rolling a million schedules.

use foldhash::HashMap;

use crate::calendar::{BusinessDayRule, Calendar};
use crate::date::Date;
use crate::daycount::DayCount;
use crate::instrument::Instrument;
use crate::schedule::Period;

/// A period paid after as_of, with the parts that are the same for every
/// instrument on its schedule (run-off and fixings are the projector's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FuturePeriod {
    pub period: Period,
    /// Year fraction of the accrual period in the instrument's day count.
    pub accrual_years: f64,
    /// Days of the period after as_of: over 365, the run-off's time.
    pub exposed_days: i32,
}

impl FuturePeriod {
    pub fn new(period: Period, day_count: DayCount, as_of: Date) -> Self {
        FuturePeriod {
            period,
            accrual_years: day_count.year_frac(period.accrual_start, period.accrual_end),
            exposed_days: (period.accrual_end.0 - period.accrual_start.0.max(as_of.0)).max(0),
        }
    }
}

/// An instrument's future periods as [`Grids::future_periods`] finds them:
/// grid periods `grid_periods` of the window's grid, after a short front
/// stub if it has one.
pub(crate) struct OnGrid {
    pub window: GridWindow,
    pub stub: Option<FuturePeriod>,
    pub grid_periods: std::ops::Range<usize>,
}

/// Grids longer than this (a century of monthly periods) are not kept: such
/// an instrument rolls its own schedule.
const MAX_GRID_PERIODS: i64 = 1200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct GridKey {
    day: u32,
    months: u32,
    /// The grid's month index (year · 12 + month − 1) modulo `months`.
    phase: u32,
    rule: BusinessDayRule,
    day_count: DayCount,
}

/// The periods ending on `day` of every `months`-th month, from a little
/// before as_of on: period i ends in month `first_month + i · months` and
/// starts where period i − 1 ends.
#[derive(Debug)]
struct Grid {
    first_month: i64,
    periods: Vec<FuturePeriod>,
    /// The first period paid after as_of.
    first_future: usize,
}

/// The grids of one projector (one as_of and calendar), numbered in the
/// order they were first needed.
#[derive(Debug, Default)]
pub(crate) struct Grids {
    index: HashMap<GridKey, u32>,
    grids: Vec<Grid>,
}

/// Where an instrument's future periods lie on a grid: future period `j`
/// is paid on the pay date of period `first + j` of grid `grid` (a short
/// front stub accrues from the start date but is paid with the grid period
/// it ends in). Sums by pay date can be kept per grid period instead
/// (consecutive flows, consecutive sums) and dated once at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridWindow {
    pub grid: u32,
    pub first: usize,
}

/// Month index of a date: year · 12 + month − 1, and its day.
pub(crate) fn month_index(date: Date) -> (i64, u32) {
    let (y, m, d) = date.ymd();
    (i64::from(y) * 12 + i64::from(m) - 1, d)
}

/// The first month of a series every `step` months through month index
/// `month`, starting two steps before as_of's month (or less than a step later).
pub(crate) fn first_month_in_phase(as_of: Date, step: i64, month: i64) -> i64 {
    let (as_of_month, _) = month_index(as_of);
    let from = as_of_month - 2 * step;
    from + (month - from).rem_euclid(step)
}

/// `day` (clamped to the month's end) of the month with index `month`.
pub(crate) fn grid_date(month: i64, day: u32) -> Date {
    Date::from_ym_clamped(0, month + 1, day)
}

impl Grids {
    /// Pay date of period `i` of grid `grid` (both as a [`GridWindow`] gave them).
    pub fn pay_date(&self, grid: u32, i: usize) -> Option<Date> {
        let period = self.grids.get(grid as usize)?.periods.get(i)?;
        Some(period.period.pay_date)
    }

    /// The periods of grid `grid` in `range` (as an [`OnGrid`] gave them;
    /// empty for any other).
    pub fn periods(&self, grid: u32, range: std::ops::Range<usize>) -> &[FuturePeriod] {
        self.grids
            .get(grid as usize)
            .and_then(|g| g.periods.get(range))
            .unwrap_or(&[])
    }

    /// Where `inst`'s future periods (paid after as_of), the ones a rolled
    /// schedule gives, lie on their grid; `None` when its schedule is not on
    /// a grid (no regular roll, or too long).
    pub fn future_periods(
        &mut self,
        inst: &Instrument,
        as_of: Date,
        calendar: &Calendar,
    ) -> Option<OnGrid> {
        // (day, months, month index of the last period's end, start date).
        let (day, months, last_month, start) = match inst.maturity_date {
            Some(maturity) if (1..=12).contains(&inst.payment_months) => {
                let (month, day) = month_index(maturity);
                (day, inst.payment_months, month, inst.start_date)
            }
            // Non-maturity: monthly from as_of, `behavioral_months` of them.
            None if inst.behavioral_months > 0 => {
                let (month, day) = month_index(as_of);
                (day, 1, month + i64::from(inst.behavioral_months), as_of)
            }
            _ => return None,
        };
        let step = i64::from(months);
        let key = GridKey {
            day,
            months,
            phase: last_month.rem_euclid(step) as u32,
            rule: inst.business_day,
            day_count: inst.day_count,
        };
        let id = *self.index.entry(key).or_insert_with(|| {
            // (The first period paid after as_of ends on or after it, give or
            // take a business-day shift.)
            self.grids.push(Grid {
                first_month: first_month_in_phase(as_of, step, last_month),
                periods: Vec::new(),
                first_future: usize::MAX,
            });
            (self.grids.len() - 1) as u32
        });
        let grid = &mut self.grids[id as usize];
        let last = (last_month - grid.first_month) / step;
        if last < 0 || last >= MAX_GRID_PERIODS {
            return None;
        }
        grid.extend_to(last as usize, key, calendar, as_of);
        let last = last as usize;
        if grid.first_future > last {
            return None;
        }
        let first = grid.first_future;
        // The first future period starts on a grid date after the start
        // date: every future period is the grid's. Else the first one ending
        // after the start date is the short front stub from it.
        let (paid_from, window, stub) = if grid.periods[first].period.accrual_start > start {
            (first, first, None)
        } else {
            let stub = (first..=last).find(|&i| grid.periods[i].period.accrual_end > start)?;
            let end = &grid.periods[stub].period;
            let period = Period {
                accrual_start: start,
                accrual_end: end.accrual_end,
                pay_date: end.pay_date,
            };
            let stub_period = FuturePeriod::new(period, key.day_count, as_of);
            (stub, stub + 1, Some(stub_period))
        };
        Some(OnGrid {
            window: GridWindow {
                grid: id,
                first: paid_from,
            },
            stub,
            grid_periods: window..last + 1,
        })
    }
}

impl Grid {
    /// Builds the periods up to index `last`, and finds the first paid after as_of.
    fn extend_to(&mut self, last: usize, key: GridKey, calendar: &Calendar, as_of: Date) {
        let step = i64::from(key.months);
        while self.periods.len() <= last
            || (self.first_future == usize::MAX && (self.periods.len() as i64) < MAX_GRID_PERIODS)
        {
            let i = self.periods.len();
            let month = self.first_month + i as i64 * step;
            let accrual_end = grid_date(month, key.day);
            let period = Period {
                accrual_start: grid_date(month - step, key.day),
                accrual_end,
                pay_date: calendar.adjust(accrual_end, key.rule),
            };
            // (A period's days after as_of are the same for every instrument.)
            let future = FuturePeriod::new(period, key.day_count, as_of);
            if self.first_future == usize::MAX && period.pay_date > as_of {
                self.first_future = i;
            }
            self.periods.push(future);
        }
    }
}
