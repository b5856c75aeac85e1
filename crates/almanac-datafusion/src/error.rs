//! Conversions from the finance core's errors into DataFusion errors, so that
//! a contract violation reaches the user as one plain message.

use datafusion::error::DataFusionError;

pub(crate) fn core_err(e: almanac_core::Error) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// An error in the arguments of an SQL function call.
macro_rules! arg_err {
    ($($arg:tt)*) => {
        datafusion::error::DataFusionError::Plan(format!($($arg)*))
    };
}
pub(crate) use arg_err;

/// The user-facing text of an error: the innermost message, without
/// DataFusion's prefixes ("Error during planning: …").
pub fn user_message(e: &DataFusionError) -> String {
    match e.find_root() {
        DataFusionError::Plan(m) | DataFusionError::Execution(m) => m.clone(),
        DataFusionError::Context(_, inner) => inner.to_string(),
        other => other.to_string(),
    }
}
