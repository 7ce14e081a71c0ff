//! The engine: turns a `Plan` into running visitors against a target, and owns the run's
//! lifecycle: start the target, start recording, drive the load, stop everything (on time,
//! on Ctrl-C, or on SIGTERM), and hand the totals back. It knows no message formats.

pub mod driver;
pub mod target;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::measure::health::{HealthReport, Monitor};
use crate::measure::prometheus::Exporter;
use crate::measure::{collector, Interval, Live, Recorder, Totals};
use crate::protocol::client::ConnectOptions;
use crate::scenario::Plan;
use crate::visitor::{self, session::Opener, VisitorContext};
use driver::DriveStats;
use target::TargetError;

/// How long visitors get to close their sessions after the run ends.
const CLOSE_GRACE: Duration = Duration::from_secs(10);
/// How long a visitor waits for the answer to a request before counting a timeout.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of discovery requests.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Knobs of a run that are not part of the scenario.
pub struct RunOptions {
    /// Where the collector sends each interval (the interval log writer).
    pub intervals: Option<mpsc::Sender<Interval>>,
    /// Receives live figures once per interval.
    pub live: watch::Sender<Live>,
    /// Cancelled on Ctrl-C / SIGTERM: the run stops early and still reports.
    pub stop: CancellationToken,
    /// Collector interval.
    pub interval: Duration,
    /// Prometheus export, fed once per interval by the collector.
    pub export: Option<Exporter>,
}

/// What a run produced.
pub struct RunResult {
    pub totals: Totals,
    pub target: String,
    pub drive: DriveStats,
    /// True when the run was stopped before its planned end.
    pub interrupted: bool,
    /// The harness's own CPU, memory and scheduling lag over the run.
    pub health: HealthReport,
}

/// Carries out `plan` and answers what was measured.
pub async fn run(plan: Plan, options: RunOptions) -> Result<RunResult, TargetError> {
    let target = target::resolve(&plan.target.destination, HTTP_TIMEOUT).await?;
    let recorder = Recorder::new();
    let collector_stop = CancellationToken::new();
    let monitor = Monitor::start();
    let export = options.export.map(|export| export.with_load(plan.load.clone()).with_health(monitor.handle()));
    let collector = tokio::spawn(collector::collect(
        recorder.clone(),
        options.interval,
        options.intervals,
        options.live,
        export,
        collector_stop.clone(),
    ));
    let context = Arc::new(VisitorContext {
        opener: Opener {
            discovery: target.discovery.clone(),
            options: ConnectOptions { transport: plan.target.transport, ..ConnectOptions::default() },
            group: plan.target.group.clone(),
            recorder: recorder.clone(),
            reply_timeout: REPLY_TIMEOUT,
        },
        source_ips: target::source_ips(&target.host, plan.target.source_ips),
        backoff: plan.reconnect,
        recorder,
        plan: Arc::new(plan),
    });
    let plan = &context.plan;
    let drive = driver::drive(&plan.load, plan.duration, CLOSE_GRACE, &options.stop, |index, cancel| {
        visitor::run(context.clone(), index, cancel)
    })
    .await;
    let interrupted = options.stop.is_cancelled();
    collector_stop.cancel();
    let totals = collector.await.expect("the collector does not panic");
    let health = monitor.stop().await;
    if let Some(cluster) = target.cluster {
        cluster.shutdown().await;
    }
    Ok(RunResult { totals, target: target.description, drive, interrupted, health })
}
