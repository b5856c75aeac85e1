//! Calendar dates as plain day numbers.
//!
//! A [`Date`] is the number of days since 1970-01-01, exactly Arrow's `Date32`,
//! so dates move between Arrow arrays and the finance code without conversion.
//! Civil-date conversion uses Howard Hinnant's branch-free algorithms.

use std::fmt;

/// Days since 1970-01-01 (Arrow `Date32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i32);

impl Date {
    /// Builds a date from year, month (1-12) and day (1-31); `None` if it does not exist.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date(days_from_civil(year, month, day)))
    }

    /// Year, month (1-12), day (1-31).
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    pub fn year(self) -> i32 {
        self.ymd().0
    }

    /// Day of week, Monday = 0 ... Sunday = 6.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (i64::from(self.0) + 3).rem_euclid(7) as u32
    }

    pub fn is_weekend(self) -> bool {
        self.weekday() >= 5
    }

    pub fn add_days(self, days: i32) -> Date {
        Date(self.0.saturating_add(days))
    }

    /// Adds calendar months; a day that does not exist in the target month
    /// becomes that month's last day (31 Jan + 1M = 28/29 Feb). No end-of-month
    /// roll otherwise: 28 Feb + 1M = 28 Mar.
    pub fn add_months(self, months: i32) -> Date {
        let (y, m, d) = self.ymd();
        Date::from_ym_clamped(y, i64::from(m) + i64::from(months), d)
    }

    /// The day `day` (clamped to the month's end) of the month `month` counted
    /// from January of `year` as 1 (so 0 is December of the year before, 13
    /// January of the next). What `add_months` does, without re-reading a date.
    pub fn from_ym_clamped(year: i32, month: i64, day: u32) -> Date {
        let total = i64::from(year) * 12 + month - 1;
        let year = total
            .div_euclid(12)
            .clamp(i64::from(i32::MIN / 2), i64::from(i32::MAX / 2)) as i32;
        let month = total.rem_euclid(12) as u32 + 1;
        Date(days_from_civil(
            year,
            month,
            day.min(days_in_month(year, month)),
        ))
    }

    /// Days from `self` to `other` (positive when `other` is later).
    pub fn days_until(self, other: Date) -> i64 {
        i64::from(other.0) - i64::from(self.0)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse_iso(text: &str) -> Option<Date> {
        let text = text.trim();
        let mut parts = text.splitn(3, '-');
        let y: i32 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let d: u32 = parts.next()?.parse().ok()?;
        Date::from_ymd(y, m, d)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

pub fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_year(year: i32) -> i32 {
    if is_leap_year(year) {
        366
    } else {
        365
    }
}

pub fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Neri and Schneider's conversions ("Euclidean affine functions and their
/// application to calendar algorithms", 2022) work on u32 after shifting the
/// epoch back by `SHIFT_CYCLES` 400-year cycles: a few multiplications and
/// shifts, against the divisions of the general i64 versions below. They hold
/// for day numbers in `FAST_DAYS` and years in `FAST_YEARS` (any realistic
/// date); anything else takes the general path.
const SHIFT_CYCLES: u32 = 82;
const SHIFT_DAYS: u32 = 719_468 + 146_097 * SHIFT_CYCLES;
const SHIFT_YEARS: u32 = 400 * SHIFT_CYCLES;
const FAST_DAYS: std::ops::RangeInclusive<i32> = -(SHIFT_DAYS as i32)..=1_000_000_000;
const FAST_YEARS: std::ops::RangeInclusive<i32> = -(SHIFT_YEARS as i32) + 1..=2_000_000;

fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    if !FAST_YEARS.contains(&year) {
        return days_from_civil_general(year, month, day);
    }
    let before_march = u32::from(month <= 2);
    let y = (year + SHIFT_YEARS as i32) as u32 - before_march;
    let m = if before_march == 1 { month + 12 } else { month };
    let century = y / 100;
    let year_days = 1461 * y / 4 - century + century / 4;
    let month_days = (979 * m - 2919) / 32;
    (year_days + month_days + day - 1) as i32 - SHIFT_DAYS as i32
}

fn civil_from_days(days: i32) -> (i32, u32, u32) {
    if !FAST_DAYS.contains(&days) {
        return civil_from_days_general(days);
    }
    let n = (days + SHIFT_DAYS as i32) as u32;
    let n1 = 4 * n + 3;
    let century = n1 / 146_097;
    let day_of_century = n1 % 146_097 / 4;
    let n2 = 4 * day_of_century + 3;
    let p2 = 2_939_745u64 * u64::from(n2);
    let year_of_century = (p2 >> 32) as u32;
    let day_of_year = (p2 as u32) / 2_939_745 / 4;
    let n3 = 2141 * day_of_year + 197_913;
    let (month, day) = (n3 >> 16, (n3 & 0xffff) / 2141 + 1);
    let january_or_february = day_of_year >= 306;
    let year = (100 * century + year_of_century) as i32 - SHIFT_YEARS as i32
        + i32::from(january_or_february);
    let month = if january_or_february {
        month - 12
    } else {
        month
    };
    (year, month, day)
}

// The general conversions (Howard Hinnant's) work in i64, so that any Date32
// value, however absurd, maps without overflow (results beyond the i32 range
// saturate).
fn days_from_civil_general(year: i32, month: u32, day: u32) -> i32 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

fn civil_from_days_general(days: i32) -> (i32, u32, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    #[test]
    fn epoch_and_round_trip() {
        assert_eq!(d(1970, 1, 1).0, 0);
        assert_eq!(d(2000, 3, 1).0, 11_017);
        for n in -800_000..800_000 {
            let (y, m, dd) = Date(n).ymd();
            assert_eq!(d(y, m, dd).0, n);
        }
    }

    /// The fast conversions agree with the general ones on every day they
    /// handle, and hand over to them at both ends of their range.
    #[test]
    fn fast_conversions_match_the_general_ones() {
        let edges = [*FAST_DAYS.start(), *FAST_DAYS.end()];
        let near_edges = edges.iter().flat_map(|&e| e - 400_000..e + 400_000);
        let across = (i32::MIN..i32::MAX).step_by(997);
        for n in (-3_000_000..3_000_000).chain(near_edges).chain(across) {
            let civil = civil_from_days_general(n);
            assert_eq!(civil_from_days(n), civil, "day {n}");
            let (y, m, dd) = civil;
            assert_eq!(
                days_from_civil(y, m, dd),
                days_from_civil_general(y, m, dd),
                "{civil:?}"
            );
        }
        for year in [
            *FAST_YEARS.start() - 1,
            *FAST_YEARS.start(),
            *FAST_YEARS.end(),
            *FAST_YEARS.end() + 1,
        ] {
            for (m, dd) in [(1, 1), (2, 28), (3, 1), (12, 31)] {
                assert_eq!(
                    days_from_civil(year, m, dd),
                    days_from_civil_general(year, m, dd)
                );
            }
        }
    }

    #[test]
    fn extreme_day_numbers_do_not_overflow() {
        for n in [i32::MIN, i32::MIN + 1, -1, i32::MAX - 1, i32::MAX] {
            let date = Date(n);
            let _ = date.ymd();
            let _ = date.add_months(1200);
            let _ = date.add_months(-1200);
            let _ = date.weekday();
        }
    }

    #[test]
    fn weekday_known_dates() {
        assert_eq!(d(2025, 12, 31).weekday(), 2); // Wednesday
        assert_eq!(d(2026, 11, 28).weekday(), 5); // Saturday
    }

    #[test]
    fn month_arithmetic_clamps_to_month_end() {
        assert_eq!(d(2024, 1, 31).add_months(1), d(2024, 2, 29));
        assert_eq!(d(2023, 1, 31).add_months(1), d(2023, 2, 28));
        assert_eq!(d(2024, 2, 29).add_months(12), d(2025, 2, 28));
        assert_eq!(d(2024, 2, 28).add_months(1), d(2024, 3, 28));
        assert_eq!(d(2024, 3, 31).add_months(-1), d(2024, 2, 29));
        assert_eq!(d(2024, 5, 15).add_months(-17), d(2022, 12, 15));
    }

    #[test]
    fn parse_iso_rejects_impossible_dates() {
        assert_eq!(Date::parse_iso("2025-02-28"), Some(d(2025, 2, 28)));
        assert_eq!(Date::parse_iso("2025-02-29"), None);
        assert_eq!(Date::parse_iso("2025-13-01"), None);
        assert_eq!(Date::parse_iso("garbage"), None);
        assert_eq!(d(2025, 2, 3).to_string(), "2025-02-03");
    }
}
