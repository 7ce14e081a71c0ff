//! The engine: turns a `Plan` into running visitors against a target, and owns the run's
//! lifecycle: start the target, start recording, drive the load, stop everything (on time,
//! on Ctrl-C, or on SIGTERM), and hand the totals back. It knows no message formats.
//! [`run`] is that lifecycle as a list of steps: the target reached (`reach`), the recording
//! started (`recording`), the background tasks (`background`: ledger sweeps, drills, agents)
//! and the visitors (`driver`) run, then everything stopped in the reverse order.

mod background;
pub mod driver;
mod groups;
pub mod limits;
pub mod preflight;
mod reach;
mod recording;
pub mod start;
pub mod steer;
pub mod target;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::checks::Ledger;
use crate::drill::Drills;
use crate::measure::health::{HealthHandle, HealthReport, HealthSecond};
use crate::measure::observer::Observers;
use crate::measure::prometheus::Exporter;
use crate::measure::server_resources::Feed;
use crate::measure::{Recorder, Totals};
use crate::scenario::{Plan, DEFAULT_GRACE};
use crate::schema::{EventReport, ServerResources};
use crate::session::Opener;
use crate::shard::Shard;
use crate::visitor::{self, Closing, VisitorContext};
use background::Background;
use driver::DriveStats;
use groups::Worlds;
use reach::{reach, Reached};
use recording::{Recorded, Recording};
use start::{LateStart, StartAt};
use steer::Steering;
use target::TargetError;

/// How long visitors get to close their sessions after the run ends.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
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
    /// Where the health monitor hands each second as it closes (health.jsonl).
    pub health_rows: Option<tokio::sync::mpsc::UnboundedSender<HealthSecond>>,
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
    let reached = reach(&plan, &options.stop).await?;
    let start_lag = wait_for_start(options.start_at, &options.stop).await?;
    let (stop, shard, steering) = (
        options.stop.clone(),
        options.shard,
        options.steering.clone(),
    );
    let started = Instant::now();
    let closing = Arc::new(Closing::default());
    let recording = Recording::start(&plan, &reached, started, &closing, options);
    let crew = Crew::new(plan, &reached, &recording.recorder, started, shard);
    let background = Background::start(&crew, &reached, &stop).await;
    let drive = drive_visitors(&crew, &reached, &closing, &stop, steering.as_ref()).await;
    let interrupted = stop.is_cancelled();
    background.stop().await;
    crew.finish_ledgers();
    let Recorded {
        totals,
        server_resources,
        health,
    } = recording.stop().await;
    let cluster_shutdown = reached
        .target
        .cluster
        .map(|cluster| tokio::spawn(cluster.shutdown()));
    Ok(Measured {
        totals,
        target: reached.target.description,
        drive,
        interrupted,
        health,
        drills: crew.drills.report(),
        cluster_shutdown,
        start_lag,
        server_resources,
    })
}

/// With a synchronised start, waits for the agreed instant (a signal ends the wait); answers
/// how late the schedule begins after it.
async fn wait_for_start(
    start_at: Option<StartAt>,
    stop: &CancellationToken,
) -> Result<Option<Duration>, LateStart> {
    match start_at {
        Some(start_at) => Ok(Some(start_at.wait(stop).await?)),
        None => Ok(None),
    }
}

/// What the run's visitors and background tasks share: the plan, the recorder, the drills'
/// windows, and the groups' worlds (each with its opener and ledger).
struct Crew {
    plan: Arc<Plan>,
    recorder: Recorder,
    drills: Drills,
    worlds: Worlds,
    /// When the schedule began.
    started: Instant,
    /// How long a due delivery is awaited before it counts as lost, and how long before the
    /// end the agents stop sending (`DEFAULT_GRACE`).
    grace: Duration,
    shard: Shard,
}

impl Crew {
    /// The run's worlds, one per visitor group, around the recorder of the run that began at
    /// `started`.
    fn new(
        plan: Plan,
        reached: &Reached,
        recorder: &Recorder,
        started: Instant,
        shard: Shard,
    ) -> Crew {
        let grace = plan
            .agents
            .as_ref()
            .map_or(DEFAULT_GRACE, |agents| agents.grace);
        let drills = Drills::new(plan.drills.as_ref(), recorder.clone(), started);
        let worlds = Worlds::new(
            plan.target.groups,
            plan.agents.as_ref().map_or(0, |agents| agents.count),
            |g| Opener {
                discovery: reached.target.discovery.clone(),
                options: reached.connect.clone(),
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
        Crew {
            plan: Arc::new(plan),
            recorder: recorder.clone(),
            drills,
            worlds,
            started,
            grace,
            shard,
        }
    }

    /// Judges what is still owed in every group's ledger, now that nothing more can arrive.
    fn finish_ledgers(&self) {
        for world in self.worlds.iter() {
            world.ledger.finish(Instant::now());
        }
    }
}

/// Drives this shard's visitors through the plan's load until its end or a stop, each in its
/// group's world; answers the driver's figures.
async fn drive_visitors(
    crew: &Crew,
    reached: &Reached,
    closing: &Arc<Closing>,
    stop: &CancellationToken,
    steering: Option<&Steering>,
) -> DriveStats {
    let (plan, shard) = (&crew.plan, crew.shard);
    // Shards on one host keep to disjoint source addresses, each with its own ports.
    let source_ips = shard.stripe(&target::source_ips(
        &reached.target.host,
        plan.target.source_ips,
    ));
    // Only SockJS promises heartbeats; a raw WebSocket visitor may stay quiet for good (each
    // visitor applies it by its transport).
    let heartbeat_timeout = Some(plan.target.heartbeat_timeout);
    let presence_markers = plan
        .agents
        .as_ref()
        .is_some_and(|agents| agents.watch > 0.0);
    let contexts: Vec<Arc<VisitorContext>> = crew
        .worlds
        .iter()
        .map(|world| {
            Arc::new(VisitorContext {
                opener: world.opener.clone(),
                source_ips: source_ips.clone(),
                backoff: plan.reconnect,
                heartbeat_timeout,
                recorder: crew.recorder.clone(),
                presence_markers,
                ledger: world.ledger.clone(),
                drills: crew.drills.clone(),
                plan: plan.clone(),
                closing: closing.clone(),
            })
        })
        .collect();
    let stopping = (stop, &**closing, steering);
    driver::drive(
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
    .await
}
