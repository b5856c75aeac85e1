//! The one error type of the finance core. Every message names what was wrong
//! and the value that was seen, so a user can find the offending row.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// A text code (day count, side, ...) that is not one of the allowed values.
    #[error("unknown {what} '{value}' (expected one of: {expected})")]
    UnknownCode {
        what: &'static str,
        value: String,
        expected: &'static str,
    },

    /// One instrument row breaks the data contract.
    #[error("instrument '{instrument_id}': column {column} = {value}: {reason}")]
    Instrument {
        instrument_id: String,
        column: &'static str,
        value: String,
        reason: String,
    },

    #[error("invalid tenor '{0}' (expected ON, or a whole number followed by D, W, M or Y, such as 3M or 10Y)")]
    Tenor(String),

    #[error("curve '{curve_id}': {reason}")]
    Curve { curve_id: String, reason: String },

    #[error("scenario set '{spec}': {reason}")]
    ScenarioSet { spec: String, reason: String },

    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
