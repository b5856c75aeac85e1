//! Sums pushed into `cashflows()` (the presum rule) give the results of the
//! plain plan, on the demo bank, for every query shape the rule accepts; and
//! the rule leaves alone the shapes where summing early would be wrong.

mod common;

use common::{assert_same, plan, rows};
use datafusion::execution::context::SessionContext;

async fn session(presum: bool, multipliers: bool) -> SessionContext {
    let (presum, multipliers) = (presum.to_string(), multipliers.to_string());
    common::session(&[
        ("almanac.presum", &presum),
        ("almanac.behavioural_multipliers", &multipliers),
    ])
    .await
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

/// Over pre-summed rows, each row is its own partial state: no partial
/// aggregate hashes them again (the final one still merges the partitions).
#[tokio::test]
async fn pre_summed_rows_go_to_the_final_aggregate_unhashed() {
    let sql = "SELECT scenario, UPPER(currency) AS ccy, pay_date, SUM(total) AS total \
               FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') GROUP BY 1, 2, 3";
    let partials = |plan: &str| plan.matches("AggregateExec: mode=Partial").count();
    let on = plan(&session(true, false).await, sql).await;
    let off = plan(&session(false, false).await, sql).await;
    assert_eq!(partials(&off), 1, "{off}");
    assert_eq!(partials(&on), 0, "{on}");
    assert!(on.contains("mode=FinalPartitioned"), "{on}");
    assert!(on.contains("presum"), "{on}");
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

/// Summed inside the operator, where a batch's rows are validated before
/// they are summed out of order: a bad row still fails the query with its
/// instrument, column and value; in lenient mode it is left out, and the
/// other rows, before and after it in either order, are all summed.
#[tokio::test]
async fn bad_rows_fail_the_sums_or_are_left_out() {
    let sql = |table: &str| {
        format!(
            "SELECT scenario, pay_date, SUM(total) AS total \
             FROM cashflows('{table}', DATE '2025-12-31', 'bcbs') GROUP BY 1, 2 ORDER BY 1, 2"
        )
    };
    // Every tenth row again, with a payment step the contract rejects.
    let mixed = "CREATE TABLE mixed AS SELECT * FROM instruments UNION ALL \
                 SELECT * REPLACE ('BAD-' || instrument_id AS instrument_id, 7 AS payment_months) \
                 FROM instruments WHERE instrument_id LIKE '%0'";
    for lenient in ["false", "true"] {
        let ctx =
            common::session(&[("almanac.presum", "true"), ("almanac.lenient", lenient)]).await;
        ctx.sql(mixed)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("mixed book");
        let (summed, clean) = (sql("mixed"), sql("instruments"));
        assert!(
            plan(&ctx, &summed).await.contains("presum"),
            "{summed} not rewritten"
        );
        let result = ctx.sql(&summed).await.expect("plan").collect().await;
        if lenient == "false" {
            let error = result
                .expect_err("a bad row must fail the query")
                .to_string();
            assert!(
                error.contains("instrument 'BAD-") && error.contains("column payment_months = 7"),
                "{error}"
            );
        } else {
            result.expect("lenient sums");
            assert_same(
                &rows(&ctx, &summed).await,
                &rows(&ctx, &clean).await,
                &summed,
            );
        }
    }
}
