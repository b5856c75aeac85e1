//! A validated instrument: every text code parsed to an enum once, every
//! contract rule checked, each failure naming the instrument, column and value.

use crate::calendar::BusinessDayRule;
use crate::date::Date;
use crate::daycount::DayCount;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Asset,
    Liability,
}

impl Side {
    pub fn parse(code: &str) -> Result<Side> {
        match crate::code::lower(code).as_ref() {
            "asset" => Ok(Side::Asset),
            "liability" => Ok(Side::Liability),
            _ => Err(Error::UnknownCode {
                what: "side",
                value: code.into(),
                expected: "asset, liability",
            }),
        }
    }

    /// +1 for assets (money in), −1 for liabilities (money out).
    pub fn sign(self) -> f64 {
        match self {
            Side::Asset => 1.0,
            Side::Liability => -1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateType {
    Fixed,
    Floating,
}

impl RateType {
    pub fn parse(code: &str) -> Result<RateType> {
        match crate::code::lower(code).as_ref() {
            "fixed" => Ok(RateType::Fixed),
            "floating" => Ok(RateType::Floating),
            _ => Err(Error::UnknownCode {
                what: "rate_type",
                value: code.into(),
                expected: "fixed, floating",
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Amortization {
    Bullet,
    Annuity,
    Linear,
}

impl Amortization {
    pub fn parse(code: &str) -> Result<Amortization> {
        match crate::code::lower(code).as_ref() {
            "bullet" => Ok(Amortization::Bullet),
            "annuity" => Ok(Amortization::Annuity),
            "linear" => Ok(Amortization::Linear),
            _ => Err(Error::UnknownCode {
                what: "amortization",
                value: code.into(),
                expected: "bullet, annuity, linear",
            }),
        }
    }
}

/// Floating-rate terms.
#[derive(Debug, Clone, PartialEq)]
pub struct FloatingTerms {
    /// `curve_id` of the index curve.
    pub index_curve: String,
    pub spread: f64,
    pub reset_months: u32,
    pub floor: Option<f64>,
    pub cap: Option<f64>,
}

impl FloatingTerms {
    /// Index forward plus spread, clamped to [floor, cap].
    pub fn all_in(&self, index_forward: f64) -> f64 {
        let mut rate = index_forward + self.spread;
        if let Some(floor) = self.floor {
            rate = rate.max(floor);
        }
        if let Some(cap) = self.cap {
            rate = rate.min(cap);
        }
        rate
    }

    /// Appends [`FloatingTerms::all_in`] of each of `forwards` to `rates`:
    /// the same operations in the same order, in one pass with no test per
    /// rate (a loop for each case of floor and cap).
    pub fn extend_all_in(&self, rates: &mut Vec<f64>, forwards: &[f64]) {
        let spread = self.spread;
        let each = forwards.iter();
        match (self.floor, self.cap) {
            (None, None) => rates.extend(each.map(|f| f + spread)),
            (Some(floor), None) => rates.extend(each.map(|f| (f + spread).max(floor))),
            (None, Some(cap)) => rates.extend(each.map(|f| (f + spread).min(cap))),
            (Some(floor), Some(cap)) => {
                rates.extend(each.map(|f| (f + spread).max(floor).min(cap)))
            }
        }
    }
}

/// One position, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Instrument {
    pub side: Side,
    pub balance: f64,
    pub start_date: Date,
    /// `None`: a non-maturity product (run off over `behavioral_months`).
    pub maturity_date: Option<Date>,
    pub rate: f64,
    /// `Some` for floaters.
    pub floating: Option<FloatingTerms>,
    pub payment_months: u32,
    pub amortization: Amortization,
    pub day_count: DayCount,
    pub business_day: BusinessDayRule,
    pub prepayment_rate: f64,
    pub behavioral_months: u32,
}

/// An instrument row as read from the lake, before validation. Optional
/// columns are already defaulted by the reader; nullable ones are `Option`.
#[derive(Debug, Clone, Default)]
pub struct RawInstrument<'a> {
    pub instrument_id: &'a str,
    pub side: Option<&'a str>,
    pub balance: Option<f64>,
    pub start_date: Option<Date>,
    pub maturity_date: Option<Date>,
    pub rate_type: Option<&'a str>,
    pub rate: Option<f64>,
    pub index_curve: Option<&'a str>,
    pub spread: Option<f64>,
    pub reset_months: Option<i32>,
    pub rate_floor: Option<f64>,
    pub rate_cap: Option<f64>,
    pub payment_months: Option<i32>,
    pub amortization: Option<&'a str>,
    pub day_count: Option<&'a str>,
    pub business_day: Option<&'a str>,
    pub prepayment_rate: Option<f64>,
    pub behavioral_months: Option<i32>,
}

/// A row's codes already parsed, by a reader that parses each distinct code
/// of a batch once instead of once a row; `None`: the row's text is parsed.
/// A code given here must be what parsing that row's text gives.
#[derive(Debug, Clone, Copy, Default)]
pub struct KnownCodes {
    pub side: Option<Side>,
    pub rate_type: Option<RateType>,
    pub amortization: Option<Amortization>,
    pub day_count: Option<DayCount>,
    pub business_day: Option<BusinessDayRule>,
}

/// Longest term accepted, in years (a 100-year bond exists; 1,000 years is a data error).
pub const MAX_TERM_YEARS: i32 = 200;

const PAYMENT_MONTHS: [i32; 5] = [0, 1, 3, 6, 12];
const RESET_MONTHS: [i32; 4] = [1, 3, 6, 12];

impl RawInstrument<'_> {
    fn fail(&self, column: &'static str, value: impl ToString, reason: impl Into<String>) -> Error {
        Error::Instrument {
            instrument_id: self.instrument_id.to_string(),
            column,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    fn code<T>(
        &self,
        column: &'static str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T>,
    ) -> Result<T> {
        let text = value.ok_or_else(|| self.fail(column, "NULL", "is required"))?;
        parse(text).map_err(|e| match e {
            Error::UnknownCode { expected, .. } => self.fail(
                column,
                format!("'{text}'"),
                format!("unknown code (expected one of: {expected})"),
            ),
            other => other,
        })
    }

    /// `known`, else the parsed `value`.
    fn code_or<T>(
        &self,
        known: Option<T>,
        column: &'static str,
        value: Option<&str>,
        parse: fn(&str) -> Result<T>,
    ) -> Result<T> {
        match known {
            Some(known) => Ok(known),
            None => self.code(column, value, parse),
        }
    }

    fn required<T>(&self, column: &'static str, value: Option<T>) -> Result<T> {
        value.ok_or_else(|| self.fail(column, "NULL", "is required"))
    }

    fn finite(&self, column: &'static str, value: f64) -> Result<f64> {
        if value.is_finite() {
            Ok(value)
        } else {
            Err(self.fail(column, value, "must be a finite number"))
        }
    }

    fn optional_finite(&self, column: &'static str, value: Option<f64>) -> Result<Option<f64>> {
        value.map(|v| self.finite(column, v)).transpose()
    }

    /// Checks every rule of the data contract and parses the codes.
    pub fn validate(&self) -> Result<Instrument> {
        self.validate_with(KnownCodes::default())
    }

    /// The same, with the codes in `known` taken as parsed.
    pub fn validate_with(&self, known: KnownCodes) -> Result<Instrument> {
        if self.instrument_id.is_empty() {
            return Err(self.fail("instrument_id", "''", "must not be empty"));
        }
        let side = self.code_or(known.side, "side", self.side, Side::parse)?;
        let rate_type = self.code_or(
            known.rate_type,
            "rate_type",
            self.rate_type,
            RateType::parse,
        )?;
        let amortization = self.code_or(
            known.amortization,
            "amortization",
            self.amortization,
            Amortization::parse,
        )?;
        let day_count = self.code_or(
            known.day_count,
            "day_count",
            self.day_count,
            DayCount::parse,
        )?;
        let business_day = match (known.business_day, self.business_day) {
            (Some(rule), _) => rule,
            (None, None) => BusinessDayRule::Unadjusted,
            (None, some) => self.code("business_day", some, BusinessDayRule::parse)?,
        };

        let balance = self.finite("balance", self.required("balance", self.balance)?)?;
        if balance < 0.0 {
            return Err(self.fail(
                "balance",
                balance,
                "must be positive (the side column gives the sign)",
            ));
        }
        let rate = self.finite("rate", self.required("rate", self.rate)?)?;
        if rate < 0.0 {
            return Err(self.fail("rate", rate, "must not be negative"));
        }
        let start_date = self.required("start_date", self.start_date)?;
        if let Some(maturity) = self.maturity_date {
            if maturity <= start_date {
                return Err(self.fail(
                    "maturity_date",
                    maturity,
                    format!("must be after start_date {start_date}"),
                ));
            }
            // A bound on the schedule's length, so one absurd date cannot exhaust
            // memory. (Within 365 days a year it holds without month arithmetic.)
            let surely_within = start_date.days_until(maturity) <= 365 * i64::from(MAX_TERM_YEARS);
            if !surely_within && maturity > start_date.add_months(12 * MAX_TERM_YEARS) {
                let reason =
                    format!("is more than {MAX_TERM_YEARS} years after start_date {start_date}");
                return Err(self.fail("maturity_date", maturity, reason));
            }
        }
        let payment_months = self.required("payment_months", self.payment_months)?;
        if !PAYMENT_MONTHS.contains(&payment_months) {
            return Err(self.fail(
                "payment_months",
                payment_months,
                "must be one of 0, 1, 3, 6, 12",
            ));
        }
        let prepayment_rate =
            self.finite("prepayment_rate", self.prepayment_rate.unwrap_or(0.0))?;
        if !(0.0..=1.0).contains(&prepayment_rate) {
            return Err(self.fail(
                "prepayment_rate",
                prepayment_rate,
                "must be between 0 and 1 (an annual rate)",
            ));
        }
        let behavioral_months = self.behavioral_months.unwrap_or(60);
        if !(1..=12 * MAX_TERM_YEARS).contains(&behavioral_months) {
            let reason = format!("must be between 1 and {}", 12 * MAX_TERM_YEARS);
            return Err(self.fail("behavioral_months", behavioral_months, reason));
        }

        let floating = match rate_type {
            RateType::Fixed => None,
            RateType::Floating => Some(self.floating_terms()?),
        };
        Ok(Instrument {
            side,
            balance,
            start_date,
            maturity_date: self.maturity_date,
            rate,
            floating,
            payment_months: payment_months as u32,
            amortization,
            day_count,
            business_day,
            prepayment_rate,
            behavioral_months: behavioral_months as u32,
        })
    }

    fn floating_terms(&self) -> Result<FloatingTerms> {
        let index_curve = match self.index_curve.map(str::trim) {
            Some(curve) if !curve.is_empty() => curve.to_string(),
            _ => {
                return Err(self.fail(
                    "index_curve",
                    "NULL",
                    "a floating-rate instrument needs an index curve",
                ))
            }
        };
        let reset_months = self.reset_months.ok_or_else(|| {
            self.fail(
                "reset_months",
                "NULL",
                "a floating-rate instrument needs reset_months",
            )
        })?;
        if !RESET_MONTHS.contains(&reset_months) {
            return Err(self.fail("reset_months", reset_months, "must be one of 1, 3, 6, 12"));
        }
        let floor = self.optional_finite("rate_floor", self.rate_floor)?;
        let cap = self.optional_finite("rate_cap", self.rate_cap)?;
        if let (Some(f), Some(c)) = (floor, cap) {
            if f > c {
                return Err(self.fail("rate_floor", f, format!("is above rate_cap {c}")));
            }
        }
        Ok(FloatingTerms {
            index_curve,
            spread: self.finite("spread", self.spread.unwrap_or(0.0))?,
            reset_months: reset_months as u32,
            floor,
            cap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn raw_fixed() -> RawInstrument<'static> {
        RawInstrument {
            instrument_id: "L1",
            side: Some("Asset"),
            balance: Some(1000.0),
            start_date: Date::from_ymd(2025, 1, 15),
            maturity_date: Date::from_ymd(2030, 1, 15),
            rate_type: Some("FIXED"),
            rate: Some(0.05),
            payment_months: Some(12),
            amortization: Some("bullet"),
            day_count: Some("30/360"),
            ..Default::default()
        }
    }

    fn message(raw: RawInstrument) -> String {
        raw.validate().unwrap_err().to_string()
    }

    /// Maturities up to exactly MAX_TERM_YEARS after the start are valid, a
    /// day more is not, whether or not the quick check in days decides.
    #[test]
    fn the_longest_term_is_exactly_max_term_years() {
        let start = Date::from_ymd(2024, 2, 29).unwrap();
        let with_maturity = |maturity: Date| RawInstrument {
            start_date: Some(start),
            maturity_date: Some(maturity),
            ..raw_fixed()
        };
        let longest = start.add_months(12 * MAX_TERM_YEARS);
        for ok in [start.add_days(365 * MAX_TERM_YEARS), longest] {
            assert!(with_maturity(ok).validate().is_ok(), "{ok}");
        }
        let too_long = message(with_maturity(longest.add_days(1)));
        assert!(too_long.contains("more than 200 years"), "{too_long}");
    }

    #[test]
    fn valid_row_parses_case_insensitively() {
        let i = raw_fixed().validate().unwrap();
        assert_eq!(i.side, Side::Asset);
        assert_eq!(i.behavioral_months, 60);
        assert_eq!(i.business_day, BusinessDayRule::Unadjusted);
    }

    #[test]
    fn every_violation_names_instrument_column_and_value() {
        let cases: Vec<(RawInstrument, &str, &str)> = vec![
            (
                RawInstrument {
                    day_count: Some("ACT/999"),
                    ..raw_fixed()
                },
                "day_count",
                "ACT/999",
            ),
            (
                RawInstrument {
                    amortization: Some("balloon"),
                    ..raw_fixed()
                },
                "amortization",
                "balloon",
            ),
            (
                RawInstrument {
                    side: Some("equity"),
                    ..raw_fixed()
                },
                "side",
                "equity",
            ),
            (
                RawInstrument {
                    rate_type: Some("hybrid"),
                    ..raw_fixed()
                },
                "rate_type",
                "hybrid",
            ),
            (
                RawInstrument {
                    business_day: Some("preceding"),
                    ..raw_fixed()
                },
                "business_day",
                "preceding",
            ),
            (
                RawInstrument {
                    maturity_date: Date::from_ymd(2024, 1, 1),
                    ..raw_fixed()
                },
                "maturity_date",
                "2024-01-01",
            ),
            (
                RawInstrument {
                    balance: Some(-5.0),
                    ..raw_fixed()
                },
                "balance",
                "-5",
            ),
            (
                RawInstrument {
                    balance: Some(f64::NAN),
                    ..raw_fixed()
                },
                "balance",
                "NaN",
            ),
            (
                RawInstrument {
                    rate: Some(-0.01),
                    ..raw_fixed()
                },
                "rate",
                "-0.01",
            ),
            (
                RawInstrument {
                    rate: Some(f64::NAN),
                    ..raw_fixed()
                },
                "rate",
                "NaN",
            ),
            (
                RawInstrument {
                    payment_months: Some(2),
                    ..raw_fixed()
                },
                "payment_months",
                "2",
            ),
            (
                RawInstrument {
                    rate_type: Some("floating"),
                    reset_months: Some(3),
                    ..raw_fixed()
                },
                "index_curve",
                "NULL",
            ),
            (
                RawInstrument {
                    rate_type: Some("floating"),
                    index_curve: Some("USD_SOFR"),
                    ..raw_fixed()
                },
                "reset_months",
                "NULL",
            ),
            (
                RawInstrument {
                    rate_type: Some("floating"),
                    index_curve: Some("USD_SOFR"),
                    reset_months: Some(5),
                    ..raw_fixed()
                },
                "reset_months",
                "5",
            ),
            (
                RawInstrument {
                    prepayment_rate: Some(1.5),
                    ..raw_fixed()
                },
                "prepayment_rate",
                "1.5",
            ),
            (
                RawInstrument {
                    behavioral_months: Some(0),
                    ..raw_fixed()
                },
                "behavioral_months",
                "0",
            ),
            (
                RawInstrument {
                    behavioral_months: Some(100_000),
                    ..raw_fixed()
                },
                "behavioral_months",
                "100000",
            ),
            (
                RawInstrument {
                    maturity_date: Date::from_ymd(9999, 1, 1),
                    ..raw_fixed()
                },
                "maturity_date",
                "9999-01-01",
            ),
            (
                RawInstrument {
                    start_date: None,
                    ..raw_fixed()
                },
                "start_date",
                "NULL",
            ),
        ];
        for (raw, column, value) in cases {
            let msg = message(raw);
            assert!(
                msg.contains("'L1'") && msg.contains(column) && msg.contains(value),
                "{msg}"
            );
        }
    }
}
