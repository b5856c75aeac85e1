//! Time buckets for gap reports: the 19 Basel buckets, monthly buckets, or a
//! user's list of edges. Labels start with a zero-padded index so that they
//! sort in time order.

use crate::curve::tenor_years;
use crate::date::Date;
use crate::error::{Error, Result};

/// The 19 Basel buckets: (label, upper edge in months from as_of, midpoint in years).
/// The first, overnight, ends one day after as_of (edge 0 months, see `upper_edge`).
const BCBS: [(&str, i32, f64); 19] = [
    ("01 overnight", 0, 0.0028),
    ("02 O/N-1M", 1, 0.0417),
    ("03 1M-3M", 3, 0.1667),
    ("04 3M-6M", 6, 0.375),
    ("05 6M-9M", 9, 0.625),
    ("06 9M-1Y", 12, 0.875),
    ("07 1Y-1.5Y", 18, 1.25),
    ("08 1.5Y-2Y", 24, 1.75),
    ("09 2Y-3Y", 36, 2.5),
    ("10 3Y-4Y", 48, 3.5),
    ("11 4Y-5Y", 60, 4.5),
    ("12 5Y-6Y", 72, 5.5),
    ("13 6Y-7Y", 84, 6.5),
    ("14 7Y-8Y", 96, 7.5),
    ("15 8Y-9Y", 108, 8.5),
    ("16 9Y-10Y", 120, 9.5),
    ("17 10Y-15Y", 180, 12.5),
    ("18 15Y-20Y", 240, 17.5),
    ("19 >20Y", i32::MAX, 25.0),
];

/// A bucket scheme: `bcbs` (default), `monthly`, or a comma list of tenors.
#[derive(Debug, Clone, PartialEq)]
pub enum BucketScheme {
    Bcbs,
    /// One bucket per month after as_of, `001 1M`, `002 2M`, ...
    Monthly,
    /// Upper edges as tenors, in increasing order; a last open bucket follows.
    Custom(Vec<(String, EdgeStep)>),
}

/// A custom edge: whole months, or days for `ON`/`nD`/`nW` tenors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EdgeStep {
    Days(i32),
    Months(i32),
}

impl EdgeStep {
    fn parse(tenor: &str) -> Result<EdgeStep> {
        let code = tenor.trim().to_ascii_uppercase();
        let years = tenor_years(&code)?;
        let count: i32 = code[..code.len().saturating_sub(1)].parse().unwrap_or(1);
        Ok(match code.chars().last() {
            Some('M') => EdgeStep::Months(count),
            Some('Y') => EdgeStep::Months(12 * count),
            _ => EdgeStep::Days((years * 365.0).round() as i32),
        })
    }

    fn date(self, as_of: Date) -> Date {
        match self {
            EdgeStep::Days(n) => as_of.add_days(n),
            EdgeStep::Months(n) => as_of.add_months(n),
        }
    }

    fn years(self) -> f64 {
        match self {
            EdgeStep::Days(n) => n as f64 / 365.0,
            EdgeStep::Months(n) => n as f64 / 12.0,
        }
    }
}

impl BucketScheme {
    pub fn parse(spec: &str) -> Result<BucketScheme> {
        let text = spec.trim();
        match text.to_ascii_lowercase().as_str() {
            "" | "bcbs" => return Ok(BucketScheme::Bcbs),
            "monthly" => return Ok(BucketScheme::Monthly),
            _ => {}
        }
        let mut edges = Vec::new();
        for tenor in text.split(',') {
            let step = EdgeStep::parse(tenor).map_err(|_| {
                Error::Invalid(format!(
                    "bucket scheme '{spec}': '{}' is not a tenor (expected 'bcbs', 'monthly' or a list such as '1M,3M,6M,1Y')",
                    tenor.trim()
                ))
            })?;
            edges.push((tenor.trim().to_ascii_uppercase(), step));
        }
        if edges.windows(2).any(|w| w[0].1.years() >= w[1].1.years()) {
            return Err(Error::Invalid(format!(
                "bucket scheme '{spec}': tenors must increase"
            )));
        }
        Ok(BucketScheme::Custom(edges))
    }

    /// The label of the bucket holding `date`: after its lower edge, up to and
    /// including its upper edge. Dates on or before as_of fall in the first bucket.
    pub fn bucket(&self, date: Date, as_of: Date) -> String {
        match self {
            BucketScheme::Bcbs => {
                if date <= as_of.add_days(1) {
                    return BCBS[0].0.to_string();
                }
                let i = BCBS[1..]
                    .iter()
                    .position(|&(_, months, _)| {
                        months == i32::MAX || date <= as_of.add_months(months)
                    })
                    .map_or(18, |p| p + 1);
                BCBS[i].0.to_string()
            }
            BucketScheme::Monthly => {
                let (ya, ma, _) = as_of.ymd();
                let (yd, md, _) = date.ymd();
                let mut k = ((yd - ya) * 12 + md as i32 - ma as i32).max(1);
                while k > 1 && date <= as_of.add_months(k - 1) {
                    k -= 1;
                }
                while date > as_of.add_months(k) {
                    k += 1;
                }
                format!("{k:03} {k}M")
            }
            BucketScheme::Custom(edges) => {
                let width = digits(edges.len() + 1);
                let mut lower = "0".to_string();
                for (i, (tenor, step)) in edges.iter().enumerate() {
                    if date <= step.date(as_of) {
                        return format!("{:0width$} {lower}-{tenor}", i + 1);
                    }
                    lower = tenor.clone();
                }
                format!("{:0width$} >{lower}", edges.len() + 1)
            }
        }
    }

    /// Midpoint in years of a bucket label of this scheme. The open last bucket
    /// of a custom scheme uses 1.25 × its lower edge, as Basel's >20Y uses 25.
    pub fn midpoint(&self, label: &str) -> Result<f64> {
        let unknown = || Error::Invalid(format!("'{label}' is not a bucket label of this scheme"));
        match self {
            BucketScheme::Bcbs => BCBS
                .iter()
                .find(|b| b.0 == label)
                .map(|b| b.2)
                .ok_or_else(unknown),
            BucketScheme::Monthly => {
                let k: i32 = label
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(unknown)?;
                if k < 1 || label != format!("{k:03} {k}M") {
                    return Err(unknown());
                }
                Ok((k as f64 - 0.5) / 12.0)
            }
            BucketScheme::Custom(edges) => {
                let index: usize = label
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(unknown)?;
                let expected = (index >= 1).then(|| self.bucket_label_at(index)).flatten();
                if expected.as_deref() != Some(label) {
                    return Err(unknown());
                }
                let lower = if index == 1 {
                    0.0
                } else {
                    edges[index - 2].1.years()
                };
                Ok(match edges.get(index - 1) {
                    Some((_, upper)) => (lower + upper.years()) / 2.0,
                    None => 1.25 * lower,
                })
            }
        }
    }

    /// The scheme's buckets on one as_of: what `bucket` gives, with each
    /// edge's date computed once instead of once per date bucketed.
    pub fn on(&self, as_of: Date) -> DatedBuckets {
        let upper_edges = match self {
            BucketScheme::Bcbs => BCBS
                .iter()
                .map(|&(label, months, _)| {
                    let edge = match months {
                        0 => as_of.add_days(1),
                        i32::MAX => Date(i32::MAX),
                        _ => as_of.add_months(months),
                    };
                    (edge, label.to_string())
                })
                .collect(),
            BucketScheme::Monthly => Vec::new(),
            BucketScheme::Custom(edges) => {
                let labels = (1..=edges.len() + 1).filter_map(|i| self.bucket_label_at(i));
                let dates = edges.iter().map(|(_, step)| step.date(as_of));
                dates.chain([Date(i32::MAX)]).zip(labels).collect()
            }
        };
        DatedBuckets {
            scheme: self.clone(),
            as_of,
            upper_edges,
        }
    }

    fn bucket_label_at(&self, index: usize) -> Option<String> {
        let BucketScheme::Custom(edges) = self else {
            return None;
        };
        let width = digits(edges.len() + 1);
        if index == edges.len() + 1 {
            return Some(format!("{:0width$} >{}", index, edges.last()?.0));
        }
        let upper = &edges.get(index - 1)?.0;
        let lower = if index == 1 {
            "0".to_string()
        } else {
            edges[index - 2].0.clone()
        };
        Some(format!("{index:0width$} {lower}-{upper}"))
    }
}

/// A bucket scheme on one as_of date (`BucketScheme::on`).
#[derive(Debug, Clone)]
pub struct DatedBuckets {
    scheme: BucketScheme,
    as_of: Date,
    /// Each bucket's upper edge (inclusive) and label, in the scheme's order;
    /// empty for monthly buckets, which have no last one.
    upper_edges: Vec<(Date, String)>,
}

impl DatedBuckets {
    pub fn as_of(&self) -> Date {
        self.as_of
    }

    /// The label of the bucket holding `date`, as `BucketScheme::bucket` gives it:
    /// the first bucket whose upper edge is on or after it.
    pub fn bucket(&self, date: Date) -> std::borrow::Cow<'_, str> {
        match self.upper_edges.iter().find(|(edge, _)| date <= *edge) {
            Some((_, label)) => label.into(),
            None => self.scheme.bucket(date, self.as_of).into(),
        }
    }
}

fn digits(n: usize) -> usize {
    n.to_string().len().max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> Date {
        Date::from_ymd(y, m, day).unwrap()
    }

    #[test]
    fn bcbs_edges_are_inclusive_above() {
        let s = BucketScheme::Bcbs;
        let as_of = d(2025, 12, 31);
        assert_eq!(s.bucket(d(2026, 1, 1), as_of), "01 overnight");
        assert_eq!(s.bucket(d(2026, 1, 2), as_of), "02 O/N-1M");
        assert_eq!(s.bucket(d(2026, 1, 31), as_of), "02 O/N-1M");
        assert_eq!(s.bucket(d(2026, 2, 1), as_of), "03 1M-3M");
        assert_eq!(s.bucket(d(2027, 6, 30), as_of), "07 1Y-1.5Y");
        assert_eq!(s.bucket(d(2027, 7, 1), as_of), "08 1.5Y-2Y");
        assert_eq!(s.bucket(d(2045, 12, 31), as_of), "18 15Y-20Y");
        assert_eq!(s.bucket(d(2046, 1, 1), as_of), "19 >20Y");
        assert_eq!(s.midpoint("10 3Y-4Y").unwrap(), 3.5);
        assert!(s.midpoint("nonsense").is_err());
    }

    /// Bucketing with the edges dated once gives `bucket`'s label for every
    /// day of 45 years, for the Basel, monthly and custom schemes (days and
    /// months mixed, whose edges are not in date order on 31 January), on
    /// as_of dates at a month's end, on 29 February and mid-month.
    #[test]
    fn dated_buckets_equal_bucket() {
        let schemes = ["bcbs", "monthly", "1M,3M,1Y", "ON,30D,1M,2M,10Y"];
        let mut checked = 0;
        for as_of in [
            d(2025, 12, 31),
            d(2024, 2, 29),
            d(2025, 1, 31),
            d(2026, 6, 15),
        ] {
            for text in schemes {
                let scheme = BucketScheme::parse(text).unwrap();
                let dated = scheme.on(as_of);
                assert_eq!(dated.as_of(), as_of);
                for offset in -5..45 * 365 {
                    let date = as_of.add_days(offset);
                    assert_eq!(
                        dated.bucket(date),
                        scheme.bucket(date, as_of),
                        "{text} {as_of} {date}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 250_000);
        // Hand-worked: from 31 Jan, ON ends 1 Feb, 30D on 2 March, 1M on 28 Feb
        // (before 30D: its bucket is empty), 2M on 31 March.
        let mixed = BucketScheme::parse("ON,30D,1M,2M,10Y")
            .unwrap()
            .on(d(2025, 1, 31));
        assert_eq!(mixed.bucket(d(2025, 2, 1)), "01 0-ON");
        assert_eq!(mixed.bucket(d(2025, 2, 28)), "02 ON-30D");
        assert_eq!(mixed.bucket(d(2025, 3, 2)), "02 ON-30D");
        assert_eq!(mixed.bucket(d(2025, 3, 3)), "04 1M-2M");
    }

    #[test]
    fn monthly_and_custom() {
        let as_of = d(2025, 1, 31);
        let m = BucketScheme::parse("monthly").unwrap();
        assert_eq!(m.bucket(d(2025, 2, 28), as_of), "001 1M");
        assert_eq!(m.bucket(d(2025, 3, 1), as_of), "002 2M");
        assert_eq!(m.bucket(d(2035, 1, 31), as_of), "120 120M");
        assert_eq!(m.midpoint("002 2M").unwrap(), 1.5 / 12.0);
        let c = BucketScheme::parse("1M,3M,1Y").unwrap();
        assert_eq!(c.bucket(d(2025, 2, 28), as_of), "01 0-1M");
        assert_eq!(c.bucket(d(2025, 4, 30), as_of), "02 1M-3M");
        assert_eq!(c.bucket(d(2026, 2, 1), as_of), "04 >1Y");
        assert_eq!(c.midpoint("02 1M-3M").unwrap(), (1.0 / 12.0 + 0.25) / 2.0);
        assert_eq!(c.midpoint("04 >1Y").unwrap(), 1.25);
        assert!(BucketScheme::parse("1M,1W").is_err());
        assert!(BucketScheme::parse("1M,x")
            .unwrap_err()
            .to_string()
            .contains("'x'"));
    }
}
