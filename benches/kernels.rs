//! Micro-benchmarks of the finance core's hot kernels (criterion):
//! month arithmetic, each day count, schedule generation, annuity amounts,
//! curve interpolation and discounting, Basel shock evaluation, and one
//! instrument's whole projection.
//!
//!     cargo bench --bench kernels

use std::hint::black_box;

use almanac_core::cashflow::level_payment;
use almanac_core::schedule::backward_schedule;
use almanac_core::{
    Amortization, BaselShock, BusinessDayRule, Calendar, Curve, Date, DayCount, FloatingTerms,
    Instrument, LaneFactors, Projector, RateFloor, Scenario, ScenarioCurve, Shift, ShockSizeTable,
    Side,
};
use criterion::{criterion_group, criterion_main, Criterion};

fn date(y: i32, m: u32, d: u32) -> Date {
    Date::from_ymd(y, m, d).unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
}

fn usd_curve() -> Curve {
    let nodes = [
        ("1M", 0.043),
        ("3M", 0.042),
        ("6M", 0.041),
        ("1Y", 0.040),
        ("2Y", 0.038),
        ("3Y", 0.037),
        ("5Y", 0.037),
        ("7Y", 0.038),
        ("10Y", 0.039),
        ("20Y", 0.041),
        ("30Y", 0.040),
    ];
    let nodes = nodes.iter().map(|(t, r)| (t.to_string(), *r)).collect();
    Curve::new("USD_SOFR", "USD", nodes).expect("curve")
}

fn mortgage() -> Instrument {
    Instrument {
        side: Side::Asset,
        balance: 250_000.0,
        start_date: date(2020, 3, 15),
        maturity_date: Some(date(2050, 3, 15)),
        rate: 0.045,
        floating: None,
        payment_months: 1,
        amortization: Amortization::Annuity,
        day_count: DayCount::Thirty360,
        business_day: BusinessDayRule::Following,
        prepayment_rate: 0.06,
        behavioral_months: 60,
    }
}

fn dates(c: &mut Criterion) {
    let d = date(2025, 12, 31);
    c.bench_function("date/add_months", |b| {
        b.iter(|| black_box(d).add_months(black_box(7)))
    });
    c.bench_function("date/from_ymd", |b| {
        b.iter(|| Date::from_ymd(black_box(2031), black_box(2), black_box(28)))
    });
}

fn day_counts(c: &mut Criterion) {
    let (start, end) = (date(2025, 1, 31), date(2025, 7, 31));
    for dc in DayCount::ALL {
        c.bench_function(&format!("day_count/{}", dc.code()), |b| {
            b.iter(|| black_box(dc).year_frac(black_box(start), black_box(end)))
        });
    }
}

fn schedules(c: &mut Criterion) {
    let calendar = Calendar::weekends_only();
    let mut out = Vec::with_capacity(512);
    c.bench_function("schedule/30y_monthly_following", |b| {
        b.iter(|| {
            out.clear();
            backward_schedule(
                black_box(date(2020, 3, 15)),
                black_box(date(2050, 3, 15)),
                1,
                BusinessDayRule::Following,
                &calendar,
                Some(date(2025, 12, 31)),
                &mut out,
            );
            out.len()
        })
    });
}

fn annuity(c: &mut Criterion) {
    c.bench_function("annuity/level_payment", |b| {
        b.iter(|| {
            level_payment(
                black_box(250_000.0),
                black_box(0.045 / 12.0),
                black_box(291),
            )
        })
    });
}

fn curves(c: &mut Criterion) {
    let curve = usd_curve();
    c.bench_function("curve/zero_rate_interpolated", |b| {
        b.iter(|| curve.zero_rate(black_box(4.37)))
    });
    c.bench_function("curve/discount_factor", |b| {
        b.iter(|| curve.discount_factor(black_box(4.37)))
    });
    let table = ShockSizeTable::default();
    let steepener = Scenario::uniform("steepener", Shift::Basel(BaselShock::Steepener));
    let shocked = ScenarioCurve::new(
        &curve,
        &steepener,
        &table,
        RateFloor::parse("eu").expect("floor"),
    );
    c.bench_function("shock/basel_steepener_discount_factor", |b| {
        b.iter(|| shocked.discount_factor(black_box(4.37)))
    });
    let sizes = table.sizes("USD");
    c.bench_function("shock/basel_shift_bp", |b| {
        b.iter(|| BaselShock::Flattener.shift_bp(black_box(&sizes), black_box(4.37)))
    });
}

fn projection(c: &mut Criterion) {
    let calendar = Calendar::weekends_only();
    let mut projector = Projector::new(date(2025, 12, 31), &calendar);
    let inst = mortgage();
    // The projector keeps the last schedule: alternating two start dates makes
    // every call build its own, as for a book of different instruments (from
    // the shared grid of their roll dates).
    let other = Instrument {
        start_date: inst.start_date.add_days(1),
        ..inst.clone()
    };
    let mut flows = Vec::with_capacity(512);
    let mut toggle = false;
    let mut alternating = |name: &str, projector: &mut Projector| {
        c.bench_function(name, |b| {
            b.iter(|| {
                toggle = !toggle;
                flows.clear();
                let next = if toggle { &inst } else { &other };
                projector
                    .project("M1", black_box(next), None, &mut flows)
                    .expect("project");
                flows.len()
            })
        });
    };
    alternating("projection/30y_annuity_with_prepayment", &mut projector);
    // The same book with every schedule rolled back from its maturity (no
    // shared grids): what the grids save.
    let mut rolling = Projector::new(date(2025, 12, 31), &calendar).rolling_each_schedule();
    alternating("projection/30y_annuity_rolled_schedule", &mut rolling);
    // Totals alone (what EVE sums), one lane.
    let mut totals = Vec::with_capacity(512);
    let mut toggle = false;
    c.bench_function("projection/30y_annuity_totals_only", |b| {
        b.iter(|| {
            toggle = !toggle;
            let next = if toggle { &inst } else { &other };
            projector
                .project_totals("M1", black_box(next), (&[None], None), &mut totals)
                .expect("project");
            totals.len()
        })
    });
    // The same terms again (a floater's next scenario): the schedule is reused.
    c.bench_function("projection/same_terms_again", |b| {
        b.iter(|| {
            flows.clear();
            projector
                .project("M1", black_box(&inst), None, &mut flows)
                .expect("project");
            flows.len()
        })
    });
}

/// An adjustable-rate mortgage (annual resets, prepaying) under the base
/// curve and the six Basel shocks: one pass for all seven (what EVE does),
/// against seven projections one after the other.
fn floater_scenarios(c: &mut Criterion) {
    let calendar = Calendar::weekends_only();
    let curve = usd_curve();
    let table = ShockSizeTable::default();
    let floor = RateFloor::parse("eu").expect("floor");
    let scenarios: Vec<ScenarioCurve> = std::iter::once(Scenario::base())
        .chain(BaselShock::ALL.map(|s| Scenario::uniform(s.name(), Shift::Basel(s))))
        .map(|s| ScenarioCurve::new(&curve, &s, &table, floor))
        .collect();
    let arm = Instrument {
        floating: Some(FloatingTerms {
            index_curve: "USD_SOFR".into(),
            spread: 0.015,
            reset_months: 12,
            floor: Some(0.0),
            cap: None,
        }),
        ..mortgage()
    };
    let other = Instrument {
        start_date: arm.start_date.add_days(1),
        ..arm.clone()
    };
    let indexes: Vec<Option<&ScenarioCurve>> = scenarios.iter().map(Some).collect();
    let tabled = LaneFactors::new(&scenarios.iter().collect::<Vec<_>>());
    let mut projector = Projector::new(date(2025, 12, 31), &calendar);
    let (mut totals, mut flows) = (Vec::with_capacity(4096), Vec::with_capacity(512));
    let mut toggle = false;
    c.bench_function("projection/arm_7_scenarios_totals_one_pass", |b| {
        b.iter(|| {
            toggle = !toggle;
            let next = if toggle { &arm } else { &other };
            projector
                .project_totals(
                    "A1",
                    black_box(next),
                    (&indexes, Some(&tabled)),
                    &mut totals,
                )
                .expect("project");
            totals.len()
        })
    });
    c.bench_function("projection/arm_7_scenarios_flows_one_by_one", |b| {
        b.iter(|| {
            toggle = !toggle;
            let next = if toggle { &arm } else { &other };
            for index in &indexes {
                flows.clear();
                projector
                    .project("A1", black_box(next), *index, &mut flows)
                    .expect("project");
            }
            flows.len()
        })
    });
}

criterion_group!(
    kernels,
    dates,
    day_counts,
    schedules,
    annuity,
    curves,
    projection,
    floater_scenarios
);
criterion_main!(kernels);
