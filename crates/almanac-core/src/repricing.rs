//! Repricing events: the dates on which some of an instrument's balance
//! reprices, for the repricing gap (sql-surface.md, `repricing()`).

use crate::cashflow::{reset_window, Flow};
use crate::date::Date;
use crate::instrument::Instrument;

/// Why an amount reprices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepriceKind {
    /// The final repayment (for a non-maturity product: what is left at the end of its behavioural life).
    Maturity,
    /// Scheduled principal before maturity.
    Amortization,
    /// Behavioural run-off.
    Prepayment,
    /// A floater's whole remaining balance at its next reset.
    Reset,
}

impl RepriceKind {
    pub fn name(self) -> &'static str {
        match self {
            RepriceKind::Maturity => "maturity",
            RepriceKind::Amortization => "amortization",
            RepriceKind::Prepayment => "prepayment",
            RepriceKind::Reset => "reset",
        }
    }
}

/// One repricing amount, signed like the cash flows (assets +, liabilities −).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reprice {
    pub date: Date,
    pub amount: f64,
    pub kind: RepriceKind,
}

/// Turns an instrument's future flows (base scenario, in pay order) into
/// repricing amounts. Principal and run-off reprice when paid; a floater's
/// balance still outstanding at its first reset after `as_of` reprices then,
/// whole. The amounts add up to the signed balance.
pub fn repricing_events(inst: &Instrument, flows: &[Flow], as_of: Date, out: &mut Vec<Reprice>) {
    let next_reset = inst.floating.as_ref().map(|terms| {
        let (last, next) = reset_window(inst.start_date, terms.reset_months, as_of);
        if last > as_of {
            last
        } else {
            next
        }
    });
    let mut remaining = inst.side.sign() * inst.balance;
    let n = flows.len();
    for (i, flow) in flows.iter().enumerate() {
        if let Some(reset) = next_reset {
            if flow.pay_date > reset {
                if remaining != 0.0 {
                    out.push(Reprice {
                        date: reset,
                        amount: remaining,
                        kind: RepriceKind::Reset,
                    });
                }
                return;
            }
        }
        if flow.principal != 0.0 {
            let kind = if i + 1 == n {
                RepriceKind::Maturity
            } else {
                RepriceKind::Amortization
            };
            out.push(Reprice {
                date: flow.pay_date,
                amount: flow.principal,
                kind,
            });
        }
        if flow.prepayment != 0.0 {
            out.push(Reprice {
                date: flow.pay_date,
                amount: flow.prepayment,
                kind: RepriceKind::Prepayment,
            });
        }
        remaining -= flow.principal + flow.prepayment;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use crate::cashflow::Projector;
    use crate::curve::Curve;
    use crate::instrument::RawInstrument;
    use crate::scenario::{RateFloor, Scenario, ScenarioCurve, ShockSizeTable};

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    fn events(raw: RawInstrument, as_of: Date) -> Vec<(String, f64, &'static str)> {
        let inst = raw.validate().unwrap();
        let curve = Curve::new("C", "USD", vec![("1Y".into(), 0.04)]).unwrap();
        let sc = ScenarioCurve::new(
            &curve,
            &Scenario::base(),
            &ShockSizeTable::default(),
            RateFloor::Eu,
        );
        let cal = Calendar::weekends_only();
        let mut flows = Vec::new();
        Projector::new(as_of, &cal)
            .project("x", &inst, Some(&sc), &mut flows)
            .unwrap();
        let mut out = Vec::new();
        repricing_events(&inst, &flows, as_of, &mut out);
        out.into_iter()
            .map(|r| (r.date.to_string(), r.amount, r.kind.name()))
            .collect()
    }

    fn base() -> RawInstrument<'static> {
        RawInstrument {
            instrument_id: "x",
            side: Some("asset"),
            balance: Some(1200.0),
            start_date: Some(d(2025, 12, 31)),
            maturity_date: Some(d(2026, 12, 31)),
            rate_type: Some("fixed"),
            rate: Some(0.05),
            payment_months: Some(3),
            amortization: Some("linear"),
            day_count: Some("30/360"),
            ..Default::default()
        }
    }

    /// Linear 1200 over four quarters: 300 amortises on each of the first
    /// three dates, the last 300 is the maturity.
    #[test]
    fn fixed_linear_reprices_as_it_repays() {
        let e = events(base(), d(2025, 12, 31));
        assert_eq!(
            e,
            vec![
                ("2026-03-31".into(), 300.0, "amortization"),
                ("2026-06-30".into(), 300.0, "amortization"),
                ("2026-09-30".into(), 300.0, "amortization"),
                ("2026-12-31".into(), 300.0, "maturity"),
            ]
        );
    }

    /// A liability floater, 1200 linear over the four quarterly payments left
    /// (2026-01-31, 04-30, 07-31, 10-31), resetting 6-monthly from 2025-10-31:
    /// 300 amortises on 01-31 and 300 on 04-30, the next reset; the 600 still
    /// outstanding after that payment reprices whole on 04-30.
    #[test]
    fn floater_reprices_whole_at_next_reset() {
        let raw = RawInstrument {
            side: Some("liability"),
            rate_type: Some("floating"),
            index_curve: Some("C"),
            reset_months: Some(6),
            start_date: Some(d(2025, 10, 31)),
            maturity_date: Some(d(2026, 10, 31)),
            ..base()
        };
        let e = events(raw, d(2025, 12, 31));
        assert_eq!(
            e,
            vec![
                ("2026-01-31".into(), -300.0, "amortization"),
                ("2026-04-30".into(), -300.0, "amortization"),
                ("2026-04-30".into(), -600.0, "reset"),
            ]
        );
    }

    /// CPR run-off reprices as prepayment; all amounts add up to the balance.
    #[test]
    fn prepayments_and_totals() {
        let raw = RawInstrument {
            prepayment_rate: Some(0.1),
            amortization: Some("bullet"),
            ..base()
        };
        let e = events(raw, d(2025, 12, 31));
        assert_eq!(e.iter().filter(|x| x.2 == "prepayment").count(), 3);
        assert_eq!(e.last().map(|x| x.2), Some("maturity"));
        let total: f64 = e.iter().map(|x| x.1).sum();
        assert!((total - 1200.0).abs() < 1e-9);
    }
}
