//! Reference documentation of every Almanac SQL function, printed by
//! `almanac functions` and kept next to each function's code.

/// Name, syntax, description and a runnable example of one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionDoc {
    pub name: &'static str,
    /// `table` or `scalar`.
    pub kind: &'static str,
    pub syntax: &'static str,
    pub description: &'static str,
    pub example: &'static str,
}

/// Every function Almanac registers, table functions first.
pub fn all_functions() -> Vec<FunctionDoc> {
    vec![
        crate::table::cashflows::DOC,
        crate::table::repricing::DOC,
        crate::table::nii_projection::DOC,
        crate::table::curve_tables::DISCOUNT_FACTORS_DOC,
        crate::table::curve_tables::CURVE_POINTS_DOC,
        crate::table::instrument_errors::DOC,
        crate::udf::year_frac::DOC,
        crate::udf::gap_bucket::DOC,
        crate::udf::bucket_midpoint::DOC,
        crate::udf::irrbb_shock::DOC,
        crate::udf::discount_factor::DOC,
    ]
}
