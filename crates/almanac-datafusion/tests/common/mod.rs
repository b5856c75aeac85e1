//! What the integration tests share: the demo bank in a session with some
//! settings, a query's rows and plan, and a comparison of two results.

use std::path::Path;

use datafusion::arrow::array::{Array, Float64Array, RecordBatch};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::execution::context::SessionContext;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo");

/// The demo bank, with each `SET key = value` of `settings`.
pub async fn session(settings: &[(&str, &str)]) -> SessionContext {
    let ctx = almanac_datafusion::new_session();
    almanac_datafusion::register_lake(&ctx, Path::new(DEMO))
        .await
        .expect("demo lake");
    for (key, value) in settings {
        ctx.sql(&format!("SET {key} = {value}"))
            .await
            .expect("set")
            .collect()
            .await
            .expect("set");
    }
    ctx
}

pub async fn rows(ctx: &SessionContext, sql: &str) -> RecordBatch {
    let df = ctx.sql(sql).await.expect("plan");
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.expect("run");
    concat_batches(&schema, &batches).expect("concat")
}

pub async fn plan(ctx: &SessionContext, sql: &str) -> String {
    let explained = rows(ctx, &format!("EXPLAIN {sql}")).await;
    (0..explained.num_rows())
        .map(|r| array_value_to_string(explained.column(1), r).expect("text"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The same rows; floats equal to 1e-9 relative (sums added in another order).
pub fn assert_same(a: &RecordBatch, b: &RecordBatch, sql: &str) {
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
