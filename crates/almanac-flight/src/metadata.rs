//! The Flight SQL metadata calls BI tools make before any query: server
//! capabilities (`GetSqlInfo`), the catalog tree (`GetCatalogs`,
//! `GetDbSchemas`, `GetTables`), type info, and (empty) key lists.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_flight::sql::metadata::{
    GetCatalogsBuilder, GetDbSchemasBuilder, GetTablesBuilder, SqlInfoData, SqlInfoDataBuilder,
    XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTables, Nullable, Searchable, SqlInfo,
    SqlNullOrdering, SqlOuterJoinsSupportLevel, SqlSupportedCaseSensitivity, SupportedSqlGrammar,
    XdbcDataType,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::TableType;
use datafusion::execution::context::SessionContext;
use tonic::Status;

use crate::wire::wire_schema;

fn arrow_status(e: impl std::fmt::Display) -> Status {
    Status::internal(format!("building a metadata result: {e}"))
}

/// What the server tells clients about itself. Built once at start.
pub fn sql_info(
    ctx: &SessionContext,
    read_only: bool,
    timeout_ms: i32,
) -> Result<SqlInfoData, Status> {
    let mut b = SqlInfoDataBuilder::new();
    b.append(SqlInfo::FlightSqlServerName, "Almanac");
    b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    b.append(SqlInfo::FlightSqlServerArrowVersion, "59.3");
    b.append(SqlInfo::FlightSqlServerReadOnly, read_only);
    b.append(SqlInfo::FlightSqlServerSql, true);
    b.append(SqlInfo::FlightSqlServerSubstrait, false);
    b.append(SqlInfo::FlightSqlServerTransaction, 0i32); // none
    b.append(SqlInfo::FlightSqlServerCancel, false);
    b.append(SqlInfo::FlightSqlServerBulkIngestion, false);
    b.append(SqlInfo::FlightSqlServerIngestTransactionsSupported, false);
    b.append(SqlInfo::FlightSqlServerStatementTimeout, timeout_ms);
    b.append(SqlInfo::FlightSqlServerTransactionTimeout, 0i32);
    b.append(SqlInfo::SqlDdlCatalog, false);
    b.append(SqlInfo::SqlDdlSchema, !read_only);
    b.append(SqlInfo::SqlDdlTable, !read_only);
    // Unquoted identifiers are folded to lower case; quoted ones keep theirs.
    b.append(
        SqlInfo::SqlIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityLowercase as i32,
    );
    b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    b.append(
        SqlInfo::SqlQuotedIdentifierCase,
        SqlSupportedCaseSensitivity::SqlCaseSensitivityUnknown as i32,
    );
    b.append(SqlInfo::SqlAllTablesAreSelectable, true);
    // NULL is the largest value: last in ascending order, first in descending.
    b.append(
        SqlInfo::SqlNullOrdering,
        SqlNullOrdering::SqlNullsSortedHigh as i32,
    );
    b.append(SqlInfo::SqlKeywords, keywords());
    let functions = functions(ctx);
    b.append(SqlInfo::SqlNumericFunctions, functions.numeric);
    b.append(SqlInfo::SqlStringFunctions, functions.string);
    b.append(SqlInfo::SqlDatetimeFunctions, functions.datetime);
    b.append(SqlInfo::SqlSystemFunctions, functions.system);
    b.append(SqlInfo::SqlSearchStringEscape, "\\");
    b.append(SqlInfo::SqlExtraNameCharacters, "");
    b.append(SqlInfo::SqlSupportsColumnAliasing, true);
    b.append(SqlInfo::SqlNullPlusNullIsNull, true);
    b.append(SqlInfo::SqlSupportsTableCorrelationNames, true);
    b.append(SqlInfo::SqlSupportsDifferentTableCorrelationNames, false);
    b.append(SqlInfo::SqlSupportsExpressionsInOrderBy, true);
    b.append(SqlInfo::SqlSupportsOrderByUnrelated, true);
    // Bit masks: GROUP BY unrelated columns (1 << 1); minimum and core grammar; ANSI-92 entry level.
    b.append(SqlInfo::SqlSupportedGroupBy, 1i32 << 1);
    b.append(SqlInfo::SqlSupportsLikeEscapeClause, true);
    b.append(SqlInfo::SqlSupportsNonNullableColumns, true);
    b.append(
        SqlInfo::SqlSupportedGrammar,
        (1i32 << SupportedSqlGrammar::SqlMinimumGrammar as i32)
            | (1i32 << SupportedSqlGrammar::SqlCoreGrammar as i32),
    );
    b.append(SqlInfo::SqlAnsi92SupportedLevel, 1i32);
    b.append(SqlInfo::SqlSupportsIntegrityEnhancementFacility, false);
    b.append(
        SqlInfo::SqlOuterJoinsSupportLevel,
        SqlOuterJoinsSupportLevel::SqlFullOuterJoins as i32,
    );
    b.append(SqlInfo::SqlSchemaTerm, "schema");
    b.append(SqlInfo::SqlProcedureTerm, "procedure");
    b.append(SqlInfo::SqlCatalogTerm, "catalog");
    b.append(SqlInfo::SqlCatalogAtStart, true);
    b.append(SqlInfo::SqlSchemasSupportedActions, 0i32);
    b.append(SqlInfo::SqlCatalogsSupportedActions, 0i32);
    b.append(SqlInfo::SqlSupportedPositionedCommands, 0i32);
    b.append(SqlInfo::SqlSelectForUpdateSupported, false);
    b.append(SqlInfo::SqlStoredProceduresSupported, false);
    // Subqueries in comparisons, EXISTS, IN and quantified comparisons.
    b.append(SqlInfo::SqlSupportedSubqueries, 0b1111i32);
    b.append(SqlInfo::SqlCorrelatedSubqueriesSupported, true);
    b.append(SqlInfo::SqlSupportedUnions, 0b11i32); // UNION and UNION ALL
                                                    // 0: no fixed limit.
    for limit in [
        SqlInfo::SqlMaxBinaryLiteralLength,
        SqlInfo::SqlMaxCharLiteralLength,
        SqlInfo::SqlMaxColumnNameLength,
        SqlInfo::SqlMaxColumnsInGroupBy,
        SqlInfo::SqlMaxColumnsInIndex,
        SqlInfo::SqlMaxColumnsInOrderBy,
        SqlInfo::SqlMaxColumnsInSelect,
        SqlInfo::SqlMaxColumnsInTable,
        SqlInfo::SqlMaxConnections,
        SqlInfo::SqlMaxCursorNameLength,
        SqlInfo::SqlMaxIndexLength,
        SqlInfo::SqlDbSchemaNameLength,
        SqlInfo::SqlMaxProcedureNameLength,
        SqlInfo::SqlMaxCatalogNameLength,
        SqlInfo::SqlMaxRowSize,
        SqlInfo::SqlMaxStatementLength,
        SqlInfo::SqlMaxStatements,
        SqlInfo::SqlMaxTableNameLength,
        SqlInfo::SqlMaxTablesInSelect,
        SqlInfo::SqlMaxUsernameLength,
    ] {
        b.append(limit, 0i64);
    }
    b.append(SqlInfo::SqlMaxRowSizeIncludesBlobs, false);
    b.append(SqlInfo::SqlDefaultTransactionIsolation, 0i64);
    b.append(SqlInfo::SqlTransactionsSupported, false);
    b.append(SqlInfo::SqlSupportedTransactionsIsolationLevels, 0i32);
    b.append(SqlInfo::SqlDataDefinitionCausesTransactionCommit, false);
    b.append(SqlInfo::SqlDataDefinitionsInTransactionsIgnored, true);
    b.append(SqlInfo::SqlSupportedResultSetTypes, 1i32 << 1); // forward only
    b.append(SqlInfo::SqlBatchUpdatesSupported, false);
    b.append(SqlInfo::SqlSavepointsSupported, false);
    b.append(SqlInfo::SqlNamedParametersSupported, false);
    b.append(SqlInfo::SqlLocatorsUpdateCopy, false);
    b.append(SqlInfo::SqlStoredFunctionsUsingCallSyntaxSupported, false);
    b.build().map_err(arrow_status)
}

fn keywords() -> Vec<String> {
    datafusion::sql::sqlparser::keywords::ALL_KEYWORDS
        .iter()
        .map(|k| k.to_string())
        .collect()
}

#[derive(Default)]
struct FunctionLists {
    numeric: Vec<String>,
    string: Vec<String>,
    datetime: Vec<String>,
    system: Vec<String>,
}

/// The session's scalar functions, sorted into the lists ODBC/JDBC ask for by
/// their documentation section; Almanac's own (undocumented there) count as numeric.
fn functions(ctx: &SessionContext) -> FunctionLists {
    let state = ctx.state();
    let mut sets: [BTreeSet<String>; 4] = Default::default();
    for (name, udf) in state.scalar_functions() {
        let section = udf
            .documentation()
            .map(|d| d.doc_section.label)
            .unwrap_or("Math Functions");
        let index = if section.contains("Math") {
            0
        } else if section.contains("String") || section.contains("Regular") {
            1
        } else if section.contains("Time") {
            2
        } else {
            3
        };
        sets[index].insert(name.to_uppercase());
    }
    let [numeric, string, datetime, system] = sets.map(|s| s.into_iter().collect());
    FunctionLists {
        numeric,
        string,
        datetime,
        system,
    }
}

/// The SQL types a client may use in casts and DDL.
pub fn xdbc_types() -> Result<XdbcTypeInfoData, Status> {
    let mut b = XdbcTypeInfoDataBuilder::new();
    let types = [
        ("BOOLEAN", XdbcDataType::XdbcBit, None, None),
        ("TINYINT", XdbcDataType::XdbcTinyint, Some(3), None),
        ("SMALLINT", XdbcDataType::XdbcSmallint, Some(5), None),
        ("INTEGER", XdbcDataType::XdbcInteger, Some(10), None),
        ("BIGINT", XdbcDataType::XdbcBigint, Some(19), None),
        ("REAL", XdbcDataType::XdbcReal, Some(24), None),
        ("DOUBLE", XdbcDataType::XdbcDouble, Some(53), None),
        (
            "DECIMAL",
            XdbcDataType::XdbcDecimal,
            Some(38),
            Some(vec!["precision", "scale"]),
        ),
        (
            "VARCHAR",
            XdbcDataType::XdbcVarchar,
            None,
            Some(vec!["length"]),
        ),
        ("VARBINARY", XdbcDataType::XdbcVarbinary, None, None),
        ("DATE", XdbcDataType::XdbcDate, Some(10), None),
        ("TIME", XdbcDataType::XdbcTime, Some(18), None),
        ("TIMESTAMP", XdbcDataType::XdbcTimestamp, Some(29), None),
        ("INTERVAL", XdbcDataType::XdbcInterval, None, None),
    ];
    for (name, data_type, column_size, create_params) in types {
        let text = matches!(data_type, XdbcDataType::XdbcVarchar);
        let quoted = text
            || matches!(
                data_type,
                XdbcDataType::XdbcDate | XdbcDataType::XdbcTime | XdbcDataType::XdbcTimestamp
            );
        let numeric = column_size.is_some() && !quoted;
        b.append(XdbcTypeInfo {
            type_name: name.to_string(),
            data_type,
            column_size,
            literal_prefix: quoted.then(|| "'".to_string()),
            literal_suffix: quoted.then(|| "'".to_string()),
            create_params: create_params.map(|p| p.into_iter().map(String::from).collect()),
            nullable: Nullable::NullabilityNullable,
            case_sensitive: text,
            searchable: Searchable::Full,
            unsigned_attribute: numeric.then_some(false),
            fixed_prec_scale: false,
            auto_increment: numeric.then_some(false),
            local_type_name: Some(name.to_string()),
            minimum_scale: None,
            maximum_scale: None,
            sql_data_type: data_type,
            datetime_subcode: None,
            num_prec_radix: numeric.then_some(10),
            interval_precision: None,
        });
    }
    b.build().map_err(arrow_status)
}

pub fn catalogs(ctx: &SessionContext, _query: CommandGetCatalogs) -> Result<RecordBatch, Status> {
    let mut b = GetCatalogsBuilder::new();
    for name in sorted(ctx.catalog_names()) {
        b.append(name);
    }
    b.build().map_err(arrow_status)
}

pub fn db_schemas(ctx: &SessionContext, query: CommandGetDbSchemas) -> Result<RecordBatch, Status> {
    let mut b = query.into_builder();
    for (catalog, schema) in schema_names(ctx) {
        b.append(catalog, schema);
    }
    b.build().map_err(arrow_status)
}

/// Empty builder for the schema of a `GetDbSchemas` answer.
pub fn db_schemas_schema(query: CommandGetDbSchemas) -> SchemaRef {
    GetDbSchemasBuilder::from(query).schema()
}

pub async fn tables(
    ctx: &SessionContext,
    mut query: CommandGetTables,
) -> Result<RecordBatch, Status> {
    // Table types match whatever the case (JDBC and ODBC clients ask for "TABLE").
    let wanted: Vec<String> = std::mem::take(&mut query.table_types)
        .iter()
        .map(|t| t.to_lowercase())
        .collect();
    let mut b: GetTablesBuilder = query.into_builder();
    for (catalog_name, schema_name) in schema_names(ctx) {
        let Some(schema) = ctx
            .catalog(&catalog_name)
            .and_then(|c| c.schema(&schema_name))
        else {
            continue;
        };
        for table_name in sorted(schema.table_names()) {
            let table = schema
                .table(&table_name)
                .await
                .map_err(|e| Status::internal(format!("table {schema_name}.{table_name}: {e}")))?;
            let Some(table) = table else { continue };
            let kind = table_type(table.as_ref());
            if !wanted.is_empty() && !wanted.iter().any(|w| w == kind) {
                continue;
            }
            b.append(
                &catalog_name,
                &schema_name,
                &table_name,
                kind,
                &wire_schema(&table.schema()),
            )
            .map_err(arrow_status)?;
        }
    }
    b.build().map_err(arrow_status)
}

/// Table types in lower case, as the ADBC drivers for PostgreSQL and SQLite
/// report them and as the SQLAlchemy ADBC dialect expects ("table", "view");
/// filters on them ignore case.
pub const TABLE_TYPES: [&str; 3] = ["local temporary", "table", "view"];

fn table_type(table: &dyn TableProvider) -> &'static str {
    match table.table_type() {
        TableType::Base => "table",
        TableType::View => "view",
        TableType::Temporary => "local temporary",
    }
}

fn schema_names(ctx: &SessionContext) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for catalog_name in sorted(ctx.catalog_names()) {
        if let Some(catalog) = ctx.catalog(&catalog_name) {
            for schema_name in sorted(catalog.schema_names()) {
                out.push((catalog_name.clone(), schema_name));
            }
        }
    }
    out
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// `GetPrimaryKeys`: the columns of the answer (Almanac has no keys, so it is empty).
pub fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("catalog_name", true),
        utf8("db_schema_name", true),
        utf8("table_name", false),
        utf8("column_name", false),
        utf8("key_name", true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// `GetImportedKeys`, `GetExportedKeys` and `GetCrossReference`: the columns (always empty).
pub fn foreign_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("pk_catalog_name", true),
        utf8("pk_db_schema_name", true),
        utf8("pk_table_name", false),
        utf8("pk_column_name", false),
        utf8("fk_catalog_name", true),
        utf8("fk_db_schema_name", true),
        utf8("fk_table_name", false),
        utf8("fk_column_name", false),
        Field::new("key_sequence", DataType::Int32, false),
        utf8("fk_key_name", true),
        utf8("pk_key_name", true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
}
