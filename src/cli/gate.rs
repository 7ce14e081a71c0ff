//! The run's verdict for CI: thresholds and checks, the baseline comparison, the JUnit and
//! summary.json outputs, aborting on `abort_on_fail` thresholds, and the outcome they add up to.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Outcome;
use presence_bench::measure::{Counter, Totals};
use presence_bench::report::compare::{overall_tolerance, Comparison};
use presence_bench::report::{junit, table, threshold, Summary};
use presence_bench::scenario::{CompareTolerances, Threshold, Tolerance};

/// The path that means standard output.
const STDOUT: &str = "-";

#[derive(clap::Args)]
pub struct GateArgs {
    /// Write a JUnit XML report (one test case per threshold and check) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write summary.json to FILE; `-` prints it to stdout, and the table goes to stderr.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Compare with this summary.json and fail (exit 1) when a latency regresses.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Tolerance of metrics without their own in the scenario: `10%`, `2ms` or `10% or 2ms`
    /// (default: the scenario's `compare.max_regression`, else `10% or 1ms`).
    #[arg(long, value_name = "TOLERANCE", value_parser = Tolerance::parse)]
    pub max_regression: Option<Tolerance>,
}

/// What a scenario says about its own verdict.
pub struct Gate {
    pub thresholds: Vec<Threshold>,
    pub compare: CompareTolerances,
}

/// Compares `current` with `baseline` under the scenario's tolerances and the command line's.
pub fn compare(
    baseline: &Summary,
    current: &Summary,
    scenario: &CompareTolerances,
    command_line: Option<Tolerance>,
) -> Comparison {
    Comparison::new(baseline, current, scenario, overall_tolerance(command_line, scenario))
}

/// Reads the baseline before the run, so a wrong path is invalid input, not a wasted run.
pub fn read_baseline(args: &GateArgs) -> Result<Option<Summary>, anyhow::Error> {
    args.baseline.as_deref().map(Summary::read).transpose().map_err(anyhow::Error::msg)
}

/// Evaluates abortable thresholds on each snapshot; cancels `stop` and answers why on the first
/// failure. Ends when the collector drops the sender.
pub async fn watch_aborts(
    thresholds: Vec<Threshold>,
    mut snapshots: watch::Receiver<Arc<Totals>>,
    stop: CancellationToken,
) -> Option<String> {
    while snapshots.changed().await.is_ok() {
        let totals = snapshots.borrow_and_update().clone();
        let summary = Summary::from_totals("", "", &totals);
        if let Some(reason) = threshold::abort_reason(&thresholds, &summary, totals.elapsed) {
            eprintln!("stopping: {reason}");
            stop.cancel();
            return Some(reason);
        }
    }
    None
}

/// Fills the verdict into `summary`, prints the table (and the comparison), and answers whether
/// the gate holds. Writes nothing to files.
pub fn judge(summary: &mut Summary, gate: &Gate, baseline: Option<&Summary>, args: &GateArgs) -> bool {
    summary.thresholds = threshold::evaluate(&gate.thresholds, summary);
    let comparison = baseline.map(|baseline| compare(baseline, summary, &gate.compare, args.max_regression));
    let mut report = table::render(summary);
    if let Some(comparison) = &comparison {
        report.push('\n');
        report.push_str(&comparison.render());
    }
    if args.summary_json.as_deref() == Some(Path::new(STDOUT)) {
        eprint!("{report}");
    } else {
        println!("{report}");
    }
    threshold::passed(summary) && !comparison.is_some_and(|c| c.regressed())
}

/// Writes the JUnit report and the `--summary-json` copy.
pub fn write_outputs(summary: &Summary, args: &GateArgs) -> anyhow::Result<()> {
    if let Some(path) = &args.junit {
        write_creating_parent(path, &junit::render(summary))?;
    }
    match args.summary_json.as_deref() {
        Some(path) if path == Path::new(STDOUT) => {
            let json = serde_json::to_string_pretty(summary)?;
            writeln!(std::io::stdout().lock(), "{json}").context("printing summary.json")?;
        }
        Some(path) => write_creating_parent(path, &(serde_json::to_string_pretty(summary)? + "\n"))?,
        None => {}
    }
    Ok(())
}

/// A run where visitors tried and not one session opened measured nothing about the server:
/// the target is down or unreachable, which is no verdict on it.
fn target_down(summary: &Summary) -> Option<String> {
    let count = |name| summary.counters.get(name).copied().unwrap_or(0);
    let tried = count(Counter::VisitorsStarted.name()) > 0;
    (tried && count(Counter::SessionsOpened.name()) == 0).then(|| {
        let errors: Vec<String> = summary.errors.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
        format!("no session could be opened on {} (errors: {}): is the target up?", summary.target, errors.join(", "))
    })
}

fn write_creating_parent(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The exit code a finished run earned: a run that did not go to its end is not a verdict.
pub fn outcome(held: bool, summary: &Summary, interrupted: bool) -> Outcome {
    if let Some(reason) = &summary.aborted {
        return Outcome::NotCarriedOut(anyhow::anyhow!("the run was {reason}; the report covers what ran"));
    }
    if let Some(reason) = target_down(summary) {
        return Outcome::NotCarriedOut(anyhow::anyhow!(reason));
    }
    if interrupted {
        return Outcome::NotCarriedOut(anyhow::anyhow!(
            "the run was stopped before its end; the report covers what ran"
        ));
    }
    if held {
        Outcome::Passed
    } else {
        eprintln!("gate failed: a threshold, a delivery check or the baseline comparison did not hold");
        Outcome::Failed
    }
}
