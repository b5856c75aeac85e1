//! `year_frac(start, end, day_count)`: the year fraction between two dates by
//! one of the five day counts.
//!
//! ```sql
//! SELECT year_frac(DATE '2024-01-31', DATE '2024-03-31', '30/360');  -- 0.1666…
//! ```

use std::sync::Arc;

use almanac_core::{Date, DayCount};
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::{DataType, Date32Type};
use datafusion::error::Result;

use super::RowFunction;
use crate::docs::FunctionDoc;
use crate::error::arg_err;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "year_frac",
    kind: "scalar",
    syntax: "year_frac(start, end, day_count)",
    description: "Year fraction from start to end by the day count: 'ACT/360', 'ACT/365F', '30/360' (US bond basis), '30E/360', 'ACT/ACT' (ISDA). Float64; negative when end is before start.",
    example: "SELECT year_frac(DATE '2024-01-31', DATE '2024-03-31', '30/360');",
};

#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct YearFrac;

impl RowFunction for YearFrac {
    const DOC: FunctionDoc = DOC;
    const ARGS: &'static [DataType] = &[DataType::Date32, DataType::Date32, DataType::Utf8];
    const MIN_ARGS: usize = 3;
    const RETURNS: DataType = DataType::Float64;

    fn eval(&self, a: &[ArrayRef]) -> Result<ArrayRef> {
        let (starts, ends, codes) = (
            a[0].as_primitive::<Date32Type>(),
            a[1].as_primitive::<Date32Type>(),
            a[2].as_string::<i32>(),
        );
        let mut out = Float64Builder::with_capacity(starts.len());
        let mut cached: Option<(String, DayCount)> = None;
        for i in 0..starts.len() {
            if starts.is_null(i) || ends.is_null(i) || codes.is_null(i) {
                out.append_null();
                continue;
            }
            let code = codes.value(i);
            let dc = match &cached {
                Some((c, dc)) if c == code => *dc,
                _ => {
                    let dc = DayCount::parse(code).map_err(|e| arg_err!("year_frac: {e}"))?;
                    cached = Some((code.to_string(), dc));
                    dc
                }
            };
            out.append_value(dc.year_frac(Date(starts.value(i)), Date(ends.value(i))));
        }
        Ok(Arc::new(out.finish()))
    }
}
