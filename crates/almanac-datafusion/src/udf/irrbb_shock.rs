//! `irrbb_shock(scenario, currency, t_years)`: the Basel supervisory shift of
//! a scenario at time t, as a decimal (0.0125 = 125 bp), before any floor.
//!
//! ```sql
//! SELECT irrbb_shock('short_up', 'USD', 3.5) * 10000;  -- 125.06 bp
//! ```

use std::sync::Arc;

use almanac_core::scenario::BP;
use almanac_core::{BaselShock, ShockSizeTable};
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::array::{Array, AsArray, Float64Builder};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::error::Result;

use super::RowFunction;
use crate::docs::FunctionDoc;
use crate::error::arg_err;

pub const DOC: FunctionDoc = FunctionDoc {
    name: "irrbb_shock",
    kind: "scalar",
    syntax: "irrbb_shock(scenario, currency, t_years)",
    description: "Shift (decimal) of a BCBS 368 supervisory scenario ('parallel_up', 'parallel_down', 'steepener', 'flattener', 'short_up', 'short_down'; 'base' gives 0) for the currency's shock sizes at time t_years, before the post-shock floor.",
    example: "SELECT irrbb_shock('short_up', 'USD', 3.5) * 10000 AS bp;",
};

/// Holds the shock-size table (data, the 2016 calibration by default).
#[derive(Debug, Default, PartialEq)]
pub struct IrrbbShock {
    sizes: ShockSizeTable,
}

impl Eq for IrrbbShock {}

impl std::hash::Hash for IrrbbShock {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        DOC.name.hash(state);
    }
}

impl RowFunction for IrrbbShock {
    const DOC: FunctionDoc = DOC;
    const ARGS: &'static [DataType] = &[DataType::Utf8, DataType::Utf8, DataType::Float64];
    const MIN_ARGS: usize = 3;
    const RETURNS: DataType = DataType::Float64;

    fn eval(&self, a: &[ArrayRef]) -> Result<ArrayRef> {
        let (names, ccys, ts) = (
            a[0].as_string::<i32>(),
            a[1].as_string::<i32>(),
            a[2].as_primitive::<Float64Type>(),
        );
        let mut out = Float64Builder::with_capacity(names.len());
        for i in 0..names.len() {
            if names.is_null(i) || ccys.is_null(i) || ts.is_null(i) {
                out.append_null();
                continue;
            }
            let name = names.value(i);
            if name.trim().eq_ignore_ascii_case("base") {
                out.append_value(0.0);
                continue;
            }
            let shock = BaselShock::from_name(name).ok_or_else(|| {
                arg_err!("irrbb_shock: unknown scenario '{name}' (expected base, parallel_up, parallel_down, steepener, flattener, short_up, short_down)")
            })?;
            out.append_value(shock.shift_bp(&self.sizes.sizes(ccys.value(i)), ts.value(i)) * BP);
        }
        Ok(Arc::new(out.finish()))
    }
}
