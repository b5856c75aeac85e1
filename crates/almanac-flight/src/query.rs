//! Planning and running one client query under the server's rules: one
//! statement per request, `?` placeholders, read-only unless allowed, a slot
//! among the concurrent queries, a deadline, and a log line when it ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use arrow_flight::error::FlightError;
use datafusion::arrow::array::{Array, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionContext, SessionState};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use futures::{Stream, StreamExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tonic::Status;

use crate::config::Limits;
use crate::wire::{to_wire, wire_schema};

/// Runs client SQL against the server's session.
pub struct Engine {
    /// The server's session: every query gets a copy that shares its catalog
    /// (the lake's tables and the report views) and its memory pool.
    state: SessionState,
    allow_writes: bool,
    query_timeout: Duration,
    slots: Arc<Semaphore>,
    max_concurrent: usize,
    active: Arc<AtomicUsize>,
}

impl Engine {
    pub fn new(ctx: &SessionContext, allow_writes: bool, limits: &Limits) -> Self {
        Self {
            state: ctx.state(),
            allow_writes,
            query_timeout: limits.query_timeout,
            slots: Arc::new(Semaphore::new(limits.max_concurrent_queries)),
            max_concurrent: limits.max_concurrent_queries,
            active: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A session for one request.
    pub fn session(&self) -> SessionContext {
        SessionContext::new_with_state(self.state.clone())
    }

    /// Queries executing now.
    pub fn active_queries(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Plans one statement; refuses several, and writes on a read-only server.
    pub async fn plan(&self, sql: &str) -> Result<LogicalPlan, Status> {
        let count = DFParser::parse_sql(sql)
            .map_err(|e| status(DataFusionError::from(e)))?
            .len();
        if count != 1 {
            return Err(Status::invalid_argument(format!(
                "send one SQL statement per request (this one has {count}); the standard \
                 reports are views: SELECT * FROM reports.eve_sensitivity_1"
            )));
        }
        let sql = numbered_placeholders(sql)?;
        let deadline = Instant::now() + self.query_timeout;
        let plan = tokio::time::timeout_at(deadline, self.state.create_logical_plan(&sql))
            .await
            .map_err(|_| self.timed_out())?
            .map_err(status)?;
        self.sql_options().verify_plan(&plan).map_err(|e| {
            Status::permission_denied(format!(
                "{}: the server is read-only (start it with --allow-writes to allow DDL, DML and SET)",
                almanac_datafusion::user_message(&e)
            ))
        })?;
        Ok(plan)
    }

    fn sql_options(&self) -> SQLOptions {
        SQLOptions::new()
            .with_allow_ddl(self.allow_writes)
            .with_allow_dml(self.allow_writes)
            .with_allow_statements(self.allow_writes)
    }

    fn timed_out(&self) -> Status {
        Status::deadline_exceeded(format!(
            "the query ran longer than the server's limit of {} s (--query-timeout)",
            self.query_timeout.as_secs_f64()
        ))
    }

    /// Starts a planned query; its rows stream in the client's types.
    pub async fn execute(
        &self,
        plan: LogicalPlan,
        params: Option<ParamValues>,
        log: QueryLog,
    ) -> Result<RunningQuery, Status> {
        let deadline = Instant::now() + self.query_timeout;
        let permit = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| {
                Status::deadline_exceeded(format!(
                    "no query slot came free within the query timeout ({} queries run at \
                     once, --max-concurrent-queries)",
                    self.max_concurrent
                ))
            })?
            .map_err(|_| Status::unavailable("the server is shutting down"))?;
        let slot = Slot::take(permit, &self.active);
        let plan = match params {
            Some(params) => plan.with_param_values(params).map_err(status)?,
            None => plan,
        };
        let ctx = self.session();
        let start = async {
            let frame = ctx.execute_logical_plan(plan).await?;
            frame.execute_stream().await
        };
        let stream = tokio::time::timeout_at(deadline, start)
            .await
            .map_err(|_| self.timed_out())?
            .map_err(status)?;
        Ok(RunningQuery {
            schema: wire_schema(&stream.schema()),
            inner: stream,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            timeout: self.timed_out(),
            log,
            finished: false,
            _slot: slot,
        })
    }

    /// Runs a statement that changes data; the number of rows it wrote.
    pub async fn execute_update(
        &self,
        plan: LogicalPlan,
        params: Option<ParamValues>,
        log: QueryLog,
    ) -> Result<i64, Status> {
        let mut query = self.execute(plan, params, log).await?;
        let mut count: i64 = 0;
        while let Some(batch) = query.next().await {
            let batch = batch.map_err(Status::from)?;
            // DML returns one `count` column; DDL returns no rows.
            if let Some(counts) = batch
                .column_by_name("count")
                .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            {
                count += counts.iter().flatten().sum::<u64>() as i64;
            }
        }
        Ok(count)
    }
}

/// Rewrites `?` placeholders to `$1, $2, …` (DataFusion knows only the
/// numbered form); SQL without `?` is returned unchanged.
pub fn numbered_placeholders(sql: &str) -> Result<String, Status> {
    if !sql.contains('?') {
        return Ok(sql.to_string());
    }
    let tokens = Tokenizer::new(&GenericDialect {}, sql)
        .tokenize()
        .map_err(|e| Status::invalid_argument(format!("SQL syntax: {e}")))?;
    let question_marks = tokens
        .iter()
        .filter(|t| matches!(t, Token::Placeholder(p) if p == "?"))
        .count();
    if question_marks == 0 {
        return Ok(sql.to_string());
    }
    if tokens
        .iter()
        .any(|t| matches!(t, Token::Placeholder(p) if p != "?"))
    {
        return Err(Status::invalid_argument(
            "use either ? or $1, $2, … placeholders in one statement, not both",
        ));
    }
    let mut next = 0;
    let mut out = String::with_capacity(sql.len() + question_marks * 2);
    for token in tokens {
        match token {
            Token::Placeholder(p) if p == "?" => {
                next += 1;
                out.push_str(&format!("${next}"));
            }
            other => out.push_str(&other.to_string()),
        }
    }
    Ok(out)
}

/// The gRPC status for a DataFusion error, with the user-facing message.
pub fn status(e: DataFusionError) -> Status {
    let message = almanac_datafusion::user_message(&e);
    match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => Status::resource_exhausted(format!(
            "{message} (the server's memory limit, --memory-limit, is shared by all queries)"
        )),
        DataFusionError::Internal(_) => Status::internal(message),
        _ => Status::invalid_argument(message),
    }
}

/// A running query's slot: counted while held.
struct Slot {
    _permit: OwnedSemaphorePermit,
    active: Arc<AtomicUsize>,
}

impl Slot {
    fn take(permit: OwnedSemaphorePermit, active: &Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::SeqCst);
        Self {
            _permit: permit,
            active: Arc::clone(active),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What is logged of a query when it ends.
pub struct QueryLog {
    pub user: String,
    pub sql: String,
    pub started: Instant,
    pub rows: u64,
    pub outcome: &'static str,
    pub error: Option<String>,
}

impl QueryLog {
    pub fn new(user: &str, sql: &str) -> Self {
        Self {
            user: user.to_string(),
            sql: sql.split_whitespace().collect::<Vec<_>>().join(" "),
            started: Instant::now(),
            rows: 0,
            outcome: "cancelled",
            error: None,
        }
    }

    /// Writes the log line of a query that failed before it started.
    pub fn failed(mut self, error: &Status) {
        self.outcome = "error";
        self.error = Some(error.message().to_string());
    }
}

impl Drop for QueryLog {
    fn drop(&mut self) {
        let sql: String = self.sql.chars().take(500).collect();
        tracing::info!(
            target: "almanac::query",
            user = %self.user,
            outcome = self.outcome,
            rows = self.rows,
            duration_ms = self.started.elapsed().as_millis() as u64,
            error = self.error.as_deref().unwrap_or(""),
            sql = %sql,
        );
    }
}

/// The rows of a running query, in the client's types; stops at the deadline.
/// Dropping it (the client went away) cancels the query.
pub struct RunningQuery {
    inner: SendableRecordBatchStream,
    schema: SchemaRef,
    deadline: Pin<Box<Sleep>>,
    timeout: Status,
    log: QueryLog,
    finished: bool,
    _slot: Slot,
}

impl RunningQuery {
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn finish(&mut self, outcome: &'static str, error: Option<Status>) -> Option<FlightError> {
        self.finished = true;
        self.log.outcome = outcome;
        let error = error?;
        self.log.error = Some(error.message().to_string());
        Some(FlightError::Tonic(Box::new(error)))
    }
}

impl Stream for RunningQuery {
    type Item = Result<RecordBatch, FlightError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            let timeout = self.timeout.clone();
            return Poll::Ready(self.finish("timeout", Some(timeout)).map(Err));
        }
        match self.inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.finish("ok", None);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                Poll::Ready(self.finish("error", Some(status(e))).map(Err))
            }
            Poll::Ready(Some(Ok(batch))) => {
                self.log.rows += batch.num_rows() as u64;
                let schema = Arc::clone(&self.schema);
                match to_wire(&batch, &schema) {
                    Ok(batch) => Poll::Ready(Some(Ok(batch))),
                    Err(e) => Poll::Ready(
                        self.finish("error", Some(Status::internal(e.to_string())))
                            .map(Err),
                    ),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_become_numbers() {
        let sql = "SELECT * FROM t WHERE a = ? AND b > ? -- why?\n AND c = '?'";
        assert_eq!(
            numbered_placeholders(sql).expect("rewrite"),
            "SELECT * FROM t WHERE a = $1 AND b > $2 -- why?\n AND c = '?'"
        );
        let numbered = "SELECT $1, $2";
        assert_eq!(numbered_placeholders(numbered).expect("same"), numbered);
        assert!(numbered_placeholders("SELECT ?, $1").is_err());
    }
}
