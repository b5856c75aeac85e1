//! Fidelity against QuantLib: golden files made by `tests/golden/make_golden.py`
//! (QuantLib from PyPI) on a generated book that covers every convention.
//! Every amount must match to 1e-9 relative; year fractions to 1e-12.

use std::collections::HashMap;
use std::path::PathBuf;

use almanac_core::schedule::backward_schedule;
use almanac_core::{BusinessDayRule, Calendar, Date, DayCount, Flow, Projector, RawInstrument};

fn golden(name: &str) -> Vec<HashMap<String, String>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/golden")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(String::from)
        .collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

fn date(s: &str) -> Date {
    Date::parse_iso(s).unwrap_or_else(|| panic!("bad date {s}"))
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("bad number {s}"))
}

fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    let tol = rel * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, QuantLib {want}"
    );
}

#[test]
fn day_counts_match_quantlib() {
    let rows = golden("daycounts.csv");
    assert!(rows.len() > 10_000);
    for r in rows {
        let dc = DayCount::parse(&r["day_count"]).unwrap();
        let got = dc.year_frac(date(&r["start"]), date(&r["end"]));
        assert_close(
            &format!("{} {}..{}", r["day_count"], r["start"], r["end"]),
            got,
            num(&r["year_frac"]),
            1e-12,
        );
    }
}

#[test]
fn backward_schedules_match_quantlib() {
    let rows = golden("schedules.csv");
    assert!(rows.len() > 4_000);
    let mut by_case: Vec<(
        (String, String, String, String),
        Vec<&HashMap<String, String>>,
    )> = Vec::new();
    for r in &rows {
        let key = (
            r["start"].clone(),
            r["maturity"].clone(),
            r["payment_months"].clone(),
            r["business_day"].clone(),
        );
        match by_case.last_mut() {
            Some((k, v)) if *k == key => v.push(r),
            _ => by_case.push((key, vec![r])),
        }
    }
    let cal = Calendar::weekends_only();
    for ((start, maturity, months, rule), expected) in by_case {
        let mut periods = Vec::new();
        let rule_parsed = BusinessDayRule::parse(&rule).unwrap();
        backward_schedule(
            date(&start),
            date(&maturity),
            months.parse().unwrap(),
            rule_parsed,
            &cal,
            None,
            &mut periods,
        );
        let got: Vec<String> = periods
            .iter()
            .map(|p| format!("{} {} {}", p.accrual_start, p.accrual_end, p.pay_date))
            .collect();
        let want: Vec<String> = expected
            .iter()
            .map(|r| {
                format!(
                    "{} {} {}",
                    r["accrual_start"], r["accrual_end"], r["pay_date"]
                )
            })
            .collect();
        assert_eq!(
            got, want,
            "schedule {start}..{maturity} every {months}M {rule}"
        );
    }
}

#[test]
fn fixed_rate_cash_flows_match_quantlib() {
    let book = golden("book.csv");
    let flows = golden("cashflows.csv");
    assert_eq!(book.len(), 300);
    let mut expected: HashMap<&str, Vec<&HashMap<String, String>>> = HashMap::new();
    for f in &flows {
        expected
            .entry(f["instrument_id"].as_str())
            .or_default()
            .push(f);
    }
    let cal = Calendar::weekends_only();
    let mut compared = 0;
    for r in &book {
        let id = r["instrument_id"].as_str();
        let raw = RawInstrument {
            instrument_id: id,
            side: Some(&r["side"]),
            balance: Some(num(&r["balance"])),
            start_date: Some(date(&r["start_date"])),
            maturity_date: Some(date(&r["maturity_date"])),
            rate_type: Some("fixed"),
            rate: Some(num(&r["rate"])),
            payment_months: Some(r["payment_months"].parse().unwrap()),
            amortization: Some(&r["amortization"]),
            day_count: Some(&r["day_count"]),
            business_day: Some(&r["business_day"]),
            ..Default::default()
        };
        let inst = raw.validate().unwrap_or_else(|e| panic!("{e}"));
        let mut out: Vec<Flow> = Vec::new();
        Projector::new(date(&r["as_of"]), &cal)
            .project(id, &inst, None, &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
        let want = expected.get(id).cloned().unwrap_or_default();
        assert_eq!(out.len(), want.len(), "{id}: number of flows");
        for (got, want) in out.iter().zip(want) {
            let at = format!("{id} {}", want["pay_date"]);
            assert_eq!(got.pay_date.to_string(), want["pay_date"], "{at}");
            assert_eq!(got.accrual_start.to_string(), want["accrual_start"], "{at}");
            assert_eq!(got.accrual_end.to_string(), want["accrual_end"], "{at}");
            assert_close(
                &format!("{at} balance"),
                got.balance,
                num(&want["balance"]),
                1e-9,
            );
            assert_close(&format!("{at} rate"), got.rate, num(&want["rate"]), 1e-12);
            assert_close(
                &format!("{at} interest"),
                got.interest,
                num(&want["interest"]),
                1e-9,
            );
            assert_close(
                &format!("{at} principal"),
                got.principal,
                num(&want["principal"]),
                1e-9,
            );
            assert_close(
                &format!("{at} total"),
                got.total(),
                num(&want["total"]),
                1e-9,
            );
            assert_eq!(got.prepayment, 0.0);
            compared += 1;
        }
    }
    assert_eq!(compared, flows.len());
}

#[test]
fn quantlib_amortizing_bond_vector() {
    let cal = Calendar::weekends_only();
    for r in golden("ql_amortizing_bond.csv") {
        let raw = RawInstrument {
            instrument_id: "ql_amortizing",
            side: Some("asset"),
            balance: Some(100.0),
            start_date: Date::from_ymd(2025, 1, 15),
            maturity_date: Date::from_ymd(2055, 1, 15),
            rate_type: Some("fixed"),
            rate: Some(num(&r["rate"])),
            payment_months: Some(1),
            amortization: Some("annuity"),
            day_count: Some("30/360"),
            ..Default::default()
        };
        let mut out = Vec::new();
        Projector::new(date("2025-01-15"), &cal)
            .project("ql_amortizing", &raw.validate().unwrap(), None, &mut out)
            .unwrap();
        assert_eq!(out.len(), 360);
        for f in &out {
            assert_close("level payment", f.total(), num(&r["payment"]), 1e-9);
        }
    }
}
