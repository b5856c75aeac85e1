//! Session settings under the `almanac.` prefix, set with SQL:
//! `SET almanac.lenient = true;`, `SET almanac.rate_floor = 'zero';`.

use std::any::Any;
use std::ops::Deref;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::extensions_options;
use datafusion::config::ConfigOptions;
use datafusion::error::Result;

extensions_options! {
    /// Almanac's session settings (read them through [`AlmanacOptions`]).
    pub struct AlmanacSettings {
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

/// The session's `almanac.*` settings, as a DataFusion config extension.
///
/// DataFusion's `extensions_options!` lists its entries without their prefix
/// (`presum`, not `almanac.presum`), and a Ballista client sends exactly
/// those entries to the scheduler, which could then set none of them: a
/// client's `SET almanac.presum = false` never reached the cluster's planner.
/// This wrapper lists the full keys, so the cluster, `SHOW ALL` and
/// `information_schema.df_settings` all see `almanac.<name>`.
#[derive(Debug, Clone, Default)]
pub struct AlmanacOptions(AlmanacSettings);

impl Deref for AlmanacOptions {
    type Target = AlmanacSettings;
    fn deref(&self) -> &AlmanacSettings {
        &self.0
    }
}

impl ConfigExtension for AlmanacOptions {
    const PREFIX: &'static str = "almanac";
}

impl ExtensionOptions for AlmanacOptions {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    /// `key` comes without the prefix: `ConfigOptions::set` strips it.
    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        ExtensionOptions::set(&mut self.0, key, value)
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        ExtensionOptions::entries(&self.0)
            .into_iter()
            .map(|entry| ConfigEntry {
                key: format!("{}.{}", Self::PREFIX, entry.key),
                ..entry
            })
            .collect()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_almanac() -> ConfigOptions {
        let mut options = ConfigOptions::new();
        options.extensions.insert(AlmanacOptions::default());
        options
    }

    /// What a Ballista client sends its scheduler: every entry, set by key
    /// on the scheduler's own options.
    #[test]
    fn entries_carry_the_prefix_and_set_back() {
        let mut client = with_almanac();
        client.set("almanac.presum", "false").expect("set presum");
        client
            .set("almanac.rate_floor", "zero")
            .expect("set the floor");
        let entries = client.entries();
        let presum = entries.iter().find(|e| e.key == "almanac.presum");
        assert_eq!(presum.and_then(|e| e.value.as_deref()), Some("false"));

        let mut scheduler = with_almanac();
        for entry in &entries {
            if let Some(value) = &entry.value {
                scheduler.set(&entry.key, value).expect("every entry sets");
            }
        }
        let received = AlmanacOptions::from_config(&scheduler);
        assert!(!received.presum);
        assert_eq!(received.rate_floor, "zero");
        let almanac_entries = |options: &ConfigOptions| -> Vec<(String, Option<String>)> {
            ExtensionOptions::entries(&AlmanacOptions::from_config(options))
                .into_iter()
                .map(|e| (e.key, e.value))
                .collect()
        };
        assert_eq!(almanac_entries(&scheduler), almanac_entries(&client));
    }

    #[test]
    fn an_unknown_setting_is_an_error() {
        let err = with_almanac().set("almanac.presumm", "false");
        assert!(err.is_err(), "{err:?}");
    }
}
