//! The standard report pack (`sql/*.sql`): loading the files for an as-of
//! date, and publishing each report's result sets as views in a schema, so a
//! BI tool that can only send one statement at a time (and cannot run a
//! script with `CREATE VIEW` on a read-only server) still finds every report
//! as a table: `SELECT * FROM reports.eve_sensitivity_1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{MemorySchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::ViewTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast;

/// The as-of date written in the report files; a run for another date replaces it.
pub const REPORT_DATE: &str = "2025-12-31";

/// One report file, with its as-of date substituted.
#[derive(Debug, Clone)]
pub struct Report {
    /// The file's stem: `eve_sensitivity`.
    pub name: String,
    pub path: PathBuf,
    /// The SQL to run: the file's text with `DATE '2025-12-31'` replaced by the as-of date.
    pub sql: String,
}

impl Report {
    /// The name of each result set: the report's name when it has one, else `name_1`, `name_2`, …
    /// (the same names `almanac report --out` gives its files).
    pub fn result_names(&self, count: usize) -> Vec<String> {
        if count == 1 {
            vec![self.name.clone()]
        } else {
            (1..=count).map(|i| format!("{}_{i}", self.name)).collect()
        }
    }
}

/// Every `.sql` file in `dir`, in name order, for the analysis date `as_of` (ISO).
pub fn load_reports(dir: &Path, as_of: &str) -> Result<Vec<Report>> {
    if almanac_core::Date::parse_iso(as_of).is_none() {
        return Err(DataFusionError::Plan(format!(
            "as-of date {as_of}: expected a date such as {REPORT_DATE}"
        )));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        DataFusionError::Plan(format!(
            "cannot read the reports folder {}: {e}",
            dir.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataFusionError::Plan(format!(
            "no .sql reports in {}",
            dir.display()
        )));
    }
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                DataFusionError::Plan(format!("cannot read {}: {e}", path.display()))
            })?;
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("report")
                .to_string();
            let sql = text.replace(&format!("DATE '{REPORT_DATE}'"), &format!("DATE '{as_of}'"));
            Ok(Report { name, path, sql })
        })
        .collect()
}

/// Registers every result set of every report as a view `schema.<result name>`
/// in `ctx`; returns the view names.
///
/// Each report runs in a scratch session that sees `ctx`'s tables, so its
/// helper views (`eve_flows`, …) stay private to it. `CREATE TABLE … AS` in a
/// report becomes a view there too: nothing is computed until a view is
/// queried, and each query sees the lake as it is then.
pub async fn register_report_views(
    ctx: &SessionContext,
    reports: &[Report],
    schema: &str,
) -> Result<Vec<String>> {
    let catalog_name = ctx
        .copied_config()
        .options()
        .catalog
        .default_catalog
        .clone();
    let catalog = ctx.catalog(&catalog_name).ok_or_else(|| {
        DataFusionError::Plan(format!("the session has no catalog {catalog_name}"))
    })?;
    let target = Arc::new(MemorySchemaProvider::new());
    catalog.register_schema(schema, target.clone())?;
    let mut names = Vec::new();
    for report in reports {
        let scratch = scratch_session(ctx).await?;
        let mut results = Vec::new();
        for statement in DFParser::parse_sql(&report.sql)? {
            if let Some(plan) = run_definition(&scratch, statement)
                .await
                .map_err(|e| e.context(format!("report {}", report.name)))?
            {
                results.push(plan);
            }
        }
        for (plan, name) in results.iter().zip(report.result_names(results.len())) {
            let view: Arc<dyn TableProvider> =
                Arc::new(ReportView(ViewTable::new(plan.clone(), None)));
            datafusion::catalog::SchemaProvider::register_table(
                target.as_ref(),
                name.clone(),
                view,
            )?;
            names.push(format!("{schema}.{name}"));
        }
    }
    Ok(names)
}

/// A session with `ctx`'s settings, functions and default-schema tables, whose
/// own catalog receives what a report defines.
async fn scratch_session(ctx: &SessionContext) -> Result<SessionContext> {
    let scratch = SessionContext::new_with_config(ctx.copied_config());
    crate::register_all(&scratch);
    let config = ctx.copied_config();
    let defaults = &config.options().catalog;
    let schema = ctx
        .catalog(&defaults.default_catalog)
        .and_then(|c| c.schema(&defaults.default_schema))
        .ok_or_else(|| DataFusionError::Plan("the session has no default schema".into()))?;
    for name in schema.table_names() {
        if let Some(table) = schema.table(&name).await? {
            scratch.register_table(name.as_str(), table)?;
        }
    }
    Ok(scratch)
}

/// Runs a definition (`CREATE VIEW`, `CREATE TABLE … AS` as a view) in the
/// scratch session; returns the plan of a statement that yields rows.
async fn run_definition(
    scratch: &SessionContext,
    statement: Statement,
) -> Result<Option<LogicalPlan>> {
    if define_as_view(scratch, &statement).await? {
        return Ok(None);
    }
    let state = scratch.state();
    let plan = state.statement_to_plan(statement).await?;
    if plan.schema().fields().is_empty() || matches!(plan, LogicalPlan::Ddl(_)) {
        scratch.execute_logical_plan(plan).await?.collect().await?;
        return Ok(None);
    }
    Ok(Some(plan))
}

/// Runs `CREATE [OR REPLACE] TABLE name AS query` as the definition of a view
/// named `name`; `false` (and nothing done) for any other statement.
///
/// The reports create tables for intermediate results. A view computes the
/// same rows when queried, and unlike a table filled in memory it can be sent
/// to a cluster with the query that reads it.
pub async fn define_as_view(ctx: &SessionContext, statement: &Statement) -> Result<bool> {
    let Statement::Statement(inner) = statement else {
        return Ok(false);
    };
    let ast::Statement::CreateTable(create) = inner.as_ref() else {
        return Ok(false);
    };
    let Some(query) = &create.query else {
        return Ok(false);
    };
    let query = Statement::Statement(Box::new(ast::Statement::Query(query.clone())));
    let plan = ctx.state().statement_to_plan(query).await?;
    let name = create.name.to_string();
    ctx.deregister_table(name.as_str())?;
    ctx.register_table(name.as_str(), Arc::new(ViewTable::new(plan, None)))?;
    Ok(true)
}

/// A report's result as a view that keeps the report's row order.
///
/// DataFusion inlines an ordinary view into the query as a subquery and then
/// drops its `ORDER BY` (a subquery has no order in SQL), so
/// `SELECT * FROM reports.duration_1` would come back in hash order. This
/// provider does not offer its plan for inlining: it plans the view whole
/// when scanned, so the report's final sort stays.
#[derive(Debug)]
pub(crate) struct ReportView(pub(crate) ViewTable);

#[async_trait]
impl TableProvider for ReportView {
    fn schema(&self) -> SchemaRef {
        self.0.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.0.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.0.scan(state, projection, filters, limit).await
    }
}
