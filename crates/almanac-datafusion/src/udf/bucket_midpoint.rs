//! `bucket_midpoint(label [, scheme])`: the midpoint in years of a bucket
//! label made by `gap_bucket`, for the standardised approach.
//!
//! ```sql
//! SELECT bucket_midpoint('10 3Y-4Y');  -- 3.5
//! ```

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;

use super::gap_bucket::{scheme_arg, scheme_at};
use super::RowFunction;
use crate::docs::FunctionDoc;
use crate::error::arg_err;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "bucket_midpoint",
    kind: "scalar",
    syntax: "bucket_midpoint(label [, scheme])",
    description: "Midpoint in years of a gap_bucket label: the Basel midpoints for 'bcbs' (default; '01 overnight' 0.0028 .. '19 >20Y' 25), (k - 0.5)/12 for monthly bucket k, the middle of the edges for a custom list (1.25 x the last edge for its open bucket).",
    example: "SELECT bucket_midpoint('10 3Y-4Y');",
};

#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct BucketMidpoint;

impl RowFunction for BucketMidpoint {
    const DOC: FunctionDoc = DOC;
    const ARGS: &'static [DataType] = &[DataType::Utf8, DataType::Utf8];
    const MIN_ARGS: usize = 1;
    const RETURNS: DataType = DataType::Float64;

    fn eval(&self, a: &[ArrayRef]) -> Result<ArrayRef> {
        let labels = a[0].as_string::<i32>();
        let schemes = a.get(1).map(|s| s.as_string::<i32>());
        let mut out = Float64Builder::with_capacity(labels.len());
        let mut cache = None;
        for i in 0..labels.len() {
            let scheme_text = scheme_arg(schemes, i);
            match scheme_text {
                Some(text) if labels.is_valid(i) => {
                    let scheme = scheme_at(&mut cache, text, DOC.name)?;
                    let mid = scheme
                        .midpoint(labels.value(i))
                        .map_err(|e| arg_err!("bucket_midpoint: {e} '{text}'"))?;
                    out.append_value(mid);
                }
                _ => out.append_null(),
            }
        }
        Ok(Arc::new(out.finish()))
    }
}
