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
pub mod intervals;
pub mod merge;
pub mod processes;
pub mod progress;
mod reports;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::{oneshot, watch};

use crate::engine::start::StartAt;
use crate::engine::steer::Steering;
use crate::engine::{self, EngineOptions, StartError};
use crate::measure::health::HealthHandle;
use crate::measure::observer::{IntervalSink, LiveFigures, Observers};
use crate::measure::server_resources::Feed;
use crate::measure::{Live, Totals};
use crate::report::harness::HarnessSummary;
use crate::report::run_id::RunId;
use crate::report::split::ShardInfo;
use crate::report::verdict::{Ending, Verdict};
use crate::report::Summary;
use crate::scenario::{Destination, Plan};
use crate::shard::Shard;
use crate::shutdown::Shutdown;
use ending::{Judging, Outputs};
pub use error::RunError;
use gate::{AbortWatch, Gate, GateOptions};
use intervals::JsonProgress;
use progress::{Mode, Progress};
pub use reports::clear;
use reports::Made;

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
    gate::check_writable(options.out.as_deref(), &options.gate)?;
    if let Some(html) = &options.html {
        gate::check_file(html)?;
    }
    let baseline = gate::read_baseline(&options.gate, &plan.name)?;
    if let Some(out) = &options.out {
        reports::clear(out)?;
    }
    let Options {
        shard, start_at, ..
    } = options;
    let (name, target) = (plan.name.clone(), describe(&plan.target.destination));
    let shard_info = options
        .scenario_text
        .as_deref()
        .map(|text| ShardInfo::new(shard, text, plan.seed));
    let run_id = options.run_id.clone().or_else(|| {
        let info = shard_info.as_ref()?;
        Some(RunId::derive(
            &info.scenario_hash,
            plan.seed,
            shard.count,
            start_at.map(|start| start.at),
        ))
    });
    if let Some(id) = &run_id {
        eprintln!("run id {id}");
    }
    if shard.is_split() {
        eprintln!("running shard {shard} of {name} against {target}");
    } else {
        eprintln!("running {name} against {target}");
    }
    if let Some(start) = start_at {
        eprintln!(
            "starting at {} after the preflight",
            humantime::format_rfc3339_millis(start.at)
        );
    }
    let (live_tx, live_rx) = watch::channel(Live::default());
    let metrics = match plan.metrics {
        Some(settings) => {
            let run = export::run_id(
                &name,
                start_at.map_or_else(SystemTime::now, |start| start.at),
            );
            Some(export::start(settings, &run, shard.is_split().then_some(shard.index)).await?)
        }
        None => None,
    };
    let (endpoint, exporter) = metrics.map_or((None, None), |(e, x)| (Some(e), Some(x)));
    let progress = Progress::start(options.progress, live_rx, plan.duration, plan.load.clone());
    // A synchronised start begins the intervals at the agreed instant, on every shard.
    let intervals_start = start_at.map_or_else(SystemTime::now, |start| start.at);
    let (intervals, hlog) = intervals::start(
        options.out.as_deref(),
        options.json_progress.as_ref(),
        intervals_start,
        options.log_interval,
        run_id.as_ref(),
    )?;
    let gate = Gate::of(&plan);
    // The outputs of each interval, in order: the display, the files, then the abort watch.
    let mut observers: Observers = vec![Box::new(LiveFigures(live_tx))];
    if let Some(sink) = intervals {
        observers.push(Box::new(IntervalSink(sink)));
    }
    let abort = AbortWatch::new(&gate.thresholds, shutdown.stop.clone()).map(|(watch, reason)| {
        observers.push(Box::new(watch));
        reason
    });
    observers.extend(extension.observers);
    let engine_options = EngineOptions {
        observers,
        stop: shutdown.stop.clone(),
        interval: INTERVAL,
        export: exporter,
        shard,
        start_at,
        steering: extension.steering,
        health: extension.health,
        server_feed: extension.server_feed,
    };
    let result = engine::run(plan, engine_options).await;
    let aborted = abort.and_then(|reason| reason.get().cloned());
    if let Some(progress) = progress {
        progress.finish();
    }
    // The interval writers end with the load: their last rows are out before the verdict is
    // printed. What they answer is the run's with `--out` (`reports::write`); without it they
    // wrote only the JSON progress, whose failure is a warning.
    let intervals = match hlog {
        Some(writers) => Some(
            writers
                .await
                .map_err(std::io::Error::other)
                .and_then(|written| written),
        ),
        None => None,
    };
    if let (None, Some(Err(err))) = (&options.out, &intervals) {
        eprintln!("warning: JSON progress: {err}");
    }
    let mut cluster_shutdown = None;
    let mut health = Vec::new();
    let (mut summary, ending) = match result {
        Ok(result) => {
            cluster_shutdown = result.cluster_shutdown;
            health = result.health.timeline.clone();
            let mut summary = Summary::from_totals(&name, &result.target, &result.totals);
            summary.aborted = aborted;
            summary.drills = result.drills;
            summary.harness = Some(HarnessSummary::judge(
                &result.health,
                &summary.errors,
                &mut summary.drills,
            ));
            summary.shard = shard_record(shard_info, start_at, result.start_lag);
            summary.server_resources = result.server_resources;
            (
                summary,
                Ending {
                    interrupted: result.interrupted,
                    target_down: None,
                },
            )
        }
        // A missed start runs nothing and judges nothing: the merge counts the shard missing.
        Err(StartError::Late(source)) => return Err(RunError::Late { shard, source }),
        // Nothing ran: the verdict says why, in every output. A shard says which one it is
        // even so, or the merge could not read it and the split run would end with no verdict.
        Err(err) => {
            let ending = Ending {
                interrupted: false,
                target_down: Some(err.to_string()),
            };
            let mut summary = Summary::from_totals(&name, &target, &Totals::default());
            summary.shard = shard_record(shard_info, start_at, None);
            (summary, ending)
        }
    };
    summary.run_id = run_id;
    let judging = Judging {
        gate: &gate,
        baseline: baseline.as_ref(),
        own: extension.judge,
    };
    let made = Made::Here {
        intervals,
        health: &health,
    };
    let outputs = Outputs {
        out: options.out.as_deref(),
        html: options.html.as_deref(),
        gate: &options.gate,
    };
    let verdict = ending::end(&mut summary, &ending, judging, made, &outputs)?;
    // Everything is written: now the servers close, each within its grace.
    let stop = shutdown.stop.clone();
    let servers_closed = async move {
        if let Some(endpoint) = endpoint {
            endpoint.finish(&stop).await;
        }
        if let Some(cluster) = cluster_shutdown {
            let _ = cluster.await;
        }
    };
    let forced = tokio::select! {
        () = servers_closed => false,
        () = shutdown.force.cancelled() => true,
    };
    Ok(RunResult {
        summary,
        verdict,
        forced,
    })
}

/// A shard's record in its summary: who it is, and when its schedule began against the agreed
/// start (`None` when it never began).
fn shard_record(
    info: Option<ShardInfo>,
    start_at: Option<StartAt>,
    lag: Option<Duration>,
) -> Option<ShardInfo> {
    info.map(|info| ShardInfo {
        start_at: start_at.map(|start| humantime::format_rfc3339_millis(start.at).to_string()),
        start_lag_ms: lag.map(|lag| lag.as_secs_f64() * 1e3),
        ..info
    })
}

/// What the run loads, in a few words, for the start line.
fn describe(destination: &Destination) -> String {
    match destination {
        Destination::Embedded(settings) => {
            format!("an embedded cluster of {} instances", settings.instances)
        }
        Destination::Directory { url } | Destination::Instance { url } => url.clone(),
    }
}
