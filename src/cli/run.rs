//! `presence-bench run`: load a scenario, carry it out, print and write the report.
//! Results gathered so far are written on every way out: the end, Ctrl-C or SIGTERM.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::Outcome;
use presence_bench::engine::{self, target, RunOptions};
use presence_bench::measure::Live;
use presence_bench::report::{self, Summary};
use presence_bench::scenario;

/// Collector interval: one line per second in the interval log.
const INTERVAL: Duration = Duration::from_secs(1);
/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct RunArgs {
    /// The scenario file (YAML).
    pub scenario: PathBuf,
    /// Load this target instead of the scenario's: http(s)://HOST:PORT is a directory
    /// (discovery through /locate), ws(s)://HOST:PORT/presence is one instance.
    #[arg(long)]
    pub target: Option<String>,
    /// Directory for summary.json and latency.hlog (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print no progress lines while running.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn execute(args: RunArgs) -> Outcome {
    let mut plan = match scenario::load(&args.scenario) {
        Ok(plan) => plan,
        Err(err) => return Outcome::InvalidInput(err.into()),
    };
    if let Some(url) = &args.target {
        match target::parse_url(url) {
            Ok(kind) => plan.target.destination = kind,
            Err(err) => return Outcome::InvalidInput(err.into()),
        }
    }
    if let Some(out) = &args.out {
        if let Err(err) = std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display())) {
            return Outcome::InvalidInput(err);
        }
    }
    raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return Outcome::NotCarriedOut(err.into()),
    };
    runtime.block_on(run(plan, args))
}

async fn run(plan: scenario::Plan, args: RunArgs) -> Outcome {
    let stop = CancellationToken::new();
    tokio::spawn(stop_on_signal(stop.clone()));
    let name = plan.name.clone();
    let (live_tx, live_rx) = watch::channel(Live::default());
    let progress = (!args.quiet).then(|| tokio::spawn(print_progress(live_rx, plan.duration)));
    let (intervals, hlog) = match &args.out {
        Some(out) => {
            let (tx, rx) = mpsc::channel(64);
            let path = out.join("latency.hlog");
            let started_at = std::time::SystemTime::now();
            (Some(tx), Some(tokio::spawn(async move { report::hlog::write_intervals(&path, started_at, rx).await })))
        }
        None => (None, None),
    };
    let options = RunOptions { intervals, live: live_tx, stop: stop.clone(), interval: INTERVAL };
    let result = engine::run(plan, options).await;
    if let Some(progress) = progress {
        progress.abort();
    }
    let result = match result {
        Ok(result) => result,
        Err(err) => return Outcome::NotCarriedOut(err.into()),
    };
    let mut summary = Summary::from_totals(&name, &result.target, &result.totals);
    summary.drills = result.drills;
    println!("{}", report::table::render(&summary));
    if let Some(out) = &args.out {
        if let Err(err) = write_reports(out, &summary, hlog).await {
            return Outcome::NotCarriedOut(err);
        }
    }
    if report::table::failed_checks(&summary).next().is_some() {
        return Outcome::Failed;
    }
    if result.interrupted {
        return Outcome::NotCarriedOut(anyhow::anyhow!(
            "the run was stopped before its end; the report covers what ran"
        ));
    }
    Outcome::Passed
}

async fn write_reports(
    out: &Path,
    summary: &Summary,
    hlog: Option<tokio::task::JoinHandle<std::io::Result<u64>>>,
) -> anyhow::Result<()> {
    let path = out.join("summary.json");
    summary.write(&path).with_context(|| format!("writing {}", path.display()))?;
    if let Some(hlog) = hlog {
        hlog.await.context("interval log writer")?.context("writing latency.hlog")?;
    }
    eprintln!("reports written to {}", out.display());
    Ok(())
}

/// Cancels the run on Ctrl-C or SIGTERM.
async fn stop_on_signal(stop: CancellationToken) {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    eprintln!("stopping: closing sessions and writing the report");
    stop.cancel();
}

async fn print_progress(mut live: watch::Receiver<Live>, total: Duration) {
    let mut last_print = std::time::Instant::now();
    while live.changed().await.is_ok() {
        if last_print.elapsed() < PROGRESS_EVERY {
            continue;
        }
        last_print = std::time::Instant::now();
        let now = live.borrow().clone();
        eprintln!(
            "[{:>5.1}s/{:.0}s] visitors {}  msgs/s {:.0}  presence_ack p99 {}  errors {}",
            now.elapsed.as_secs_f64(),
            total.as_secs_f64(),
            now.visitors_live,
            now.messages_per_second,
            report::table::micros(now.presence_ack_p99_us),
            now.errors
        );
    }
}

/// Raises the soft open-file limit to the hard one: every visitor tab is a socket.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open-file limit"),
        Err(err) => tracing::warn!(%err, "could not raise the open-file limit"),
    }
}
