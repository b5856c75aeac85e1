//! Payment schedules (methodology.md, "Schedules").

use crate::calendar::{BusinessDayRule, Calendar};
use crate::date::Date;

/// One interest period: accrual dates stay unadjusted; only `pay_date` moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub accrual_start: Date,
    pub accrual_end: Date,
    pub pay_date: Date,
}

/// Backward schedule: the k-th date is `maturity − k·months` (each from maturity),
/// until a date on or before `start`; the first period runs from `start` to the
/// first rolled date after it (a short front stub when they do not align).
/// `months == 0` gives one period from `start` to `maturity`.
///
/// Periods are appended to `out` in time order. With `paid_by = Some(as_of)`,
/// rolling stops at the first period (going back) already paid on or before
/// as_of: it and every earlier one would be dropped anyway, and a 30-year
/// mortgage ten years old need not roll back through 120 paid periods.
pub fn backward_schedule(
    start: Date,
    maturity: Date,
    months: u32,
    rule: BusinessDayRule,
    calendar: &Calendar,
    paid_by: Option<Date>,
    out: &mut Vec<Period>,
) {
    let first = out.len();
    let mut end = maturity;
    let mut reached_start = true;
    if months > 0 {
        let (year, month, day) = maturity.ymd();
        let mut k = 1;
        loop {
            let rolled = Date::from_ym_clamped(year, i64::from(month) - i64::from(k * months), day);
            if rolled <= start {
                break;
            }
            push_period(out, rolled, end, rule, calendar);
            end = rolled;
            let just_pushed = out.len() - 1;
            if paid_by.is_some_and(|as_of| out[just_pushed].pay_date <= as_of) {
                reached_start = false;
                break;
            }
            k += 1;
        }
    }
    if reached_start {
        push_period(out, start, end, rule, calendar);
    }
    out[first..].reverse();
}

/// Non-maturity products: monthly periods whose k-th end is `as_of + k` months,
/// k = 1 ..= `count`, the first starting on `as_of`.
pub fn monthly_from(
    as_of: Date,
    count: u32,
    rule: BusinessDayRule,
    calendar: &Calendar,
    out: &mut Vec<Period>,
) {
    let mut start = as_of;
    let (year, month, day) = as_of.ymd();
    for k in 1..=i64::from(count) {
        let end = Date::from_ym_clamped(year, i64::from(month) + k, day);
        push_period(out, start, end, rule, calendar);
        start = end;
    }
}

fn push_period(
    out: &mut Vec<Period>,
    accrual_start: Date,
    accrual_end: Date,
    rule: BusinessDayRule,
    calendar: &Calendar,
) {
    out.push(Period {
        accrual_start,
        accrual_end,
        pay_date: calendar.adjust(accrual_end, rule),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    #[test]
    fn backward_with_short_front_stub() {
        let mut out = Vec::new();
        let cal = Calendar::weekends_only();
        backward_schedule(
            d(2025, 2, 10),
            d(2026, 1, 31),
            3,
            BusinessDayRule::Unadjusted,
            &cal,
            None,
            &mut out,
        );
        let ends: Vec<_> = out.iter().map(|p| p.accrual_end.to_string()).collect();
        // Rolled from 31 Jan: 31 Oct, 31 Jul, 30 Apr (from maturity, so 30 Apr not 30 Apr->30 Jan), then 31 Jan 2025 <= start.
        assert_eq!(
            ends,
            ["2025-04-30", "2025-07-31", "2025-10-31", "2026-01-31"]
        );
        assert_eq!(out[0].accrual_start, d(2025, 2, 10));
        // 2026-01-31 is a Saturday; unadjusted pays on it.
        assert_eq!(out[3].pay_date, d(2026, 1, 31));
    }

    #[test]
    fn zero_months_is_one_period_and_pay_date_moves_only() {
        let mut out = Vec::new();
        let cal = Calendar::weekends_only();
        backward_schedule(
            d(2025, 1, 1),
            d(2026, 1, 31),
            0,
            BusinessDayRule::ModifiedFollowing,
            &cal,
            None,
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].accrual_end, d(2026, 1, 31));
        assert_eq!(out[0].pay_date, d(2026, 1, 30));
    }

    #[test]
    fn monthly_periods_from_as_of() {
        let mut out = Vec::new();
        monthly_from(
            d(2025, 1, 31),
            3,
            BusinessDayRule::Unadjusted,
            &Calendar::weekends_only(),
            &mut out,
        );
        let ends: Vec<_> = out.iter().map(|p| p.accrual_end.to_string()).collect();
        assert_eq!(ends, ["2025-02-28", "2025-03-31", "2025-04-30"]);
        assert_eq!(out[1].accrual_start, d(2025, 2, 28));
    }

    #[test]
    fn stopping_at_as_of_keeps_every_unpaid_period() {
        let cal = Calendar::with_holidays(vec![d(2027, 3, 31)]);
        let (start, maturity) = (d(2019, 1, 31), d(2031, 8, 31));
        for months in [1, 3, 6, 12] {
            for rule in [
                BusinessDayRule::Unadjusted,
                BusinessDayRule::Following,
                BusinessDayRule::ModifiedFollowing,
            ] {
                let mut full = Vec::new();
                backward_schedule(start, maturity, months, rule, &cal, None, &mut full);
                for offset in (-40..4600).step_by(13) {
                    let as_of = start.add_days(offset);
                    let mut cut = Vec::new();
                    backward_schedule(start, maturity, months, rule, &cal, Some(as_of), &mut cut);
                    let unpaid = |v: &[Period]| {
                        v.iter()
                            .filter(|p| p.pay_date > as_of)
                            .copied()
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(
                        unpaid(&cut),
                        unpaid(&full),
                        "{months}M {rule:?} as of {as_of}"
                    );
                }
            }
        }
    }
}
