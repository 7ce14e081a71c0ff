//! The engine: turns a `Plan` into running visitors against a target, and owns the run's
//! lifecycle: start the target, start recording, drive the load, stop everything (on time,
//! on Ctrl-C, or on SIGTERM), and hand the totals back. It knows no message formats.

pub mod driver;
mod groups;
pub mod limits;
pub mod preflight;
pub mod start;
pub mod steer;
pub mod target;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::{self, AgentContext};
use crate::checks::Ledger;
use crate::client::ConnectOptions;
use crate::drill::{self, Drills, EventReport, Executor};
use crate::measure::health::{HealthHandle, HealthReport, Monitor};
use crate::measure::observer::Observers;
use crate::measure::prometheus::{Exporter, TargetNow};
use crate::measure::server_resources::{self, Feed, ServerResources};
use crate::measure::{collector, Recorder, Totals};
use crate::net::http_client::HttpClient;
use crate::net::tls;
use crate::scenario::{Load, Plan, DEFAULT_GRACE};
use crate::session::Opener;
use crate::shard::Shard;
use crate::visitor::{self, Closing, VisitorContext};
use driver::DriveStats;
use groups::Worlds;
use start::{LateStart, StartAt};
use steer::Steering;
use target::TargetError;

/// How long visitors get to close their sessions after the run ends.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
/// How often the ledger judges what became due.
const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// Timeout of discovery requests.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Knobs of a run that are not part of the scenario.
pub struct EngineOptions {
    /// The collector's outputs, fed once per interval in this order (live figures, the
    /// interval log, the abort watcher, ...).
    pub observers: Observers,
    /// Cancelled on Ctrl-C / SIGTERM: the run stops early and still reports.
    pub stop: CancellationToken,
    /// Collector interval.
    pub interval: Duration,
    /// Prometheus export: one more observer, once the engine has given it the load and the
    /// health monitor it also reports.
    pub export: Option<Exporter>,
    /// The stripe of the plan this process runs (`Shard::WHOLE`: all of it).
    pub shard: Shard,
    /// Start the schedule at this wall-clock instant, after the preflight (`--start-at`).
    pub start_at: Option<StartAt>,
    /// The load level set while the run goes (`capacity`), instead of the scenario's; its
    /// finishing is the run's planned end.
    pub steering: Option<Steering>,
    /// Handed the health monitor once it runs, for observers that judge the harness while the
    /// run goes (`capacity` judges each level's seconds).
    pub health: Option<tokio::sync::oneshot::Sender<HealthHandle>>,
    /// Gets every scrape of the target's metrics as it comes (`capacity` judges what the
    /// server paid at each level); scraped every half second then.
    pub server_feed: Option<Feed>,
}

/// Why a run did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The target cannot be used: no verdict on the server beyond "down".
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A synchronised start was missed: the shard ran nothing.
    #[error(transparent)]
    Late(#[from] LateStart),
}

/// What a run measured, before it is judged (`run::run` judges it).
pub struct Measured {
    pub totals: Totals,
    pub target: String,
    pub drive: DriveStats,
    /// True when the run was stopped before its planned end.
    pub interrupted: bool,
    /// The harness's own CPU, memory and scheduling lag over the run.
    pub health: HealthReport,
    /// Drill events in start order (empty without a `drills` section).
    pub drills: Vec<EventReport>,
    /// The embedded cluster's shutdown, begun when the run ended and bounded by the cluster's
    /// drain window and shutdown grace. Awaited after the report is written, so a server slow
    /// to close cannot hold the report back; dropped, it goes on by itself.
    pub cluster_shutdown: Option<tokio::task::JoinHandle<()>>,
    /// With a synchronised start: how late after the start instant the schedule began.
    pub start_lag: Option<Duration>,
    /// The target's CPU and memory, when it has metrics to scrape.
    pub server_resources: Option<ServerResources>,
}

/// Carries out `plan` and answers what was measured.
pub async fn run(plan: Plan, options: EngineOptions) -> Result<Measured, StartError> {
    let tls = tls::client_config(plan.target.ca_file.as_deref()).map_err(TargetError::Tls)?;
    let target = target::resolve(
        &plan.target.destination,
        HTTP_TIMEOUT,
        tls.clone(),
        &plan.target.headers,
    )
    .await?;
    let connect = ConnectOptions {
        transport: plan.target.transport.main(),
        tls: Some(tls.clone()),
        send_timeout: plan.target.reply_timeout,
        headers: plan.target.headers.clone(),
        ..ConnectOptions::default()
    };
    if target.cluster.is_none() {
        let transports = plan.transports();
        // A signal during the check goes on to a run that stops at once: an interrupted run.
        tokio::select! {
            checked = preflight::check(&target.discovery, &connect, &transports, &plan.target.group) => checked.map_err(TargetError::from)?,
            _ = options.stop.cancelled() => {}
        }
    }
    let start_lag = match options.start_at {
        Some(start_at) => Some(start_at.wait(&options.stop).await?),
        None => None,
    };
    let shard = options.shard;
    let started = Instant::now();
    let recorder =
        Recorder::with_behaviors(plan.behaviors.iter().map(|b| b.name.clone()).collect());
    let collector_stop = CancellationToken::new();
    let closing = Arc::new(Closing::default());
    let monitor = Monitor::start(started, closing.token());
    if let Some(health) = options.health {
        // Nobody waiting for it any more is no reason to stop the run.
        let _ = health.send(monitor.handle());
    }
    let mut observers = options.observers;
    if let Some(export) = options.export {
        // The embedded cluster's instances are known before any session opens there.
        let servers = target
            .cluster
            .as_ref()
            .map(|cluster| cluster.instances())
            .unwrap_or_default();
        let export = export.with_servers(servers.iter().map(|info| info.server.as_str()));
        let export = export.with_health(monitor.handle());
        let export =
            export.with_target(visitor_target(plan.load.clone(), options.steering.clone()));
        observers.push(Box::new(export));
    }
    let collector = tokio::spawn(collector::collect(
        recorder.clone(),
        options.interval,
        observers,
        collector_stop.clone(),
    ));
    // The server's resources: from the scenario's metrics URL, or the embedded cluster's own.
    let metrics_url = plan.target.metrics_url.clone().or_else(|| {
        let cluster = target.cluster.as_ref()?;
        Some(format!("{}/metrics", cluster.directory_url()))
    });
    let scrape_stop = CancellationToken::new();
    let scraper = metrics_url.filter(|_| shard.owns_drills()).map(|url| {
        let client = HttpClient::with_tls(HTTP_TIMEOUT, tls.clone());
        let watched = server_resources::watch(
            client,
            (url, options.server_feed.clone()),
            (started, plan.duration),
            scrape_stop.clone(),
        );
        tokio::spawn(watched)
    });
    let grace = plan
        .agents
        .as_ref()
        .map_or(DEFAULT_GRACE, |agents| agents.grace);
    let drills = Drills::new(plan.drills.as_ref(), recorder.clone(), started);
    let worlds = Worlds::new(
        plan.target.groups,
        plan.agents.as_ref().map_or(0, |agents| agents.count),
        |g| Opener {
            discovery: target.discovery.clone(),
            options: connect.clone(),
            group: plan.target.group_of(g.into()),
            recorder: recorder.clone(),
            reply_timeout: plan.target.reply_timeout,
        },
        || {
            let ledger = Ledger::new(recorder.clone(), grace).with_drills(drills.clone());
            if plan.agents.is_some() {
                ledger
            } else {
                ledger.without_roster()
            }
        },
    );
    let background = TaskTracker::new();
    let background_stop = CancellationToken::new();
    for world in worlds.iter() {
        background.spawn(sweep_ledger(world.ledger.clone(), background_stop.clone()));
    }
    if let Some(schedule) = &plan.drills {
        // The drill task holds its own handle on the embedded cluster; it is shut down below.
        let executor = match &target.cluster {
            _ if !shard.owns_drills() => Executor::Elsewhere(shard),
            Some(cluster) => Executor::Embedded(cluster.clone()),
            None => Executor::External(Box::new(match plan.target.destination.http_origin() {
                Some(origin) => schedule.actions.against(&origin),
                None => schedule.actions.clone(),
            })),
        };
        background.spawn(drill::run(
            drills.clone(),
            Arc::new(schedule.clone()),
            executor,
            background_stop.clone(),
        ));
    }
    if let Some(agents) = &plan.agents {
        let contexts: Vec<Arc<AgentContext>> = worlds
            .iter()
            .map(|world| {
                Arc::new(AgentContext {
                    opener: world.opener.clone(),
                    ledger: world.ledger.clone(),
                    group_agents: world.agents,
                    recorder: recorder.clone(),
                    agents: agents.clone(),
                    backoff: plan.reconnect,
                    seed: plan.seed,
                    // Agents run as long as visitors do: the whole `duration` (the closed model's
                    // last level holds until then, and open-model visitors may live until then too).
                    send_until: started + plan.duration.saturating_sub(grace),
                    drills: drills.clone(),
                })
            })
            .collect();
        // Each shard runs its stripe of the agents, which signal its own visitors only; up to
        // `MAX_AGENTS` of them: a signal during the spawning is heeded at once.
        for index in (0..agents.count).filter(|index| shard.owns(u64::from(*index))) {
            if options.stop.is_cancelled() {
                break;
            }
            let context = contexts[index as usize % contexts.len()].clone();
            background.spawn(agent::run(context, index, background_stop.clone()));
            if index % 1024 == 1023 {
                tokio::task::yield_now().await;
            }
        }
    }
    // Shards on one host keep to disjoint source addresses, each with its own ports.
    let source_ips = shard.stripe(&target::source_ips(&target.host, plan.target.source_ips));
    // Only SockJS promises heartbeats; a raw WebSocket visitor may stay quiet for good (each
    // visitor applies it by its transport).
    let heartbeat_timeout = Some(plan.target.heartbeat_timeout);
    let presence_markers = plan
        .agents
        .as_ref()
        .is_some_and(|agents| agents.watch > 0.0);
    let plan = Arc::new(plan);
    let contexts: Vec<Arc<VisitorContext>> = worlds
        .iter()
        .map(|world| {
            Arc::new(VisitorContext {
                opener: world.opener.clone(),
                source_ips: source_ips.clone(),
                backoff: plan.reconnect,
                heartbeat_timeout,
                recorder: recorder.clone(),
                presence_markers,
                ledger: world.ledger.clone(),
                drills: drills.clone(),
                plan: plan.clone(),
                closing: closing.clone(),
            })
        })
        .collect();
    let stopping = (&options.stop, &*closing, options.steering.as_ref());
    let drive = driver::drive(
        &plan.load,
        shard,
        (plan.duration, CLOSE_GRACE),
        stopping,
        |index, cancel| {
            visitor::run(
                contexts[(index % contexts.len() as u64) as usize].clone(),
                index,
                cancel,
            )
        },
    )
    .await;
    let interrupted = options.stop.is_cancelled();
    background_stop.cancel();
    background.close();
    background.wait().await;
    for world in worlds.iter() {
        world.ledger.finish(Instant::now());
    }
    collector_stop.cancel();
    scrape_stop.cancel();
    let totals = collector.await.expect("the collector does not panic");
    let server_resources = match scraper {
        Some(scraper) => scraper.await.ok(),
        None => None,
    };
    let health = monitor.stop().await;
    let cluster_shutdown = target
        .cluster
        .map(|cluster| tokio::spawn(cluster.shutdown()));
    Ok(Measured {
        totals,
        target: target.description,
        drive,
        interrupted,
        health,
        drills: drills.report(),
        cluster_shutdown,
        start_lag,
        server_resources,
    })
}

/// The visitor target and stage index at each time into the run, for the exporter's gauges:
/// the load model's, except that a capacity search (`steering`) sets a closed model's level
/// while the run goes, and the target is that level, live, not the stages it replaces.
fn visitor_target(
    load: Load,
    steering: Option<Steering>,
) -> impl Fn(Duration) -> TargetNow + Send + 'static {
    move |elapsed| {
        let (target, stage) = load.target_and_stage(elapsed);
        let visitors = match (&steering, &load) {
            (Some(steering), Load::Stages(_)) => steering.level().round(),
            _ => f64::from(target),
        };
        TargetNow { visitors, stage }
    }
}

/// Judges due deliveries while the run goes, so losses show up live and memory stays bounded.
async fn sweep_ledger(ledger: Arc<Ledger>, stop: CancellationToken) {
    let mut ticker = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => ledger.sweep(Instant::now()),
        }
    }
}
