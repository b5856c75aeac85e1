//! Almanac's plans survive the wire: every table function's logical plan
//! (client to scheduler) and physical plan (scheduler to executor), encoded
//! with Almanac's codecs and decoded in a fresh session, gives the rows of the
//! original plan on the demo bank, row for row. A table that cannot travel is
//! refused by name.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::Float64Type;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};

use almanac_datafusion::codec::{AlmanacLogicalCodec, AlmanacPhysicalCodec};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo");

/// One query per table function and argument shape (filters pushed into the
/// instrument scan, a scenario table, presum, a view as the instrument table).
const QUERIES: &[&str] = &[
    "SELECT scenario, pay_date, SUM(total) AS total FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') \
     GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT instrument_id, pay_date, interest, principal FROM cashflows('instruments', DATE '2025-12-31') \
     WHERE currency = 'EUR' AND balance_as_of > 1000000 ORDER BY 1, 2",
    "SELECT scenario, SUM(total) AS total FROM cashflows('book_view', DATE '2025-12-31', 'parallel:+100,-100') \
     GROUP BY 1 ORDER BY 1",
    "SELECT scenario, SUM(total) AS total FROM cashflows('instruments', DATE '2025-12-31', 'my_shocks') \
     GROUP BY 1 ORDER BY 1",
    "SELECT reprice_date, kind, SUM(amount) AS amount FROM repricing('instruments', DATE '2025-12-31') \
     GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT scenario, period_start, SUM(interest) AS nii FROM nii_projection('instruments', DATE '2025-12-31', 12, 'bcbs') \
     GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT * FROM discount_factors('curves', DATE '2025-12-31', 'bcbs', 12) ORDER BY 1, 2, 4",
    "SELECT * FROM curve_points('curves', DATE '2025-12-31', 'keyrate:1') ORDER BY 1, 2, 4",
    "SELECT * FROM instrument_errors('bad_book', DATE '2025-12-31') ORDER BY 1, 2",
];

async fn session() -> SessionContext {
    let ctx = almanac_datafusion::new_session();
    almanac_datafusion::register_lake(&ctx, Path::new(DEMO))
        .await
        .expect("demo lake");
    for sql in [
        "CREATE VIEW book_view AS SELECT * FROM instruments WHERE side = 'asset'",
        // A scenario table as a view of VALUES cannot travel (it is in memory), so it is a
        // view over the curves file instead: +50 bp at every node of every curve.
        "CREATE VIEW my_shocks AS SELECT DISTINCT 'up50' AS scenario, curve_id, tenor, \
         50.0 AS shift_bp FROM curves",
        // Some rows break the contract (payment_months must be 0, 1, 3, 6 or 12).
        "CREATE VIEW bad_book AS SELECT * EXCLUDE (payment_months), \
         CASE WHEN balance > 5000000 THEN 7 ELSE payment_months END AS payment_months FROM instruments",
    ] {
        ctx.sql(sql).await.expect(sql).collect().await.expect(sql);
    }
    ctx
}

fn text(batches: &[RecordBatch]) -> String {
    pretty_format_batches(batches).expect("format").to_string()
}

/// The same rows: text exactly, floats to 1e-12 relative (a sum may add in another order).
fn assert_same(expected: &[RecordBatch], got: &[RecordBatch], sql: &str) {
    assert!(!expected.is_empty(), "{sql}: no result, nothing compared");
    let schema = expected[0].schema();
    let (a, b) = (
        concat_batches(&schema, expected).expect("concat"),
        concat_batches(&got.first().map_or(schema.clone(), |g| g.schema()), got).expect("concat"),
    );
    assert!(a.num_rows() > 0, "{sql}: no rows, nothing compared");
    assert_eq!(a.num_rows(), b.num_rows(), "{sql}: row counts");
    assert_eq!(a.num_columns(), b.num_columns(), "{sql}: columns");
    for c in 0..a.num_columns() {
        let (x, y) = (a.column(c), b.column(c));
        if let (Some(x), Some(y)) = (
            x.as_primitive_opt::<Float64Type>(),
            y.as_primitive_opt::<Float64Type>(),
        ) {
            for (r, (u, v)) in x.iter().zip(y.iter()).enumerate() {
                let (u, v) = (u.unwrap_or(f64::NAN), v.unwrap_or(f64::NAN));
                let same =
                    u.to_bits() == v.to_bits() || (u - v).abs() <= 1e-12 * u.abs().max(v.abs());
                assert!(same, "{sql}: column {c} row {r}: {u} vs {v}");
            }
        } else {
            assert_eq!(
                text(&[a.project(&[c]).expect("project")]),
                text(&[b.project(&[c]).expect("project")]),
                "{sql}: column {c}"
            );
        }
    }
}

async fn run_logical(ctx: &SessionContext, plan: LogicalPlan) -> Vec<RecordBatch> {
    ctx.execute_logical_plan(plan)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run")
}

async fn physical_plan(ctx: &SessionContext, sql: &str) -> Arc<dyn ExecutionPlan> {
    ctx.sql(sql)
        .await
        .expect(sql)
        .create_physical_plan()
        .await
        .expect(sql)
}

#[tokio::test]
async fn logical_plans_round_trip() {
    let client = session().await;
    // The receiving side has Almanac's functions but none of the client's tables or views.
    let scheduler = almanac_datafusion::new_session();
    let codec = AlmanacLogicalCodec::default();
    for sql in QUERIES {
        let plan = client.state().create_logical_plan(sql).await.expect(sql);
        let expected = run_logical(&client, plan.clone()).await;
        let bytes = logical_plan_to_bytes_with_extension_codec(&plan, &codec).expect(sql);
        let decoded =
            logical_plan_from_bytes_with_extension_codec(&bytes, &scheduler.task_ctx(), &codec)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let got = run_logical(&scheduler, decoded).await;
        assert_same(&expected, &got, sql);
    }
}

#[tokio::test]
async fn physical_plans_round_trip() {
    let scheduler = session().await;
    let executor = almanac_datafusion::new_session();
    let codec = AlmanacPhysicalCodec::default();
    for sql in QUERIES {
        let physical = physical_plan(&scheduler, sql).await;
        let expected = collect(Arc::clone(&physical), scheduler.task_ctx())
            .await
            .expect(sql);
        let bytes = physical_plan_to_bytes_with_extension_codec(physical, &codec).expect(sql);
        let decoded =
            physical_plan_from_bytes_with_extension_codec(&bytes, &executor.task_ctx(), &codec)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let got = collect(decoded, executor.task_ctx()).await.expect(sql);
        assert_same(&expected, &got, sql);
    }
}

#[tokio::test]
async fn the_presummed_operator_travels() {
    let scheduler = session().await;
    let sql = "SELECT scenario, pay_date, SUM(total) FROM cashflows('instruments', DATE '2025-12-31', 'bcbs') GROUP BY 1, 2";
    let physical = physical_plan(&scheduler, sql).await;
    let codec = AlmanacPhysicalCodec::default();
    let bytes = physical_plan_to_bytes_with_extension_codec(physical, &codec).expect(sql);
    let decoded = physical_plan_from_bytes_with_extension_codec(
        &bytes,
        &almanac_datafusion::new_session().task_ctx(),
        &codec,
    )
    .expect(sql);
    let shown = datafusion::physical_plan::displayable(decoded.as_ref())
        .indent(false)
        .to_string();
    assert!(
        shown.contains("CashflowsExec") && shown.contains("presum"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_table_in_memory_is_refused_by_name() {
    let client = session().await;
    client
        .sql("CREATE TABLE scratch_book AS SELECT * FROM instruments LIMIT 10")
        .await
        .expect("create")
        .collect()
        .await
        .expect("create");
    let plan = client
        .state()
        .create_logical_plan("SELECT SUM(total) FROM cashflows('scratch_book', DATE '2025-12-31')")
        .await
        .expect("plan");
    let error = logical_plan_to_bytes_with_extension_codec(&plan, &AlmanacLogicalCodec::default())
        .expect_err("a memory table cannot travel")
        .to_string();
    assert!(
        error.contains("'scratch_book' cannot be sent to the cluster"),
        "{error}"
    );
}
