//! The Flight SQL service: each call authenticated, queries planned and run
//! by the [`Engine`], metadata answered from the session's catalog.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Mutex;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, XdbcTypeInfoData};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandGetCatalogs, CommandGetCrossReference,
    CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys, CommandGetPrimaryKeys,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandGetXdbcTypeInfo,
    CommandPreparedStatementQuery, CommandPreparedStatementUpdate, CommandStatementQuery,
    CommandStatementUpdate, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::LogicalPlan;
use futures::{stream, Stream, TryStreamExt};
use prost::bytes::Bytes;
use prost::Message;
use rand::RngCore;
use tonic::{Request, Response, Status, Streaming};

use crate::auth::Authenticator;
use crate::config::ServerConfig;
use crate::metadata;
use crate::query::{Engine, QueryLog, RunningQuery};
use crate::wire::wire_schema;

type DoGetStream = <AlmanacFlightSqlService as FlightService>::DoGetStream;

/// Prepared statements a server keeps at once; ADBC closes each after use,
/// so reaching this means a client leaks them.
const MAX_PREPARED_STATEMENTS: usize = 10_000;

/// A statement prepared by a client, with its bound parameters.
struct Prepared {
    user: String,
    sql: String,
    plan: LogicalPlan,
    params: Option<ParamValues>,
}

/// Almanac's Flight SQL service.
pub struct AlmanacFlightSqlService {
    engine: Engine,
    auth: Authenticator,
    sql_info: SqlInfoData,
    xdbc_types: XdbcTypeInfoData,
    prepared: Mutex<HashMap<Bytes, Prepared>>,
}

impl AlmanacFlightSqlService {
    /// A service over `ctx` (with the lake's tables and Almanac's functions registered).
    pub fn new(ctx: &SessionContext, config: &ServerConfig) -> Result<Self, Status> {
        let timeout_ms = config
            .limits
            .query_timeout
            .as_millis()
            .min(i32::MAX as u128) as i32;
        Ok(Self {
            engine: Engine::new(ctx, config.allow_writes, &config.limits),
            auth: Authenticator::new(config.credentials.clone()),
            sql_info: metadata::sql_info(ctx, !config.allow_writes, timeout_ms)?,
            xdbc_types: metadata::xdbc_types()?,
            prepared: Mutex::new(HashMap::new()),
        })
    }

    /// Queries executing now (for tests and monitoring).
    pub fn active_queries(&self) -> usize {
        self.engine.active_queries()
    }

    fn user<T>(&self, request: &Request<T>) -> Result<String, Status> {
        self.auth.user(request.metadata())
    }

    fn statements(&self) -> Result<std::sync::MutexGuard<'_, HashMap<Bytes, Prepared>>, Status> {
        self.prepared
            .lock()
            .map_err(|_| Status::internal("the prepared-statement table is poisoned"))
    }

    /// Plans a statement, logging it if planning fails.
    async fn plan_logged(&self, user: &str, sql: &str) -> Result<LogicalPlan, Status> {
        match self.engine.plan(sql).await {
            Ok(plan) => Ok(plan),
            Err(e) => {
                QueryLog::new(user, sql).failed(&e);
                Err(e)
            }
        }
    }

    /// The prepared statement `handle`, as (sql, plan, params), if `user` owns it.
    fn prepared_statement(
        &self,
        handle: &Bytes,
        user: &str,
    ) -> Result<(String, LogicalPlan, Option<ParamValues>), Status> {
        let statements = self.statements()?;
        match statements.get(handle) {
            Some(p) if p.user == user => Ok((p.sql.clone(), p.plan.clone(), p.params.clone())),
            _ => Err(Status::not_found(
                "unknown prepared statement (closed, or made by another user)",
            )),
        }
    }

    async fn run(
        &self,
        user: &str,
        sql: &str,
        plan: LogicalPlan,
        params: Option<ParamValues>,
    ) -> Result<Response<DoGetStream>, Status> {
        let query = self
            .engine
            .execute(plan, params, QueryLog::new(user, sql))
            .await;
        match query {
            Ok(query) => Ok(Response::new(encode(query))),
            Err(e) => {
                QueryLog::new(user, sql).failed(&e);
                Err(e)
            }
        }
    }
}

/// A running query as Flight data.
fn encode(query: RunningQuery) -> DoGetStream {
    let schema = query.schema();
    Box::pin(
        FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(query)
            .map_err(Status::from),
    )
}

/// One batch as Flight data (the answer of a metadata call).
fn batch_stream(batch: RecordBatch) -> DoGetStream {
    let schema = batch.schema();
    Box::pin(
        FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(stream::once(async move { Ok::<_, FlightError>(batch) }))
            .map_err(Status::from),
    )
}

/// The FlightInfo of a result whose ticket is `command` itself.
fn info(
    command: impl ProstMessageExt,
    descriptor: FlightDescriptor,
    schema: &Schema,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(command.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("encoding the result schema: {e}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor)
        .with_total_records(-1)
        .with_total_bytes(-1);
    Ok(Response::new(info))
}

fn schema_ipc(schema: &Schema) -> Result<Bytes, Status> {
    let message: IpcMessage = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e| Status::internal(format!("encoding a schema: {e}")))?;
    Ok(message.0)
}

/// The schema of a plan's result, as the client will receive it.
fn result_schema(plan: &LogicalPlan) -> SchemaRef {
    wire_schema(plan.schema().as_arrow())
}

/// The parameters of a prepared statement, in `$1, $2, …` order.
fn parameter_schema(plan: &LogicalPlan) -> Result<Schema, Status> {
    let types = plan.get_parameter_types().map_err(crate::query::status)?;
    let mut names: Vec<&String> = types.keys().collect();
    names.sort_by_key(|name| {
        name.trim_start_matches('$')
            .parse::<usize>()
            .unwrap_or(usize::MAX)
    });
    let fields: Vec<Field> = names
        .into_iter()
        .map(|name| {
            let data_type = types[name]
                .clone()
                .unwrap_or(datafusion::arrow::datatypes::DataType::Null);
            Field::new(name, crate::wire::wire_type(&data_type), true)
        })
        .collect();
    Ok(Schema::new(fields))
}

/// Reads the parameter rows a client sends with DoPut.
async fn parameter_rows(
    request: Request<PeekableFlightDataStream>,
) -> Result<Vec<Vec<ScalarValue>>, Status> {
    let stream = request
        .into_inner()
        .map_err(|status| FlightError::Tonic(Box::new(status)));
    let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(stream)
        .try_collect()
        .await
        .map_err(|e| Status::invalid_argument(format!("reading the parameters: {e}")))?;
    let mut rows = Vec::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let values = batch
                .columns()
                .iter()
                .map(|column| ScalarValue::try_from_array(column, row))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Status::invalid_argument(format!("parameter row {row}: {e}")))?;
            rows.push(values);
        }
    }
    Ok(rows)
}

#[tonic::async_trait]
impl FlightSqlService for AlmanacFlightSqlService {
    type FlightService = AlmanacFlightSqlService;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let (user, token) = self.auth.login(request.metadata())?;
        tracing::info!(target: "almanac::auth", user = %user, "login");
        let answer = HandshakeResponse {
            protocol_version: 0,
            payload: Bytes::from(token.clone()),
        };
        let output: Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>> =
            Box::pin(stream::iter(vec![Ok(answer)]));
        let mut response = Response::new(output);
        let header = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("the token is not a valid header"))?;
        response.metadata_mut().insert("authorization", header);
        Ok(response)
    }

    // Queries.

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let user = self.user(&request)?;
        let plan = self.plan_logged(&user, &query.query).await?;
        // The ticket carries the SQL: DoGet plans it again, so any server instance can serve it.
        let ticket = TicketStatementQuery {
            statement_handle: Bytes::from(query.query.clone()),
        };
        info(ticket, request.into_inner(), &result_schema(&plan))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let user = self.user(&request)?;
        let sql = String::from_utf8(ticket.statement_handle.to_vec())
            .map_err(|_| Status::invalid_argument("the statement ticket is not UTF-8 SQL"))?;
        let plan = self.plan_logged(&user, &sql).await?;
        self.run(&user, &sql, plan, None).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let user = self.user(&request)?;
        let plan = self.plan_logged(&user, &query.query).await?;
        let result = ActionCreatePreparedStatementResult {
            prepared_statement_handle: Bytes::new(),
            dataset_schema: schema_ipc(&result_schema(&plan))?,
            parameter_schema: schema_ipc(&parameter_schema(&plan)?)?,
        };
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let handle = Bytes::copy_from_slice(&bytes);
        let mut statements = self.statements()?;
        if statements.len() >= MAX_PREPARED_STATEMENTS {
            return Err(Status::resource_exhausted(format!(
                "{MAX_PREPARED_STATEMENTS} prepared statements are open: close some"
            )));
        }
        statements.insert(
            handle.clone(),
            Prepared {
                user,
                sql: query.query,
                plan,
                params: None,
            },
        );
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle,
            ..result
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let user = self.user(&request)?;
        let mut statements = self.statements()?;
        if statements
            .get(&query.prepared_statement_handle)
            .is_some_and(|p| p.user == user)
        {
            statements.remove(&query.prepared_statement_handle);
        }
        Ok(())
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let user = self.user(&request)?;
        let handle = query.prepared_statement_handle;
        self.prepared_statement(&handle, &user)?;
        let mut rows = parameter_rows(request).await?;
        if rows.len() != 1 {
            return Err(Status::invalid_argument(format!(
                "a query takes one row of parameters, not {}",
                rows.len()
            )));
        }
        let params = ParamValues::from(rows.remove(0));
        if let Some(statement) = self.statements()?.get_mut(&handle) {
            statement.params = Some(params);
        }
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let user = self.user(&request)?;
        let (_, plan, params) = self.prepared_statement(&query.prepared_statement_handle, &user)?;
        let plan = match params {
            Some(params) => plan
                .with_param_values(params)
                .map_err(crate::query::status)?,
            None => plan,
        };
        info(query, request.into_inner(), &result_schema(&plan))
    }

    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let user = self.user(&request)?;
        let (sql, plan, params) =
            self.prepared_statement(&query.prepared_statement_handle, &user)?;
        self.run(&user, &sql, plan, params).await
    }

    // Writes (refused when the server is read-only: planning checks).

    async fn do_put_statement_update(
        &self,
        command: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let user = self.user(&request)?;
        let plan = self.plan_logged(&user, &command.query).await?;
        self.engine
            .execute_update(plan, None, QueryLog::new(&user, &command.query))
            .await
    }

    async fn do_put_prepared_statement_update(
        &self,
        query: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let user = self.user(&request)?;
        let (sql, plan, _) = self.prepared_statement(&query.prepared_statement_handle, &user)?;
        let rows = parameter_rows(request).await?;
        if rows.is_empty() {
            return self
                .engine
                .execute_update(plan, None, QueryLog::new(&user, &sql))
                .await;
        }
        let mut count = 0;
        for row in rows {
            count += self
                .engine
                .execute_update(
                    plan.clone(),
                    Some(ParamValues::from(row)),
                    QueryLog::new(&user, &sql),
                )
                .await?;
        }
        Ok(count)
    }

    // Metadata.

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        info(query, request.into_inner(), &self.sql_info.schema())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let batch = query
            .into_builder(&self.sql_info)
            .build()
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(batch_stream(batch)))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        info(query, request.into_inner(), &self.xdbc_types.schema())
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let batch = self
            .xdbc_types
            .record_batch(query.data_type)
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(batch_stream(batch)))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = query.clone().into_builder().schema();
        info(query, request.into_inner(), &schema)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let batch = metadata::catalogs(&self.engine.session(), query)?;
        Ok(Response::new(batch_stream(batch)))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = metadata::db_schemas_schema(query.clone());
        info(query, request.into_inner(), &schema)
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let batch = metadata::db_schemas(&self.engine.session(), query)?;
        Ok(Response::new(batch_stream(batch)))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = query.clone().into_builder().schema();
        info(query, request.into_inner(), &schema)
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let batch = metadata::tables(&self.engine.session(), query).await?;
        Ok(Response::new(batch_stream(batch)))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        let schema = query.clone().into_builder().schema();
        info(query, request.into_inner(), &schema)
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        let mut builder = query.into_builder();
        for table_type in metadata::TABLE_TYPES {
            builder.append(table_type);
        }
        let batch = builder
            .build()
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(batch_stream(batch)))
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        info(
            query,
            request.into_inner(),
            &metadata::primary_keys_schema(),
        )
    }

    async fn do_get_primary_keys(
        &self,
        _query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        Ok(Response::new(batch_stream(RecordBatch::new_empty(
            metadata::primary_keys_schema(),
        ))))
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        info(
            query,
            request.into_inner(),
            &metadata::foreign_keys_schema(),
        )
    }

    async fn do_get_exported_keys(
        &self,
        _query: CommandGetExportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        Ok(Response::new(batch_stream(RecordBatch::new_empty(
            metadata::foreign_keys_schema(),
        ))))
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        info(
            query,
            request.into_inner(),
            &metadata::foreign_keys_schema(),
        )
    }

    async fn do_get_imported_keys(
        &self,
        _query: CommandGetImportedKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        Ok(Response::new(batch_stream(RecordBatch::new_empty(
            metadata::foreign_keys_schema(),
        ))))
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.user(&request)?;
        info(
            query,
            request.into_inner(),
            &metadata::foreign_keys_schema(),
        )
    }

    async fn do_get_cross_reference(
        &self,
        _query: CommandGetCrossReference,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.user(&request)?;
        Ok(Response::new(batch_stream(RecordBatch::new_empty(
            metadata::foreign_keys_schema(),
        ))))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
