//! Table functions.

pub mod cashflows;
pub mod curve_tables;
mod date_bounds;
pub mod instrument_errors;
pub(crate) mod market_args;
pub mod nii_projection;
pub mod repricing;
