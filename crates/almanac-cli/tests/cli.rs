//! The `almanac` command as users and scripts call it.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

use support::{almanac, generate, text, ROOT};

fn repo() -> PathBuf {
    PathBuf::from(ROOT)
}

#[test]
fn the_demo_bank_is_reproduced_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "10000", "42");
    for table in ["instruments", "curves", "capital", "fx_rates"] {
        let file = format!("{table}.parquet");
        let committed = std::fs::read(repo().join("datasets/demo").join(&file)).unwrap();
        let fresh = std::fs::read(dir.path().join(&file)).unwrap();
        assert!(
            committed == fresh,
            "{file} differs from datasets/demo/{file}"
        );
    }
}

#[test]
fn demo_bank_has_every_product_line() {
    let out = almanac(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT portfolio, COUNT(*) AS n FROM instruments GROUP BY portfolio ORDER BY portfolio",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    for portfolio in [
        "retail_mortgages_fixed",
        "retail_mortgages_arm",
        "consumer_loans",
        "commercial_loans",
        "commercial_real_estate",
        "government_securities",
        "corporate_securities",
        "term_deposits",
        "checking_accounts",
        "savings_accounts",
        "wholesale_funding",
        "subordinated_debt",
    ] {
        assert!(csv.contains(portfolio), "{portfolio} missing from\n{csv}");
    }
    // Every instrument of the demo bank passes the data contract.
    let out = almanac(&[
        "sql",
        "--format",
        "csv",
        "-c",
        "SELECT COUNT(*) AS bad FROM instrument_errors('instruments', DATE '2025-12-31')",
    ]);
    assert_eq!(text(&out.stdout), "bad\n0\n", "{}", text(&out.stderr));
}

#[test]
fn eve_report_runs_on_a_generated_book() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "400", "7");
    let out = almanac(&[
        "sql",
        "--data",
        dir.path().to_str().unwrap(),
        "-f",
        "sql/eve_sensitivity.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for word in [
        "parallel_up",
        "parallel_down",
        "steepener",
        "flattener",
        "short_up",
        "short_down",
        "outlier_test",
        "USD",
        "EUR",
    ] {
        assert!(report.contains(word), "{word} missing from\n{report}");
    }
}

#[test]
fn formats_and_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "SELECT year_frac(DATE '2024-01-31', DATE '2024-03-31', 'ACT/360') AS yf";
    let out = almanac(&["sql", "--format", "json", "-c", sql]);
    assert_eq!(text(&out.stdout).trim(), r#"{"yf":0.16666666666666666}"#);
    let file = dir.path().join("yf.parquet");
    let out = almanac(&[
        "sql",
        "--format",
        "parquet",
        "-o",
        file.to_str().unwrap(),
        "-c",
        sql,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The folder given as a file:// URL.
    let url = format!("file://{}", dir.path().display());
    let back = almanac(&[
        "sql",
        "--data",
        &url,
        "--format",
        "csv",
        "-c",
        "SELECT yf FROM yf",
    ]);
    assert_eq!(
        text(&back.stdout),
        "yf\n0.16666666666666666\n",
        "{}",
        text(&back.stderr)
    );
}

#[test]
fn errors_are_one_clear_line_and_a_failure_exit() {
    for (args, expected) in [
        (vec!["sql", "-c", "SELEC nonsense"], "SELEC"),
        (
            vec![
                "sql",
                "-c",
                "SELECT * FROM cashflows('instruments', DATE '2025-12-31', 'wobble')",
            ],
            "unknown scenario set 'wobble'",
        ),
        (
            vec!["sql", "--data", "/no/such/folder", "-c", "SELECT 1"],
            "/no/such/folder does not exist or cannot be read",
        ),
        (
            vec!["sql", "-f", "/no/such.sql"],
            "cannot read /no/such.sql",
        ),
        (
            vec!["sql", "--data", "ftp://bank/lake", "-c", "SELECT 1"],
            "unknown scheme ftp://",
        ),
        (vec!["functions", "nope"], "no function 'nope'"),
    ] {
        let out = almanac(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            err.starts_with("error: ") && err.contains(expected),
            "{args:?}: {err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[test]
fn functions_lists_every_function() {
    let out = almanac(&["functions"]);
    let listing = text(&out.stdout);
    for name in [
        "cashflows",
        "repricing",
        "nii_projection",
        "discount_factors",
        "curve_points",
        "instrument_errors",
        "year_frac",
        "gap_bucket",
        "bucket_midpoint",
        "irrbb_shock",
        "discount_factor",
    ] {
        assert!(listing.contains(&format!("{name} (")), "{name} missing");
    }
}

#[test]
fn the_shell_reads_statements_from_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_almanac"))
        .args(["sql"])
        .current_dir(repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the shell");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"SELECT 40 +\n 2 AS answer;\nSELECT nonsense_column;\nSELECT COUNT(*) AS n FROM capital;\n\\q\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A bad statement is reported and the shell goes on.
    assert!(stdout.contains("| 42 "), "{stdout}");
    assert!(
        text(&out.stderr).contains("nonsense_column"),
        "{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("| 1 "), "{stdout}");
}

/// Sanity property: the repricing gap's last cumulative figure equals the
/// book's net balance (assets − liabilities) in the reporting currency.
#[test]
fn repricing_gap_totals_equal_the_balances() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "300", "11");
    let data = dir.path().to_str().unwrap();
    let gap = almanac(&[
        "sql",
        "--data",
        data,
        "--format",
        "csv",
        "-f",
        "sql/repricing_gap.sql",
    ]);
    assert!(gap.status.success(), "{}", text(&gap.stderr));
    let csv = text(&gap.stdout);
    let last = csv.lines().last().expect("a row");
    let cumulative: f64 = last
        .split(',')
        .nth(4)
        .and_then(|v| v.parse().ok())
        .expect("cumulative_gap");
    let net = almanac(&[
        "sql",
        "--data",
        data,
        "--format",
        "csv",
        "-c",
        "SELECT ROUND(SUM(CASE WHEN i.side = 'asset' THEN i.balance ELSE -i.balance END * x.rate_to_reporting), 0) AS net \
         FROM instruments i JOIN fx_rates x ON x.currency = i.currency",
    ]);
    let net: f64 = text(&net.stdout)
        .lines()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("net balance");
    assert!(
        (cumulative - net).abs() <= 1.0,
        "cumulative gap {cumulative} vs net balance {net}\n{csv}"
    );
    // Buckets with no repricing have no row (yet); the rest are in time order.
    let buckets: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert!(
        buckets.len() >= 15 && buckets.windows(2).all(|w| w[0] < w[1]),
        "{csv}"
    );
}

/// The liquidity ladder runs on a generated book with both bases, and the
/// contractual basis puts every non-maturity deposit in the overnight bucket.
#[test]
fn liquidity_gap_has_contractual_and_behavioural_ladders() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path(), "300", "5");
    let data = dir.path().to_str().unwrap();
    let out = almanac(&[
        "sql",
        "--data",
        data,
        "--format",
        "csv",
        "-f",
        "sql/liquidity_gap.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    assert!(
        csv.contains("contractual,02 O/N-1M") && csv.contains("behavioural,02 O/N-1M"),
        "{csv}"
    );
    let overnight_outflow: f64 = csv
        .lines()
        .find(|l| l.starts_with("contractual,01 overnight"))
        .and_then(|l| l.split(',').nth(3))
        .and_then(|v| v.parse().ok())
        .expect("contractual overnight row");
    let deposits = almanac(&[
        "sql",
        "--data",
        data,
        "--format",
        "csv",
        "-c",
        "SELECT ROUND(-SUM(i.balance * x.rate_to_reporting), 0) AS d FROM instruments i JOIN fx_rates x ON x.currency = i.currency \
         WHERE i.maturity_date IS NULL AND i.side = 'liability'",
    ]);
    let deposits: f64 = text(&deposits.stdout)
        .lines()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("deposits");
    // Overnight outflows are the deposits plus any other flow due tomorrow (none here).
    assert!(
        (overnight_outflow - deposits).abs() <= 1.0,
        "{overnight_outflow} vs {deposits}\n{csv}"
    );
}

/// A zero-coupon asset of 1,000,000 due 2030-12-31 (1,826 days after the as-of date).
const ZERO_BOND: &str = "'Z1' AS instrument_id, 'zeros' AS portfolio, 'asset' AS side, 'USD' AS currency, \
     1000000.0 AS balance, DATE '2020-12-31' AS start_date, DATE '2030-12-31' AS maturity_date, 'fixed' AS rate_type, \
     0.0 AS rate, CAST(0 AS INT) AS payment_months, 'bullet' AS amortization, 'ACT/365F' AS day_count";

/// Builds a lake of one instrument on flat curves with SQL `COPY ... TO`.
fn one_bond_lake(dir: &Path, instrument: &str) {
    let d = dir.display();
    let sql = format!(
        "COPY (SELECT {instrument}) TO '{d}/instruments.parquet' STORED AS PARQUET;
         COPY (SELECT * FROM (VALUES ('USD_OIS', 'USD', DATE '2025-12-31', '1Y', 0.04, true),
                                     ('USD_OIS', 'USD', DATE '2025-12-31', '30Y', 0.04, true))
               AS t(curve_id, currency, as_of_date, tenor, zero_rate, is_discount)) TO '{d}/curves.parquet' STORED AS PARQUET;
         COPY (SELECT DATE '2025-12-31' AS as_of_date, 'USD' AS currency, 1.0 AS rate_to_reporting) TO '{d}/fx_rates.parquet' STORED AS PARQUET;
         COPY (SELECT DATE '2025-12-31' AS as_of_date, 100000.0 AS tier1_capital) TO '{d}/capital.parquet' STORED AS PARQUET;"
    );
    let out = almanac(&["sql", "--data", dir.to_str().unwrap(), "-c", &sql]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn csv_field(csv: &str, row_prefix: &str, column: &str) -> f64 {
    let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let at = header
        .iter()
        .position(|h| *h == column)
        .unwrap_or_else(|| panic!("no column {column} in {csv}"));
    let row = csv
        .lines()
        .find(|l| l.starts_with(row_prefix))
        .unwrap_or_else(|| panic!("no row {row_prefix} in {csv}"));
    row.split(',')
        .nth(at)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{column} of {row}"))
}

/// One zero-coupon asset of 1,000,000 due in 1,826 days on a flat 4 % curve:
/// t = 1826/365, PV = 1e6·e^(−0.04t); Macaulay = t; with PV(±1bp) = 1e6·e^(−(0.04±0.0001)t),
/// effective duration = sinh(0.0001t)/0.0001, DV01 = (PV(−1bp) − PV(+1bp))/2,
/// convexity = (PV(+1bp) + PV(−1bp) − 2PV)/(PV·1e−8). Computed here in closed form.
#[test]
fn duration_report_on_a_zero_coupon_bond() {
    let dir = tempfile::tempdir().unwrap();
    one_bond_lake(dir.path(), ZERO_BOND);
    let out = almanac(&[
        "sql",
        "--data",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "-f",
        "sql/duration.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let t: f64 = 1826.0 / 365.0;
    let pv = |z: f64| 1e6 * (-z * t).exp();
    let (base, up, down) = (pv(0.04), pv(0.0401), pv(0.0399));
    let close = |column: &str, want: f64, tol: f64| {
        let got = csv_field(&csv, "zeros,asset", column);
        assert!(
            (got - want).abs() <= tol,
            "{column}: {got} vs {want}\n{csv}"
        );
    };
    close("market_value", base, 0.5);
    close("macaulay_duration", t, 5e-5);
    close(
        "effective_duration",
        (down - up) / (2.0 * base * 1e-4),
        5e-5,
    );
    close("dv01", (down - up) / 2.0, 0.005);
    close("convexity", (up + down - 2.0 * base) / (base * 1e-8), 0.005);
}

/// The zero-coupon bond of the duration test sits at t = 1826/365 between the
/// 5Y and 7Y key tenors: the 5Y triangle shifts its rate by (7 − t)/2 bp, the
/// 7Y one by (t − 5)/2 bp, all others by 0; KR DV01 = PV(base) − PV(bumped).
#[test]
fn key_rate_report_on_a_zero_coupon_bond() {
    let dir = tempfile::tempdir().unwrap();
    one_bond_lake(dir.path(), ZERO_BOND);
    let out = almanac(&[
        "sql",
        "--data",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "-f",
        "sql/key_rate_duration.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let t: f64 = 1826.0 / 365.0;
    let pv = |bp: f64| 1e6 * (-(0.04 + bp * 1e-4) * t).exp();
    let kr5 = pv(0.0) - pv((7.0 - t) / 2.0);
    let kr7 = pv(0.0) - pv((t - 5.0) / 2.0);
    let got = |tenor: &str| csv_field(&csv, &format!("USD,{tenor},"), "kr_dv01");
    assert!(
        (got("5Y") - kr5).abs() <= 0.005,
        "{} vs {kr5}\n{csv}",
        got("5Y")
    );
    assert!(
        (got("7Y") - kr7).abs() <= 0.005,
        "{} vs {kr7}\n{csv}",
        got("7Y")
    );
    let total = csv_field(&csv, "USD,5Y,", "total_dv01");
    assert!((total - (kr5 + kr7)).abs() <= 0.01, "{total}\n{csv}");
    for tenor in ["3M", "6M", "1Y", "2Y", "3Y", "10Y", "15Y", "20Y", "30Y"] {
        assert_eq!(got(tenor), 0.0, "{tenor}\n{csv}");
    }
}

/// The zero-coupon bond pays on 2030-12-31, the upper edge of bucket
/// '11 4Y-5Y' (midpoint 4.5 years): ΔEVE = 1e6·(e^(−R_s·4.5) − e^(−0.04·4.5)),
/// R_s = 4 % + the shock read at the nearest calendar day, 1643 days
/// (t = 1643/365): +200 bp for parallel_up, 300·e^(−t/4) bp for short_up.
#[test]
fn standardised_eve_on_a_zero_coupon_bond() {
    let dir = tempfile::tempdir().unwrap();
    one_bond_lake(dir.path(), ZERO_BOND);
    let out = almanac(&[
        "sql",
        "--data",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "-f",
        "sql/irrbb_standardised.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let pv = |rate: f64| 1e6 * (-rate * 4.5).exp();
    let t_day: f64 = 1643.0 / 365.0;
    let short_up = 300.0 * (-t_day / 4.0).exp() * 1e-4;
    for (scenario, rate) in [
        ("base", 0.04),
        ("parallel_up", 0.06),
        ("parallel_down", 0.02),
        ("short_up", 0.04 + short_up),
    ] {
        let got = csv_field(&csv, &format!("USD,{scenario},"), "eve");
        assert!(
            (got - pv(rate)).abs() <= 0.5,
            "{scenario}: {got} vs {}\n{csv}",
            pv(rate)
        );
    }
    let aggregated = &csv[csv
        .find("scenario,basel_loss")
        .expect("the aggregation table")..];
    let loss = csv_field(aggregated, "parallel_up,", "basel_loss");
    assert!((loss - (pv(0.04) - pv(0.06))).abs() <= 1.0, "{loss}\n{csv}");
}

/// One 3-month deposit-like asset: 1,000,000 at 5 % (ACT/365F) from 2025-12-31 to
/// 2026-03-31 (90 days), on a flat 4 % curve. Over 12 months it earns
/// 1e6·5 %·90/365, then its replacement earns 1e6·F_s·275/365 to 2026-12-31, where
/// F_s = (DF_s(t1)/DF_s(t2) − 1)·365/91 over its 3-month term (t1 = 90/365,
/// t2 = 181/365) and DF_s(t) = exp(−(4 % + Δ_s(t))·t): Δ = +200 bp for
/// parallel_+200, 200 bp·t/2 (t ≤ 1) for ramp_+200.
#[test]
fn nii_report_on_a_rolling_deposit() {
    let dir = tempfile::tempdir().unwrap();
    one_bond_lake(
        dir.path(),
        "'D1' AS instrument_id, 'asset' AS side, 'USD' AS currency, 1000000.0 AS balance, \
         DATE '2025-12-31' AS start_date, DATE '2026-03-31' AS maturity_date, 'fixed' AS rate_type, 0.05 AS rate, \
         CAST(0 AS INT) AS payment_months, 'bullet' AS amortization, 'ACT/365F' AS day_count",
    );
    let out = almanac(&[
        "sql",
        "--data",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "-f",
        "sql/nii_sensitivity.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let (t1, t2) = (90.0 / 365.0, 181.0 / 365.0);
    let nii = |shift: &dyn Fn(f64) -> f64| {
        let df = |t: f64| (-(0.04 + shift(t)) * t).exp();
        let forward = (df(t1) / df(t2) - 1.0) * 365.0 / 91.0;
        1e6 * 0.05 * 90.0 / 365.0 + 1e6 * forward * 275.0 / 365.0
    };
    let base = nii(&|_| 0.0);
    let up = nii(&|_| 0.02);
    let ramp = nii(&|t: f64| 0.02 * t / 2.0);
    for (scenario, want) in [("base", base), ("parallel_+200", up), ("ramp_+200", ramp)] {
        let got = csv_field(&csv, &format!("{scenario},"), "nii_12m");
        assert!(
            (got - want).abs() <= 0.5,
            "{scenario}: {got} vs {want}\n{csv}"
        );
    }
    let delta = csv_field(&csv, "parallel_+200,", "delta_nii");
    assert!((delta - (up - base)).abs() <= 1.0, "{delta}\n{csv}");
    let pct = csv_field(&csv, "parallel_+200,", "delta_pct_tier1");
    assert!(
        (pct - 100.0 * (up - base) / 100_000.0).abs() <= 0.005,
        "{pct}\n{csv}"
    );
}

/// `almanac report --out`: every report printed, written as CSV and Parquet,
/// and a manifest that names the inputs by SHA-256 and records the SQL run.
#[test]
fn report_pack_writes_results_and_an_audit_manifest() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), "200", "3");
    let out = tempfile::tempdir().unwrap();
    let run = almanac(&[
        "report",
        "--data",
        data.path().to_str().unwrap(),
        "--as-of",
        "2025-12-31",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let printed = text(&run.stdout);
    for report in [
        "duration",
        "eve_sensitivity",
        "irrbb_standardised",
        "key_rate_duration",
        "liquidity_gap",
        "nii_sensitivity",
        "repricing_gap",
    ] {
        assert!(
            printed.contains(&format!("== {report} (")),
            "{report} not printed"
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["as_of"], "2025-12-31");
    let instruments = std::fs::read(data.path().join("instruments.parquet")).unwrap();
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(&instruments)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(manifest["inputs"]["instruments.parquet"], digest.as_str());
    assert_eq!(manifest["settings"]["almanac.rate_floor"], "eu");
    let reports = manifest["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 7);
    for report in reports {
        assert!(report["sql"]
            .as_str()
            .unwrap()
            .contains("DATE '2025-12-31'"));
        for file in report["outputs"].as_array().unwrap() {
            assert!(
                out.path().join(file.as_str().unwrap()).is_file(),
                "{file} missing"
            );
        }
    }
    // The CSV written is the table printed: the repricing gap's buckets.
    let gap = std::fs::read_to_string(out.path().join("repricing_gap.csv")).unwrap();
    assert!(gap.starts_with("bucket,rate_sensitive_assets"), "{gap}");
    // Another as-of date with no curves is a clear error.
    let other = almanac(&[
        "report",
        "--data",
        data.path().to_str().unwrap(),
        "--as-of",
        "2024-06-30",
    ]);
    assert!(!other.status.success());
    assert!(
        text(&other.stderr).contains("no curve dated 2024-06-30"),
        "{}",
        text(&other.stderr)
    );
}

/// EVE of the zero-coupon bond: ΔEVE(parallel_up) = 1e6·(e^(−0.06t) − e^(−0.04t)),
/// t = 1826/365, a loss of that size against Tier 1 of 100,000 (an outlier).
#[test]
fn eve_report_on_a_zero_coupon_bond() {
    let dir = tempfile::tempdir().unwrap();
    one_bond_lake(dir.path(), ZERO_BOND);
    let out = almanac(&[
        "sql",
        "--data",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "-f",
        "sql/eve_sensitivity.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let t: f64 = 1826.0 / 365.0;
    let pv = |z: f64| 1e6 * (-z * t).exp();
    let delta = csv_field(&csv, "USD,parallel_up,", "delta_eve");
    assert!(
        (delta - (pv(0.06) - pv(0.04))).abs() <= 1.0,
        "{delta}\n{csv}"
    );
    let pct = csv_field(&csv, "USD,parallel_up,", "delta_pct_eve");
    assert!(
        (pct - 100.0 * (pv(0.06) - pv(0.04)) / pv(0.04)).abs() <= 0.005,
        "{pct}\n{csv}"
    );
    let aggregated = &csv[csv.find("scenario,basel_loss").expect("aggregation")..];
    // EU rule: a gain counts at half, as a negative loss (parallel_down at 2 %).
    let eu = csv_field(aggregated, "parallel_down,", "eu_loss");
    assert!(
        (eu + 0.5 * (pv(0.02) - pv(0.04))).abs() <= 1.0,
        "{eu}\n{csv}"
    );
    let loss = csv_field(aggregated, "parallel_up,", "basel_loss_pct_tier1");
    assert!(
        (loss - 100.0 * (pv(0.04) - pv(0.06)) / 100_000.0).abs() <= 0.01,
        "{loss}\n{csv}"
    );
    assert!(aggregated.contains("OUTLIER"), "{aggregated}");
}

/// Sanity: every asset portfolio of the demo bank loses value when all rates rise
/// 200 bp (its flows discounted at higher rates; floaters' coupons rise too, but
/// never by more than the discounting takes away).
#[test]
fn assets_lose_value_when_rates_rise() {
    let sql = "SELECT f.portfolio, SUM(CASE WHEN f.scenario = 'base' THEN f.total * d.discount_factor ELSE 0 END) AS base, \
                      SUM(CASE WHEN f.scenario <> 'base' THEN f.total * d.discount_factor ELSE 0 END) AS up \
               FROM cashflows('instruments', DATE '2025-12-31', 'parallel:+200') f \
               JOIN discount_factors('curves', DATE '2025-12-31', 'parallel:+200', 60) d \
                 ON f.scenario = d.scenario AND f.currency = d.currency AND f.pay_date = d.date \
               WHERE f.side = 'asset' GROUP BY f.portfolio ORDER BY 1";
    let out = almanac(&["sql", "--format", "csv", "-c", sql]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 7, "{csv}");
    for row in rows {
        let f: Vec<&str> = row.split(',').collect();
        let (base, up): (f64, f64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
        assert!(
            up < base,
            "{} gains value when rates rise: {base} -> {up}",
            f[0]
        );
    }
}

/// Sanity: a book of quarterly floaters has a short effective duration (time to
/// the next reset plus the spread's), far below its Macaulay duration.
#[test]
fn floaters_have_near_zero_effective_duration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let copy = format!(
        "COPY (SELECT * FROM instruments WHERE rate_type = 'floating' AND reset_months = 3) TO '{d}/instruments.parquet' STORED AS PARQUET;
         COPY (SELECT * FROM curves) TO '{d}/curves.parquet' STORED AS PARQUET;
         COPY (SELECT * FROM fx_rates) TO '{d}/fx_rates.parquet' STORED AS PARQUET;"
    );
    let out = almanac(&["sql", "-c", &copy]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = almanac(&[
        "sql",
        "--data",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "-f",
        "sql/duration.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let table = &csv[..csv.find("assets_value").unwrap_or(csv.len())];
    for portfolio in [
        "commercial_real_estate,asset",
        "wholesale_funding,liability",
    ] {
        let effective = csv_field(table, portfolio, "effective_duration");
        let macaulay = csv_field(table, portfolio, "macaulay_duration");
        assert!(
            effective.abs() < 0.5 && effective.abs() < macaulay / 3.0,
            "{portfolio}: {effective} vs {macaulay}\n{csv}"
        );
    }
}

/// The whole report pack on the demo bank against committed snapshots
/// (`tests/snapshots/demo`, written by `almanac report --out`): same rows and
/// labels, every number within one unit of its last printed decimal (summation
/// order across partitions may move a rounding).
#[test]
fn demo_bank_reports_match_their_snapshots() {
    let out = tempfile::tempdir().unwrap();
    let run = almanac(&["report", "--out", out.path().to_str().unwrap()]);
    assert!(run.status.success(), "{}", text(&run.stderr));
    let snapshots = repo().join("tests/snapshots/demo");
    let mut compared = 0;
    for entry in std::fs::read_dir(&snapshots).unwrap().flatten() {
        let want = std::fs::read_to_string(entry.path()).unwrap();
        let name = entry.file_name();
        let got = std::fs::read_to_string(out.path().join(&name))
            .unwrap_or_else(|_| panic!("{name:?} not written"));
        let (want_lines, got_lines): (Vec<&str>, Vec<&str>) =
            (want.lines().collect(), got.lines().collect());
        assert_eq!(want_lines.len(), got_lines.len(), "{name:?}:\n{got}");
        for (w, g) in want_lines.iter().zip(&got_lines) {
            for (wf, gf) in w.split(',').zip(g.split(',')) {
                match (wf.parse::<f64>(), gf.parse::<f64>()) {
                    (Ok(a), Ok(b)) => {
                        let decimals = wf.split('.').nth(1).map_or(0, str::len) as i32;
                        let unit = 10f64.powi(-decimals);
                        assert!(
                            (a - b).abs() <= unit + 1e-9 * a.abs(),
                            "{name:?}: {w} vs {g}"
                        );
                    }
                    _ => assert_eq!(wf, gf, "{name:?}: {w} vs {g}"),
                }
            }
        }
        compared += 1;
    }
    assert!(compared >= 9, "only {compared} snapshots");
}

/// A zero-coupon asset of 1,000,000 due 2030-12-31 and a non-maturity deposit of
/// 500,000 at 0 % running off over 12 months with no CPR. Contractually the
/// deposit is repayable overnight; behaviourally it is all repaid at the end of
/// its 12 months (2026-12-31, bucket '06 9M-1Y'). The bond pays in '11 4Y-5Y'.
#[test]
fn liquidity_gap_on_a_bond_and_a_deposit() {
    let dir = tempfile::tempdir().unwrap();
    one_bond_lake(
        dir.path(),
        "* FROM (VALUES \
           ('Z1', 'asset', 'USD', 1000000.0, DATE '2020-12-31', DATE '2030-12-31', 'fixed', 0.0, 0, 'bullet', 'ACT/365F', 0.0, 60), \
           ('N1', 'liability', 'USD', 500000.0, DATE '2019-01-01', CAST(NULL AS DATE), 'fixed', 0.0, 1, 'bullet', 'ACT/365F', 0.0, 12)) \
         AS t(instrument_id, side, currency, balance, start_date, maturity_date, rate_type, rate, payment_months, amortization, \
              day_count, prepayment_rate, behavioral_months)",
    );
    let out = almanac(&[
        "sql",
        "--data",
        dir.path().to_str().unwrap(),
        "--format",
        "csv",
        "-f",
        "sql/liquidity_gap.sql",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(
        rows,
        vec![
            "contractual,01 overnight,0.0,-500000.0,-500000.0,-500000.0",
            "contractual,11 4Y-5Y,1000000.0,0.0,1000000.0,500000.0",
            // The deposit's monthly payments of 0 (0 % interest, no run-off) still show their buckets.
            "behavioural,02 O/N-1M,0.0,0.0,0.0,0.0",
            "behavioural,03 1M-3M,0.0,0.0,0.0,0.0",
            "behavioural,04 3M-6M,0.0,0.0,0.0,0.0",
            "behavioural,05 6M-9M,0.0,0.0,0.0,0.0",
            "behavioural,06 9M-1Y,0.0,-500000.0,-500000.0,-500000.0",
            "behavioural,11 4Y-5Y,1000000.0,0.0,1000000.0,500000.0",
        ],
        "{csv}"
    );
}
