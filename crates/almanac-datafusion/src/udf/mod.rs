//! Scalar functions, one file each, each with its documentation next to it.

pub mod bucket_midpoint;
pub mod discount_factor;
pub mod gap_bucket;
pub mod irrbb_shock;
pub mod year_frac;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

use crate::error::arg_err;

/// Coerces `arg_types` to `targets` (the first `min` arguments required).
pub(crate) fn coerce_to(
    function: &str,
    usage: &str,
    arg_types: &[DataType],
    min: usize,
    targets: &[DataType],
) -> Result<Vec<DataType>> {
    if arg_types.len() < min || arg_types.len() > targets.len() {
        return Err(arg_err!(
            "{function} takes {min} to {} arguments, got {}. Usage: {usage}",
            targets.len(),
            arg_types.len()
        ));
    }
    Ok(targets[..arg_types.len()].to_vec())
}

/// The arguments as arrays of the given types, and whether all were scalars.
pub(crate) fn arrays(
    args: &ScalarFunctionArgs,
    types: &[DataType],
) -> Result<(Vec<ArrayRef>, bool)> {
    let all_scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let rows = if all_scalar { 1 } else { args.number_rows };
    let mut out = Vec::with_capacity(args.args.len());
    for (value, t) in args.args.iter().zip(types) {
        let array = value.to_array(rows)?;
        out.push(if array.data_type() == t {
            array
        } else {
            cast(&array, t)?
        });
    }
    Ok((out, all_scalar))
}

/// Wraps a result: a scalar when every argument was one.
pub(crate) fn finish(result: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &result, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}
