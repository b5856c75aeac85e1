//! Market data as the functions need it: the curves on the as-of date, the
//! scenario set, the shocked curves and the holiday calendar. Read from the
//! child plans once per query, at execution time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use almanac_core::scenario::{eu_cpr_multiplier, scenarios_from_rows, ScenarioRow, ShockSizes};
use almanac_core::{
    Calendar, Curve, Date, LaneFactors, RateFloor, Scenario, ScenarioCurve, ScenarioSpec,
    ShockSizeTable,
};
use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::{collect, ExecutionPlan};
use tokio::sync::OnceCell;

use crate::error::core_err;
use crate::tables::{
    need, opt, Columns, CURVE_COLUMNS, HOLIDAY_COLUMNS, SCENARIO_COLUMNS, SHOCK_SIZE_COLUMNS,
};

/// The plans that read market data.
#[derive(Debug, Clone)]
pub(crate) struct MarketInputs {
    pub curves: Arc<dyn ExecutionPlan>,
    pub scenarios: Option<Arc<dyn ExecutionPlan>>,
    pub holidays: Option<Arc<dyn ExecutionPlan>>,
    pub shock_sizes: Option<Arc<dyn ExecutionPlan>>,
}

impl MarketInputs {
    pub fn plans(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        let mut plans = vec![&self.curves];
        plans.extend(self.scenarios.as_ref());
        plans.extend(self.holidays.as_ref());
        plans.extend(self.shock_sizes.as_ref());
        plans
    }

    /// Rebuilds from children in the order of `plans()`.
    /// The caller checks that `children` has `plans().len()` entries.
    pub fn with_plans(&self, children: Vec<Arc<dyn ExecutionPlan>>) -> MarketInputs {
        let mut children = children.into_iter();
        let mut next = || children.next().unwrap_or_else(|| self.curves.clone());
        let curves = next();
        let scenarios = self.scenarios.as_ref().map(|_| next());
        let holidays = self.holidays.as_ref().map(|_| next());
        let shock_sizes = self.shock_sizes.as_ref().map(|_| next());
        MarketInputs {
            curves,
            scenarios,
            holidays,
            shock_sizes,
        }
    }
}

/// What to build from the inputs.
#[derive(Debug, Clone)]
pub(crate) struct MarketSpec {
    pub as_of: Date,
    /// The `scenarios` argument as written (`bcbs`, a table name, ...), parsed into `scenarios`.
    pub scenarios_arg: String,
    pub scenarios: ScenarioSpec,
    pub floor: RateFloor,
    pub curves_table: String,
    pub behavioural_multipliers: bool,
}

#[derive(Debug)]
pub(crate) struct Market {
    /// Index of each curve_id in the inner vectors of `shocked`.
    pub curve_index: HashMap<String, usize>,
    /// Index into `curves` of each currency's discount curve (currency upper-cased).
    pub discount_curve: BTreeMap<String, usize>,
    pub scenarios: Vec<Scenario>,
    /// Per scenario, the factor on prepayment and run-off rates (1 unless the setting is on).
    pub cpr_multiplier: Vec<f64>,
    /// `[scenario][curve]`: each curve as each scenario shocks it.
    pub shocked: Vec<Vec<ScenarioCurve>>,
    /// Per curve, its factors under every scenario tabled by lane (made when
    /// a floater first fixes on it).
    lane_factors: Vec<OnceLock<LaneFactors>>,
    pub calendar: Calendar,
}

/// Loads the market once per query, shared by all partitions.
pub(crate) type SharedMarket = Arc<OnceCell<Arc<Market>>>;

pub(crate) async fn load_shared(
    cell: SharedMarket,
    inputs: MarketInputs,
    spec: MarketSpec,
    ctx: Arc<TaskContext>,
) -> Result<Arc<Market>> {
    cell.get_or_try_init(|| async move { Market::load(&inputs, &spec, ctx).await.map(Arc::new) })
        .await
        .cloned()
}

impl Market {
    pub async fn load(
        inputs: &MarketInputs,
        spec: &MarketSpec,
        ctx: Arc<TaskContext>,
    ) -> Result<Market> {
        let curve_batches = collect(inputs.curves.clone(), ctx.clone()).await?;
        let (curves, discount_curve) = read_curves(&curve_batches, spec)?;
        let scenarios = match (&spec.scenarios, &inputs.scenarios) {
            (ScenarioSpec::Builtin(set), _) => set.clone(),
            (ScenarioSpec::Table(_), Some(plan)) => {
                read_scenarios(&collect(plan.clone(), ctx.clone()).await?)?
            }
            (ScenarioSpec::Table(name), None) => {
                return Err(DataFusionError::Internal(format!(
                    "scenario table {name} was not planned"
                )))
            }
        };
        let calendar = match &inputs.holidays {
            Some(plan) => read_holidays(&collect(plan.clone(), ctx.clone()).await?)?,
            None => Calendar::weekends_only(),
        };
        let sizes = match &inputs.shock_sizes {
            Some(plan) => read_shock_sizes(&collect(plan.clone(), ctx).await?)?,
            None => ShockSizeTable::default(),
        };
        let shocked = scenarios
            .iter()
            .map(|s| {
                curves
                    .iter()
                    .map(|c| ScenarioCurve::new(c, s, &sizes, spec.floor))
                    .collect()
            })
            .collect();
        let curve_index = curves
            .iter()
            .enumerate()
            .map(|(i, c)| (c.curve_id.clone(), i))
            .collect();
        let cpr_multiplier = scenarios
            .iter()
            .map(|s| {
                if spec.behavioural_multipliers {
                    eu_cpr_multiplier(&s.name)
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Market {
            cpr_multiplier,
            curve_index,
            discount_curve,
            scenarios,
            lane_factors: curves.iter().map(|_| OnceLock::new()).collect(),
            shocked,
            calendar,
        })
    }

    /// Curve `curve`'s discount factors under every scenario, tabled by lane.
    pub fn lane_factors(&self, curve: usize) -> Option<&LaneFactors> {
        let factors = self.lane_factors.get(curve)?;
        Some(factors.get_or_init(|| {
            let by_scenario: Vec<&ScenarioCurve> = self
                .shocked
                .iter()
                .filter_map(|all| all.get(curve))
                .collect();
            LaneFactors::new(&by_scenario)
        }))
    }
}

type CurveSet = (Vec<Curve>, BTreeMap<String, usize>);

fn read_curves(batches: &[RecordBatch], spec: &MarketSpec) -> Result<CurveSet> {
    // curve_id -> (currency, flagged as discount, nodes)
    let mut points: BTreeMap<String, (String, bool, Vec<(String, f64)>)> = BTreeMap::new();
    let mut dates_seen = std::collections::BTreeSet::new();
    for batch in batches {
        let cols = Columns::extract(batch, &CURVE_COLUMNS, "curve")?;
        let (ids, ccys, dates, tenors, rates) = (
            need(cols.text(0))?,
            need(cols.text(1))?,
            need(cols.date(2))?,
            need(cols.text(3))?,
            need(cols.f64(4))?,
        );
        let flags = cols.bool(5);
        for row in 0..batch.num_rows() {
            let id = opt(Some(ids), row, |a, i| a.value(i)).unwrap_or("");
            let null = |column: &str| {
                DataFusionError::Execution(format!(
                    "curves table '{}': curve '{id}' has a NULL {column}",
                    spec.curves_table
                ))
            };
            if id.is_empty() {
                return Err(null("curve_id"));
            }
            let date =
                opt(Some(dates), row, |a, i| a.value(i)).ok_or_else(|| null("as_of_date"))?;
            dates_seen.insert(Date(date));
            if date != spec.as_of.0 {
                continue;
            }
            let currency =
                opt(Some(ccys), row, |a, i| a.value(i)).ok_or_else(|| null("currency"))?;
            let tenor = opt(Some(tenors), row, |a, i| a.value(i)).ok_or_else(|| null("tenor"))?;
            let rate = opt(Some(rates), row, |a, i| a.value(i)).ok_or_else(|| null("zero_rate"))?;
            let flagged = opt(flags, row, |a, i| a.value(i)).unwrap_or(false);
            let entry = points
                .entry(id.to_string())
                .or_insert_with(|| (currency.to_ascii_uppercase(), false, Vec::new()));
            if !entry.0.eq_ignore_ascii_case(currency) {
                return Err(DataFusionError::Execution(format!(
                    "curves table '{}': curve '{id}' is given in two currencies, {} and {currency}",
                    spec.curves_table, entry.0
                )));
            }
            entry.1 |= flagged;
            entry.2.push((tenor.to_string(), rate));
        }
    }
    if points.is_empty() {
        let seen: Vec<String> = dates_seen
            .iter()
            .rev()
            .take(5)
            .map(|d| d.to_string())
            .collect();
        return Err(DataFusionError::Execution(format!(
            "curves table '{}' has no curve dated {} (as_of_date values present: {})",
            spec.curves_table,
            spec.as_of,
            if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(", ")
            }
        )));
    }
    let mut curves = Vec::with_capacity(points.len());
    let mut flagged_by_currency: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut first_by_currency: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (id, (currency, flagged, nodes))) in points.into_iter().enumerate() {
        curves.push(Curve::new(&id, &currency, nodes).map_err(core_err)?);
        // BTreeMap order: the first curve seen per currency is the first curve_id in sort order.
        first_by_currency.entry(currency.clone()).or_insert(i);
        if flagged {
            flagged_by_currency.entry(currency).or_default().push(i);
        }
    }
    let mut discount_curve = first_by_currency;
    for (currency, flagged) in flagged_by_currency {
        if let [a, b, ..] = flagged[..] {
            return Err(DataFusionError::Execution(format!(
                "curves table '{}': currency {currency} has two discount curves (is_discount), {} and {}",
                spec.curves_table, curves[a].curve_id, curves[b].curve_id
            )));
        }
        discount_curve.insert(currency, flagged[0]);
    }
    Ok((curves, discount_curve))
}

fn read_scenarios(batches: &[RecordBatch]) -> Result<Vec<Scenario>> {
    let mut rows = Vec::new();
    for batch in batches {
        let cols = Columns::extract(batch, &SCENARIO_COLUMNS, "scenario")?;
        let (names, curve_ids, currencies, tenors, shifts) = (
            cols.text(0),
            cols.text(1),
            cols.text(2),
            cols.text(3),
            cols.f64(4),
        );
        for row in 0..batch.num_rows() {
            let name = opt(names, row, |a, i| a.value(i).to_string());
            let shift = opt(shifts, row, |a, i| a.value(i));
            let tenor = opt(tenors, row, |a, i| a.value(i).to_string());
            let (Some(scenario), Some(tenor), Some(shift_bp)) = (name, tenor, shift) else {
                return Err(DataFusionError::Execution(format!(
                    "scenarios table row {}: scenario, tenor and shift_bp must not be NULL",
                    row + 1
                )));
            };
            rows.push(ScenarioRow {
                scenario,
                curve_id: opt(curve_ids, row, |a, i| a.value(i).to_string()),
                currency: opt(currencies, row, |a, i| a.value(i).to_string()),
                tenor,
                shift_bp,
            });
        }
    }
    scenarios_from_rows(&rows).map_err(core_err)
}

fn read_holidays(batches: &[RecordBatch]) -> Result<Calendar> {
    let mut days = Vec::new();
    for batch in batches {
        let cols = Columns::extract(batch, &HOLIDAY_COLUMNS, "holiday")?;
        let dates = need(cols.date(0))?;
        if dates.null_count() > 0 {
            return Err(DataFusionError::Execution(
                "holiday table: a row has a NULL date (remove it, or give the date)".into(),
            ));
        }
        days.extend(dates.iter().flatten().map(Date));
    }
    Ok(Calendar::with_holidays(days))
}

fn read_shock_sizes(batches: &[RecordBatch]) -> Result<ShockSizeTable> {
    let mut rows = Vec::new();
    for batch in batches {
        let cols = Columns::extract(batch, &SHOCK_SIZE_COLUMNS, "shock size")?;
        let (ccys, p, s, l) = (
            need(cols.text(0))?,
            need(cols.f64(1))?,
            need(cols.f64(2))?,
            need(cols.f64(3))?,
        );
        for row in 0..batch.num_rows() {
            let value = |a: &datafusion::arrow::array::Float64Array| {
                opt(Some(a), row, |a, i| a.value(i)).filter(|x| x.is_finite())
            };
            let currency = opt(Some(ccys), row, |a, i| a.value(i).to_string());
            let (Some(currency), Some(parallel_bp), Some(short_bp), Some(long_bp)) =
                (currency, value(p), value(s), value(l))
            else {
                return Err(DataFusionError::Execution(format!(
                    "shock size table row {}: currency, parallel_bp, short_bp and long_bp must be set and finite",
                    row + 1
                )));
            };
            rows.push((
                currency,
                ShockSizes {
                    parallel_bp,
                    short_bp,
                    long_bp,
                },
            ));
        }
    }
    Ok(ShockSizeTable::default().with_overrides(rows))
}
