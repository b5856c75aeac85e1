//! The Flight SQL server in process, driven by arrow-flight's own
//! `FlightSqlServiceClient`: queries, prepared statements with both kinds of
//! placeholders, every metadata call, auth, read-only, limits, TLS. Expected
//! values come from running the same SQL on a plain DataFusion session.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use almanac_flight::{
    server_session, start, Credentials, Limits, RunningServer, ServerConfig, TlsFiles,
};
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{CommandGetDbSchemas, CommandGetTables, SqlInfo};
use arrow_flight::{FlightInfo, IpcMessage};
use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::execution::context::SessionContext;
use futures::{StreamExt, TryStreamExt};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::Code;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../datasets/demo");
const REPORTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../sql");

type Client = FlightSqlServiceClient<Channel>;

/// The demo bank with the report views, as the server and as a reference session.
async fn demo_session(limits: &Limits) -> SessionContext {
    let ctx = server_session(limits).expect("session");
    almanac_datafusion::register_lake(&ctx, Path::new(DEMO))
        .await
        .expect("demo lake");
    let reports = almanac_datafusion::reports::load_reports(Path::new(REPORTS), "2025-12-31")
        .expect("reports");
    almanac_datafusion::reports::register_report_views(&ctx, &reports, "reports")
        .await
        .expect("report views");
    ctx
}

fn users() -> Credentials {
    let mut credentials = Credentials::default();
    credentials
        .add_users("alice:wonderland", "test")
        .expect("users");
    credentials
}

async fn server_with(config: ServerConfig) -> (RunningServer, SessionContext) {
    let ctx = demo_session(&config.limits).await;
    let server = start(&ctx, &config).await.expect("server starts");
    (server, ctx)
}

fn local_config() -> ServerConfig {
    let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("addr"));
    config.credentials = users();
    config
}

async fn connect(server: &RunningServer) -> Client {
    let channel = Endpoint::from_shared(format!("http://{}", server.addr))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    FlightSqlServiceClient::new(channel)
}

async fn login(server: &RunningServer) -> Client {
    let mut client = connect(server).await;
    client
        .handshake("alice", "wonderland")
        .await
        .expect("login");
    client
}

/// Every row of every endpoint of `info`, in one batch.
async fn fetch(client: &mut Client, info: FlightInfo) -> Result<RecordBatch, FlightError> {
    let schema = Arc::new(info.clone().try_decode_schema()?);
    let mut batches = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint
            .ticket
            .ok_or_else(|| FlightError::protocol("no ticket"))?;
        let stream = client.do_get(ticket).await?;
        batches.extend(stream.try_collect::<Vec<_>>().await?);
    }
    let schema = batches.first().map_or(schema, |b| b.schema());
    Ok(concat_batches(&schema, &batches)?)
}

async fn query(client: &mut Client, sql: &str) -> Result<RecordBatch, FlightError> {
    let info = client.execute(sql.to_string(), None).await?;
    fetch(client, info).await
}

async fn local(ctx: &SessionContext, sql: &str) -> RecordBatch {
    let batches = ctx
        .sql(sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let schema = batches.first().map(|b| b.schema()).expect("rows");
    concat_batches(&schema, &batches).expect("concat")
}

fn code(e: &FlightError) -> Code {
    match e {
        FlightError::Tonic(status) => status.code(),
        _ => Code::Unknown,
    }
}

fn message(e: &FlightError) -> String {
    match e {
        FlightError::Tonic(status) => status.message().to_string(),
        other => other.to_string(),
    }
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<String> {
    let array = batch.column_by_name(column).expect("column");
    let array = array
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap_or_else(|| panic!("{column} is {:?}, not Utf8", array.data_type()));
    array.iter().map(|v| v.unwrap_or("").to_string()).collect()
}

fn float(batch: &RecordBatch, column: usize) -> f64 {
    let array = batch.column(column);
    if let Some(a) = array.as_any().downcast_ref::<Float64Array>() {
        return a.value(0);
    }
    array
        .as_any()
        .downcast_ref::<Int64Array>()
        .map(|a| a.value(0) as f64)
        .expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_return_what_datafusion_returns_with_strings_as_utf8() {
    let (server, ctx) = server_with(local_config()).await;
    let mut client = login(&server).await;

    let sql =
        "SELECT instrument_id, currency, balance FROM instruments ORDER BY instrument_id LIMIT 5";
    let got = query(&mut client, sql).await.expect("query");
    assert_eq!(got.schema().field(0).data_type(), &DataType::Utf8);
    let want = local(&ctx, sql).await;
    assert_eq!(strings(&got, "instrument_id"), {
        let cast = datafusion::arrow::compute::cast(want.column(0), &DataType::Utf8).expect("cast");
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "instrument_id",
                DataType::Utf8,
                true,
            )])),
            vec![cast],
        )
        .expect("batch");
        strings(&b, "instrument_id")
    });

    // A table function over Flight: the same sum of cash flows as in process.
    let sql = "SELECT SUM(total) FROM cashflows('instruments', DATE '2025-12-31')";
    let got = float(&query(&mut client, sql).await.expect("cashflows"), 0);
    let want = float(&local(&ctx, sql).await, 0);
    assert!((got - want).abs() <= 1e-9 * want.abs(), "{got} vs {want}");
    assert!(want.abs() > 1e6, "the demo bank has cash flows");

    // information_schema is on.
    let tables = query(
        &mut client,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
    .await
    .expect("information_schema");
    assert_eq!(
        strings(&tables, "table_name"),
        ["capital", "curves", "fx_rates", "instruments"]
    );
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_bind_question_marks_and_numbered_placeholders() {
    let (server, ctx) = server_with(local_config()).await;
    let mut client = login(&server).await;
    let threshold = 250_000.0;
    let want = float(
        &local(
            &ctx,
            &format!(
                "SELECT COUNT(*) FROM instruments WHERE balance > {threshold} AND currency = 'EUR'"
            ),
        )
        .await,
        0,
    );
    assert!(want > 0.0);
    for sql in [
        "SELECT COUNT(*) FROM instruments WHERE balance > ? AND currency = ?",
        "SELECT COUNT(*) FROM instruments WHERE balance > $1 AND currency = $2",
    ] {
        let mut statement = client
            .prepare(sql.to_string(), None)
            .await
            .expect("prepare");
        let parameters = statement
            .parameter_schema()
            .expect("parameter schema")
            .clone();
        assert_eq!(parameters.fields().len(), 2, "{sql}");
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("$1", DataType::Float64, true),
                Field::new("$2", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Float64Array::from(vec![threshold])) as ArrayRef,
                Arc::new(StringArray::from(vec!["EUR"])),
            ],
        )
        .expect("parameters");
        statement.set_parameters(batch).expect("bind");
        let info = statement.execute().await.expect("execute");
        let got = float(&fetch(&mut client, info).await.expect("rows"), 0);
        assert_eq!(got, want, "{sql}");
        statement.close().await.expect("close");
    }
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_calls_answer_what_bi_tools_ask() {
    let (server, _ctx) = server_with(local_config()).await;
    let mut client = login(&server).await;

    let info = client
        .get_sql_info(vec![
            SqlInfo::FlightSqlServerName,
            SqlInfo::FlightSqlServerReadOnly,
        ])
        .await
        .expect("sql info");
    let batch = fetch(&mut client, info).await.expect("sql info rows");
    assert_eq!(batch.num_rows(), 2);
    let all = client.get_sql_info(vec![]).await.expect("all sql info");
    let all = fetch(&mut client, all).await.expect("rows");
    assert!(
        all.num_rows() > 60,
        "a full set: {} entries",
        all.num_rows()
    );

    let info = client.get_catalogs().await.expect("catalogs");
    let catalogs = fetch(&mut client, info).await.expect("rows");
    assert_eq!(strings(&catalogs, "catalog_name"), ["datafusion"]);

    let info = client
        .get_db_schemas(CommandGetDbSchemas {
            catalog: None,
            db_schema_filter_pattern: Some("rep%".into()),
        })
        .await
        .expect("schemas");
    let schemas = fetch(&mut client, info).await.expect("rows");
    assert_eq!(strings(&schemas, "db_schema_name"), ["reports"]);

    let tables =
        |catalog: Option<&str>, table: Option<&str>, include_schema: bool| CommandGetTables {
            catalog: catalog.map(String::from),
            db_schema_filter_pattern: Some("public".into()),
            table_name_filter_pattern: table.map(String::from),
            table_types: vec![],
            include_schema,
        };
    for catalog in [None, Some("datafusion")] {
        let info = client
            .get_tables(tables(catalog, None, false))
            .await
            .expect("tables");
        let batch = fetch(&mut client, info).await.expect("rows");
        assert_eq!(
            strings(&batch, "table_name"),
            ["capital", "curves", "fx_rates", "instruments"],
            "catalog {catalog:?}"
        );
    }
    let info = client
        .get_tables(tables(Some("nowhere"), None, false))
        .await
        .expect("tables");
    assert_eq!(fetch(&mut client, info).await.expect("rows").num_rows(), 0);
    for (pattern, want) in [("cur%", "curves"), ("_nstruments", "instruments")] {
        let info = client
            .get_tables(tables(None, Some(pattern), false))
            .await
            .expect("tables");
        assert_eq!(
            strings(&fetch(&mut client, info).await.expect("rows"), "table_name"),
            [want]
        );
    }
    // With include_schema, each table's columns travel as an IPC schema, strings as Utf8.
    let info = client
        .get_tables(tables(None, Some("instruments"), true))
        .await
        .expect("tables");
    let batch = fetch(&mut client, info).await.expect("rows");
    let bytes = batch
        .column_by_name("table_schema")
        .expect("table_schema column")
        .as_any()
        .downcast_ref::<datafusion::arrow::array::BinaryArray>()
        .expect("binary")
        .value(0)
        .to_vec();
    let schema = Schema::try_from(IpcMessage(bytes.into())).expect("IPC schema");
    assert_eq!(
        schema
            .field_with_name("instrument_id")
            .expect("column")
            .data_type(),
        &DataType::Utf8
    );
    assert!(schema.field_with_name("maturity_date").is_ok());

    let info = client.get_table_types().await.expect("table types");
    let types = fetch(&mut client, info).await.expect("rows");
    assert_eq!(
        strings(&types, "table_type"),
        ["local temporary", "table", "view"]
    );
    // A JDBC-style filter in upper case still matches.
    let mut views = tables(None, None, false);
    views.db_schema_filter_pattern = Some("reports".into());
    views.table_types = vec!["VIEW".into()];
    let info = client.get_tables(views).await.expect("views");
    assert!(fetch(&mut client, info).await.expect("rows").num_rows() >= 7);

    let info = client
        .get_xdbc_type_info(arrow_flight::sql::CommandGetXdbcTypeInfo { data_type: None })
        .await
        .expect("types");
    let types = fetch(&mut client, info).await.expect("rows");
    assert!(strings(&types, "type_name").contains(&"VARCHAR".to_string()));

    for keys in [
        client
            .get_primary_keys(arrow_flight::sql::CommandGetPrimaryKeys {
                catalog: None,
                db_schema: None,
                table: "instruments".into(),
            })
            .await,
        client
            .get_imported_keys(arrow_flight::sql::CommandGetImportedKeys {
                catalog: None,
                db_schema: None,
                table: "instruments".into(),
            })
            .await,
        client
            .get_exported_keys(arrow_flight::sql::CommandGetExportedKeys {
                catalog: None,
                db_schema: None,
                table: "instruments".into(),
            })
            .await,
    ] {
        let info = keys.expect("keys info");
        assert_eq!(
            fetch(&mut client, info)
                .await
                .expect("empty, not an error")
                .num_rows(),
            0
        );
    }
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_refuses_wrong_passwords_and_missing_tokens() {
    let (server, _ctx) = server_with(local_config()).await;
    let mut client = connect(&server).await;
    // The client folds the handshake's status into its error text.
    let e = client.handshake("alice", "guess").await.unwrap_err();
    assert!(e.to_string().contains("wrong user name or password"), "{e}");
    let e = query(&mut client, "SELECT 1").await.unwrap_err();
    assert_eq!(code(&e), Code::Unauthenticated, "{e}");
    client.set_token("forged".into());
    let e = query(&mut client, "SELECT 1").await.unwrap_err();
    assert_eq!(code(&e), Code::Unauthenticated, "{e}");
    // The token from a good login works.
    let mut client = login(&server).await;
    assert_eq!(
        query(&mut client, "SELECT 1")
            .await
            .expect("query")
            .num_rows(),
        1
    );

    // An open server may only listen on loopback.
    let open = ServerConfig::new("0.0.0.0:0".parse().expect("addr"));
    assert!(open.check().unwrap_err().contains("without authentication"));
    let mut guarded = open.clone();
    guarded.credentials = users();
    assert!(guarded.check().is_ok());
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_writes_and_bad_queries_do_not_stop_the_server() {
    let (server, _ctx) = server_with(local_config()).await;
    let mut client = login(&server).await;
    for sql in [
        "CREATE TABLE t AS SELECT 1 AS x",
        "CREATE VIEW v AS SELECT 1 AS x",
        "COPY (SELECT 1) TO '/tmp/almanac-should-not-exist.parquet'",
        "SET almanac.rate_floor = 'none'",
    ] {
        let e = query(&mut client, sql).await.unwrap_err();
        assert_eq!(code(&e), Code::PermissionDenied, "{sql}: {e}");
        assert!(message(&e).contains("read-only"), "{e}");
    }
    let e = client
        .execute_update("DROP TABLE instruments".into(), None)
        .await
        .unwrap_err();
    assert_eq!(code(&e), Code::PermissionDenied, "{e}");
    for (sql, needle) in [
        ("SELEC 1", "Expected"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT 1; SELECT 2", "one SQL statement"),
        (
            "SELECT * FROM cashflows('instruments', DATE '2025-12-31', 'no_such_scenario')",
            "no_such_scenario",
        ),
    ] {
        let e = query(&mut client, sql).await.unwrap_err();
        assert_eq!(code(&e), Code::InvalidArgument, "{sql}: {e}");
        assert!(message(&e).contains(needle), "{sql}: {}", message(&e));
    }
    assert_eq!(
        query(&mut client, "SELECT 1")
            .await
            .expect("still serving")
            .num_rows(),
        1
    );
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_when_allowed() {
    let mut config = local_config();
    config.allow_writes = true;
    let (server, _ctx) = server_with(config).await;
    let mut client = login(&server).await;
    client
        .execute_update("CREATE TABLE scratch (x BIGINT)".into(), None)
        .await
        .expect("create");
    let inserted = client
        .execute_update("INSERT INTO scratch VALUES (1), (2), (3)".into(), None)
        .await
        .expect("insert");
    assert_eq!(inserted, 3);
    let total = query(&mut client, "SELECT SUM(x) FROM scratch")
        .await
        .expect("sum");
    assert_eq!(float(&total, 0), 6.0);
    server.stop().await.expect("stop");
}

/// A query that streams many batches for seconds in a debug build.
const HEAVY: &str = "SELECT * FROM cashflows('instruments', DATE '2025-12-31', 'bcbs')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_and_timeout_fail_one_query_cleanly() {
    let mut config = local_config();
    config.limits.memory_bytes = Some(4 << 20);
    let (server, _ctx) = server_with(config).await;
    let mut client = login(&server).await;
    // Collecting every cash flow into one array needs far more than 4 MiB.
    let e = query(
        &mut client,
        "SELECT array_agg(total) FROM cashflows('instruments', DATE '2025-12-31', 'bcbs')",
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), Code::ResourceExhausted, "{e}");
    assert!(message(&e).contains("--memory-limit"), "{e}");
    assert_eq!(
        query(&mut client, "SELECT 1")
            .await
            .expect("still serving")
            .num_rows(),
        1
    );
    server.stop().await.expect("stop");

    let mut config = local_config();
    config.limits.query_timeout = Duration::from_millis(100);
    let (server, _ctx) = server_with(config).await;
    let mut client = login(&server).await;
    let started = Instant::now();
    // Every key-rate scenario's flows over the whole book, each used a hundred
    // times: about 10 s here. (Counting the flows alone came to take 0.18 s,
    // too close to the timeout once the projection got faster.)
    match query(
        &mut client,
        "SELECT SUM(total * value) FROM cashflows('instruments', DATE '2025-12-31', 'keyrate:1') \
         CROSS JOIN generate_series(1, 100)",
    )
    .await
    {
        Err(e) => {
            assert_eq!(code(&e), Code::DeadlineExceeded, "{e}");
            assert!(message(&e).contains("--query-timeout"), "{e}");
            assert!(started.elapsed() < Duration::from_secs(10));
        }
        Ok(_) => panic!("the heavy query finished within 0.1 s: make it heavier"),
    }
    assert_eq!(
        query(&mut client, "SELECT 1")
            .await
            .expect("still serving")
            .num_rows(),
        1
    );
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_cancels_its_query_and_frees_its_slot() {
    let mut config = local_config();
    config.limits.max_concurrent_queries = 1;
    let (server, _ctx) = server_with(config).await;
    let mut client = login(&server).await;
    let info = client.execute(HEAVY.into(), None).await.expect("plan");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let mut stream = client.do_get(ticket).await.expect("stream");
    let first = stream.next().await.expect("a batch").expect("ok");
    assert!(first.num_rows() > 0);
    assert_eq!(server.service.active_queries(), 1);
    drop(stream);
    drop(client);
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.service.active_queries() > 0 {
        assert!(
            Instant::now() < deadline,
            "the abandoned query still holds its slot"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // With one slot, this only runs because the abandoned query was cancelled.
    let mut client = login(&server).await;
    assert_eq!(
        query(&mut client, "SELECT 1")
            .await
            .expect("slot free")
            .num_rows(),
        1
    );
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_views_equal_the_report_scripts() {
    let (server, ctx) = server_with(local_config()).await;
    let mut client = login(&server).await;
    let got = query(&mut client, "SELECT * FROM reports.repricing_gap")
        .await
        .expect("view");
    // The script, run statement by statement as the CLI does.
    let script =
        std::fs::read_to_string(Path::new(REPORTS).join("repricing_gap.sql")).expect("sql");
    let mut last = None;
    for statement in datafusion::sql::parser::DFParser::parse_sql(&script).expect("parse") {
        let plan = ctx
            .state()
            .statement_to_plan(statement)
            .await
            .expect("plan");
        let batches = ctx
            .execute_logical_plan(plan)
            .await
            .expect("df")
            .collect()
            .await
            .expect("run");
        if let Some(first) = batches.first() {
            last = Some(concat_batches(&first.schema(), &batches).expect("concat"));
        }
    }
    let want = last.expect("the script returns rows");
    assert_eq!(got.num_rows(), want.num_rows());
    assert!(got.num_rows() > 5);
    assert_eq!(strings(&got, "bucket"), {
        let cast = datafusion::arrow::compute::cast(want.column(0), &DataType::Utf8).expect("cast");
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "bucket",
                DataType::Utf8,
                true,
            )])),
            vec![cast],
        )
        .expect("batch");
        strings(&b, "bucket")
    });
    for column in 1..want.num_columns() {
        let a = got
            .column(column)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64");
        let b = want
            .column(column)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("f64");
        for row in 0..a.len() {
            assert!(
                (a.value(row) - b.value(row)).abs() <= 1e-9 * b.value(row).abs().max(1.0),
                "column {column} row {row}: {} vs {}",
                a.value(row),
                b.value(row)
            );
        }
    }
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls() {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let dir = tempfile::tempdir().expect("tmp");
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, key.cert.pem()).expect("write");
    std::fs::write(&key_path, key.signing_key.serialize_pem()).expect("write");
    let mut config = local_config();
    config.tls = Some(TlsFiles {
        cert: cert_path,
        key: key_path,
    });
    let (server, _ctx) = server_with(config).await;
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(key.cert.pem()))
        .domain_name("localhost");
    let channel = Endpoint::from_shared(format!("https://localhost:{}", server.addr.port()))
        .expect("url")
        .tls_config(tls)
        .expect("tls")
        .connect()
        .await
        .expect("TLS connect");
    let mut client = FlightSqlServiceClient::new(channel);
    client
        .handshake("alice", "wonderland")
        .await
        .expect("login over TLS");
    assert_eq!(
        query(&mut client, "SELECT 1")
            .await
            .expect("query")
            .num_rows(),
        1
    );
    // Plain text to a TLS server fails.
    let plain = Endpoint::from_shared(format!("http://{}", server.addr))
        .expect("url")
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut client = FlightSqlServiceClient::new(channel);
        assert!(client.handshake("alice", "wonderland").await.is_err());
    }
    server.stop().await.expect("stop");
}
