//! The market-data arguments shared by the table functions (`as_of`,
//! `scenarios`, `curves`) and the session settings that go with them.

use std::sync::Arc;

use almanac_core::scenario::parse_scenario_spec;
use almanac_core::{Date, RateFloor, ScenarioSpec};
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;

use crate::error::arg_err;
use crate::market::{MarketInputs, MarketSpec};
use crate::settings::AlmanacOptions;
use crate::tables::{
    check_schema, resolve_table, CURVE_COLUMNS, HOLIDAY_COLUMNS, SCENARIO_COLUMNS,
};

/// Market tables resolved at planning time.
#[derive(Debug, Clone)]
pub(crate) struct MarketTables {
    pub as_of: Date,
    pub curves_name: String,
    pub curves: Arc<dyn TableProvider>,
    pub scenarios: ScenarioSpec,
    pub scenario_table: Option<Arc<dyn TableProvider>>,
    pub holidays: Option<Arc<dyn TableProvider>>,
    pub floor: RateFloor,
    pub lenient: bool,
}

pub(crate) struct MarketArgs;

impl MarketArgs {
    pub fn resolve(
        session: &dyn Session,
        function: &str,
        as_of: Date,
        scenarios: &str,
        curves_name: &str,
    ) -> Result<MarketTables> {
        let settings = AlmanacOptions::from_config(session.config_options());
        let floor = RateFloor::parse(&settings.rate_floor)
            .map_err(|e| arg_err!("almanac.rate_floor: {e}"))?;
        let curves = resolve_table(session, function, curves_name)?;
        check_schema(function, curves_name, &curves.schema(), &CURVE_COLUMNS)?;
        let spec = parse_scenario_spec(scenarios).map_err(|e| arg_err!("{function}: {e}"))?;
        let scenario_table = match &spec {
            ScenarioSpec::Table(name) => {
                let table = resolve_table(session, function, name).map_err(|_| {
                    arg_err!(
                        "{function}: unknown scenario set '{name}': not base, bcbs, parallel:<bp,...>, ramp:<bp,...>, keyrate:<bp>, nor a table"
                    )
                })?;
                check_schema(function, name, &table.schema(), &SCENARIO_COLUMNS)?;
                let schema = table.schema();
                if schema.index_of("curve_id").is_err() && schema.index_of("currency").is_err() {
                    return Err(arg_err!("{function}: scenarios table '{name}' needs a curve_id or a currency column"));
                }
                Some(table)
            }
            ScenarioSpec::Builtin(_) => None,
        };
        let holidays = match settings.holidays.trim() {
            "" => None,
            name => {
                let table = resolve_table(session, function, name)?;
                check_schema(function, name, &table.schema(), &HOLIDAY_COLUMNS)?;
                Some(table)
            }
        };
        Ok(MarketTables {
            as_of,
            curves_name: curves_name.to_string(),
            curves,
            scenarios: spec,
            scenario_table,
            holidays,
            floor,
            lenient: settings.lenient,
        })
    }
}

impl MarketTables {
    /// Scans of the market tables, read once when the query runs.
    pub async fn plan(&self, state: &dyn Session) -> Result<(MarketInputs, MarketSpec)> {
        let curves = self.curves.scan(state, None, &[], None).await?;
        let scenarios = match &self.scenario_table {
            Some(t) => Some(t.scan(state, None, &[], None).await?),
            None => None,
        };
        let holidays = match &self.holidays {
            Some(t) => Some(t.scan(state, None, &[], None).await?),
            None => None,
        };
        let spec = MarketSpec {
            as_of: self.as_of,
            scenarios: self.scenarios.clone(),
            floor: self.floor,
            curves_table: self.curves_name.clone(),
        };
        Ok((
            MarketInputs {
                curves,
                scenarios,
                holidays,
            },
            spec,
        ))
    }
}
