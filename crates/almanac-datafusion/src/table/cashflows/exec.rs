//! `CashflowsExec`: the physical operator behind `cashflows()`. One output
//! partition per partition of the instrument scan, so both cores work.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use super::stream::{CashflowStream, CashflowsConfig};
use crate::market::{load_shared, MarketInputs, MarketSpec, SharedMarket};

#[derive(Debug)]
pub(crate) struct CashflowsExec {
    pub(crate) instruments: Arc<dyn ExecutionPlan>,
    pub(crate) market_inputs: MarketInputs,
    pub(crate) market_spec: MarketSpec,
    pub(crate) config: Arc<CashflowsConfig>,
    properties: Arc<PlanProperties>,
    market: SharedMarket,
}

impl CashflowsExec {
    pub fn new(
        instruments: Arc<dyn ExecutionPlan>,
        market_inputs: MarketInputs,
        market_spec: MarketSpec,
        config: Arc<CashflowsConfig>,
    ) -> Self {
        let partitions = instruments.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(config.schema.clone()),
            datafusion::physical_plan::Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        CashflowsExec {
            instruments,
            market_inputs,
            market_spec,
            config,
            properties: Arc::new(properties),
            market: SharedMarket::default(),
        }
    }
}

impl CashflowsExec {
    pub(crate) fn config(&self) -> &CashflowsConfig {
        &self.config
    }

    /// The same operator, summing the flagged output columns by the others.
    pub(crate) fn with_presum(&self, summed: Vec<bool>) -> CashflowsExec {
        let config = CashflowsConfig {
            mode: self.config.mode,
            as_of: self.config.as_of,
            lenient: self.config.lenient,
            columns: self.config.columns.clone(),
            schema: self.config.schema.clone(),
            batch_size: self.config.batch_size,
            horizon_months: self.config.horizon_months,
            presum: Some(summed),
        };
        CashflowsExec::new(
            Arc::clone(&self.instruments),
            self.market_inputs.clone(),
            self.market_spec.clone(),
            Arc::new(config),
        )
    }
}

impl DisplayAs for CashflowsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let scenarios = match &self.market_spec.scenarios {
            almanac_core::ScenarioSpec::Builtin(s) => s.len().to_string(),
            almanac_core::ScenarioSpec::Table(t) => format!("table {t}"),
        };
        write!(
            f,
            "CashflowsExec: as_of={}, scenarios={scenarios}, columns={}{}",
            self.market_spec.as_of,
            self.config.columns.len(),
            if self.config.presum.is_some() {
                ", presum"
            } else {
                ""
            }
        )
    }
}

impl ExecutionPlan for CashflowsExec {
    fn name(&self) -> &str {
        "CashflowsExec"
    }

    fn schema(&self) -> SchemaRef {
        self.config.schema.clone()
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        let mut children = vec![&self.instruments];
        children.extend(self.market_inputs.plans());
        children
    }

    /// Each partition reads its share of the instruments but the whole of
    /// every market table. Saying so keeps a planner that narrows a task's
    /// scans to its partition (Ballista) from handing a task a slice of the curves.
    fn required_input_distribution(&self) -> Vec<Distribution> {
        let mut required = vec![Distribution::UnspecifiedDistribution];
        required.extend(
            self.market_inputs
                .plans()
                .iter()
                .map(|_| Distribution::SinglePartition),
        );
        required
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 + self.market_inputs.plans().len() {
            return Err(DataFusionError::Internal(
                "CashflowsExec: wrong number of children".into(),
            ));
        }
        let instruments = children.remove(0);
        let market_inputs = self.market_inputs.with_plans(children);
        Ok(Arc::new(CashflowsExec::new(
            instruments,
            market_inputs,
            self.market_spec.clone(),
            self.config.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.instruments.execute(partition, context.clone())?;
        let config = self.config.clone();
        let market = load_shared(
            self.market.clone(),
            self.market_inputs.clone(),
            self.market_spec.clone(),
            context,
        );
        let stream = futures::stream::once(async move {
            let market = market.await?;
            CashflowStream::new(input, market, config)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.config.schema.clone(),
            stream.boxed(),
        )))
    }
}
