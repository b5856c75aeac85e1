//! Rate scenarios: the scenario-set mini language of sql-surface.md, the
//! Basel IRRBB supervisory shocks and the post-shock floor (methodology.md).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use crate::curve::{interpolate_flat, tenor_years, Curve};
use crate::error::{Error, Result};

/// Basis points to a decimal rate.
pub const BP: f64 = 1e-4;

/// The key tenors of `keyrate:` scenario sets.
pub const KEY_TENORS: [&str; 11] = [
    "3M", "6M", "1Y", "2Y", "3Y", "5Y", "7Y", "10Y", "15Y", "20Y", "30Y",
];

/// Lower bound on shocked zero rates (a setting: Basel leaves it to supervisors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RateFloor {
    /// EU rule: never below min(unshocked, −1.5 % + 0.03 %·t), the line capped at 0 % from 50 years.
    #[default]
    Eu,
    /// Never below min(unshocked, 0 %).
    Zero,
    /// No floor.
    None,
}

impl RateFloor {
    pub fn parse(code: &str) -> Result<RateFloor> {
        match code.trim().to_ascii_lowercase().as_str() {
            "eu" => Ok(RateFloor::Eu),
            "zero" => Ok(RateFloor::Zero),
            "none" => Ok(RateFloor::None),
            _ => Err(Error::UnknownCode {
                what: "rate floor",
                value: code.to_string(),
                expected: "eu, zero, none",
            }),
        }
    }

    /// The setting's code, as `parse` reads it.
    pub fn code(self) -> &'static str {
        match self {
            RateFloor::Eu => "eu",
            RateFloor::Zero => "zero",
            RateFloor::None => "none",
        }
    }

    /// The floor line at time `t`, before taking the minimum with the unshocked rate.
    fn line(self, t: f64) -> Option<f64> {
        match self {
            RateFloor::Eu => Some((-0.015 + 0.0003 * t).min(0.0)),
            RateFloor::Zero => Some(0.0),
            RateFloor::None => None,
        }
    }

    /// Applies the floor to a shocked rate given the unshocked one.
    pub fn apply(self, unshocked: f64, shocked: f64, t: f64) -> f64 {
        match self.line(t) {
            Some(line) => shocked.max(unshocked.min(line)),
            None => shocked,
        }
    }
}

/// The six supervisory shocks of BCBS 368.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BaselShock {
    ParallelUp,
    ParallelDown,
    Steepener,
    Flattener,
    ShortUp,
    ShortDown,
}

impl BaselShock {
    pub const ALL: [BaselShock; 6] = [
        BaselShock::ParallelUp,
        BaselShock::ParallelDown,
        BaselShock::Steepener,
        BaselShock::Flattener,
        BaselShock::ShortUp,
        BaselShock::ShortDown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BaselShock::ParallelUp => "parallel_up",
            BaselShock::ParallelDown => "parallel_down",
            BaselShock::Steepener => "steepener",
            BaselShock::Flattener => "flattener",
            BaselShock::ShortUp => "short_up",
            BaselShock::ShortDown => "short_down",
        }
    }

    pub fn from_name(name: &str) -> Option<BaselShock> {
        let lower = name.trim().to_ascii_lowercase();
        BaselShock::ALL.into_iter().find(|s| s.name() == lower)
    }

    /// The shift in basis points at time `t` years for the given shock sizes.
    pub fn shift_bp(self, sizes: &ShockSizes, t: f64) -> f64 {
        let short = sizes.short_bp * (-t / 4.0).exp();
        let long = sizes.long_bp * (1.0 - (-t / 4.0).exp());
        match self {
            BaselShock::ParallelUp => sizes.parallel_bp,
            BaselShock::ParallelDown => -sizes.parallel_bp,
            BaselShock::ShortUp => short,
            BaselShock::ShortDown => -short,
            BaselShock::Steepener => -0.65 * short.abs() + 0.9 * long.abs(),
            BaselShock::Flattener => 0.8 * short.abs() - 0.6 * long.abs(),
        }
    }
}

/// The EU's behavioural multiplier on prepayment and run-off rates under a
/// supervisory shock: × 0.8 when rates rise at the short end or in parallel
/// (`parallel_up`, `steepener`, `short_up`), × 1.2 under the other three, × 1 for
/// any other scenario.
pub fn eu_cpr_multiplier(scenario: &str) -> f64 {
    match BaselShock::from_name(scenario) {
        Some(BaselShock::ParallelUp | BaselShock::Steepener | BaselShock::ShortUp) => 0.8,
        Some(BaselShock::ParallelDown | BaselShock::Flattener | BaselShock::ShortDown) => 1.2,
        None => 1.0,
    }
}

/// Parallel, short and long shock sizes of one currency, in basis points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShockSizes {
    pub parallel_bp: f64,
    pub short_bp: f64,
    pub long_bp: f64,
}

/// Shock sizes by currency, with a fallback for currencies not listed.
/// This is data: the default is the 2016 calibration, loaded from a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct ShockSizeTable {
    by_currency: BTreeMap<String, ShockSizes>,
    other: ShockSizes,
}

const BCBS_2016_CSV: &str = include_str!("../data/bcbs_2016_shock_sizes.csv");

impl Default for ShockSizeTable {
    fn default() -> Self {
        // The embedded file is checked by a unit test, so this parse cannot fail at run time.
        ShockSizeTable::from_csv(BCBS_2016_CSV)
            .unwrap_or_else(|e| panic!("embedded BCBS table: {e}"))
    }
}

impl ShockSizeTable {
    /// Parses `currency,parallel_bp,short_bp,long_bp` rows; a row for `other` sets the fallback.
    pub fn from_csv(text: &str) -> Result<ShockSizeTable> {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let num = |k: usize| -> Result<f64> {
                fields.get(k).and_then(|f| f.parse().ok()).ok_or_else(|| {
                    Error::Invalid(format!(
                        "shock size table line {}: '{line}' is not currency,parallel,short,long",
                        i + 1
                    ))
                })
            };
            rows.push((
                fields[0].to_string(),
                ShockSizes {
                    parallel_bp: num(1)?,
                    short_bp: num(2)?,
                    long_bp: num(3)?,
                },
            ));
        }
        ShockSizeTable::from_rows(rows)
    }

    pub fn from_rows(rows: Vec<(String, ShockSizes)>) -> Result<ShockSizeTable> {
        let mut by_currency = BTreeMap::new();
        let mut other = None;
        for (currency, sizes) in rows {
            if currency.eq_ignore_ascii_case("other") {
                other = Some(sizes);
            } else {
                by_currency.insert(currency.to_ascii_uppercase(), sizes);
            }
        }
        let other = other.ok_or_else(|| {
            Error::Invalid("shock size table has no 'other' row for unlisted currencies".into())
        })?;
        Ok(ShockSizeTable { by_currency, other })
    }

    /// This table with some currencies (or `other`) replaced, as a user's table overrides the default.
    pub fn with_overrides(&self, rows: Vec<(String, ShockSizes)>) -> ShockSizeTable {
        let mut table = self.clone();
        for (currency, sizes) in rows {
            if currency.eq_ignore_ascii_case("other") {
                table.other = sizes;
            } else {
                table
                    .by_currency
                    .insert(currency.to_ascii_uppercase(), sizes);
            }
        }
        table
    }

    pub fn sizes(&self, currency: &str) -> ShockSizes {
        self.by_currency
            .get(&currency.to_ascii_uppercase())
            .copied()
            .unwrap_or(self.other)
    }
}

/// How a scenario moves one curve: a shift Δ(t) added to the zero rate.
#[derive(Debug, Clone, PartialEq)]
pub enum Shift {
    None,
    /// The same number of bp at every t.
    Parallel(f64),
    /// Instantaneous forwards move by bp·min(1, t): Δ(t) = bp·t/2 up to 1 year, bp·(1 − 1/(2t)) beyond.
    Ramp(f64),
    /// Shifts (bp) at node times, linear between, flat beyond.
    Nodes {
        times: Vec<f64>,
        bps: Vec<f64>,
    },
    /// A supervisory shock, sized by the curve's currency.
    Basel(BaselShock),
}

impl Shift {
    /// The shift in bp at time `t`.
    pub fn bp_at(&self, t: f64, sizes: &ShockSizes) -> f64 {
        match self {
            Shift::None => 0.0,
            Shift::Parallel(bp) => *bp,
            Shift::Ramp(bp) => {
                if t <= 1.0 {
                    bp * t / 2.0
                } else {
                    bp * (1.0 - 1.0 / (2.0 * t))
                }
            }
            Shift::Nodes { times, bps } => interpolate_flat(times, bps, t),
            Shift::Basel(shock) => shock.shift_bp(sizes, t),
        }
    }
}

/// One named scenario: a shift for each curve, picked by curve id, then by
/// currency, then the default.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub default: Shift,
    pub by_curve: HashMap<String, Shift>,
    pub by_currency: HashMap<String, Shift>,
}

impl Scenario {
    pub fn uniform(name: impl Into<String>, shift: Shift) -> Scenario {
        Scenario {
            name: name.into(),
            default: shift,
            by_curve: HashMap::new(),
            by_currency: HashMap::new(),
        }
    }

    pub fn base() -> Scenario {
        Scenario::uniform("base", Shift::None)
    }

    pub fn is_base(&self) -> bool {
        self.default == Shift::None && self.by_curve.is_empty() && self.by_currency.is_empty()
    }

    pub fn shift_for(&self, curve_id: &str, currency: &str) -> &Shift {
        self.by_curve
            .get(curve_id)
            .or_else(|| self.by_currency.get(&currency.to_ascii_uppercase()))
            .unwrap_or(&self.default)
    }
}

/// What the `scenarios` argument names: a built-in set, or a table to read.
#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioSpec {
    Builtin(Vec<Scenario>),
    Table(String),
}

/// Parses the `scenarios` argument: `base`, `bcbs`, `parallel:+100,-100`,
/// `ramp:+200`, `keyrate:1`, or otherwise a table name.
pub fn parse_scenario_spec(spec: &str) -> Result<ScenarioSpec> {
    let text = spec.trim();
    let err = |reason: String| Error::ScenarioSet {
        spec: spec.to_string(),
        reason,
    };
    let lower = text.to_ascii_lowercase();
    let mut set = vec![Scenario::base()];
    if lower.is_empty() || lower == "base" {
        return Ok(ScenarioSpec::Builtin(set));
    }
    if lower == "bcbs" {
        set.extend(BaselShock::ALL.map(|s| Scenario::uniform(s.name(), Shift::Basel(s))));
        return Ok(ScenarioSpec::Builtin(set));
    }
    if let Some((kind, list)) = lower.split_once(':') {
        let values = parse_bp_list(list).map_err(err)?;
        match kind.trim() {
            "parallel" => set.extend(values.iter().map(|&bp| Scenario::uniform(format!("parallel_{}", signed(bp)), Shift::Parallel(bp)))),
            "ramp" => set.extend(values.iter().map(|&bp| Scenario::uniform(format!("ramp_{}", signed(bp)), Shift::Ramp(bp)))),
            "keyrate" => {
                let [bp] = values[..] else {
                    return Err(err("keyrate takes one bump size in bp, e.g. 'keyrate:1'".into()));
                };
                set.extend(key_rate_scenarios(bp));
            }
            other => {
                return Err(err(format!(
                    "unknown shape '{other}' (expected base, bcbs, parallel:<bp,...>, ramp:<bp,...>, keyrate:<bp> or a table name)"
                )))
            }
        }
        return Ok(ScenarioSpec::Builtin(set));
    }
    let is_identifier = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !is_identifier {
        return Err(err(
            "expected base, bcbs, parallel:<bp,...>, ramp:<bp,...>, keyrate:<bp> or a table name"
                .into(),
        ));
    }
    Ok(ScenarioSpec::Table(text.to_string()))
}

fn parse_bp_list(list: &str) -> std::result::Result<Vec<f64>, String> {
    let values: Vec<f64> = list
        .split(',')
        .map(|v| {
            let v = v.trim();
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("'{v}' is not a number of basis points"))
        })
        .collect::<std::result::Result<_, _>>()?;
    if values.is_empty() {
        return Err("no shift sizes listed".into());
    }
    Ok(values)
}

/// `+100`, `-100`, `+12.5`: the scenario-name form of a bp value.
fn signed(bp: f64) -> String {
    if bp >= 0.0 {
        format!("+{bp}")
    } else {
        format!("{bp}")
    }
}

/// One triangular bump per key tenor: `bp` at the tenor, falling linearly to
/// zero at the neighbouring key tenors, flat beyond the first and last.
pub fn key_rate_scenarios(bp: f64) -> Vec<Scenario> {
    let times: Vec<f64> = KEY_TENORS
        .iter()
        .map(|t| tenor_years(t).unwrap_or(0.0))
        .collect();
    KEY_TENORS
        .iter()
        .enumerate()
        .map(|(i, tenor)| {
            let bps = (0..times.len())
                .map(|j| if i == j { bp } else { 0.0 })
                .collect();
            Scenario::uniform(
                format!("keyrate_{tenor}"),
                Shift::Nodes {
                    times: times.clone(),
                    bps,
                },
            )
        })
        .collect()
}

/// One row of a user's scenarios table.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRow {
    pub scenario: String,
    /// Exactly one of curve_id / currency is set.
    pub curve_id: Option<String>,
    pub currency: Option<String>,
    pub tenor: String,
    pub shift_bp: f64,
}

/// `base` plus every scenario of a user table, in order of first appearance.
pub fn scenarios_from_rows(rows: &[ScenarioRow]) -> Result<Vec<Scenario>> {
    type Nodes = Vec<(f64, f64)>;
    let mut order: Vec<String> = Vec::new();
    let mut nodes: HashMap<(String, bool, String), Nodes> = HashMap::new();
    for row in rows {
        let bad = |reason: String| {
            Error::Invalid(format!(
                "scenarios table, scenario '{}': {reason}",
                row.scenario
            ))
        };
        if !row.shift_bp.is_finite() {
            return Err(bad(format!(
                "shift_bp at tenor {} is {}",
                row.tenor, row.shift_bp
            )));
        }
        let (key, by_curve) = match (&row.curve_id, &row.currency) {
            (Some(c), _) => (c.clone(), true),
            (None, Some(c)) => (c.to_ascii_uppercase(), false),
            (None, None) => return Err(bad("a row has neither curve_id nor currency".into())),
        };
        if row.scenario.eq_ignore_ascii_case("base") {
            return Err(bad("'base' is reserved for the unshocked curves".into()));
        }
        let t = tenor_years(&row.tenor)?;
        if !order.contains(&row.scenario) {
            order.push(row.scenario.clone());
        }
        nodes
            .entry((row.scenario.clone(), by_curve, key))
            .or_default()
            .push((t, row.shift_bp));
    }
    let mut set = vec![Scenario::base()];
    for name in order {
        let mut scenario = Scenario::uniform(name.clone(), Shift::None);
        for ((scen, by_curve, key), pts) in &nodes {
            if *scen != name {
                continue;
            }
            let mut pts = pts.clone();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            if pts.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(Error::Invalid(format!(
                    "scenarios table, scenario '{name}', {key}: two shifts at the same tenor"
                )));
            }
            let shift = Shift::Nodes {
                times: pts.iter().map(|p| p.0).collect(),
                bps: pts.iter().map(|p| p.1).collect(),
            };
            let target = if *by_curve {
                &mut scenario.by_curve
            } else {
                &mut scenario.by_currency
            };
            target.insert(key.clone(), shift);
        }
        set.push(scenario);
    }
    Ok(set)
}

/// A curve as a scenario sees it: base zero rate plus the scenario's shift at
/// the cash flow's own t, then the post-shock floor.
#[derive(Debug, Clone)]
pub struct ScenarioCurve {
    pub curve: Curve,
    pub shift: Shift,
    pub sizes: ShockSizes,
    pub floor: RateFloor,
    /// Discount factors at t = d / 365 for every whole day d from the as-of
    /// date, made on first use (see [`ScenarioCurve::discount_factor_on_day`]).
    daily: OnceLock<Box<[f64]>>,
}

/// Days of discount factors a [`ScenarioCurve`] tables: sixty years, 172 KB.
const TABLED_DAYS: i64 = 60 * 366;

impl ScenarioCurve {
    pub fn new(
        curve: &Curve,
        scenario: &Scenario,
        table: &ShockSizeTable,
        floor: RateFloor,
    ) -> Self {
        ScenarioCurve {
            curve: curve.clone(),
            shift: scenario.shift_for(&curve.curve_id, &curve.currency).clone(),
            sizes: table.sizes(&curve.currency),
            floor,
            daily: OnceLock::new(),
        }
    }

    /// The shift Δ(t) actually applied after the floor, in bp.
    pub fn applied_shift_bp(&self, t: f64) -> f64 {
        (self.zero_rate(t) - self.curve.zero_rate(t)) / BP
    }

    pub fn zero_rate(&self, t: f64) -> f64 {
        let base = self.curve.zero_rate(t);
        if self.shift == Shift::None {
            return base;
        }
        let shocked = base + self.shift.bp_at(t, &self.sizes) * BP;
        self.floor.apply(base, shocked, t)
    }

    pub fn discount_factor(&self, t: f64) -> f64 {
        (-self.zero_rate(t) * t).exp()
    }

    /// The discount factor `days` days after the as-of date (t = days / 365,
    /// `curve_time`'s), bit for bit `discount_factor`'s. Floaters fix on a
    /// few thousand distinct days, under every scenario, millions of times:
    /// the first call tables every day's factor (a millisecond), the rest
    /// read the table.
    #[inline]
    pub fn discount_factor_on_day(&self, days: i64) -> f64 {
        let table = self.daily.get_or_init(|| {
            (0..TABLED_DAYS)
                .map(|d| self.discount_factor(d as f64 / 365.0))
                .collect()
        });
        match usize::try_from(days).ok().and_then(|d| table.get(d)) {
            Some(&df) => df,
            None => self.discount_factor(days as f64 / 365.0),
        }
    }
}

/// One curve's tabled discount factors under several scenarios, day by day
/// (`[day][scenario]`): a floater's fixing reads its day's factor under
/// every scenario, and laid out so they share a cache line or two instead of
/// lying in one table per scenario, a cache miss each.
pub struct LaneFactors {
    /// Unique to this table (of this process): what caches of forwards
    /// computed on it are keyed on.
    id: u64,
    lanes: usize,
    table: Box<[f64]>,
}

/// The next [`LaneFactors::id`].
static NEXT_LANE_FACTORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl std::fmt::Debug for LaneFactors {
    /// (Not the table.)
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days = self.table.len() / self.lanes.max(1);
        write!(f, "LaneFactors {{ {} lanes, {days} days }}", self.lanes)
    }
}

impl LaneFactors {
    /// The factors of `curves` (a curve under each scenario, in lane order),
    /// bit for bit their [`ScenarioCurve::discount_factor_on_day`].
    pub fn new(curves: &[&ScenarioCurve]) -> LaneFactors {
        let lanes = curves.len();
        let mut table = vec![0.0; TABLED_DAYS as usize * lanes];
        for (s, curve) in curves.iter().enumerate() {
            for (day, row) in table.chunks_exact_mut(lanes.max(1)).enumerate() {
                row[s] = curve.discount_factor_on_day(day as i64);
            }
        }
        LaneFactors {
            id: NEXT_LANE_FACTORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            lanes,
            table: table.into_boxed_slice(),
        }
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// A number no other table of this process has.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Every lane's factor `days` after the as-of date, if tabled.
    #[inline]
    pub fn on_day(&self, days: i64) -> Option<&[f64]> {
        let from = usize::try_from(days).ok()? * self.lanes;
        self.table.get(from..from + self.lanes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basel_usd_at_three_and_a_half_years() {
        // Published check values (BCBS 368 shapes, USD sizes 200/300/150) at t = 3.5:
        // short_up 125.06 bp, steepener −2.56 bp, flattener +47.56 bp.
        let usd = ShockSizeTable::default().sizes("usd");
        let round2 = |x: f64| (x * 100.0).round() / 100.0;
        assert_eq!(round2(BaselShock::ShortUp.shift_bp(&usd, 3.5)), 125.06);
        assert_eq!(round2(BaselShock::Steepener.shift_bp(&usd, 3.5)), -2.56);
        assert_eq!(round2(BaselShock::Flattener.shift_bp(&usd, 3.5)), 47.56);
        assert_eq!(BaselShock::ParallelDown.shift_bp(&usd, 3.5), -200.0);
        assert_eq!(round2(BaselShock::ShortDown.shift_bp(&usd, 3.5)), -125.06);
    }

    #[test]
    fn shock_table_is_data_with_fallback() {
        let table = ShockSizeTable::default();
        assert_eq!(table.sizes("JPY").parallel_bp, 100.0);
        assert_eq!(table.sizes("IDR").long_bp, 350.0);
        assert_eq!(
            table.sizes("NOK"),
            ShockSizes {
                parallel_bp: 200.0,
                short_bp: 300.0,
                long_bp: 150.0
            }
        );
        let custom = ShockSizeTable::from_csv("currency,p,s,l\nUSD,1,2,3\nother,4,5,6\n").unwrap();
        assert_eq!(custom.sizes("USD").long_bp, 3.0);
        assert!(ShockSizeTable::from_csv("h\nUSD,1,2,3\n").is_err());
    }

    #[test]
    fn eu_floor_hand_worked() {
        // t = 10: line = −1.5 % + 0.3 % = −1.2 %. Unshocked 0.5 %, shocked 0.5 % − 2 % = −1.5 %:
        // floor = min(0.5 %, −1.2 %) = −1.2 %, so −1.2 %.
        let f = RateFloor::Eu.apply(0.005, -0.015, 10.0);
        assert!((f - -0.012).abs() < 1e-15);
        // Unshocked already below the line (−1.4 % at t = 10): the floor is the unshocked rate.
        assert_eq!(RateFloor::Eu.apply(-0.014, -0.034, 10.0), -0.014);
        // Beyond 50 years the line stays at 0 %.
        assert_eq!(RateFloor::Eu.apply(0.01, -0.01, 60.0), 0.0);
        assert_eq!(RateFloor::Zero.apply(0.01, -0.01, 1.0), 0.0);
        assert_eq!(RateFloor::None.apply(0.01, -0.01, 1.0), -0.01);
    }

    #[test]
    fn ramp_and_key_rate_shapes() {
        let sizes = ShockSizes {
            parallel_bp: 0.0,
            short_bp: 0.0,
            long_bp: 0.0,
        };
        let ramp = Shift::Ramp(200.0);
        assert_eq!(ramp.bp_at(0.5, &sizes), 50.0); // 200·0.5/2
        assert_eq!(ramp.bp_at(1.0, &sizes), 100.0);
        assert_eq!(ramp.bp_at(2.0, &sizes), 150.0); // 200·(1 − 1/4)
        let kr = key_rate_scenarios(1.0);
        assert_eq!(kr.len(), 11);
        let two_y = &kr[3];
        assert_eq!(two_y.name, "keyrate_2Y");
        assert_eq!(two_y.default.bp_at(2.0, &sizes), 1.0);
        assert_eq!(two_y.default.bp_at(1.5, &sizes), 0.5);
        assert_eq!(two_y.default.bp_at(2.5, &sizes), 0.5);
        assert_eq!(two_y.default.bp_at(3.0, &sizes), 0.0);
        // First key tenor flat below, last flat beyond.
        assert_eq!(kr[0].default.bp_at(0.01, &sizes), 1.0);
        assert_eq!(kr[10].default.bp_at(50.0, &sizes), 1.0);
    }

    #[test]
    fn scenario_spec_forms() {
        let names = |spec: &str| match parse_scenario_spec(spec).unwrap() {
            ScenarioSpec::Builtin(s) => s.into_iter().map(|s| s.name).collect::<Vec<_>>(),
            ScenarioSpec::Table(t) => vec![format!("table {t}")],
        };
        assert_eq!(names("base"), ["base"]);
        assert_eq!(names("BCBS").len(), 7);
        assert_eq!(
            names("parallel:+100,-100, 200"),
            ["base", "parallel_+100", "parallel_-100", "parallel_+200"]
        );
        assert_eq!(names("ramp:+200,-200"), ["base", "ramp_+200", "ramp_-200"]);
        assert_eq!(names("my_scenarios"), ["table my_scenarios"]);
        for bad in [
            "parallel:",
            "parallel:abc",
            "twist:+5",
            "keyrate:1,2",
            "drop table x",
        ] {
            let err = parse_scenario_spec(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn table_scenarios_curve_beats_currency() {
        let row = |scen: &str, curve: Option<&str>, ccy: Option<&str>, tenor: &str, bp: f64| {
            ScenarioRow {
                scenario: scen.into(),
                curve_id: curve.map(Into::into),
                currency: ccy.map(Into::into),
                tenor: tenor.into(),
                shift_bp: bp,
            }
        };
        let set = scenarios_from_rows(&[
            row("twist", None, Some("usd"), "1Y", 50.0),
            row("twist", None, Some("usd"), "10Y", -50.0),
            row("twist", Some("USD_PRIME"), None, "1Y", 10.0),
        ])
        .unwrap();
        assert_eq!(set.len(), 2);
        let sizes = ShockSizeTable::default().sizes("USD");
        let twist = &set[1];
        assert_eq!(twist.shift_for("USD_SOFR", "USD").bp_at(5.5, &sizes), 0.0);
        assert_eq!(
            twist.shift_for("USD_SOFR", "USD").bp_at(20.0, &sizes),
            -50.0
        );
        assert_eq!(
            twist.shift_for("USD_PRIME", "USD").bp_at(20.0, &sizes),
            10.0
        );
        assert_eq!(twist.shift_for("EUR_ESTR", "EUR").bp_at(1.0, &sizes), 0.0);
    }

    /// The tabled daily factors are `discount_factor`'s at t = days / 365,
    /// bit for bit, in the table and past both its ends.
    #[test]
    fn discount_factors_by_day_equal_computed_ones() {
        let curve = Curve::new(
            "USD_SOFR",
            "USD",
            vec![
                ("3M".into(), 0.041),
                ("2Y".into(), 0.037),
                ("30Y".into(), 0.043),
            ],
        )
        .expect("curve");
        let table = ShockSizeTable::default();
        for shift in [
            Shift::None,
            Shift::Basel(BaselShock::ALL[2]),
            Shift::Parallel(-250.0),
        ] {
            let scenario = Scenario::uniform("s", shift);
            let shocked = ScenarioCurve::new(&curve, &scenario, &table, RateFloor::Eu);
            for days in (-40..TABLED_DAYS + 400)
                .step_by(7)
                .chain([0, 1, TABLED_DAYS - 1])
            {
                let t = crate::daycount::curve_time(crate::Date(0), crate::Date(days as i32));
                assert_eq!(
                    shocked.discount_factor_on_day(days).to_bits(),
                    shocked.discount_factor(t).to_bits(),
                    "day {days}"
                );
            }
        }
    }
}
