//! A floater's resets shared with every other floater that resets on the
//! same dates (methodology.md, "Floating rates").
//!
//! A floater resets on `start + k·months`, each date the start's day of the
//! month (clamped to the month's end). Every floater whose start has the same
//! day, the same month modulo `months`, resets on the same dates: one chain
//! of dates, which thousands of floaters share (a book's adjustable-rate
//! mortgages reset on a few hundred). And a fixing's forward depends on its
//! reset date alone, given the index curve and the day count (it runs to
//! `reset + months`). So each chain's dates and its forwards under every
//! scenario are computed once per projector, by the same functions the
//! floater's own fixings use, and each floater reads its fixings there: a
//! lookup instead of date arithmetic, a year fraction and two discount
//! factors per reset and scenario.

use foldhash::HashMap;

use crate::cashflow::{FixingRuns, ForwardTimes};
use crate::date::Date;
use crate::daycount::DayCount;
use crate::grid::{first_month_in_phase, grid_date, month_index, FuturePeriod};
use crate::instrument::{FloatingTerms, Instrument};
use crate::scenario::{LaneFactors, ScenarioCurve};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ChainKey {
    /// The tabled curves' [`LaneFactors::id`]: a chain's forwards are theirs.
    factors: u64,
    day: u32,
    months: u32,
    /// The month index (year · 12 + month − 1) of the resets modulo `months`.
    phase: u32,
    day_count: DayCount,
}

/// Reset `i` of a chain is on `day` of the month with index
/// `first_month + i · months`.
#[derive(Debug)]
struct Chain {
    first_month: i64,
    dates: Vec<Date>,
    /// `[i][lane]`: the index forward of reset `i` under each lane's curve,
    /// when the reset is after as_of (NaN before: the rate column holds).
    forwards: Vec<f64>,
}

/// The reset chains of one projector (one as_of).
#[derive(Debug, Default)]
pub(crate) struct ResetChains {
    index: HashMap<ChainKey, u32>,
    chains: Vec<Chain>,
}

/// Where a floater's fixings lie on its chain: chain indices `first..=last`
/// (−1: any reset before the chain's first, all on or before as_of).
struct Walk {
    chain: usize,
    first: i64,
    last: i64,
}

impl ResetChains {
    /// The runs of `future` periods that share a fixing (in `runs`, as
    /// [`FixingRuns`] lays them out, fixings numbered from the first
    /// period's) and every fixing's all-in rate under each lane (`rates[f ·
    /// lanes + s]`), as [`crate::cashflow`]'s own fixings give them, bit for
    /// bit. `terms` (the floater's, `inst.floating`) turn an index forward
    /// into its rate; resets on or before as_of keep its rate column.
    /// `indexes` are `tabled`'s curves, every lane's present.
    pub fn rates(
        &mut self,
        (inst, terms): (&Instrument, &FloatingTerms),
        as_of: Date,
        future: &[FuturePeriod],
        (indexes, tabled): (&[Option<&ScenarioCurve>], &LaneFactors),
        (rates, runs): (&mut Vec<f64>, &mut FixingRuns),
    ) {
        let lanes = tabled.lanes();
        let walk = self.walk((inst, terms), as_of, future, (indexes, tabled), runs);
        let (chain, last) = (&self.chains[walk.chain], walk.last);
        // The resets on or before as_of (or before the chain) keep the rate
        // column; the rest, after as_of, are consecutive on the chain (its
        // dates rise): their forwards are made all-in as they are copied.
        let after_as_of = chain.dates.partition_point(|&date| date <= as_of) as i64;
        let projected = after_as_of.clamp(walk.first, last + 1);
        rates.clear();
        rates.extend(std::iter::repeat_n(
            inst.rate,
            (projected - walk.first) as usize * lanes,
        ));
        if projected <= last {
            let forwards = &chain.forwards[projected as usize * lanes..(last as usize + 1) * lanes];
            terms.extend_all_in(rates, forwards);
        }
    }

    /// Sets the runs of periods that share a fixing (numbered from the first
    /// period's) and returns where the fixings lie on the floater's chain.
    fn walk(
        &mut self,
        (inst, terms): (&Instrument, &FloatingTerms),
        as_of: Date,
        future: &[FuturePeriod],
        curves: (&[Option<&ScenarioCurve>], &LaneFactors),
        runs: &mut FixingRuns,
    ) -> Walk {
        let (start_month, day) = month_index(inst.start_date);
        let step = i64::from(terms.reset_months);
        let key = ChainKey {
            factors: curves.1.id(),
            day,
            months: terms.reset_months,
            phase: start_month.rem_euclid(step) as u32,
            day_count: inst.day_count,
        };
        let at = *self.index.entry(key).or_insert_with(|| {
            // (Reset 0 at least a whole step before as_of's month, so any
            // reset before the chain is on or before as_of.)
            self.chains.push(Chain {
                first_month: first_month_in_phase(as_of, step, start_month),
                dates: Vec::new(),
                forwards: Vec::new(),
            });
            self.chains.len() - 1
        } as u32) as usize;
        let chain = &mut self.chains[at];
        // Window k = 0 (the start) covers everything before reset 1: a
        // period is in the last window whose reset is on or before its start.
        let mut i = if start_month >= chain.first_month {
            (start_month - chain.first_month) / step
        } else {
            -1
        };
        runs.clear();
        let mut until = chain.date(i + 1, (key, as_of), curves);
        if future.is_empty() {
            return Walk {
                chain: at,
                first: i,
                last: i,
            };
        }
        let start = |j: usize| future[j].period.accrual_start;
        // The first period's window is fixing 0.
        while start(0) >= until {
            i += 1;
            until = chain.date(i + 1, (key, as_of), curves);
        }
        let first = i;
        // Periods a reset usually covers: a run's end is guessed, then
        // checked with two comparisons, not found period by period.
        let payments_per_reset = (terms.reset_months / inst.payment_months.max(1)).max(1);
        let (n, mut from) = (future.len(), 0);
        loop {
            // Periods `from..end` start before `until`, period `end` on or after it.
            let guess = (from + payments_per_reset as usize).min(n);
            let end = if start(guess - 1) < until && (guess == n || start(guess) >= until) {
                guess
            } else {
                from + 1 + (from + 1..n).take_while(|&j| start(j) < until).count()
            };
            runs.push(end as u32, (i - first) as u32);
            if end == n {
                break;
            }
            // The window of the period starting next: the last reset on or before it.
            while start(end) >= until {
                i += 1;
                until = chain.date(i + 1, (key, as_of), curves);
            }
            from = end;
        }
        // (Reset i's own forward, computed when reset i + 1's date was.)
        Walk {
            chain: at,
            first,
            last: i,
        }
    }
}

impl Chain {
    /// Reset `i`'s date (i ≥ 0), extending the chain to it if need be.
    #[inline(always)]
    fn date(
        &mut self,
        i: i64,
        at: (ChainKey, Date),
        curves: (&[Option<&ScenarioCurve>], &LaneFactors),
    ) -> Date {
        let i = i.max(0) as usize;
        match self.dates.get(i) {
            Some(&date) => date,
            None => self.extend_to(i, at, curves),
        }
    }

    /// Extends the chain to reset `i` (i ≥ 0) and gives its date: each
    /// reset after as_of with its forward under every lane.
    #[inline(never)]
    fn extend_to(
        &mut self,
        i: usize,
        (key, as_of): (ChainKey, Date),
        (indexes, tabled): (&[Option<&ScenarioCurve>], &LaneFactors),
    ) -> Date {
        let lanes = tabled.lanes();
        while self.dates.len() <= i {
            let month = self.first_month + self.dates.len() as i64 * i64::from(key.months);
            let reset = grid_date(month, key.day);
            self.dates.push(reset);
            if reset <= as_of {
                self.forwards.extend(std::iter::repeat_n(f64::NAN, lanes));
                continue;
            }
            // As a floater's own fixing: to the reset plus the months, in its day count.
            let end = reset.add_months(key.months as i32);
            let times = ForwardTimes::new(as_of, reset, end, key.day_count);
            match (tabled.on_day(times.days1), tabled.on_day(times.days2)) {
                (Some(at_start), Some(at_end)) => self.forwards.extend(
                    at_start
                        .iter()
                        .zip(at_end)
                        .map(|(&df1, &df2)| times.forward_from(df1, df2)),
                ),
                // (The caller checked that every lane has its curve.)
                _ => self.forwards.extend(
                    indexes
                        .iter()
                        .map(|curve| curve.map_or(f64::NAN, |curve| times.forward(curve))),
                ),
            }
        }
        self.dates[i]
    }
}
