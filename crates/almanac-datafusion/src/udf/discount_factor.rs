//! `discount_factor(zero_rate, t_years)`: exp(−zero_rate · t_years).
//!
//! ```sql
//! SELECT discount_factor(0.04, 2.0);  -- 0.9231163463866358
//! ```

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Float64Array};
use datafusion::arrow::compute::kernels::arity::binary;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{arrays, coerce_to, finish};
use crate::docs::FunctionDoc;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "discount_factor",
    kind: "scalar",
    syntax: "discount_factor(zero_rate, t_years)",
    description: "Discount factor exp(-zero_rate * t_years) of a continuously compounded zero rate (ACT/365F time).",
    example: "SELECT discount_factor(0.04, 2.0);",
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DiscountFactor {
    signature: Signature,
}

impl Default for DiscountFactor {
    fn default() -> Self {
        DiscountFactor {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DiscountFactor {
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
            2,
            &[DataType::Float64, DataType::Float64],
        )
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (a, all_scalar) = arrays(&args, &[DataType::Float64, DataType::Float64])?;
        let out: Float64Array = binary(
            a[0].as_primitive::<Float64Type>(),
            a[1].as_primitive::<Float64Type>(),
            |z, t| (-z * t).exp(),
        )?;
        finish(Arc::new(out), all_scalar)
    }
}
