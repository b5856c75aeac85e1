//! The market-data arguments shared by the table functions (`as_of`,
//! `scenarios`, `curves`) and the session settings that go with them.

use std::sync::Arc;

use almanac_core::scenario::parse_scenario_spec;
use almanac_core::{Date, RateFloor, ScenarioSpec};
use datafusion::catalog::{Session, TableProvider};
use datafusion::error::Result;
use datafusion::physical_plan::ExecutionPlan;

use crate::error::arg_err;
use crate::market::{MarketInputs, MarketSpec};
use crate::settings::AlmanacOptions;
use crate::tables::{
    check_schema, resolve_table, ColumnSpec, CURVE_COLUMNS, HOLIDAY_COLUMNS, SCENARIO_COLUMNS,
    SHOCK_SIZE_COLUMNS,
};

/// Market tables resolved at planning time.
#[derive(Debug, Clone)]
pub(crate) struct MarketTables {
    pub as_of: Date,
    pub curves_name: String,
    pub curves: Arc<dyn TableProvider>,
    /// The `scenarios` argument as written, parsed into `scenarios`.
    pub scenarios_arg: String,
    pub scenarios: ScenarioSpec,
    /// Names of the optional setting tables, as resolved (the scenario table's is in `scenarios`).
    pub holidays_name: Option<String>,
    pub shock_sizes_name: Option<String>,
    pub scenario_table: Option<Arc<dyn TableProvider>>,
    pub holidays: Option<Arc<dyn TableProvider>>,
    pub shock_sizes: Option<Arc<dyn TableProvider>>,
    pub floor: RateFloor,
    pub lenient: bool,
    pub behavioural_multipliers: bool,
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
        let holidays = setting_table(session, function, &settings.holidays, &HOLIDAY_COLUMNS)?;
        let shock_sizes = setting_table(
            session,
            function,
            &settings.shock_sizes,
            &SHOCK_SIZE_COLUMNS,
        )?;
        Ok(MarketTables {
            as_of,
            curves_name: curves_name.to_string(),
            curves,
            scenarios_arg: scenarios.to_string(),
            holidays_name: holidays
                .as_ref()
                .map(|_| settings.holidays.trim().to_string()),
            shock_sizes_name: shock_sizes
                .as_ref()
                .map(|_| settings.shock_sizes.trim().to_string()),
            scenarios: spec,
            scenario_table,
            holidays,
            shock_sizes,
            floor,
            lenient: settings.lenient,
            behavioural_multipliers: settings.behavioural_multipliers,
        })
    }
}

impl MarketTables {
    /// The name of the scenario table, when the scenarios argument names one.
    pub fn scenario_table_name(&self) -> Option<&str> {
        match &self.scenarios {
            ScenarioSpec::Table(name) => Some(name),
            ScenarioSpec::Builtin(_) => None,
        }
    }

    /// Scans of the market tables, read once when the query runs.
    pub async fn plan(&self, state: &dyn Session) -> Result<(MarketInputs, MarketSpec)> {
        let curves = self.curves.scan(state, None, &[], None).await?;
        let scenarios = scan(&self.scenario_table, state).await?;
        let holidays = scan(&self.holidays, state).await?;
        let shock_sizes = scan(&self.shock_sizes, state).await?;
        let spec = MarketSpec {
            as_of: self.as_of,
            scenarios_arg: self.scenarios_arg.clone(),
            scenarios: self.scenarios.clone(),
            floor: self.floor,
            curves_table: self.curves_name.clone(),
            behavioural_multipliers: self.behavioural_multipliers,
        };
        Ok((
            MarketInputs {
                curves,
                scenarios,
                holidays,
                shock_sizes,
            },
            spec,
        ))
    }
}

/// The table a setting names (`almanac.holidays`, ...), checked; `None` when the setting is empty.
fn setting_table(
    session: &dyn Session,
    function: &str,
    name: &str,
    columns: &[ColumnSpec],
) -> Result<Option<Arc<dyn TableProvider>>> {
    match name.trim() {
        "" => Ok(None),
        name => {
            let table = resolve_table(session, function, name)?;
            check_schema(function, name, &table.schema(), columns)?;
            Ok(Some(table))
        }
    }
}

async fn scan(
    table: &Option<Arc<dyn TableProvider>>,
    state: &dyn Session,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    match table {
        Some(t) => Ok(Some(t.scan(state, None, &[], None).await?)),
        None => Ok(None),
    }
}
