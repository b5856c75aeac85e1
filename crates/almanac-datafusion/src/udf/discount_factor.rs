//! `discount_factor(zero_rate, t_years)`: exp(−zero_rate · t_years).
//!
//! ```sql
//! SELECT discount_factor(0.04, 2.0);  -- 0.9231163463866358
//! ```

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::array::{AsArray, Float64Array};
use datafusion::arrow::compute::kernels::arity::binary;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::error::Result;

use super::RowFunction;
use crate::docs::FunctionDoc;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "discount_factor",
    kind: "scalar",
    syntax: "discount_factor(zero_rate, t_years)",
    description: "Discount factor exp(-zero_rate * t_years) of a continuously compounded zero rate (ACT/365F time).",
    example: "SELECT discount_factor(0.04, 2.0);",
};

#[derive(Debug, Default, PartialEq, Eq, Hash)]
pub struct DiscountFactor;

impl RowFunction for DiscountFactor {
    const DOC: FunctionDoc = DOC;
    const ARGS: &'static [DataType] = &[DataType::Float64, DataType::Float64];
    const MIN_ARGS: usize = 2;
    const RETURNS: DataType = DataType::Float64;

    fn eval(&self, a: &[ArrayRef]) -> Result<ArrayRef> {
        let out: Float64Array = binary(
            a[0].as_primitive::<Float64Type>(),
            a[1].as_primitive::<Float64Type>(),
            |z, t| (-z * t).exp(),
        )?;
        Ok(Arc::new(out))
    }
}
