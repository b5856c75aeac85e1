//! Reading the constant arguments of table-function calls, with messages that
//! say which function, which argument and what was expected.

use almanac_core::Date;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;

use crate::error::arg_err;

/// The arguments of one call, e.g. `cashflows('instruments', DATE '2025-12-31')`.
pub(crate) struct CallArgs<'a> {
    pub function: &'static str,
    pub usage: &'static str,
    pub exprs: &'a [Expr],
}

impl CallArgs<'_> {
    pub fn check_count(&self, min: usize, max: usize) -> Result<()> {
        let n = self.exprs.len();
        if n < min || n > max {
            return Err(arg_err!(
                "{} takes {} to {} arguments, got {n}. Usage: {}",
                self.function,
                min,
                max,
                self.usage
            ));
        }
        Ok(())
    }

    fn literal(&self, i: usize) -> Option<&ScalarValue> {
        match self.exprs.get(i)? {
            Expr::Literal(v, _) => Some(v),
            _ => None,
        }
    }

    fn describe(&self, i: usize) -> String {
        self.exprs
            .get(i)
            .map_or("nothing".into(), |e| e.to_string())
    }

    /// A table name: a string literal, or a bare identifier.
    pub fn table(&self, i: usize, name: &str) -> Result<String> {
        if let Some(Expr::Column(c)) = self.exprs.get(i) {
            return Ok(c.flat_name());
        }
        self.string(i, name)
    }

    pub fn string(&self, i: usize, name: &str) -> Result<String> {
        match self.literal(i) {
            Some(
                ScalarValue::Utf8(Some(s))
                | ScalarValue::Utf8View(Some(s))
                | ScalarValue::LargeUtf8(Some(s)),
            ) => Ok(s.clone()),
            _ => Err(arg_err!(
                "{}: argument {} ({name}) must be a text literal, got {}. Usage: {}",
                self.function,
                i + 1,
                self.describe(i),
                self.usage
            )),
        }
    }

    pub fn optional_string(&self, i: usize, name: &str, default: &str) -> Result<String> {
        if i >= self.exprs.len() {
            return Ok(default.to_string());
        }
        self.string(i, name)
    }

    /// A date: `DATE '2025-12-31'` or the text `'2025-12-31'`.
    pub fn date(&self, i: usize, name: &str) -> Result<Date> {
        let parsed = match self.literal(i) {
            Some(ScalarValue::Date32(Some(d))) => Some(Date(*d)),
            Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => Date::parse_iso(s),
            _ => None,
        };
        parsed.ok_or_else(|| {
            arg_err!(
                "{}: argument {} ({name}) must be a date such as DATE '2025-12-31', got {}. Usage: {}",
                self.function,
                i + 1,
                self.describe(i),
                self.usage
            )
        })
    }

    pub fn optional_f64(&self, i: usize, name: &str, default: f64) -> Result<f64> {
        if i >= self.exprs.len() {
            return Ok(default);
        }
        let value = self.literal(i).and_then(|v| {
            v.cast_to(&datafusion::arrow::datatypes::DataType::Float64)
                .ok()
        });
        match value {
            Some(ScalarValue::Float64(Some(x))) if x.is_finite() => Ok(x),
            _ => Err(arg_err!(
                "{}: argument {} ({name}) must be a number, got {}. Usage: {}",
                self.function,
                i + 1,
                self.describe(i),
                self.usage
            )),
        }
    }
}
