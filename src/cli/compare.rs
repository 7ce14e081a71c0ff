//! `presence-bench compare BASELINE CURRENT...`: a per-statistic table of a summary.json (or
//! the median of several repeats) against a baseline (a summary.json, or a directory of them:
//! a history), failing (exit 1) when a latency regressed past its tolerance and its noise.

use std::path::PathBuf;

use presence_bench::report::baseline::Baseline;
use presence_bench::report::compare::{check_comparable, PaceScaling};
use presence_bench::scenario::{
    self, parse_assignment, CompareTolerances, Setting, Tolerance, ToleranceKey,
};

use super::Outcome;
use presence_bench::run::gate;
use presence_bench::schema::Summary;

#[derive(clap::Args)]
pub struct CompareArgs {
    /// The reference summary.json, or a directory of them (a history, `baseline add`).
    pub baseline: PathBuf,
    /// The summary.json to judge; several (repeats of one build on a runner too noisy for
    /// one run) are judged by their median, statistic by statistic.
    #[arg(required = true, num_args = 1..)]
    pub current: Vec<PathBuf>,
    /// Tolerance of metrics without their own: `10%`, `2ms` or `10% or 2ms` (default: the
    /// scenario's `compare.max_regression`, else `10% or 1ms`).
    #[arg(long, value_name = "TOLERANCE", value_parser = Tolerance::parse)]
    pub max_regression: Option<Tolerance>,
    /// A tolerance of one metric or one statistic, over the scenario's: `presence_ack.max=50%`
    /// judges max, `extend.p99=off` never judges it; repeatable.
    #[arg(long = "tolerance", value_name = "NAME=TOLERANCE", value_parser = parse_assignment)]
    pub tolerances: Vec<(ToleranceKey, Setting)>,
    /// Take tolerances from this scenario's `compare:` section.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Compare even when the summaries are of different scenarios or schema versions (the
    /// same metric name may then measure something else).
    #[arg(long)]
    pub allow_different_scenarios: bool,
    /// Compare latencies as measured, without bringing the runs to one machine pace (which
    /// is done only when the server shared the harness's machine; docs/ci.md).
    #[arg(long)]
    pub ignore_pace: bool,
}

pub fn run(args: &CompareArgs) -> Outcome {
    let current: Result<Vec<Summary>, String> = args
        .current
        .iter()
        .map(|path| Summary::read(path))
        .collect();
    let (baseline, current) = match (Baseline::read(&args.baseline), current) {
        (Ok(baseline), Ok(current)) => (baseline, current),
        (Err(err), _) | (_, Err(err)) => return Outcome::InvalidInput(anyhow::Error::msg(err)),
    };
    if !args.allow_different_scenarios {
        // Every pair: the repeats must be of one scenario too, or their median mixes two.
        for run in baseline.runs.iter().chain(&current) {
            if let Some(err) = current
                .iter()
                .find_map(|judged| check_comparable(run, judged).err())
            {
                return Outcome::InvalidInput(err.into());
            }
        }
    }
    let tolerances = match &args.scenario {
        Some(path) => match scenario::load(path) {
            Ok(plan) => plan.compare,
            Err(err) => return Outcome::InvalidInput(err.into()),
        },
        None => CompareTolerances::default(),
    };
    let comparison = gate::compare(
        &baseline,
        &current,
        &tolerances,
        args.max_regression,
        &args.tolerances,
        PaceScaling::unless_ignored(args.ignore_pace),
    );
    print!("{}", comparison.render());
    if comparison.regressed() {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}
