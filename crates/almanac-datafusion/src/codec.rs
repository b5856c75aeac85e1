//! Almanac's plans on the wire, for a cluster (Apache Ballista) or any other
//! user of `datafusion-proto`.
//!
//! A distributed query is planned in three places: the client turns SQL into
//! a logical plan (a table function such as `cashflows()` becomes a table
//! provider there), the scheduler decodes that plan and plans it physically
//! (the provider's `scan` builds a `CashflowsExec`), and each executor
//! decodes the part of the physical plan it runs. [`AlmanacLogicalCodec`]
//! carries the providers and [`AlmanacPhysicalCodec`] the operators; each
//! wraps another codec (Ballista's) and hands it everything that is not
//! Almanac's.
//!
//! The wire form of a node is `MAGIC`, then an [`Envelope`]: the node's
//! settings as JSON (small, readable in a packet dump, and checked field by
//! field by serde), plus the nested tables (as `datafusion-proto` logical
//! plans) or the output schema. The tables an Almanac provider wraps (the
//! instruments, curves, scenarios) travel as ordinary DataFusion table scans:
//! Parquet and CSV listing tables and views encode themselves, so the
//! receiving side reads the same files. A table held in memory cannot travel
//! and is refused by name.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::{provider_as_source, source_as_provider, ViewTable};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::{
    AsLogicalPlan, DefaultLogicalExtensionCodec, LogicalExtensionCodec,
};
use datafusion_proto::physical_plan::{
    DefaultPhysicalExtensionCodec, PhysicalExtensionCodec, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::LogicalPlanNode;
use prost::Message;
use serde::{Deserialize, Serialize};

use almanac_core::scenario::parse_scenario_spec;
use almanac_core::{Date, RateFloor};

use crate::market::{MarketInputs, MarketSpec};
use crate::reports::ReportView;
use crate::table::cashflows::exec::CashflowsExec;
use crate::table::cashflows::stream::{CashflowsConfig, Mode};
use crate::table::cashflows::{CashflowsTable, Expansion, OutCol};
use crate::table::curve_tables::{CurveTable, CurveTableExec, Kind};
use crate::table::instrument_errors::InstrumentErrorsTable;
use crate::table::market_args::MarketTables;

/// Marks a buffer as Almanac's, so the wrapped codec never sees it.
const MAGIC: &[u8] = b"almanac/1\n";

#[derive(Clone, PartialEq, Message)]
struct Envelope {
    /// The node's settings: a [`ProviderWire`] or an [`ExecWire`] as JSON.
    #[prost(string, tag = "1")]
    settings: String,
    /// Logical side: the wrapped tables, each a `datafusion-proto` table scan.
    #[prost(bytes = "vec", repeated, tag = "2")]
    tables: Vec<Vec<u8>>,
    /// Physical side: the operator's output schema, as `datafusion-proto`'s `Schema`.
    #[prost(bytes = "vec", tag = "3")]
    schema: Vec<u8>,
}

impl Envelope {
    fn write(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(MAGIC);
        buf.extend(self.encode_to_vec());
    }

    /// The envelope in `buf`, or `None` when `buf` is not Almanac's.
    fn read(buf: &[u8]) -> Option<Result<Envelope>> {
        let body = buf.strip_prefix(MAGIC)?;
        Some(Envelope::decode(body).map_err(|e| wire_err(format!("bad envelope: {e}"))))
    }

    fn settings<T: for<'de> Deserialize<'de>>(&self) -> Result<T> {
        serde_json::from_str(&self.settings)
            .map_err(|e| wire_err(format!("bad settings {}: {e}", self.settings)))
    }
}

fn wire_err(message: String) -> DataFusionError {
    DataFusionError::Internal(format!("almanac codec: {message}"))
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| wire_err(e.to_string()))
}

/// The market arguments of a provider, without the tables.
#[derive(Debug, Serialize, Deserialize)]
struct MarketWire {
    as_of: i32,
    curves: String,
    scenarios: String,
    scenario_table: Option<String>,
    holidays: Option<String>,
    shock_sizes: Option<String>,
    floor: String,
    lenient: bool,
    behavioural_multipliers: bool,
}

#[derive(Debug, Serialize, Deserialize)]
enum ProviderWire {
    /// `cashflows()`, `repricing()`, `nii_projection()`: tables = instruments, then the market's.
    Expanding {
        expansion: Expansion,
        horizon_months: u32,
        instruments: String,
        market: MarketWire,
    },
    /// `instrument_errors()`: tables = instruments, then the market's.
    InstrumentErrors { market: MarketWire },
    /// `discount_factors()`, `curve_points()`: tables = the market's.
    Curves { kind: Kind, market: MarketWire },
    /// A published report (`reports.*`): tables = the view's plan.
    Report,
}

/// The market tables in wire order: curves, then those present of scenarios, holidays, shock sizes.
fn market_tables(market: &MarketTables) -> Vec<(&str, &Arc<dyn TableProvider>)> {
    let mut tables = vec![(market.curves_name.as_str(), &market.curves)];
    let optional = [
        (market.scenario_table_name(), &market.scenario_table),
        (market.holidays_name.as_deref(), &market.holidays),
        (market.shock_sizes_name.as_deref(), &market.shock_sizes),
    ];
    for (name, table) in optional {
        if let (Some(name), Some(table)) = (name, table) {
            tables.push((name, table));
        }
    }
    tables
}

fn market_wire(market: &MarketTables) -> MarketWire {
    MarketWire {
        as_of: market.as_of.0,
        curves: market.curves_name.clone(),
        scenarios: market.scenarios_arg.clone(),
        scenario_table: market.scenario_table_name().map(str::to_string),
        holidays: market.holidays_name.clone(),
        shock_sizes: market.shock_sizes_name.clone(),
        floor: market.floor.code().to_string(),
        lenient: market.lenient,
        behavioural_multipliers: market.behavioural_multipliers,
    }
}

/// Rebuilds the market arguments from the wire and the decoded tables (in wire order).
fn market_from_wire(
    wire: MarketWire,
    tables: &mut impl Iterator<Item = Arc<dyn TableProvider>>,
) -> Result<MarketTables> {
    let mut next = |what: &str| {
        tables
            .next()
            .ok_or_else(|| wire_err(format!("the {what} table is missing")))
    };
    let curves = next("curves")?;
    let scenario_table = wire
        .scenario_table
        .as_ref()
        .map(|_| next("scenarios"))
        .transpose()?;
    let holidays = wire
        .holidays
        .as_ref()
        .map(|_| next("holidays"))
        .transpose()?;
    let shock_sizes = wire
        .shock_sizes
        .as_ref()
        .map(|_| next("shock sizes"))
        .transpose()?;
    Ok(MarketTables {
        as_of: Date(wire.as_of),
        curves_name: wire.curves,
        curves,
        scenarios: parse_scenario_spec(&wire.scenarios).map_err(|e| wire_err(e.to_string()))?,
        scenarios_arg: wire.scenarios,
        scenario_table,
        holidays_name: wire.holidays,
        holidays,
        shock_sizes_name: wire.shock_sizes,
        shock_sizes,
        floor: RateFloor::parse(&wire.floor).map_err(|e| wire_err(e.to_string()))?,
        lenient: wire.lenient,
        behavioural_multipliers: wire.behavioural_multipliers,
    })
}

/// Encodes Almanac's table providers and hands every other node to `inner`.
#[derive(Debug)]
pub struct AlmanacLogicalCodec {
    inner: Arc<dyn LogicalExtensionCodec>,
}

impl AlmanacLogicalCodec {
    pub fn new(inner: Arc<dyn LogicalExtensionCodec>) -> Self {
        AlmanacLogicalCodec { inner }
    }

    /// A table as a `datafusion-proto` scan, encoded with this codec (so tables nest).
    fn encode_table(&self, name: &str, table: &Arc<dyn TableProvider>) -> Result<Vec<u8>> {
        let scan =
            LogicalPlanBuilder::scan(name, provider_as_source(Arc::clone(table)), None)?.build()?;
        self.encode_plan(&scan).map_err(|e| {
            DataFusionError::Plan(format!(
                "the table '{name}' cannot be sent to the cluster ({e}); only Parquet or CSV files and views of them can"
            ))
        })
    }

    fn encode_plan(&self, plan: &LogicalPlan) -> Result<Vec<u8>> {
        Ok(LogicalPlanNode::try_from_logical_plan(plan, self)?.encode_to_vec())
    }

    fn decode_plan(&self, bytes: &[u8], ctx: &TaskContext) -> Result<LogicalPlan> {
        LogicalPlanNode::decode(bytes)
            .map_err(|e| wire_err(format!("bad nested plan: {e}")))?
            .try_into_logical_plan(ctx, self)
    }

    fn decode_table(&self, bytes: &[u8], ctx: &TaskContext) -> Result<Arc<dyn TableProvider>> {
        match self.decode_plan(bytes, ctx)? {
            LogicalPlan::TableScan(scan) => source_as_provider(&scan.source),
            // A view arrives as its plan.
            view => Ok(Arc::new(ViewTable::new(view, None))),
        }
    }

    fn provider_wire(
        &self,
        table: &Arc<dyn TableProvider>,
    ) -> Result<Option<(ProviderWire, Vec<Vec<u8>>)>> {
        if let Some(t) = table.downcast_ref::<CashflowsTable>() {
            let mut tables = vec![self.encode_table(&t.instruments_name, &t.instruments)?];
            for (name, market) in market_tables(&t.market) {
                tables.push(self.encode_table(name, market)?);
            }
            let wire = ProviderWire::Expanding {
                expansion: t.expansion,
                horizon_months: t.horizon_months,
                instruments: t.instruments_name.clone(),
                market: market_wire(&t.market),
            };
            return Ok(Some((wire, tables)));
        }
        if let Some(t) = table.downcast_ref::<InstrumentErrorsTable>() {
            let mut tables = vec![self.encode_table("instruments", &t.instruments)?];
            for (name, market) in market_tables(&t.market) {
                tables.push(self.encode_table(name, market)?);
            }
            let wire = ProviderWire::InstrumentErrors {
                market: market_wire(&t.market),
            };
            return Ok(Some((wire, tables)));
        }
        if let Some(t) = table.downcast_ref::<CurveTable>() {
            let tables = market_tables(&t.market)
                .into_iter()
                .map(|(name, market)| self.encode_table(name, market))
                .collect::<Result<_>>()?;
            let wire = ProviderWire::Curves {
                kind: t.kind,
                market: market_wire(&t.market),
            };
            return Ok(Some((wire, tables)));
        }
        if let Some(view) = table.downcast_ref::<ReportView>() {
            let plan = self.encode_plan(view.0.logical_plan())?;
            return Ok(Some((ProviderWire::Report, vec![plan])));
        }
        Ok(None)
    }

    fn provider_from_wire(
        &self,
        envelope: Envelope,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let wire: ProviderWire = envelope.settings()?;
        let decode_tables = || -> Result<std::vec::IntoIter<Arc<dyn TableProvider>>> {
            let tables = envelope.tables.iter().map(|b| self.decode_table(b, ctx));
            Ok(tables.collect::<Result<Vec<_>>>()?.into_iter())
        };
        let provider: Arc<dyn TableProvider> = match wire {
            ProviderWire::Report => {
                let bytes = envelope
                    .tables
                    .first()
                    .ok_or_else(|| wire_err("a report without its plan".into()))?;
                let plan = self.decode_plan(bytes, ctx)?;
                Arc::new(ReportView(ViewTable::new(plan, None)))
            }
            ProviderWire::Expanding {
                expansion,
                horizon_months,
                instruments,
                market,
            } => {
                let mut tables = decode_tables()?;
                let input = tables
                    .next()
                    .ok_or_else(|| wire_err("the instruments table is missing".into()))?;
                let market = market_from_wire(market, &mut tables)?;
                let mut table = CashflowsTable::try_new(expansion, instruments, input, market)?;
                table.horizon_months = horizon_months;
                Arc::new(table)
            }
            ProviderWire::InstrumentErrors { market } => {
                let mut tables = decode_tables()?;
                let input = tables
                    .next()
                    .ok_or_else(|| wire_err("the instruments table is missing".into()))?;
                let market = market_from_wire(market, &mut tables)?;
                Arc::new(InstrumentErrorsTable::try_new(input, market)?)
            }
            ProviderWire::Curves { kind, market } => Arc::new(CurveTable::new(
                market_from_wire(market, &mut decode_tables()?)?,
                kind,
            )),
        };
        Ok(provider)
    }
}

impl Default for AlmanacLogicalCodec {
    fn default() -> Self {
        AlmanacLogicalCodec::new(Arc::new(DefaultLogicalExtensionCodec {}))
    }
}

impl LogicalExtensionCodec for AlmanacLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match Envelope::read(buf) {
            Some(envelope) => {
                let provider = self.provider_from_wire(envelope?, ctx)?;
                check_same_schema(table_ref, &schema, &provider.schema())?;
                Ok(provider)
            }
            None => self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match self.provider_wire(&node)? {
            Some((wire, tables)) => {
                let envelope = Envelope {
                    settings: to_json(&wire)?,
                    tables,
                    schema: Vec::new(),
                };
                envelope.write(buf);
                Ok(())
            }
            None => self.inner.try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// A provider rebuilt on the other side must have the schema the plan was made with
/// (the files may have changed in between).
fn check_same_schema(table: &TableReference, sent: &SchemaRef, rebuilt: &SchemaRef) -> Result<()> {
    let names = |s: &Schema| -> Vec<String> {
        s.fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), f.data_type()))
            .collect()
    };
    if names(sent) == names(rebuilt) {
        return Ok(());
    }
    Err(DataFusionError::Plan(format!(
        "{table}: the tables changed between planning and running: columns [{}] were planned, [{}] found",
        names(sent).join(", "),
        names(rebuilt).join(", ")
    )))
}

#[derive(Debug, Serialize, Deserialize)]
struct MarketSpecWire {
    as_of: i32,
    scenarios: String,
    floor: String,
    curves_table: String,
    behavioural_multipliers: bool,
    /// Which optional market inputs follow the curves among the children.
    has_scenarios: bool,
    has_holidays: bool,
    has_shock_sizes: bool,
}

impl MarketSpecWire {
    fn new(spec: &MarketSpec, inputs: &MarketInputs) -> MarketSpecWire {
        MarketSpecWire {
            as_of: spec.as_of.0,
            scenarios: spec.scenarios_arg.clone(),
            floor: spec.floor.code().to_string(),
            curves_table: spec.curves_table.clone(),
            behavioural_multipliers: spec.behavioural_multipliers,
            has_scenarios: inputs.scenarios.is_some(),
            has_holidays: inputs.holidays.is_some(),
            has_shock_sizes: inputs.shock_sizes.is_some(),
        }
    }

    fn spec(&self) -> Result<MarketSpec> {
        Ok(MarketSpec {
            as_of: Date(self.as_of),
            scenarios_arg: self.scenarios.clone(),
            scenarios: parse_scenario_spec(&self.scenarios).map_err(|e| wire_err(e.to_string()))?,
            floor: RateFloor::parse(&self.floor).map_err(|e| wire_err(e.to_string()))?,
            curves_table: self.curves_table.clone(),
            behavioural_multipliers: self.behavioural_multipliers,
        })
    }

    /// The market inputs from the children that carry them, in wire order.
    fn inputs(&self, children: &[Arc<dyn ExecutionPlan>]) -> Result<MarketInputs> {
        let expected = 1
            + usize::from(self.has_scenarios)
            + usize::from(self.has_holidays)
            + usize::from(self.has_shock_sizes);
        if children.len() != expected {
            return Err(wire_err(format!(
                "{} market inputs sent, {expected} expected",
                children.len()
            )));
        }
        let mut rest = children.iter().skip(1).cloned();
        Ok(MarketInputs {
            curves: Arc::clone(&children[0]),
            scenarios: if self.has_scenarios {
                rest.next()
            } else {
                None
            },
            holidays: if self.has_holidays { rest.next() } else { None },
            shock_sizes: if self.has_shock_sizes {
                rest.next()
            } else {
                None
            },
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
enum ExecWire {
    /// A `CashflowsExec`: children = the instrument scan, then the market inputs.
    Cashflows {
        market: MarketSpecWire,
        mode: Mode,
        as_of: i32,
        lenient: bool,
        columns: Vec<OutCol>,
        batch_size: usize,
        horizon_months: u32,
        presum: Option<Vec<bool>>,
    },
    /// A `CurveTableExec`: children = the market inputs.
    Curves {
        market: MarketSpecWire,
        kind: Kind,
        projection: Option<Vec<usize>>,
        batch_size: usize,
        #[serde(default = "one_partition")]
        partitions: usize,
    },
}

/// (Plans encoded before `CurveTableExec` had partitions had one.)
fn one_partition() -> usize {
    1
}

/// Encodes Almanac's operators and hands every other node to `inner`.
#[derive(Debug)]
pub struct AlmanacPhysicalCodec {
    inner: Arc<dyn PhysicalExtensionCodec>,
}

impl AlmanacPhysicalCodec {
    pub fn new(inner: Arc<dyn PhysicalExtensionCodec>) -> Self {
        AlmanacPhysicalCodec { inner }
    }
}

impl Default for AlmanacPhysicalCodec {
    fn default() -> Self {
        AlmanacPhysicalCodec::new(Arc::new(DefaultPhysicalExtensionCodec {}))
    }
}

fn encode_schema(schema: &Schema) -> Result<Vec<u8>> {
    Ok(datafusion_proto::protobuf::Schema::try_from(schema)?.encode_to_vec())
}

fn decode_schema(bytes: &[u8]) -> Result<SchemaRef> {
    let proto = datafusion_proto::protobuf::Schema::decode(bytes)
        .map_err(|e| wire_err(format!("bad schema: {e}")))?;
    Ok(Arc::new(Schema::try_from(&proto)?))
}

impl PhysicalExtensionCodec for AlmanacPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(envelope) = Envelope::read(buf) else {
            return self.inner.try_decode(buf, inputs, ctx, proto_converter);
        };
        let envelope = envelope?;
        let schema = decode_schema(&envelope.schema)?;
        match envelope.settings::<ExecWire>()? {
            ExecWire::Cashflows {
                market,
                mode,
                as_of,
                lenient,
                columns,
                batch_size,
                horizon_months,
                presum,
            } => {
                let (instruments, market_children) = inputs
                    .split_first()
                    .ok_or_else(|| wire_err("a CashflowsExec without inputs".into()))?;
                let config = CashflowsConfig {
                    mode,
                    as_of: Date(as_of),
                    lenient,
                    columns,
                    schema,
                    batch_size,
                    horizon_months,
                    presum,
                };
                Ok(Arc::new(CashflowsExec::new(
                    Arc::clone(instruments),
                    market.inputs(market_children)?,
                    market.spec()?,
                    Arc::new(config),
                )))
            }
            ExecWire::Curves {
                market,
                kind,
                projection,
                batch_size,
                partitions,
            } => Ok(Arc::new(CurveTableExec::new(
                market.inputs(inputs)?,
                market.spec()?,
                kind,
                projection,
                schema,
                (batch_size, partitions),
            ))),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let wire = if let Some(exec) = node.downcast_ref::<CashflowsExec>() {
            let config = &exec.config;
            ExecWire::Cashflows {
                market: MarketSpecWire::new(&exec.market_spec, &exec.market_inputs),
                mode: config.mode,
                as_of: config.as_of.0,
                lenient: config.lenient,
                columns: config.columns.clone(),
                batch_size: config.batch_size,
                horizon_months: config.horizon_months,
                presum: config.presum.clone(),
            }
        } else if let Some(exec) = node.downcast_ref::<CurveTableExec>() {
            ExecWire::Curves {
                market: MarketSpecWire::new(&exec.spec, &exec.inputs),
                kind: exec.kind,
                projection: exec.projection.clone(),
                batch_size: exec.batch_size,
                partitions: exec.partitions,
            }
        } else {
            return self.inner.try_encode(node, buf, proto_converter);
        };
        let envelope = Envelope {
            settings: to_json(&wire)?,
            tables: Vec::new(),
            schema: encode_schema(&node.schema())?,
        };
        envelope.write(buf);
        Ok(())
    }
}
