//! `bucket_midpoint(label [, scheme])`: the midpoint in years of a bucket
//! label made by `gap_bucket`, for the standardised approach.
//!
//! ```sql
//! SELECT bucket_midpoint('10 3Y-4Y');  -- 3.5
//! ```

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::gap_bucket::scheme_at;
use super::{arrays, coerce_to, finish};
use crate::docs::FunctionDoc;
use crate::error::arg_err;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "bucket_midpoint",
    kind: "scalar",
    syntax: "bucket_midpoint(label [, scheme])",
    description: "Midpoint in years of a gap_bucket label: the Basel midpoints for 'bcbs' (default; '01 overnight' 0.0028 .. '19 >20Y' 25), (k - 0.5)/12 for monthly bucket k, the middle of the edges for a custom list (1.25 x the last edge for its open bucket).",
    example: "SELECT bucket_midpoint('10 3Y-4Y');",
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BucketMidpoint {
    signature: Signature,
}

impl Default for BucketMidpoint {
    fn default() -> Self {
        BucketMidpoint {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for BucketMidpoint {
    fn name(&self) -> &str {
        DOC.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_to(
            DOC.name,
            DOC.syntax,
            arg_types,
            1,
            &[DataType::Utf8, DataType::Utf8],
        )
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (a, all_scalar) = arrays(&args, &[DataType::Utf8, DataType::Utf8][..args.args.len()])?;
        let labels = a[0].as_string::<i32>();
        let schemes = a.get(1).map(|s| s.as_string::<i32>());
        let mut out = Float64Builder::with_capacity(labels.len());
        let mut cache = None;
        for i in 0..labels.len() {
            let scheme_text = match schemes {
                Some(s) if s.is_null(i) => None,
                Some(s) => Some(s.value(i)),
                None => Some("bcbs"),
            };
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
        finish(Arc::new(out.finish()), all_scalar)
    }
}
