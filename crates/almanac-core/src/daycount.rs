//! The five interest day counts of the data contract (methodology.md, "Time").

use crate::date::{days_in_year, Date};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayCount {
    /// Actual days / 360.
    Act360,
    /// Actual days / 365 (fixed).
    Act365F,
    /// 30/360 US bond basis: D1 = min(D1, 30); if D1 = 30 then D2 = min(D2, 30).
    Thirty360,
    /// 30E/360 Eurobond basis: both days capped at 30.
    Thirty360E,
    /// ACT/ACT ISDA: days in each calendar year over that year's length.
    ActActIsda,
}

pub const DAY_COUNT_CODES: &str = "ACT/360, ACT/365F, 30/360, 30E/360, ACT/ACT";

impl DayCount {
    /// Every day count of the contract.
    pub const ALL: [DayCount; 5] = [
        DayCount::Act360,
        DayCount::Act365F,
        DayCount::Thirty360,
        DayCount::Thirty360E,
        DayCount::ActActIsda,
    ];

    /// Parses a contract code, case-insensitively.
    pub fn parse(code: &str) -> Result<DayCount> {
        let upper = crate::code::upper(code);
        Ok(match upper.as_ref() {
            "ACT/360" => DayCount::Act360,
            "ACT/365F" => DayCount::Act365F,
            "30/360" => DayCount::Thirty360,
            "30E/360" => DayCount::Thirty360E,
            "ACT/ACT" => DayCount::ActActIsda,
            _ => {
                return Err(Error::UnknownCode {
                    what: "day_count",
                    value: code.to_string(),
                    expected: DAY_COUNT_CODES,
                })
            }
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            DayCount::Act360 => "ACT/360",
            DayCount::Act365F => "ACT/365F",
            DayCount::Thirty360 => "30/360",
            DayCount::Thirty360E => "30E/360",
            DayCount::ActActIsda => "ACT/ACT",
        }
    }

    /// Year fraction from `start` to `end` (negative when `end` is earlier).
    pub fn year_frac(self, start: Date, end: Date) -> f64 {
        if end < start {
            return -self.year_frac(end, start);
        }
        match self {
            DayCount::Act360 => start.days_until(end) as f64 / 360.0,
            DayCount::Act365F => start.days_until(end) as f64 / 365.0,
            DayCount::Thirty360 => {
                let ((y1, m1, d1), (y2, m2, d2)) = (start.ymd(), end.ymd());
                let d1 = d1.min(30);
                let d2 = if d1 == 30 { d2.min(30) } else { d2 };
                thirty_360(y1, m1, d1, y2, m2, d2)
            }
            DayCount::Thirty360E => {
                let ((y1, m1, d1), (y2, m2, d2)) = (start.ymd(), end.ymd());
                thirty_360(y1, m1, d1.min(30), y2, m2, d2.min(30))
            }
            DayCount::ActActIsda => act_act_isda(start, end),
        }
    }
}

fn thirty_360(y1: i32, m1: u32, d1: u32, y2: i32, m2: u32, d2: u32) -> f64 {
    let days = 360 * (i64::from(y2) - i64::from(y1))
        + 30 * (i64::from(m2) - i64::from(m1))
        + (i64::from(d2) - i64::from(d1));
    days as f64 / 360.0
}

fn act_act_isda(start: Date, end: Date) -> f64 {
    let (y1, y2) = (start.year(), end.year());
    if y1 == y2 {
        return start.days_until(end) as f64 / days_in_year(y1) as f64;
    }
    let jan1 = |y: i32| Date::from_ymd(y, 1, 1).map_or(start, |d| d);
    let first = start.days_until(jan1(y1.saturating_add(1))) as f64 / days_in_year(y1) as f64;
    let last = jan1(y2).days_until(end) as f64 / days_in_year(y2) as f64;
    first + (y2 - y1 - 1) as f64 + last
}

/// ACT/365F years from `as_of` to `date`: the time axis of curves and discounting.
pub fn curve_time(as_of: Date, date: Date) -> f64 {
    as_of.days_until(date) as f64 / 365.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    // Hand-worked: 2024-01-31 .. 2024-03-31 is 60 actual days.
    #[test]
    fn hand_worked_year_fractions() {
        let (a, b) = (d(2024, 1, 31), d(2024, 3, 31));
        assert_eq!(DayCount::Act360.year_frac(a, b), 60.0 / 360.0);
        assert_eq!(DayCount::Act365F.year_frac(a, b), 60.0 / 365.0);
        // 30/360: D1 31 -> 30, then D2 31 -> 30: 2 months = 60 days.
        assert_eq!(DayCount::Thirty360.year_frac(a, b), 60.0 / 360.0);
        // 30/360: D1 = 30 (from 15? no): 2024-01-15 .. 2024-03-31, D1 = 15 so D2 stays 31: 76 days.
        assert_eq!(
            DayCount::Thirty360.year_frac(d(2024, 1, 15), b),
            76.0 / 360.0
        );
        // 30E/360 caps D2 regardless: 75 days.
        assert_eq!(
            DayCount::Thirty360E.year_frac(d(2024, 1, 15), b),
            75.0 / 360.0
        );
        // ACT/ACT ISDA across a year end: 2023-12-01 .. 2024-01-31 = 31/365 + 30/366.
        let f = DayCount::ActActIsda.year_frac(d(2023, 12, 1), d(2024, 1, 31));
        assert!((f - (31.0 / 365.0 + 30.0 / 366.0)).abs() < 1e-15);
        // Across several years: 2023-07-01 .. 2026-07-01 = 184/365 + 2 + 181/365.
        let f = DayCount::ActActIsda.year_frac(d(2023, 7, 1), d(2026, 7, 1));
        assert!((f - (184.0 / 365.0 + 2.0 + 181.0 / 365.0)).abs() < 1e-15);
    }

    #[test]
    fn extreme_dates_do_not_overflow() {
        for dc in DayCount::ALL {
            assert!(dc.year_frac(Date(i32::MIN), Date(i32::MAX)).is_finite());
        }
    }

    #[test]
    fn parse_is_case_insensitive_and_rejects_unknown() {
        assert_eq!(DayCount::parse("act/365f").unwrap(), DayCount::Act365F);
        assert_eq!(DayCount::parse(" 30e/360 ").unwrap(), DayCount::Thirty360E);
        let err = DayCount::parse("ACT/364").unwrap_err().to_string();
        assert!(err.contains("ACT/364") && err.contains("ACT/365F"), "{err}");
    }
}
