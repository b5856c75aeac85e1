//! Business days: weekends plus an optional holiday list, and the three
//! adjustment rules of the data contract.

use crate::date::Date;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BusinessDayRule {
    #[default]
    Unadjusted,
    /// Next business day.
    Following,
    /// Next business day unless that changes the month, then the previous one.
    ModifiedFollowing,
}

pub const BUSINESS_DAY_CODES: &str = "unadjusted, following, modified_following";

impl BusinessDayRule {
    pub fn parse(code: &str) -> Result<BusinessDayRule> {
        let lower = crate::code::lower(code);
        Ok(match lower.as_ref() {
            "" | "unadjusted" => BusinessDayRule::Unadjusted,
            "following" => BusinessDayRule::Following,
            "modified_following" | "modifiedfollowing" => BusinessDayRule::ModifiedFollowing,
            _ => {
                return Err(Error::UnknownCode {
                    what: "business_day",
                    value: code.to_string(),
                    expected: BUSINESS_DAY_CODES,
                })
            }
        })
    }
}

/// Saturdays and Sundays, plus the given holidays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    /// Sorted, without duplicates.
    holidays: Vec<Date>,
}

impl Calendar {
    /// The weekends-only calendar.
    pub fn weekends_only() -> Calendar {
        Calendar::default()
    }

    pub fn with_holidays(mut holidays: Vec<Date>) -> Calendar {
        holidays.sort_unstable();
        holidays.dedup();
        Calendar { holidays }
    }

    pub fn is_business_day(&self, date: Date) -> bool {
        !date.is_weekend() && self.holidays.binary_search(&date).is_err()
    }

    pub fn adjust(&self, date: Date, rule: BusinessDayRule) -> Date {
        match rule {
            BusinessDayRule::Unadjusted => date,
            BusinessDayRule::Following => self.next_business_day(date, 1),
            BusinessDayRule::ModifiedFollowing => {
                let following = self.next_business_day(date, 1);
                if following == date || following.ymd().1 == date.ymd().1 {
                    following
                } else {
                    self.next_business_day(date, -1)
                }
            }
        }
    }

    fn next_business_day(&self, mut date: Date, step: i32) -> Date {
        while !self.is_business_day(date) {
            date = date.add_days(step);
        }
        date
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    #[test]
    fn weekend_rolls() {
        let cal = Calendar::weekends_only();
        // 2026-01-31 is a Saturday: following goes to Mon 2 Feb, modified following back to Fri 30 Jan.
        let sat = d(2026, 1, 31);
        assert_eq!(cal.adjust(sat, BusinessDayRule::Unadjusted), sat);
        assert_eq!(cal.adjust(sat, BusinessDayRule::Following), d(2026, 2, 2));
        assert_eq!(
            cal.adjust(sat, BusinessDayRule::ModifiedFollowing),
            d(2026, 1, 30)
        );
        // Mid-month Saturday 2026-01-17: both rules go forward to Mon 19 Jan.
        assert_eq!(
            cal.adjust(d(2026, 1, 17), BusinessDayRule::ModifiedFollowing),
            d(2026, 1, 19)
        );
    }

    #[test]
    fn holidays_are_skipped() {
        // Fri 2026-12-25 a holiday: following from Fri goes to Mon 28 Dec.
        let cal = Calendar::with_holidays(vec![d(2026, 12, 25)]);
        assert_eq!(
            cal.adjust(d(2026, 12, 25), BusinessDayRule::Following),
            d(2026, 12, 28)
        );
        // 2026-12-31 Thu is a business day.
        assert_eq!(
            cal.adjust(d(2026, 12, 31), BusinessDayRule::Following),
            d(2026, 12, 31)
        );
    }
}
