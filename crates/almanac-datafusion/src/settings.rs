//! Session settings under the `almanac.` prefix, set with SQL:
//! `SET almanac.lenient = true;`, `SET almanac.rate_floor = 'zero';`.

use datafusion::common::{config::ConfigExtension, extensions_options};
use datafusion::config::ConfigOptions;

extensions_options! {
    /// Almanac's session settings.
    pub struct AlmanacOptions {
        /// Lenient mode: instrument rows that break the data contract are left out of
        /// `cashflows()` instead of failing the query; `instrument_errors()` lists them.
        pub lenient: bool, default = false
        /// Post-shock floor on shocked zero rates: `eu` (default), `zero` or `none`.
        pub rate_floor: String, default = "eu".to_string()
        /// Name of a table with a `date` column of holidays (besides weekends); empty for none.
        pub holidays: String, default = String::new()
        /// Name of a table (currency, parallel_bp, short_bp, long_bp) whose rows replace the
        /// built-in 2016 Basel shock sizes for those currencies (a row `other` for the rest).
        pub shock_sizes: String, default = String::new()
        /// Scale prepayment and run-off rates by scenario as EU rules prescribe:
        /// x 0.8 under parallel_up, steepener and short_up, x 1.2 under the other three shocks.
        pub behavioural_multipliers: bool, default = false
        /// Sum flows inside `cashflows()` when the query only sums them by key (EVE,
        /// liquidity ladders): the same results, far fewer rows. Off only to compare.
        pub presum: bool, default = true
    }
}

impl ConfigExtension for AlmanacOptions {
    const PREFIX: &'static str = "almanac";
}

impl AlmanacOptions {
    /// The settings of a session, or the defaults when the session was built without them.
    pub fn from_config(options: &ConfigOptions) -> AlmanacOptions {
        options
            .extensions
            .get::<AlmanacOptions>()
            .cloned()
            .unwrap_or_default()
    }
}
