//! Scalar functions, one file each, each with its documentation next to it.
//!
//! Each implements [`RowFunction`]: its argument types, result type and the
//! evaluation over arrays; [`Scalar`] turns it into a DataFusion UDF.

pub mod bucket_midpoint;
pub mod discount_factor;
pub mod gap_bucket;
pub mod irrbb_shock;
pub mod year_frac;

use std::fmt::Debug;
use std::hash::Hash;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::docs::FunctionDoc;
use crate::error::arg_err;

/// What a scalar function is: its documentation, its arguments (the first
/// `MIN_ARGS` required, each cast to its type) and how to evaluate them.
pub(crate) trait RowFunction:
    Debug + Default + PartialEq + Eq + Hash + Send + Sync + 'static
{
    const DOC: FunctionDoc;
    const ARGS: &'static [DataType];
    const MIN_ARGS: usize;
    const RETURNS: DataType;

    /// Evaluates on arrays of equal length, already cast to `ARGS`.
    fn eval(&self, args: &[ArrayRef]) -> Result<ArrayRef>;
}

/// A [`RowFunction`] as a DataFusion scalar UDF.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Scalar<F: RowFunction> {
    function: F,
    signature: Signature,
}

/// Every Almanac scalar function.
pub fn all() -> Vec<ScalarUDF> {
    vec![
        udf::<year_frac::YearFrac>(),
        udf::<gap_bucket::GapBucket>(),
        udf::<bucket_midpoint::BucketMidpoint>(),
        udf::<irrbb_shock::IrrbbShock>(),
        udf::<discount_factor::DiscountFactor>(),
    ]
}

fn udf<F: RowFunction>() -> ScalarUDF {
    ScalarUDF::new_from_impl(Scalar {
        function: F::default(),
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

impl<F: RowFunction> ScalarUDFImpl for Scalar<F> {
    fn name(&self) -> &str {
        F::DOC.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < F::MIN_ARGS || arg_types.len() > F::ARGS.len() {
            return Err(arg_err!(
                "{} takes {} to {} arguments, got {}. Usage: {}",
                F::DOC.name,
                F::MIN_ARGS,
                F::ARGS.len(),
                arg_types.len(),
                F::DOC.syntax
            ));
        }
        Ok(F::ARGS[..arg_types.len()].to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(F::RETURNS)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // All-scalar calls are evaluated on one row and returned as a scalar.
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let mut arrays = Vec::with_capacity(args.args.len());
        for (value, t) in args.args.iter().zip(F::ARGS) {
            let array = value.to_array(rows)?;
            arrays.push(if array.data_type() == t {
                array
            } else {
                cast(&array, t)?
            });
        }
        let result = self.function.eval(&arrays)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}
