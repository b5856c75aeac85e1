//! `gap_bucket(date, as_of [, scheme])`: the time bucket of a date, as a label
//! that sorts in time order.
//!
//! ```sql
//! SELECT gap_bucket(DATE '2027-03-31', DATE '2025-12-31');            -- '07 1Y-1.5Y'
//! SELECT gap_bucket(DATE '2026-02-15', DATE '2025-12-31', 'monthly'); -- '002 2M'
//! SELECT gap_bucket(DATE '2026-05-01', DATE '2025-12-31', '1M,3M,6M,1Y'); -- '03 3M-6M'
//! ```

use std::sync::Arc;

use almanac_core::buckets::{BucketScheme, DatedBuckets};
use almanac_core::Date;
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::array::{Array, AsArray, StringArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Date32Type};
use datafusion::error::Result;

use super::RowFunction;
use crate::docs::FunctionDoc;
use crate::error::arg_err;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "gap_bucket",
    kind: "scalar",
    syntax: "gap_bucket(date, as_of [, scheme])",
    description: "Label of the time bucket that holds date (after the lower edge, up to and including the upper edge), sorting in time order. Schemes: 'bcbs' (default, the 19 Basel buckets '01 overnight' .. '19 >20Y'), 'monthly' ('001 1M', '002 2M', ...), or a list of edges such as '1M,3M,6M,1Y,2Y,5Y,10Y'.",
    example: "SELECT gap_bucket(DATE '2027-03-31', DATE '2025-12-31');",
};

#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct GapBucket;

/// The optional scheme argument at row `i`: `bcbs` when absent, `None` when NULL.
pub(crate) fn scheme_arg(schemes: Option<&StringArray>, i: usize) -> Option<&str> {
    match schemes {
        Some(s) if s.is_null(i) => None,
        Some(s) => Some(s.value(i)),
        None => Some("bcbs"),
    }
}

/// Parses a scheme argument, reusing the last parse while it repeats.
pub(crate) fn scheme_at(
    cache: &mut Option<(String, BucketScheme)>,
    text: &str,
    function: &str,
) -> Result<BucketScheme> {
    match cache {
        Some((t, s)) if t == text => Ok(s.clone()),
        _ => {
            let scheme = BucketScheme::parse(text).map_err(|e| arg_err!("{function}: {e}"))?;
            *cache = Some((text.to_string(), scheme.clone()));
            Ok(scheme)
        }
    }
}

impl RowFunction for GapBucket {
    const DOC: FunctionDoc = DOC;
    const ARGS: &'static [DataType] = &[DataType::Date32, DataType::Date32, DataType::Utf8];
    const MIN_ARGS: usize = 2;
    const RETURNS: DataType = DataType::Utf8;

    fn eval(&self, a: &[ArrayRef]) -> Result<ArrayRef> {
        let (dates, as_ofs) = (
            a[0].as_primitive::<Date32Type>(),
            a[1].as_primitive::<Date32Type>(),
        );
        let schemes = a.get(2).map(|s| s.as_string::<i32>());
        let mut out = StringBuilder::with_capacity(dates.len(), dates.len() * 12);
        let mut cache = None;
        // The scheme's edges dated on the row's as_of, kept while both repeat
        // (a report buckets millions of rows on one as_of).
        let mut dated: Option<(String, DatedBuckets)> = None;
        for i in 0..dates.len() {
            let scheme_text = scheme_arg(schemes, i);
            match scheme_text {
                Some(text) if dates.is_valid(i) && as_ofs.is_valid(i) => {
                    let as_of = Date(as_ofs.value(i));
                    let current = matches!(&dated, Some((t, b)) if t == text && b.as_of() == as_of);
                    if !current {
                        let scheme = scheme_at(&mut cache, text, DOC.name)?;
                        dated = Some((text.to_string(), scheme.on(as_of)));
                    }
                    if let Some((_, buckets)) = &dated {
                        out.append_value(buckets.bucket(Date(dates.value(i))));
                    }
                }
                _ => out.append_null(),
            }
        }
        Ok(Arc::new(out.finish()))
    }
}
