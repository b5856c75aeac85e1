//! Sums pushed into `cashflows()` (the presum rule) give the results of the
//! plain plan, on the demo bank, for every query shape the rule accepts; and
//! the rule leaves alone the shapes where summing early would be wrong.

use std::path::Path;

use datafusion::arrow::array::{Array, Float64Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::execution::context::SessionContext;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo");

async fn session(presum: bool, multipliers: bool) -> SessionContext {
    let ctx = almanac_datafusion::new_session();
    almanac_datafusion::register_lake(&ctx, Path::new(DEMO))
        .await
        .expect("demo lake");
    for (key, value) in [
        ("almanac.presum", presum),
        ("almanac.behavioural_multipliers", multipliers),
    ] {
        ctx.sql(&format!("SET {key} = {value}"))
            .await
            .expect("set")
            .collect()
            .await
            .expect("set");
    }
    ctx
}

async fn rows(ctx: &SessionContext, sql: &str) -> RecordBatch {
    let df = ctx.sql(sql).await.expect("plan");
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.expect("run");
    concat_batches(&schema, &batches).expect("concat")
}

async fn plan(ctx: &SessionContext, sql: &str) -> String {
    let explained = rows(ctx, &format!("EXPLAIN {sql}")).await;
    (0..explained.num_rows())
        .map(|r| array_value_to_string(explained.column(1), r).expect("text"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The same rows; floats equal to 1e-9 relative (sums added in another order).
fn assert_same(a: &RecordBatch, b: &RecordBatch, sql: &str) {
    assert_eq!(a.num_rows(), b.num_rows(), "{sql}: row counts");
    assert!(a.num_rows() > 0, "{sql}: no rows, nothing compared");
    for c in 0..a.num_columns() {
        let (x, y) = (a.column(c), b.column(c));
        match (
            x.as_any().downcast_ref::<Float64Array>(),
            y.as_any().downcast_ref::<Float64Array>(),
        ) {
            (Some(x), Some(y)) => {
                for r in 0..x.len() {
                    let (u, v) = (x.value(r), y.value(r));
                    assert!(
                        (u - v).abs() <= 1e-9 * v.abs().max(1.0),
                        "{sql}: row {r} column {c}: {u} vs {v}"
                    );
                }
            }
            _ => {
                for r in 0..x.len() {
                    assert_eq!(
                        array_value_to_string(x, r).expect("text"),
                        array_value_to_string(y, r).expect("text"),
                        "{sql}: row {r} column {c}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn sums_pushed_into_cashflows_equal_the_plain_plan() {
    let queries = [
        // The EVE shape: base and six shocks, floaters and prepayment included.
        "SELECT scenario, UPPER(currency) AS ccy, pay_date, SUM(total) AS total \
         FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        // Several sums, keys from instrument columns, an expression over keys.
        "SELECT side, portfolio, date_trunc('year', pay_date) AS y, SUM(interest) AS i, \
         SUM(principal) AS p, SUM(prepayment) AS q, SUM(balance) AS b \
         FROM cashflows('instruments', DATE '2025-12-31', 'parallel:+200') \
         WHERE currency = 'EUR' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        // Keys only, no sum: the days on which some flow falls.
        "SELECT scenario, pay_date FROM cashflows('instruments', DATE '2025-12-31', 'parallel:+100') \
         GROUP BY 1, 2 ORDER BY 1, 2",
        // No key at all.
        "SELECT SUM(total) AS t FROM cashflows('instruments', DATE '2025-12-31')",
        // One group per instrument: more sums than the operator keeps, so it flushes many times.
        "SELECT instrument_id, pay_date, SUM(total) AS t FROM cashflows('instruments', DATE '2025-12-31') \
         GROUP BY 1, 2 ORDER BY 1, 2",
    ];
    for multipliers in [false, true] {
        let (on, off) = (
            session(true, multipliers).await,
            session(false, multipliers).await,
        );
        for sql in queries {
            assert!(
                plan(&on, sql).await.contains("presum"),
                "{sql} not rewritten"
            );
            assert!(
                !plan(&off, sql).await.contains("presum"),
                "{sql}: setting ignored"
            );
            assert_same(&rows(&on, sql).await, &rows(&off, sql).await, sql);
        }
    }
}

#[tokio::test]
async fn shapes_where_early_sums_would_be_wrong_are_left_alone() {
    let on = session(true, false).await;
    for sql in [
        // A count counts flows, not sums.
        "SELECT scenario, COUNT(*) FROM cashflows('instruments', DATE '2025-12-31') GROUP BY 1",
        // Averages, and sums mixed with other aggregates.
        "SELECT scenario, AVG(total), SUM(total) FROM cashflows('instruments', DATE '2025-12-31') GROUP BY 1",
        // A rate is not additive.
        "SELECT scenario, SUM(rate) FROM cashflows('instruments', DATE '2025-12-31') GROUP BY 1",
        // A filter on a summed column needs each flow.
        "SELECT scenario, SUM(total) FROM cashflows('instruments', DATE '2025-12-31') \
         WHERE total > 0 GROUP BY 1",
        // Grouping by a summed column.
        "SELECT total, SUM(interest) FROM cashflows('instruments', DATE '2025-12-31') GROUP BY 1",
        // Keys other than scenario, pay_date and instrument columns.
        "SELECT accrual_end, SUM(total) FROM cashflows('instruments', DATE '2025-12-31') GROUP BY 1",
        "SELECT scenario, SUM(DISTINCT total) FROM cashflows('instruments', DATE '2025-12-31') GROUP BY 1",
    ] {
        let explained = plan(&on, sql).await;
        assert!(explained.contains("CashflowsExec"), "{sql}: {explained}");
        assert!(!explained.contains("presum"), "{sql} was rewritten:\n{explained}");
    }
}
