//! Net interest income on a constant balance sheet (sql-surface.md,
//! `nii_projection()`; methodology.md, "Measures").
//!
//! Month m of the horizon runs from as_of + (m−1) months to as_of + m months.
//! The instrument's own interest accrues exactly on its flow periods (a
//! payment inside a month splits it). Principal repaid (scheduled or run-off)
//! at the end of a flow period is replaced from that day by the same product
//! at the scenario's rate, so the balance sheet keeps its size:
//! - fixed rate: the forward rate over the instrument's original term, fixed
//!   for the rest of the horizon;
//! - floating: the index forward over its reset period plus the spread, floor
//!   and cap applied, re-read every month;
//! - non-maturity products: their own administered rate.

use crate::cashflow::{forward_rate, Flow};
use crate::date::Date;
use crate::instrument::Instrument;
use crate::scenario::ScenarioCurve;

/// One month of earnings, signed from the bank's view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NiiMonth {
    pub period_start: Date,
    pub period_end: Date,
    /// The original instrument's balance at the start of the month.
    pub balance: f64,
    /// Its all-in rate at the start of the month (0 once it has matured).
    pub rate: f64,
    /// Interest accrued in the month, original and replacement together.
    pub interest: f64,
    /// Replacement balance at the start of the month; balance + reinvested = the as-of balance.
    pub reinvested_balance: f64,
    /// Balance-weighted rate of the replacement at the start of the month.
    pub reinvestment_rate: f64,
}

/// The curve a replacement is priced from.
#[derive(Debug, Clone, Copy)]
pub enum Reinvestment<'a> {
    /// The currency's discount curve under the scenario.
    Fixed { curve: &'a ScenarioCurve },
    /// The index curve under the scenario.
    Floating { curve: &'a ScenarioCurve },
    /// Non-maturity products keep their administered rate.
    Administered,
}

/// A replacement tranche: from `start`, `amount` (signed) at `rate` (fixed products).
#[derive(Debug, Clone, Copy)]
struct Tranche {
    start: Date,
    amount: f64,
    rate: f64,
}

/// Appends `horizon_months` months of NII for one instrument whose future
/// flows under the scenario are `flows` (in pay order).
pub fn nii_months(
    inst: &Instrument,
    flows: &[Flow],
    as_of: Date,
    horizon_months: u32,
    reinvest: Reinvestment,
    out: &mut Vec<NiiMonth>,
) {
    let term_months = inst
        .maturity_date
        .map(|m| months_between(inst.start_date, m).max(1))
        .unwrap_or(1);
    // Flows starting after the horizon, and replacements for them, earn
    // nothing in it: a 30-year mortgage's NII reads its first year.
    let horizon = horizon_end(as_of, horizon_months);
    let flows = &flows[..flows.partition_point(|f| f.accrual_start < horizon)];
    // Replacements start when principal is repaid, at the end of each flow period.
    let mut tranches: Vec<Tranche> = Vec::new();
    for flow in flows {
        let repaid = flow.principal + flow.prepayment;
        let start = flow.accrual_end.max(as_of);
        if repaid != 0.0 && start < horizon {
            let rate = match reinvest {
                Reinvestment::Fixed { curve } => forward_rate(
                    curve,
                    as_of,
                    start,
                    start.add_months(term_months),
                    inst.day_count,
                ),
                Reinvestment::Floating { .. } => 0.0, // re-read monthly below
                Reinvestment::Administered => inst.rate,
            };
            tranches.push(Tranche {
                start,
                amount: repaid,
                rate,
            });
        }
    }
    let (year, month, day) = as_of.ymd();
    for m in 1..=i64::from(horizon_months) {
        let start = Date::from_ym_clamped(year, i64::from(month) + m - 1, day);
        let end = Date::from_ym_clamped(year, i64::from(month) + m, day);
        let yf = |from: Date, to: Date| {
            if to > from {
                inst.day_count.year_frac(from, to)
            } else {
                0.0
            }
        };
        // The original instrument, period by period.
        let mut interest = 0.0;
        let (mut balance, mut rate) = (0.0, 0.0);
        for flow in flows {
            if flow.accrual_end <= start || flow.accrual_start >= end {
                continue;
            }
            if flow.accrual_start <= start {
                balance = flow.balance;
                rate = flow.rate;
            }
            interest += flow.balance
                * flow.rate
                * yf(flow.accrual_start.max(start), flow.accrual_end.min(end));
        }
        // The replacement, tranche by tranche.
        let floating_rate = match (reinvest, &inst.floating) {
            (Reinvestment::Floating { curve }, Some(terms)) => terms.all_in(forward_rate(
                curve,
                as_of,
                start,
                start.add_months(terms.reset_months as i32),
                inst.day_count,
            )),
            _ => 0.0,
        };
        let (mut reinvested, mut weighted) = (0.0, 0.0);
        for tranche in tranches.iter().filter(|t| t.start < end) {
            let rate = if matches!(reinvest, Reinvestment::Floating { .. }) {
                floating_rate
            } else {
                tranche.rate
            };
            interest += tranche.amount * rate * yf(tranche.start.max(start), end);
            if tranche.start <= start {
                reinvested += tranche.amount;
                weighted += tranche.amount * rate;
            }
        }
        out.push(NiiMonth {
            period_start: start,
            period_end: end,
            balance,
            rate,
            interest,
            reinvested_balance: reinvested,
            reinvestment_rate: if reinvested != 0.0 {
                weighted / reinvested
            } else {
                0.0
            },
        });
    }
}

/// The end of an NII horizon of `months` months from as_of: no flow starting
/// on or after it changes the horizon's NII (`Projector::project_until`).
pub fn horizon_end(as_of: Date, months: u32) -> Date {
    let (year, month, day) = as_of.ymd();
    Date::from_ym_clamped(year, i64::from(month) + i64::from(months), day)
}

/// Whole calendar months from `from` to `to`, rounded to the nearest month.
fn months_between(from: Date, to: Date) -> i32 {
    let ((y1, m1, d1), (y2, m2, d2)) = (from.ymd(), to.ymd());
    let months = (y2 - y1) * 12 + m2 as i32 - m1 as i32;
    if d2 as i32 - d1 as i32 > 15 {
        months + 1
    } else if (d1 as i32) - (d2 as i32) > 15 {
        months - 1
    } else {
        months
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::cashflow::Projector;
    use crate::curve::Curve;
    use crate::instrument::RawInstrument;
    use crate::scenario::{RateFloor, Scenario, ShockSizeTable};

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    /// `curve` under the base scenario.
    fn base(curve: &Curve) -> ScenarioCurve {
        ScenarioCurve::new(
            curve,
            &Scenario::base(),
            &ShockSizeTable::default(),
            RateFloor::Eu,
        )
    }

    fn months(raw: RawInstrument, horizon: u32, kind: &str) -> Vec<NiiMonth> {
        let inst = raw.validate().unwrap();
        let sc = base(&Curve::new("C", "USD", vec![("1Y".into(), 0.04)]).unwrap());
        let as_of = d(2025, 12, 31);
        let cal = Calendar::weekends_only();
        let mut flows = Vec::new();
        Projector::new(as_of, &cal)
            .project("x", &inst, Some(&sc), &mut flows)
            .unwrap();
        let reinvest = match kind {
            "fixed" => Reinvestment::Fixed { curve: &sc },
            "floating" => Reinvestment::Floating { curve: &sc },
            _ => Reinvestment::Administered,
        };
        let mut out = Vec::new();
        nii_months(&inst, &flows, as_of, horizon, reinvest, &mut out);
        out
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    fn bullet() -> RawInstrument<'static> {
        RawInstrument {
            instrument_id: "x",
            side: Some("asset"),
            balance: Some(1200.0),
            start_date: Some(d(2025, 9, 30)),
            maturity_date: Some(d(2026, 3, 31)),
            rate_type: Some("fixed"),
            rate: Some(0.06),
            payment_months: Some(3),
            amortization: Some("bullet"),
            day_count: Some("ACT/365F"),
            ..Default::default()
        }
    }

    /// Projecting only up to the horizon and cutting the flows there gives the
    /// months the whole life gives, bit for bit (a 30-year prepaying
    /// mortgage, a floater and a deposit; horizons inside a period and past
    /// maturity); and the cut is not empty: a longer horizon earns more.
    #[test]
    fn flows_past_the_horizon_change_nothing() {
        let curve =
            Curve::new("C", "USD", vec![("1Y".into(), 0.03), ("10Y".into(), 0.045)]).unwrap();
        let sc = base(&curve);
        let as_of = d(2025, 12, 31);
        let cal = Calendar::weekends_only();
        let mortgage = RawInstrument {
            maturity_date: Some(d(2050, 6, 15)),
            start_date: Some(d(2020, 6, 15)),
            payment_months: Some(1),
            amortization: Some("annuity"),
            prepayment_rate: Some(0.06),
            day_count: Some("30/360"),
            ..bullet()
        };
        let floater = RawInstrument {
            rate_type: Some("floating"),
            index_curve: Some("C"),
            reset_months: Some(3),
            spread: Some(0.01),
            maturity_date: Some(d(2031, 3, 31)),
            ..bullet()
        };
        let deposit = RawInstrument {
            maturity_date: None,
            prepayment_rate: Some(0.2),
            behavioral_months: Some(60),
            ..bullet()
        };
        for (raw, kind) in [
            (mortgage, "fixed"),
            (floater, "floating"),
            (deposit, "administered"),
        ] {
            let inst = raw.validate().unwrap();
            let reinvest = match kind {
                "fixed" => Reinvestment::Fixed { curve: &sc },
                "floating" => Reinvestment::Floating { curve: &sc },
                _ => Reinvestment::Administered,
            };
            let mut earned = Vec::new();
            for horizon in [1, 2, 12, 13, 120] {
                let mut projector = Projector::new(as_of, &cal);
                let (mut whole, mut cut) = (Vec::new(), Vec::new());
                projector
                    .project("x", &inst, Some(&sc), &mut whole)
                    .unwrap();
                let until = horizon_end(as_of, horizon);
                projector
                    .project_until("x", &inst, Some(&sc), until, &mut cut)
                    .unwrap();
                assert!(
                    cut.len() < whole.len() || horizon == 120,
                    "{kind} {horizon}"
                );
                assert!(cut.len() <= whole.len());
                let (mut want, mut got) = (Vec::new(), Vec::new());
                nii_months(&inst, &whole, as_of, horizon, reinvest, &mut want);
                nii_months(&inst, &cut, as_of, horizon, reinvest, &mut got);
                assert_eq!(got, want, "{kind}, {horizon} months");
                earned.push(got.iter().map(|m| m.interest).sum::<f64>().abs());
            }
            assert!(earned.windows(2).all(|w| w[1] > w[0]), "{kind}: {earned:?}");
        }
    }

    /// A six-month 1200 bullet at 6 % (ACT/365F) maturing 2026-03-31, on a flat 4 %
    /// curve. Months 1-3 earn 1200 x 6 % x days/365 (31, 28, 31 days); from
    /// 2026-03-31 the 1200 is replaced for its original six-month term at the
    /// forward F = (exp(0.04 x 183/365) - 1) x 365/183 (2026-03-31 .. 2026-09-30,
    /// 90 to 273 days out), so month 4 (30 days) earns 1200 x F x 30/365.
    #[test]
    fn fixed_bullet_is_replaced_at_the_forward_for_its_term() {
        let m = months(bullet(), 6, "fixed");
        assert_eq!(m.len(), 6);
        assert_eq!(
            (m[0].period_start, m[0].period_end),
            (d(2025, 12, 31), d(2026, 1, 31))
        );
        assert!(close(m[0].interest, 1200.0 * 0.06 * 31.0 / 365.0));
        assert!(close(m[1].interest, 1200.0 * 0.06 * 28.0 / 365.0));
        assert!(close(m[2].interest, 1200.0 * 0.06 * 31.0 / 365.0));
        let f = ((0.04f64 * 183.0 / 365.0).exp() - 1.0) * 365.0 / 183.0;
        assert!(
            close(m[3].interest, 1200.0 * f * 30.0 / 365.0),
            "{} vs {}",
            m[3].interest,
            1200.0 * f * 30.0 / 365.0
        );
        assert!(close(m[3].reinvestment_rate, f));
        for month in &m {
            assert!(
                close(month.balance + month.reinvested_balance, 1200.0),
                "{month:?}"
            );
        }
        assert_eq!((m[2].balance, m[2].rate), (1200.0, 0.06));
        assert_eq!((m[3].balance, m[3].reinvested_balance), (0.0, 1200.0));
    }

    /// The horizon's edge: a six-month bullet maturing 2026-04-29, one day
    /// before a four-month horizon ends (2026-04-30). Month 4 earns 29 days of
    /// its own 6 % and one day of the replacement, priced at the forward over
    /// its six-month term (2026-04-29 .. 10-29, 183 days) on the flat 4 % curve.
    #[test]
    fn a_replacement_on_the_horizons_last_day_earns_it() {
        let raw = RawInstrument {
            start_date: Some(d(2025, 10, 29)),
            maturity_date: Some(d(2026, 4, 29)),
            ..bullet()
        };
        let m = months(raw, 4, "fixed");
        assert_eq!(m[3].period_end, d(2026, 4, 30));
        let f = ((0.04f64 * 183.0 / 365.0).exp() - 1.0) * 365.0 / 183.0;
        let want = 1200.0 * 0.06 * 29.0 / 365.0 + 1200.0 * f / 365.0;
        assert!(close(m[3].interest, want), "{} vs {want}", m[3].interest);
    }

    /// A floater (ACT/360, 3-monthly resets, spread 1 %) fixed at 5 % until 2026-03-31;
    /// its replacement earns the index forward over the next 3 months plus the spread,
    /// re-read each month: month 4 (2026-03-31 .. 04-30, 30 days) uses
    /// (exp(0.04 x 91/365) - 1) x 360/91 + 1 % (2026-03-31 .. 06-30 is 91 days, 90 days out).
    #[test]
    fn floater_replacement_earns_the_forward_plus_spread() {
        let raw = RawInstrument {
            rate_type: Some("floating"),
            index_curve: Some("C"),
            reset_months: Some(3),
            spread: Some(0.01),
            rate: Some(0.05),
            start_date: Some(d(2025, 12, 31)),
            day_count: Some("ACT/360"),
            balance: Some(1000.0),
            ..bullet()
        };
        let m = months(raw, 4, "floating");
        assert!(close(m[0].interest, 1000.0 * 0.05 * 31.0 / 360.0));
        let forward = ((0.04f64 * 91.0 / 365.0).exp() - 1.0) * 360.0 / 91.0 + 0.01;
        assert!(close(m[3].interest, 1000.0 * forward * 30.0 / 360.0));
        assert!(close(m[3].reinvestment_rate, forward));
    }

    /// A non-maturity deposit (liability 1200 at 1 %, 20 % run-off) keeps its size:
    /// what runs off is replaced at its own administered rate, so every month
    /// earns -1200 x 1 % x days/365 exactly.
    #[test]
    fn deposits_are_replaced_at_their_administered_rate() {
        let raw = RawInstrument {
            side: Some("liability"),
            maturity_date: None,
            rate: Some(0.01),
            prepayment_rate: Some(0.2),
            behavioral_months: Some(24),
            ..bullet()
        };
        let m = months(raw, 12, "administered");
        for month in &m {
            let days = month.period_start.days_until(month.period_end) as f64;
            assert!(
                close(month.interest, -1200.0 * 0.01 * days / 365.0),
                "{month:?}"
            );
            assert!(
                close(month.balance + month.reinvested_balance, -1200.0),
                "{month:?}"
            );
        }
        assert!(m[11].reinvested_balance < -100.0);
    }
}
