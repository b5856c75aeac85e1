//! `discount_factors()` builds only the days a hash join's build side can
//! match (the join's dynamic filter, read in `src/table/date_bounds.rs`): on
//! the demo bank the EVE and its neighbours give the same results with and
//! without, and far fewer discount-factor rows reach the join.

mod common;

use std::sync::Arc;

use common::{assert_same, plan, rows, session};
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::{collect, displayable, ExecutionPlan};
use datafusion::prelude::SessionContext;

const DYNAMIC: &str = "datafusion.optimizer.enable_join_dynamic_filter_pushdown";
const BOUNDED: &str = "dates bounded by the join";

/// The EVE of `sql/eve_sensitivity.sql`: flows summed by day, discounted by a join.
const EVE: &str = "SELECT f.scenario, f.currency, SUM(f.total * d.discount_factor) AS eve \
    FROM (SELECT scenario, UPPER(currency) AS currency, pay_date, SUM(total) AS total \
          FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') GROUP BY 1, 2, 3) f \
    JOIN discount_factors('curves', DATE '2025-12-31', 'bcbs', 200) d \
      ON f.scenario = d.scenario AND f.currency = d.currency AND f.pay_date = d.date \
    GROUP BY 1, 2 ORDER BY 1, 2";

async fn physical_plan(ctx: &SessionContext, sql: &str) -> Arc<dyn ExecutionPlan> {
    let df = ctx.sql(sql).await.expect("plan");
    df.create_physical_plan().await.expect("physical plan")
}

/// Rows of the discount factors that reached the operator above them.
async fn discount_factor_rows(ctx: &SessionContext, sql: &str) -> usize {
    fn above_curve_table(node: &Arc<dyn ExecutionPlan>) -> Option<usize> {
        let children = node.children();
        if children.iter().any(|c| c.name() == "CurveTableExec") {
            return node.metrics().and_then(|m| m.output_rows());
        }
        children.into_iter().find_map(above_curve_table)
    }
    let physical = physical_plan(ctx, sql).await;
    collect(Arc::clone(&physical), ctx.task_ctx())
        .await
        .expect("run");
    above_curve_table(&physical).expect("a node above CurveTableExec, with metrics")
}

/// One partition (the join collects its build side whole: a filter without
/// a `CASE`), two and three (a `CASE` on the probe row's hash partition).
#[tokio::test]
async fn discount_factors_bounded_by_the_join_give_the_same_eve() {
    for partitions in ["1", "2", "3"] {
        let threads = ("datafusion.execution.target_partitions", partitions);
        let on = session(&[(DYNAMIC, "true"), threads]).await;
        let off = session(&[(DYNAMIC, "false"), threads]).await;
        assert!(
            plan(&on, EVE).await.contains(BOUNDED),
            "{partitions}: not bounded"
        );
        assert!(!plan(&off, EVE).await.contains(BOUNDED), "setting ignored");
        assert_same(&rows(&on, EVE).await, &rows(&off, EVE).await, EVE);
        // 200 years of days, of which the book's flows reach about 35.
        let (bounded, all) = (
            discount_factor_rows(&on, EVE).await,
            discount_factor_rows(&off, EVE).await,
        );
        assert!(
            bounded * 3 < all,
            "{partitions} partitions: {bounded} of {all} discount factors built"
        );
        assert!(bounded > 0);
    }
}

#[tokio::test]
async fn joins_that_keep_every_discount_factor_still_see_every_day() {
    let on = session(&[(DYNAMIC, "true")]).await;
    let off = session(&[(DYNAMIC, "false")]).await;
    let flows = "(SELECT scenario, UPPER(currency) AS currency, pay_date, SUM(total) AS total \
                 FROM cashflows('instruments', DATE '2025-12-31', 'parallel:+100') GROUP BY 1, 2, 3)";
    let none = "(SELECT scenario, UPPER(currency) AS currency, pay_date, SUM(total) AS total \
                FROM cashflows('instruments', DATE '2025-12-31', 'parallel:+100') \
                WHERE portfolio = 'no such portfolio' GROUP BY 1, 2, 3)";
    let factors = "discount_factors('curves', DATE '2025-12-31', 'parallel:+100', 60)";
    let on_keys = "f.scenario = d.scenario AND f.currency = d.currency AND f.pay_date = d.date";
    for sql in [
        // Every discount factor, matched or not.
        format!(
            "SELECT COUNT(*) AS n, COUNT(f.total) AS matched, SUM(d.discount_factor) AS s \
             FROM {factors} d LEFT JOIN {flows} f ON {on_keys}"
        ),
        format!(
            "SELECT COUNT(*) AS n, SUM(d.discount_factor) AS s \
             FROM {flows} f RIGHT JOIN {factors} d ON {on_keys}"
        ),
        // Those no flow falls on.
        format!(
            "SELECT COUNT(*) AS n FROM {factors} d \
             WHERE NOT EXISTS (SELECT 1 FROM {flows} f WHERE {on_keys})"
        ),
        // The flows' days only, and a join whose build side is empty.
        format!("SELECT COUNT(*) AS n, SUM(f.total * d.discount_factor) AS pv FROM {flows} f JOIN {factors} d ON {on_keys}"),
        format!("SELECT COUNT(*) AS n FROM {none} f JOIN {factors} d ON {on_keys}"),
    ] {
        let (got, want) = (rows(&on, &sql).await, rows(&off, &sql).await);
        assert_same(&got, &want, &sql);
    }
}

/// A plan run again (a recursive query's step, a scalar subquery) is reset
/// first: the join makes no filter then, and the last run's bounds must not stay.
#[tokio::test]
async fn a_reset_plan_forgets_the_last_runs_bounds() {
    let ctx = session(&[(DYNAMIC, "true")]).await;
    let shown = |plan: &Arc<dyn ExecutionPlan>| displayable(plan.as_ref()).indent(true).to_string();
    let physical = physical_plan(&ctx, EVE).await;
    assert!(shown(&physical).contains(BOUNDED));
    let first = collect(Arc::clone(&physical), ctx.task_ctx())
        .await
        .expect("run");
    let reset = reset_plan_states(physical).expect("reset");
    assert!(!shown(&reset).contains(BOUNDED), "{}", shown(&reset));
    let again = collect(reset, ctx.task_ctx()).await.expect("run again");
    let concat = |b: &[datafusion::arrow::array::RecordBatch]| {
        datafusion::arrow::compute::concat_batches(&b[0].schema(), b).expect("concat")
    };
    assert_same(&concat(&again), &concat(&first), EVE);
}
