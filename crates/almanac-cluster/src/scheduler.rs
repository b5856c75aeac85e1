//! `almanac scheduler`: Ballista's scheduler with Almanac's functions, settings,
//! optimizer rule and codecs.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use ballista_core::serde::protobuf::job_status::Status;
use ballista_core::serde::scheduler::ExecutorData;
use ballista_core::JobId;
use ballista_scheduler::cluster::{BallistaCluster, ClusterStateEvent};
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service};
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use futures::StreamExt;

use crate::{almanac_state, logical_codec, physical_codec, runtime, session_config, ClusterError};

/// What a scheduler listens on and how soon it gives up on a silent executor.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to listen on, such as `0.0.0.0:50050`.
    pub bind: String,
    /// The host name executors and clients reach this scheduler by.
    pub external_host: String,
    /// Seconds without a heartbeat after which an executor counts as lost and
    /// every query running then is cancelled (see `watch_for_lost_executors`).
    pub executor_timeout_seconds: u64,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            bind: "127.0.0.1:50050".into(),
            external_host: "localhost".into(),
            executor_timeout_seconds: 180,
        }
    }
}

/// Runs a scheduler until the process is stopped.
pub async fn run_scheduler(options: SchedulerOptions) -> Result<(), ClusterError> {
    let address: SocketAddr = options
        .bind
        .parse()
        .map_err(|e: std::net::AddrParseError| ClusterError::Address {
            what: "--bind",
            value: options.bind.clone(),
            reason: e.to_string(),
        })?;
    let config = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: options.external_host,
        // A backstop: Almanac's watchdog removes silent executors first.
        executor_timeout_seconds: options.executor_timeout_seconds + BALLISTA_EXPIRY_MARGIN_SECONDS,
        no_executors_grace_period_seconds: options.executor_timeout_seconds
            + BALLISTA_EXPIRY_MARGIN_SECONDS,
        override_config_producer: Some(Arc::new(session_config)),
        override_session_builder: Some(Arc::new(|config| {
            Ok(almanac_state(config, runtime(None)?))
        })),
        override_logical_codec: Some(logical_codec()),
        override_physical_codec: Some(physical_codec()),
        // A task that cannot fetch a map stage's output fails its job at once
        // instead of re-running the stage (see `watch_for_lost_executors`).
        stage_max_failures: 1,
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await?;
    let scheduler: Scheduler = create_scheduler(cluster.clone(), Arc::new(config)).await?;
    watch_for_lost_executors(&scheduler, cluster, options.executor_timeout_seconds).await?;
    start_grpc_service(address, scheduler).await?;
    Ok(())
}

type Scheduler = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// Seconds Ballista's own expiry of silent executors waits beyond Almanac's
/// watchdog (`watch_for_lost_executors`), so the watchdog acts first.
const BALLISTA_EXPIRY_MARGIN_SECONDS: u64 = 10;

/// Fails the queued and running jobs when an executor is lost, so their
/// clients get an error instead of an answer.
///
/// Why not let Ballista recover: Ballista 55 re-runs the lost tasks, but a
/// re-run stage numbers its tasks afresh and writes shuffle files under the
/// same names, and the locations a rolled-back stage published are never
/// withdrawn, so a re-run can read short or stale shuffle files without an
/// error. One run of `cluster.rs::a_lost_executor_never_gives_a_wrong_answer`
/// returned an EVE missing 18 % of the flows that way. For a bank a
/// failed query that is run again beats a wrong figure (docs/cluster.md).
///
/// Why a watchdog of its own instead of Ballista's expiry: on expiry
/// Ballista first rolls the jobs back, cancelling their tasks on the
/// surviving executors without giving back those tasks' slots (it does so
/// when their end is reported, but by then the jobs are cancelled), and the
/// next query then waits for a slot forever. Cancelling first gives every
/// slot back; removing the executor here, not through Ballista's expiry, skips
/// the rollback. Ballista's expiry stays as a backstop, a margin later.
async fn watch_for_lost_executors(
    scheduler: &Scheduler,
    cluster: BallistaCluster,
    timeout_seconds: u64,
) -> Result<(), ClusterError> {
    // Executors this scheduler removes itself: their removal events are not
    // Ballista's (see below).
    let ours: Arc<Mutex<HashSet<String>>> = Arc::default();
    // Removals by Ballista itself (an executor that refused a task): Ballista
    // rolled the jobs back first, so once they are cancelled and nothing
    // runs, the executors get their leaked slots back.
    let mut events = scheduler.cluster_state_events().await?;
    let (by_ballista, state, removed_by_us) = (scheduler.clone(), cluster.clone(), ours.clone());
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            let ClusterStateEvent::RemovedExecutor { executor_id } = event else {
                continue;
            };
            tracing::warn!(%executor_id, "executor removed from the cluster");
            if lock(&removed_by_us).remove(&executor_id) {
                continue;
            }
            cancel_unfinished_jobs(&by_ballista, &state, &executor_id).await;
            restore_slots_when_idle(&by_ballista, &state, &removed_by_us).await;
        }
    });
    let scheduler = scheduler.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tick.tick().await;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let silent = cluster
                .cluster_state()
                .executor_heartbeats()
                .into_values()
                .filter(|beat| now.saturating_sub(beat.timestamp) > timeout_seconds);
            for beat in silent {
                let executor_id = beat.executor_id;
                cancel_unfinished_jobs(&scheduler, &cluster, &executor_id).await;
                let reason = format!("no heartbeat for over {timeout_seconds} s");
                tracing::warn!(%executor_id, "executor lost ({reason}): removing it");
                lock(&ours).insert(executor_id.clone());
                if let Err(e) = scheduler
                    .state
                    .executor_manager
                    .remove_executor(&executor_id, Some(reason))
                    .await
                {
                    lock(&ours).remove(&executor_id);
                    tracing::error!(%executor_id, "cannot remove the lost executor: {e}");
                }
            }
        }
    });
    Ok(())
}

fn lock(set: &Mutex<HashSet<String>>) -> std::sync::MutexGuard<'_, HashSet<String>> {
    set.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Once no job is queued or running, gives every executor all its slots
/// back, by removing it and registering it again (registering sets its free
/// slots to its total; Ballista has no call that sets them). Needed after
/// Ballista removed an executor itself: it rolled the jobs back first,
/// cancelling their tasks on the other executors without giving back those
/// tasks' slots, and the next query would wait for a slot forever.
async fn restore_slots_when_idle(
    scheduler: &Scheduler,
    cluster: &BallistaCluster,
    removed_by_us: &Mutex<HashSet<String>>,
) {
    // Let the cancelled tasks end first.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    if unfinished_jobs(cluster)
        .await
        .is_some_and(|jobs| !jobs.is_empty())
    {
        return;
    }
    let state = cluster.cluster_state();
    for metadata in state.registered_executor_metadata().await {
        let executor_id = metadata.id.clone();
        let vcores = metadata.specification.vcores;
        let data = ExecutorData {
            executor_id: executor_id.clone(),
            total_vcores: vcores,
            available_vcores: vcores,
        };
        lock(removed_by_us).insert(executor_id.clone());
        let reason = Some("giving it back the slots of cancelled tasks".to_string());
        let restored = match scheduler
            .state
            .executor_manager
            .remove_executor(&executor_id, reason)
            .await
        {
            Ok(()) => state.register_executor(metadata, data).await,
            Err(e) => Err(e),
        };
        match restored {
            Ok(()) => tracing::info!(%executor_id, vcores, "executor's slots restored"),
            Err(e) => tracing::error!(%executor_id, "cannot restore the executor's slots: {e}"),
        }
    }
}

/// The jobs queued or running; `None` if they cannot be listed.
async fn unfinished_jobs(cluster: &BallistaCluster) -> Option<Vec<JobId>> {
    let jobs = cluster.job_state().get_all_jobs().await.ok()?;
    let mut unfinished = Vec::new();
    for job_id in jobs {
        let status = cluster.job_state().get_job_status(&job_id).await;
        if matches!(
            status.ok().flatten().and_then(|s| s.status),
            Some(Status::Queued(_) | Status::Running(_))
        ) {
            unfinished.push(job_id);
        }
    }
    Some(unfinished)
}

/// Cancels every queued or running job, `executor_id` being lost.
async fn cancel_unfinished_jobs(
    scheduler: &Scheduler,
    cluster: &BallistaCluster,
    executor_id: &str,
) {
    let Some(jobs) = unfinished_jobs(cluster).await else {
        tracing::error!(%executor_id, "executor lost; cannot list the jobs to cancel");
        return;
    };
    for job_id in jobs {
        tracing::warn!(
            %executor_id, %job_id,
            "executor lost: cancelling the job, whose answer could otherwise be incomplete; run it again"
        );
        if let Err(e) = scheduler.cancel_job(job_id.clone()).await {
            tracing::error!(%job_id, "cannot cancel the job: {e}");
        }
    }
}
