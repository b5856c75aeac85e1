//! Zero curves: tenor parsing, linear interpolation of zero rates in time,
//! flat extrapolation, continuous-compounding discount factors.

use crate::error::{Error, Result};

/// Converts a tenor code to years: `ON` = 1/365, `nD` = n/365, `nW` = 7n/365,
/// `nM` = n/12, `nY` = n (case-insensitive).
pub fn tenor_years(tenor: &str) -> Result<f64> {
    let code = tenor.trim().to_ascii_uppercase();
    if code == "ON" || code == "O/N" {
        return Ok(1.0 / 365.0);
    }
    let bad = || Error::Tenor(tenor.to_string());
    let unit = code.chars().last().ok_or_else(bad)?;
    let count: u32 = code[..code.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let n = count as f64;
    match unit {
        'D' => Ok(n / 365.0),
        'W' => Ok(7.0 * n / 365.0),
        'M' => Ok(n / 12.0),
        'Y' => Ok(n),
        _ => Err(bad()),
    }
}

/// A zero curve: continuously compounded zero rates on an ACT/365F time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub curve_id: String,
    pub currency: String,
    /// The node tenors as given, in time order.
    pub tenors: Vec<String>,
    /// Node times in years, strictly increasing.
    pub times: Vec<f64>,
    pub zero_rates: Vec<f64>,
}

impl Curve {
    /// Builds a curve from (tenor, zero rate) nodes in any order.
    pub fn new(curve_id: &str, currency: &str, nodes: Vec<(String, f64)>) -> Result<Curve> {
        let curve_err = |reason: String| Error::Curve {
            curve_id: curve_id.to_string(),
            reason,
        };
        if nodes.is_empty() {
            return Err(curve_err("has no points".into()));
        }
        let mut timed = Vec::with_capacity(nodes.len());
        for (tenor, rate) in nodes {
            let t = tenor_years(&tenor)?;
            if !rate.is_finite() {
                return Err(curve_err(format!("zero_rate at tenor {tenor} is {rate}")));
            }
            timed.push((t, tenor, rate));
        }
        timed.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in timed.windows(2) {
            if pair[0].0 == pair[1].0 {
                return Err(curve_err(format!(
                    "tenors {} and {} fall on the same time",
                    pair[0].1, pair[1].1
                )));
            }
        }
        Ok(Curve {
            curve_id: curve_id.to_string(),
            currency: currency.to_string(),
            tenors: timed.iter().map(|n| n.1.clone()).collect(),
            times: timed.iter().map(|n| n.0).collect(),
            zero_rates: timed.iter().map(|n| n.2).collect(),
        })
    }

    /// Zero rate at time `t` (years), linear between nodes, flat beyond the ends.
    pub fn zero_rate(&self, t: f64) -> f64 {
        interpolate_flat(&self.times, &self.zero_rates, t)
    }

    /// exp(−z(t)·t).
    pub fn discount_factor(&self, t: f64) -> f64 {
        (-self.zero_rate(t) * t).exp()
    }
}

/// Piecewise-linear interpolation on increasing `xs`, flat beyond both ends.
pub fn interpolate_flat(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    let n = xs.len();
    if n == 0 {
        return 0.0;
    }
    if x <= xs[0] {
        return ys[0];
    }
    if x >= xs[n - 1] {
        return ys[n - 1];
    }
    // First node strictly greater than x; 1 <= i <= n-1 here.
    let i = xs.partition_point(|&node| node <= x);
    let (x0, x1, y0, y1) = (xs[i - 1], xs[i], ys[i - 1], ys[i]);
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenors() {
        assert_eq!(tenor_years("ON").unwrap(), 1.0 / 365.0);
        assert_eq!(tenor_years("1w").unwrap(), 7.0 / 365.0);
        assert_eq!(tenor_years("18M").unwrap(), 1.5);
        assert_eq!(tenor_years("30Y").unwrap(), 30.0);
        assert_eq!(tenor_years("10D").unwrap(), 10.0 / 365.0);
        for bad in ["", "Y", "3X", "-1Y", "1.5Y", "M3"] {
            let err = tenor_years(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn linear_zero_interpolation_flat_ends() {
        let c = Curve::new(
            "USD_SOFR",
            "USD",
            vec![
                ("2Y".into(), 0.04),
                ("1Y".into(), 0.03),
                ("5Y".into(), 0.05),
            ],
        )
        .unwrap();
        assert_eq!(c.tenors, ["1Y", "2Y", "5Y"]);
        assert_eq!(c.zero_rate(0.5), 0.03);
        assert!((c.zero_rate(1.5) - 0.035).abs() < 1e-15);
        // 3.5Y: 0.04 + 0.01 * 1.5 / 3 = 0.045
        assert!((c.zero_rate(3.5) - 0.045).abs() < 1e-15);
        assert_eq!(c.zero_rate(40.0), 0.05);
        assert!((c.discount_factor(2.0) - (-0.08f64).exp()).abs() < 1e-15);
    }

    #[test]
    fn bad_curves_are_named() {
        let err = Curve::new("X", "USD", vec![]).unwrap_err().to_string();
        assert!(err.contains("'X'"), "{err}");
        let err = Curve::new("X", "USD", vec![("12M".into(), 0.01), ("1Y".into(), 0.02)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("same time"), "{err}");
    }
}
