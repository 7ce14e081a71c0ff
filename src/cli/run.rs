//! `presence-bench run`: load a scenario, carry it out, print and write the report.
//! Results gathered so far, and the verdict, are written on every way out: the end, Ctrl-C or
//! SIGTERM, an abort, or a target found down. The servers the run started (the embedded
//! cluster, `/metrics`) are closed after that, within their grace; a second signal stops
//! waiting for them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::export;
use super::gate::{self, Gate, GateArgs};
use super::intervals;
use super::processes;
use super::progress::{Progress, ProgressArgs};
use super::signals::Stops;
use super::split::{self, SplitArgs};
use super::Outcome;
use presence_bench::engine::shard::Shard;
use presence_bench::engine::{self, target, RunError, RunOptions};
use presence_bench::measure::health::HealthSecond;
use presence_bench::measure::Live;
use presence_bench::measure::Totals;
use presence_bench::report::harness::HarnessSummary;
use presence_bench::report::split::ShardInfo;
use presence_bench::report::verdict::Ending;
use presence_bench::report::{self, exercise, Summary};
use presence_bench::scenario;

/// Collector interval: one line per second in the interval log.
const INTERVAL: Duration = Duration::from_secs(1);

#[derive(clap::Args)]
pub struct RunArgs {
    /// The scenario file (YAML).
    pub scenario: PathBuf,
    /// Change a field of the scenario before it is validated: `--set duration=2m
    /// --set load.stages[0].to=5000` (repeatable; the value is YAML).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<scenario::Override>,
    /// Load this target instead of the scenario's: http(s)://HOST:PORT is a directory
    /// (discovery through /locate), ws(s)://HOST:PORT/presence is one instance. With
    /// --processes, a comma-separated list: shard K loads the (K mod n)-th.
    #[arg(long)]
    pub target: Option<String>,
    /// Directory for summary.json, latency.hlog, timeline.jsonl and health.jsonl (created if
    /// missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the self-contained HTML report to FILE, built from the `--out` directory
    /// (docs/reports.md); `presence-bench report DIR` rebuilds it later.
    #[arg(long, value_name = "FILE", requires = "out")]
    pub html: Option<PathBuf>,
    /// Print no progress while running (a bar on a terminal, lines otherwise or with CI set).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub progress: ProgressArgs,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Serve live Prometheus metrics at http://ADDR/metrics (port 0: a free port, printed).
    /// Overrides the scenario's `metrics.listen`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Keep serving /metrics this long after the run (e.g. 30s). Overrides `metrics.linger`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub metrics_linger: Option<Duration>,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Run as P child processes of this harness (shard K/P each, one start), and merge their
    /// reports: for more visitors than one process holds (docs/distributed.md).
    #[arg(long, value_name = "P")]
    pub processes: Option<u32>,
}

pub fn execute(args: RunArgs) -> Outcome {
    let mut plan = match scenario::load_with(&args.scenario, &args.sets) {
        Ok(plan) => plan,
        Err(err) => return Outcome::InvalidInput(err.into()),
    };
    let targets: Vec<&str> = args.target.iter().flat_map(|list| list.split(',')).map(str::trim).collect();
    if targets.len() > 1 && args.processes.is_none() {
        return Outcome::InvalidInput(anyhow::anyhow!("--target: a list of targets needs --processes"));
    }
    // Each is checked; the first stands for them all in the parent's checks.
    for url in targets.iter().rev() {
        match target::parse_url(url) {
            Ok(kind) => plan.target.destination = kind,
            Err(err) => return Outcome::InvalidInput(anyhow::anyhow!("--target {url}: {err}")),
        }
    }
    if let Some(processes) = args.processes {
        return processes::run(&args, &plan, processes);
    }
    let shard = match args.split.shard().and_then(|shard| split::check_target(&plan, shard).map(|()| shard)) {
        Ok(shard) => shard,
        Err(err) => return Outcome::InvalidInput(err),
    };
    let writable = gate::check_writable(args.out.as_deref(), &args.gate)
        .and_then(|()| args.html.as_deref().map_or(Ok(()), gate::check_file));
    if let Err(err) = writable {
        return Outcome::InvalidInput(err);
    }
    let baseline = match gate::read_baseline(&args.gate, &plan.name) {
        Ok(baseline) => baseline,
        Err(err) => return Outcome::InvalidInput(err),
    };
    let open_file_limit = raise_open_file_limit();
    if let Some(warning) = open_file_limit.and_then(|limit| engine::limits::open_file_warning(&plan, shard, limit)) {
        eprintln!("warning: {warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return Outcome::NotCarriedOut(err.into()),
    };
    let outcome = runtime.block_on(run(plan, args, shard, baseline));
    // Whatever a forced stop left running is dropped with the runtime, not waited for.
    runtime.shutdown_background();
    outcome
}

async fn run(plan: scenario::Plan, args: RunArgs, shard: Shard, baseline: Option<Summary>) -> Outcome {
    let (stop, force) = (CancellationToken::new(), CancellationToken::new());
    // Handlers are installed before the "running" line, so a signal right after it counts.
    match Stops::listen() {
        Ok(stops) => {
            tokio::spawn(stop_on_signals(stops, stop.clone(), force.clone()));
        }
        Err(err) => eprintln!("warning: cannot listen for Ctrl-C or SIGTERM: {err}"),
    }
    let name = plan.name.clone();
    let target = describe(&plan.target.destination);
    let start_at = args.split.start_at();
    // What merging this shard's summary with the others' needs; read before the run.
    let shard_info = if shard.is_split() || start_at.is_some() {
        match scenario::effective_text(&args.scenario, &args.sets) {
            Ok((text, _)) => Some(ShardInfo::new(shard, &text, plan.seed)),
            Err(err) => return Outcome::InvalidInput(err.into()),
        }
    } else {
        None
    };
    if shard.is_split() {
        eprintln!("running shard {shard} of {name} against {target}");
    } else {
        eprintln!("running {name} against {target}");
    }
    if let Some(start) = start_at {
        eprintln!("starting at {} after the preflight", humantime::format_rfc3339_millis(start.at));
    }
    let (live_tx, live_rx) = watch::channel(Live::default());
    let metrics = match export::settings(plan.metrics, args.metrics_addr, args.metrics_linger) {
        Some(settings) => match export::start(settings, shard.is_split().then_some(shard.index)).await {
            Ok((endpoint, exporter)) => Some((endpoint, exporter)),
            Err(err) => return Outcome::NotCarriedOut(err.into()),
        },
        None => None,
    };
    let (endpoint, exporter) = metrics.map_or((None, None), |(e, x)| (Some(e), Some(x)));
    let progress = Progress::start(args.progress.mode(args.quiet), live_rx, plan.duration, plan.load.clone());
    let json = args.progress.json();
    let (intervals, mut hlog) = match intervals::start(
        args.out.as_deref(),
        json.as_ref(),
        // A synchronised start begins the intervals at the agreed instant, on every shard.
        start_at.map_or_else(std::time::SystemTime::now, |start| start.at),
    ) {
        Ok(writers) => writers,
        Err(err) => return Outcome::NotCarriedOut(err),
    };
    let gate = Gate {
        thresholds: plan.thresholds.clone(),
        compare: plan.compare.clone(),
        expected: exercise::expected(&plan),
    };
    let aborting: Vec<_> = gate.thresholds.iter().filter(|t| t.abort_after.is_some()).cloned().collect();
    let (snapshots, aborts) = if aborting.is_empty() {
        (None, None)
    } else {
        let (tx, rx) = watch::channel(Default::default());
        (Some(tx), Some(tokio::spawn(gate::watch_aborts(aborting, rx, stop.clone()))))
    };
    let options = RunOptions {
        intervals,
        live: live_tx,
        stop: stop.clone(),
        interval: INTERVAL,
        snapshots,
        export: exporter,
        shard,
        start_at,
    };
    let result = engine::run(plan, options).await;
    // The collector has dropped its sender, so the watcher has returned.
    let aborted = match aborts {
        Some(aborts) => aborts.await.unwrap_or(None),
        None => None,
    };
    if let Some(progress) = progress {
        progress.finish();
    }
    if let (None, Some(writers)) = (&args.out, hlog.take()) {
        // Only the JSON progress: its last rows are out before the verdict is printed.
        if let Err(err) = writers.await.map_err(std::io::Error::other).and_then(|written| written) {
            eprintln!("warning: JSON progress: {err}");
        }
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
            summary.harness = Some(HarnessSummary::judge(&result.health, &summary.errors, &mut summary.drills));
            summary.shard = shard_info.map(|info| ShardInfo {
                start_at: start_at.map(|start| humantime::format_rfc3339_millis(start.at).to_string()),
                start_lag_ms: result.start_lag.map(|lag| lag.as_secs_f64() * 1e3),
                ..info
            });
            (summary, Ending { interrupted: result.interrupted, target_down: None })
        }
        // A missed start runs nothing and judges nothing: the merge counts the shard missing.
        Err(err @ RunError::Late(_)) => return Outcome::NotCarriedOut(anyhow::anyhow!("shard {shard}: {err}")),
        // Nothing ran: the verdict says why, in every output.
        Err(err) => {
            let ending = Ending { interrupted: false, target_down: Some(err.to_string()) };
            (Summary::from_totals(&name, &target, &Totals::default()), ending)
        }
    };
    let verdict = gate::judge(&mut summary, &gate, baseline.as_ref(), &args.gate, &ending);
    if let Some(out) = &args.out {
        if let Err(err) = write_reports(out, &summary, &health, hlog, args.html.as_deref()).await {
            return Outcome::NotCarriedOut(err);
        }
    }
    if let Err(err) = gate::write_outputs(&summary, &args.gate) {
        return Outcome::NotCarriedOut(err);
    }
    // Everything is written: now the servers close, each within its grace.
    let servers_closed = async move {
        if let Some(endpoint) = endpoint {
            endpoint.finish(&stop).await;
        }
        if let Some(shutdown) = cluster_shutdown {
            let _ = shutdown.await;
        }
    };
    tokio::select! {
        () = servers_closed => Outcome::Judged(verdict),
        () = force.cancelled() => Outcome::NotCarriedOut(anyhow::anyhow!(
            "stopped by a second signal before the servers had closed (the report is written)"
        )),
    }
}

async fn write_reports(
    out: &Path,
    summary: &Summary,
    health: &[HealthSecond],
    hlog: Option<tokio::task::JoinHandle<std::io::Result<u64>>>,
    html: Option<&Path>,
) -> anyhow::Result<()> {
    let path = out.join("summary.json");
    summary.write(&path).with_context(|| format!("writing {}", path.display()))?;
    if let Some(hlog) = hlog {
        hlog.await.context("interval log writers")?.context("writing the interval files")?;
    }
    let path = out.join("health.jsonl");
    report::timeline::write_health(&path, health).with_context(|| format!("writing {}", path.display()))?;
    if let Some(html) = html {
        report::html::write(out, html).context("writing the HTML report")?;
        eprintln!("HTML report written to {}", html.display());
    }
    eprintln!("reports written to {}", out.display());
    Ok(())
}

/// What the run loads, in a few words, for the start line.
fn describe(destination: &scenario::Destination) -> String {
    match destination {
        scenario::Destination::Embedded(settings) => format!("an embedded cluster of {} instances", settings.instances),
        scenario::Destination::Directory { url } | scenario::Destination::Instance { url } => url.clone(),
    }
}

/// The first signal stops the run (the report is still written), the second stops waiting
/// for the servers to close. The load's own wind-down is bounded by the engine (visitors get
/// a few seconds to close), and the report needs it: a second signal does not cut it short.
async fn stop_on_signals(mut stops: Stops, stop: CancellationToken, force: CancellationToken) {
    stops.next().await;
    eprintln!("stopping: closing sessions and writing the report (a second Ctrl-C or SIGTERM stops at once)");
    stop.cancel();
    stops.next().await;
    eprintln!("second signal: the report is written without waiting for the servers to close");
    force.cancel();
}

/// Raises the soft open-file limit to the hard one (every visitor tab is a socket) and
/// answers the limit in force.
fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(limit, "open-file limit");
            Some(limit)
        }
        Err(err) => {
            tracing::warn!(%err, "could not raise the open-file limit");
            None
        }
    }
}
