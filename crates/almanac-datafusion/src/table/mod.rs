//! Table functions.

pub mod cashflows;
pub mod curve_tables;
pub mod instrument_errors;
pub(crate) mod market_args;
pub mod nii_projection;
pub mod repricing;
