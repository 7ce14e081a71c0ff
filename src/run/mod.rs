//! A run end to end, as one function: [`run`] takes a plan, the options that are not part of
//! the scenario, and a [`Shutdown`], and answers the judged summary. The `run` command is a
//! thin shell around it (parse, merge the command line into the plan, call, map the verdict
//! to an exit code); tests and other programs call it in-process, as oha's tests call
//! `oha::run` and mini-redis's binary calls `server::run(listener, ctrl_c())`. Beside it, the
//! split runs' calls: [`merge::merge`] (the shards' summaries into one run) and
//! [`processes::run`] (shards as child processes, then merged); every run, in one process or
//! merged, ends the same way (`ending`: judged, written, reported).
//!
//! Results gathered so far, and the verdict, are written on every way out: the end, a stop
//! (Ctrl-C, SIGTERM), an abort, or a target found down. The servers the run started (the
//! embedded cluster, `/metrics`) are closed after that, within their grace; `force` stops
//! waiting for them.

mod ending;
mod error;
pub mod export;
pub mod gate;
mod identity;
pub mod intervals;
mod live;
pub mod merge;
pub mod processes;
pub mod progress;
mod reports;
mod summarise;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::start::StartAt;
use crate::engine::steer::Steering;
use crate::engine::{self, EngineOptions};
use crate::measure::health::HealthHandle;
use crate::measure::observer::Observers;
use crate::measure::prometheus::Exporter;
use crate::measure::server_resources::Feed;
use crate::report::baseline::Baseline;
use crate::report::verdict::Ending;
use crate::scenario::{MetricsExport, Plan};
use crate::schema::{RunId, Summary, Verdict};
use crate::shard::Shard;
use crate::shutdown::Shutdown;
use ending::{Judging, Outputs};
pub use error::RunError;
use export::Endpoint;
use gate::{Gate, GateOptions};
use identity::Identity;
use intervals::JsonProgress;
use live::{Feeds, Finished, LiveOutputs};
use progress::Mode;
pub use reports::clear;
use reports::Made;
use summarise::summarise;

/// Collector interval: one line per second in the interval log.
const INTERVAL: Duration = Duration::from_secs(1);

/// Everything about a run that is not in its plan: where its outputs go and how it is shown.
/// (The command line's changes to the scenario itself, `--target` or `--metrics-addr`, are
/// merged into the plan before the call.)
#[derive(Debug, Clone)]
pub struct Options {
    /// Directory for summary.json, latency.hlog, timeline.jsonl and health.jsonl.
    pub out: Option<PathBuf>,
    /// The self-contained HTML report, built from `out` after the run.
    pub html: Option<PathBuf>,
    /// The live display: a bar, lines, or nothing.
    pub progress: Mode,
    /// One JSON object per interval, to stderr or a file.
    pub json_progress: Option<JsonProgress>,
    /// How long an interval of latency.hlog, timeline.jsonl and the JSON progress spans
    /// (1 s by default; coarser for long runs, whose files grow with their length).
    pub log_interval: Duration,
    /// JUnit, `--summary-json`, baseline and tolerance.
    pub gate: GateOptions,
    /// The stripe of the plan this process runs (`Shard::WHOLE`: all of it).
    pub shard: Shard,
    /// Start the schedule at this wall-clock instant, after the preflight.
    pub start_at: Option<StartAt>,
    /// The effective scenario text, recorded in a split (or synchronised) run's summary so
    /// that `merge` can judge the whole run from it (without its `target.headers`).
    pub scenario_text: Option<String>,
    /// The run's id as given (`--run-id`); without it, a split or synchronised run derives
    /// its own from the scenario, seed, shard count and start (`RunId::derive`).
    pub run_id: Option<RunId>,
}

impl Default for Options {
    /// No files, no display: what a test or an embedding program starts from.
    fn default() -> Self {
        Options {
            out: None,
            html: None,
            progress: Mode::Off,
            json_progress: None,
            log_interval: INTERVAL,
            gate: GateOptions::default(),
            shard: Shard::WHOLE,
            start_at: None,
            scenario_text: None,
            run_id: None,
        }
    }
}

/// A judged run.
#[derive(Debug)]
pub struct RunResult {
    /// What was measured, with the verdict filled in (summary.json).
    pub summary: Summary,
    pub verdict: Verdict,
    /// The servers the run started were not waited for: `force` came first. The report is
    /// written, but the run did not end cleanly (exit 3).
    pub forced: bool,
}

impl RunResult {
    /// The process exit code (docs/ci.md): the verdict's, or 3 after a forced stop.
    pub fn exit_code(&self) -> u8 {
        if self.forced {
            3
        } else {
            self.verdict.exit_code
        }
    }
}

/// What a command built on a run (`capacity`) adds to it: more outputs per interval, a hand
/// on the load level, and its own judgement of the whole in place of the scenario's
/// thresholds over the run. The run's machinery (target, outputs, reports, closing) stays
/// the one `run` uses.
#[derive(Default)]
pub struct Extension {
    /// Fed each interval after the run's own observers.
    pub observers: Observers,
    /// The load level, set while the run goes (see `engine::steer`).
    pub steering: Option<Steering>,
    /// Handed the harness's health monitor once the run starts.
    pub health: Option<oneshot::Sender<HealthHandle>>,
    /// Gets every scrape of the target's metrics (see `measure::server_resources::Feed`).
    pub server_feed: Option<Feed>,
    /// Judges the run (filling its parts of the summary, printing its table) instead of
    /// `gate::judge`; the verdict it answers is the run's, in every output.
    pub judge: Option<Judge>,
}

/// A judgement of a whole run: fills in the summary (and prints), answers the verdict.
pub type Judge = Box<dyn FnOnce(&mut Summary, &Ending) -> Verdict + Send>;

/// Carries out `plan`, judges it, prints the table and writes every output `options` asks
/// for. `shutdown.stop` ends the load early (the report is still written); `shutdown.force`
/// stops waiting for the servers to close.
pub async fn run(plan: Plan, options: Options, shutdown: Shutdown) -> Result<RunResult, RunError> {
    run_with(plan, options, shutdown, Extension::default()).await
}

/// [`run`], extended (see [`Extension`]).
pub async fn run_with(
    plan: Plan,
    options: Options,
    shutdown: Shutdown,
    extension: Extension,
) -> Result<RunResult, RunError> {
    let baseline = prepare_outputs(&plan, &options)?;
    let identity = Identity::of(&plan, &options);
    identity.announce();
    let (endpoint, exporter) = start_metrics(plan.metrics, &identity).await?;
    let gate = Gate::of(&plan);
    let (live, feeds) = LiveOutputs::start(&plan, &options, &identity, &gate, &shutdown.stop)?;
    let (engine_options, judge) =
        engine_options(feeds, exporter, &identity, &shutdown.stop, extension);
    let result = engine::run(plan, engine_options).await;
    let Finished {
        aborted,
        intervals,
        health,
    } = live.finish(&options).await;
    let mut run = summarise(result, identity, aborted)?;
    let judging = Judging {
        gate: &gate,
        baseline: baseline.as_ref(),
        own: judge,
    };
    let made = Made::Here { intervals, health };
    let outputs = outputs(&options);
    let verdict = ending::end(&mut run.summary, &run.ending, judging, made, &outputs)?;
    // Everything is written: now the servers close, each within its grace.
    let forced = close_servers(endpoint, run.cluster_shutdown, &shutdown).await;
    Ok(RunResult {
        summary: run.summary,
        verdict,
        forced,
    })
}

/// The engine's knobs for this run: the live outputs' observers, then the command's (the
/// order they are fed each interval), where the health monitor hands its seconds, and the
/// command's hand on the load; answers them with the command's own judgement, kept for the
/// ending.
fn engine_options(
    feeds: Feeds,
    export: Option<Exporter>,
    identity: &Identity,
    stop: &CancellationToken,
    extension: Extension,
) -> (EngineOptions, Option<Judge>) {
    let Feeds {
        mut observers,
        health_rows,
    } = feeds;
    observers.extend(extension.observers);
    let options = EngineOptions {
        observers,
        health_rows,
        stop: stop.clone(),
        interval: INTERVAL,
        export,
        shard: identity.shard,
        start_at: identity.start_at,
        steering: extension.steering,
        health: extension.health,
        server_feed: extension.server_feed,
    };
    (options, extension.judge)
}

/// Fails before anything starts when an output could not be written or the baseline cannot
/// be read, and empties a reused `--out` of the previous run's reports; answers the baseline.
fn prepare_outputs(plan: &Plan, options: &Options) -> Result<Option<Baseline>, RunError> {
    gate::check_writable(options.out.as_deref(), &options.gate)?;
    if let Some(html) = &options.html {
        gate::check_file(html)?;
    }
    let baseline = gate::read_baseline(&options.gate, &plan.name)?;
    if let Some(out) = &options.out {
        reports::clear(out)?;
    }
    Ok(baseline)
}

/// Serves `/metrics` for the run when the scenario asks for it: the endpoint to close once
/// the run is written, and the exporter the engine feeds.
async fn start_metrics(
    settings: Option<MetricsExport>,
    identity: &Identity,
) -> Result<(Option<Endpoint>, Option<Exporter>), RunError> {
    let Some(settings) = settings else {
        return Ok((None, None));
    };
    let run = export::run_id(&identity.name, identity.start());
    let shard = identity.shard;
    let (endpoint, exporter) =
        export::start(settings, &run, shard.is_split().then_some(shard.index)).await?;
    Ok((Some(endpoint), Some(exporter)))
}

/// Where the run's reports go, as `options` say.
fn outputs(options: &Options) -> Outputs<'_> {
    Outputs {
        out: options.out.as_deref(),
        html: options.html.as_deref(),
        gate: &options.gate,
    }
}

/// Closes the servers the run started (`/metrics`, the embedded cluster), once everything is
/// written, each within its grace; answers whether `force` cut the wait short.
async fn close_servers(
    endpoint: Option<Endpoint>,
    cluster_shutdown: Option<JoinHandle<()>>,
    shutdown: &Shutdown,
) -> bool {
    let stop = shutdown.stop.clone();
    let servers_closed = async move {
        if let Some(endpoint) = endpoint {
            endpoint.finish(&stop).await;
        }
        if let Some(cluster) = cluster_shutdown {
            let _ = cluster.await;
        }
    };
    tokio::select! {
        () = servers_closed => false,
        () = shutdown.force.cancelled() => true,
    }
}
