//! The run's gate for CI, shared by `run` and `merge`: the verdict options, the baseline
//! comparison, the JUnit and summary.json outputs (checked writable before the run), and
//! aborting on `abort_on_fail` thresholds. The verdict itself is `report::verdict`'s.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

use super::RunError;
use crate::measure::observer::{done, IntervalObserver, Observed, Snapshot};
use crate::measure::Check;
use crate::report::baseline::Baseline;
use crate::report::compare::{check_baseline_fits, overall_tolerance, Comparison, PaceScaling};
use crate::report::verdict::{self, Ending, Rules};
use crate::report::{exercise, junit, table, threshold};
use crate::scenario::{
    parse_assignment, CompareTolerances, Plan, Setting, Threshold, Tolerance, ToleranceKey,
};
use crate::schema::{Summary, Verdict, SCHEMA_VERSION};

/// The path that means standard output.
const STDOUT: &str = "-";

/// The verdict options of `run` and `merge` (command-line flags, and a field of the run's
/// `Options`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GateOptions {
    /// Write a JUnit XML report (one test case per threshold and check) to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write summary.json to FILE; `-` prints it to stdout, and the table goes to stderr.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Compare with this summary.json, or the history of runs in this directory (`baseline
    /// add`), and fail (exit 1) when a latency regresses past its tolerance and its noise.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub baseline: Option<PathBuf>,
    /// Tolerance of metrics without their own in the scenario: `10%`, `2ms` or `10% or 2ms`
    /// (default: the scenario's `compare.max_regression`, else `10% or 1ms`).
    #[arg(long, value_name = "TOLERANCE", value_parser = Tolerance::parse)]
    pub max_regression: Option<Tolerance>,
    /// A tolerance of one metric or one statistic, over the scenario's: `presence_ack.max=50%`
    /// judges max, `extend.p99=off` never judges it; repeatable.
    #[arg(long = "tolerance", value_name = "NAME=TOLERANCE", value_parser = parse_assignment)]
    pub tolerances: Vec<(ToleranceKey, Setting)>,
    /// Compare with a baseline of another scenario or summary schema (refused otherwise).
    #[arg(long)]
    pub allow_different_scenarios: bool,
    /// Compare latencies as measured, without bringing the runs to one machine pace (which
    /// is done only when the server shared the harness's machine; docs/ci.md).
    #[arg(long)]
    pub ignore_pace: bool,
    /// Also show each behavior's latencies in the table (summary.json always has them).
    #[arg(long)]
    pub by_behavior: bool,
}

/// What a scenario says about its own verdict.
pub struct Gate {
    pub thresholds: Vec<Threshold>,
    pub compare: CompareTolerances,
    /// The delivery checks the scenario sets up (`report::exercise::expected`).
    pub expected: Vec<Check>,
}

impl Gate {
    /// What `plan` says about its own verdict; `run` and `merge` judge by the same.
    pub fn of(plan: &Plan) -> Gate {
        Gate {
            thresholds: plan.thresholds.clone(),
            compare: plan.compare.clone(),
            expected: exercise::expected(plan),
        }
    }
}

/// Compares `current` (one run, or repeats judged by their median) with `baseline` under the
/// scenario's tolerances and the command line's (`overrides`, then `max_regression`, win over
/// the scenario's).
pub fn compare(
    baseline: &Baseline,
    current: &[Summary],
    scenario: &CompareTolerances,
    max_regression: Option<Tolerance>,
    overrides: &[(ToleranceKey, Setting)],
    pace: PaceScaling,
) -> Comparison {
    let tolerances = scenario.clone().with(overrides);
    Comparison::of_median(
        baseline,
        current,
        &tolerances,
        overall_tolerance(max_regression, scenario),
        pace,
    )
}

/// Reads the baseline before the run, so a wrong path is invalid input, not a wasted run.
/// A baseline of another scenario or schema is refused here too, unless allowed.
pub fn read_baseline(args: &GateOptions, scenario: &str) -> Result<Option<Baseline>, RunError> {
    let Some(path) = args.baseline.as_deref() else {
        return Ok(None);
    };
    let baseline = Baseline::read(path).map_err(RunError::Baseline)?;
    if !args.allow_different_scenarios {
        for run in &baseline.runs {
            check_baseline_fits(run, scenario, SCHEMA_VERSION)
                .map_err(|err| RunError::Baseline(format!("{}: {err}", path.display())))?;
        }
    }
    Ok(Some(baseline))
}

/// The collector's observer for `abort_on_fail` thresholds: evaluates them on the totals so
/// far at each interval, and on the first failure cancels `stop` and keeps why.
pub struct AbortWatch {
    thresholds: Vec<Threshold>,
    stop: CancellationToken,
    reason: Arc<OnceLock<String>>,
}

impl AbortWatch {
    /// A watch over the abortable ones among `thresholds` (`None` when there are none), and
    /// where the reason of an abort will be.
    pub fn new(
        thresholds: &[Threshold],
        stop: CancellationToken,
    ) -> Option<(AbortWatch, Arc<OnceLock<String>>)> {
        let thresholds: Vec<_> = thresholds
            .iter()
            .filter(|t| t.abort_after.is_some())
            .cloned()
            .collect();
        let reason = Arc::new(OnceLock::new());
        (!thresholds.is_empty()).then(|| {
            (
                AbortWatch {
                    thresholds,
                    stop,
                    reason: reason.clone(),
                },
                reason,
            )
        })
    }
}

impl IntervalObserver for AbortWatch {
    fn observe<'a>(&'a mut self, snapshot: &'a Snapshot<'_>) -> Observed<'a> {
        // The last snapshot comes after the load has stopped: nothing is left to abort, and the
        // verdict judges the threshold as it judges any other.
        if self.reason.get().is_none() && !snapshot.last {
            let totals = snapshot.totals();
            let summary = Summary::from_totals("", "", &totals);
            if let Some(reason) =
                threshold::abort_reason(&self.thresholds, &summary, totals.elapsed)
            {
                eprintln!("stopping: {reason}");
                self.stop.cancel();
                let _ = self.reason.set(reason);
            }
        }
        done()
    }
}

/// Fills the verdict into `summary` and prints the table (with the comparison), which ends
/// with the verdict line. Writes nothing to files.
pub fn judge(
    summary: &mut Summary,
    gate: &Gate,
    baseline: Option<&Baseline>,
    args: &GateOptions,
    ending: &Ending,
) -> Verdict {
    let comparison = baseline.map(|baseline| {
        compare(
            baseline,
            std::slice::from_ref(summary),
            &gate.compare,
            args.max_regression,
            &args.tolerances,
            PaceScaling::unless_ignored(args.ignore_pace),
        )
    });
    let rules = Rules {
        thresholds: &gate.thresholds,
        expected: &gate.expected,
        comparison: comparison.as_ref(),
    };
    let verdict = verdict::judge(summary, &rules, ending);
    let report = table::render(summary, comparison.as_ref(), args.by_behavior);
    if args.summary_json.as_deref() == Some(Path::new(STDOUT)) {
        eprint!("{report}");
    } else {
        println!("{report}");
    }
    verdict
}

/// Finds an output that cannot be written before the run, not after it: creates the
/// directories and opens each file (creating it, leaving an existing one as it is).
pub fn check_writable(out: Option<&Path>, args: &GateOptions) -> Result<(), RunError> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(out) = out {
        std::fs::create_dir_all(out).map_err(RunError::unwritable(format!(
            "--out {}: cannot create the directory",
            out.display()
        )))?;
        files.extend(
            [
                "summary.json",
                "latency.hlog",
                "timeline.jsonl",
                "health.jsonl",
            ]
            .map(|name| out.join(name)),
        );
    }
    files.extend(args.junit.iter().cloned());
    files.extend(
        args.summary_json
            .iter()
            .filter(|path| path.as_path() != Path::new(STDOUT))
            .cloned(),
    );
    files.iter().try_for_each(|path| check_file(path))
}

/// Creates `path`'s directory and opens it for appending (an existing file is left as it is).
pub fn check_file(path: &Path) -> Result<(), RunError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(RunError::unwritable(format!(
            "{}: cannot create the directory {}",
            path.display(),
            parent.display()
        )))?;
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(RunError::unwritable(format!(
            "{}: cannot be written",
            path.display()
        )))?;
    Ok(())
}

/// Writes the JUnit report and the `--summary-json` copy.
pub fn write_outputs(summary: &Summary, args: &GateOptions) -> Result<(), RunError> {
    if let Some(path) = &args.junit {
        write_creating_parent(path, &junit::render(summary))?;
    }
    let json = || serde_json::to_string_pretty(summary).map_err(std::io::Error::other);
    match args.summary_json.as_deref() {
        Some(path) if path == Path::new(STDOUT) => json()
            .and_then(|json| writeln!(std::io::stdout().lock(), "{json}"))
            .map_err(|source| RunError::Write {
                what: "printing summary.json".into(),
                source,
            })?,
        Some(path) => {
            write_creating_parent(path, &(json().map_err(RunError::writing(path))? + "\n"))?
        }
        None => {}
    }
    Ok(())
}

fn write_creating_parent(path: &Path, text: &str) -> Result<(), RunError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| RunError::Write {
            what: format!("creating {}", parent.display()),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(RunError::writing(path))
}
