//! `presence-bench run`: parses the command line, merges its changes into the plan (in
//! [`plan`], the one place), and calls the library's run (`presence_bench::run::run`), which
//! carries the scenario out, judges it and writes the reports; the verdict becomes the exit
//! code. With `--processes` the run is handed to `cli::processes` instead.

use std::path::PathBuf;
use std::time::Duration;

use super::processes;
use super::progress::ProgressArgs;
use super::split::{self, SplitArgs};
use super::Outcome;
use presence_bench::engine::{self, target};
use presence_bench::net::headers;
use presence_bench::run::gate::GateOptions;
use presence_bench::run::{self, Options};
use presence_bench::scenario::{self, MetricsExport, Plan};
use presence_bench::shutdown::{Messages, Shutdown};

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
    /// Send this header on every request to the target: `/locate`, the WebSocket upgrade,
    /// every SockJS HTTP request ('NAME: VALUE', as curl's -H; repeatable). It replaces the
    /// scenario's header of that name; an empty value ('NAME:') removes it. Without any,
    /// read from PRESENCE_BENCH_HEADERS, one per line, so that secrets stay out of the
    /// command line. Values never show in reports or logs.
    #[arg(
        long = "header",
        short = 'H',
        value_name = "NAME: VALUE",
        env = HEADERS_ENV,
        hide_env_values = true,
        value_delimiter = '\n'
    )]
    pub headers: Vec<String>,
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
    pub gate: GateOptions,
    /// Serve live Prometheus metrics at http://ADDR/metrics (port 0: a free port, printed).
    /// Overrides the scenario's `metrics.listen`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Keep serving /metrics this long after the run (e.g. 30s). Overrides `metrics.linger`.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub metrics_linger: Option<Duration>,
    /// How long one interval of latency.hlog, timeline.jsonl and `--progress json` spans: 1s
    /// by default (about 3 MiB an hour of files for a dozen metrics), 10s or 1m for runs of
    /// hours, whose files grow with their length.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = log_interval)]
    pub log_interval: Duration,
    #[command(flatten)]
    pub split: SplitArgs,
    /// Run as P child processes of this harness (shard K/P each, one start), and merge their
    /// reports: for more visitors than one process holds (docs/distributed.md).
    #[arg(long, value_name = "P")]
    pub processes: Option<u32>,
    /// Worker threads of this process's runtime (default: one per core; with --processes P,
    /// each shard gets its share of the cores, at least one).
    #[arg(long, value_name = "N")]
    pub threads: Option<std::num::NonZeroUsize>,
}

/// The environment variable `--header` falls back to (and `run --processes` hands its
/// shards their headers in).
pub const HEADERS_ENV: &str = "PRESENCE_BENCH_HEADERS";

pub fn execute(args: RunArgs) -> Outcome {
    let plan = match plan(&args) {
        Ok(plan) => plan,
        Err(err) => return Outcome::InvalidInput(err),
    };
    if let Some(processes) = args.processes {
        return processes::run(&args, &plan, processes, processes::Subcommand::RUN);
    }
    let options = match options(&args, &plan) {
        Ok(options) => options,
        Err(err) => return Outcome::InvalidInput(err),
    };
    for (kind, url) in plan
        .drills
        .as_ref()
        .zip(plan.target.destination.http_origin())
        .map_or_else(Vec::new, |(drills, origin)| {
            drills.actions.elsewhere(&origin)
        })
    {
        eprintln!(
            "warning: the {} action goes to {url}, another host than the target's (give it as a \
             path, /admin/..., to follow the target)",
            kind.name()
        );
    }
    let open_file_limit = raise_open_file_limit();
    if let Some(warning) = open_file_limit
        .and_then(|limit| engine::limits::open_file_warning(&plan, options.shard, limit))
    {
        eprintln!("warning: {warning}");
    }
    carry_out(args.threads, |shutdown| run::run(plan, options, shutdown))
}

/// Runs `run` (a run, or a command built on one) on a runtime of `threads`, stopped by Ctrl-C
/// or SIGTERM, and maps how it ended to an outcome.
pub(super) fn carry_out<F, Fut>(threads: Option<std::num::NonZeroUsize>, job: F) -> Outcome
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: std::future::Future<Output = Result<run::RunResult, run::RunError>>,
{
    let runtime = match presence_bench::runtime::build(threads) {
        Ok(runtime) => runtime,
        Err(err) => return Outcome::NotCarriedOut(err.into()),
    };
    let result = runtime.block_on(async {
        // Listened to before the "running" line, so a signal right after it counts.
        job(listen(SAY)).await
    });
    // Whatever a forced stop left running is dropped with the runtime, not waited for.
    runtime.shutdown_background();
    outcome(result)
}

/// Ctrl-C and SIGTERM as a [`Shutdown`], saying `say`; without them (they cannot be listened
/// to), a warning and a shutdown nothing triggers. Within a runtime.
pub(super) fn listen(say: Messages) -> Shutdown {
    Shutdown::on_signals(say).unwrap_or_else(|err| {
        eprintln!("warning: cannot listen for Ctrl-C or SIGTERM: {err}");
        Shutdown::new()
    })
}

/// How a library call that ends as a run does (`run`, `merge`, `run --processes`) ended, as
/// an outcome: its verdict, or why it has none.
pub(super) fn outcome(result: Result<run::RunResult, run::RunError>) -> Outcome {
    match result {
        Ok(result) if result.forced => Outcome::NotCarriedOut(anyhow::anyhow!(
            "stopped by a second signal before the servers had closed (the report is written)"
        )),
        Ok(result) => Outcome::Judged(result.verdict),
        Err(err) => err.into(),
    }
}

/// The first signal stops the run (the report is still written), the second stops waiting
/// for the servers to close. The load's own wind-down is bounded by the engine (visitors get
/// a few seconds to close), and the report needs it: a second signal does not cut it short.
const SAY: Messages = Messages {
    stop: Some(
        "stopping: closing sessions and writing the report (a second Ctrl-C or SIGTERM stops at \
         once)",
    ),
    force: Some("second signal: the report is written without waiting for the servers to close"),
};

/// The scenario with every change the command line makes to it: `--set`, `--target`,
/// `--header`, `--metrics-addr` and `--metrics-linger`. The one place they are merged.
pub(super) fn plan(args: &RunArgs) -> anyhow::Result<Plan> {
    let mut plan = scenario::load_with(&args.scenario, &args.sets)?;
    let targets: Vec<&str> = args
        .target
        .iter()
        .flat_map(|list| list.split(','))
        .map(str::trim)
        .collect();
    if targets.len() > 1 && args.processes.is_none() {
        anyhow::bail!("--target: a list of targets needs --processes");
    }
    // Each is checked; the first stands for them all in the parent's checks.
    for url in targets.iter().rev() {
        plan.target.destination =
            target::parse_url(url).map_err(|err| anyhow::anyhow!("--target {url}: {err}"))?;
    }
    // Errors name the header, never its value.
    let changes = args
        .headers
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| headers::parse_line(line));
    let changes = changes
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| anyhow::anyhow!("--header: {err}"))?;
    plan.target.headers = plan
        .target
        .headers
        .changed(changes)
        .map_err(|err| anyhow::anyhow!("--header: {err}"))?;
    // Command-line values win over the scenario's `metrics` section.
    if let Some(listen) = args
        .metrics_addr
        .or(plan.metrics.map(|export| export.listen))
    {
        let linger = args
            .metrics_linger
            .or(plan.metrics.map(|export| export.linger))
            .unwrap_or(Duration::ZERO);
        plan.metrics = Some(MetricsExport { listen, linger });
    }
    Ok(plan)
}

/// The run's options from the command line: outputs, display, gate, shard and start.
pub(super) fn options(args: &RunArgs, plan: &Plan) -> anyhow::Result<Options> {
    let shard = args.split.shard()?;
    split::check_target(plan, shard)?;
    let start_at = args.split.start_at()?;
    // What merging this shard's summary with the others' needs; read before the run.
    let scenario_text = if shard.is_split() || start_at.is_some() {
        Some(scenario::effective_text(&args.scenario, &args.sets)?.0)
    } else {
        None
    };
    Ok(Options {
        out: args.out.clone(),
        html: args.html.clone(),
        progress: args.progress.mode(args.quiet),
        json_progress: args.progress.json(),
        log_interval: args.log_interval,
        gate: args.gate.clone(),
        shard,
        start_at,
        scenario_text,
        run_id: args.split.run_id.clone(),
    })
}

/// A whole number of seconds, at least one: the files' intervals are made of the collector's
/// one-second ones.
fn log_interval(text: &str) -> Result<Duration, String> {
    let every = humantime::parse_duration(text).map_err(|err| err.to_string())?;
    if every < Duration::from_secs(1) || every.subsec_nanos() != 0 {
        return Err(format!(
            "expected a whole number of seconds, at least 1s, found {text:?}"
        ));
    }
    Ok(every)
}

/// Raises the soft open-file limit to the hard one (every visitor tab is a socket) and
/// answers the limit in force.
pub(super) fn raise_open_file_limit() -> Option<u64> {
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
