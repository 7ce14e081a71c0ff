//! `presence-bench compare BASELINE CURRENT`: a per-metric table of two summary.json files,
//! failing (exit 1) when a latency regressed past its tolerance.

use std::path::PathBuf;

use presence_bench::report::compare::check_comparable;
use presence_bench::report::Summary;
use presence_bench::scenario::{self, CompareTolerances, Tolerance};

use super::Outcome;
use presence_bench::run::gate;

#[derive(clap::Args)]
pub struct CompareArgs {
    /// The reference summary.json.
    pub baseline: PathBuf,
    /// The summary.json to judge.
    pub current: PathBuf,
    /// Tolerance of metrics without their own: `10%`, `2ms` or `10% or 2ms` (default: the
    /// scenario's `compare.max_regression`, else `10% or 1ms`).
    #[arg(long, value_name = "TOLERANCE", value_parser = Tolerance::parse)]
    pub max_regression: Option<Tolerance>,
    /// Take tolerances from this scenario's `compare:` section.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Compare even when the summaries are of different scenarios or schema versions (the
    /// same metric name may then measure something else).
    #[arg(long)]
    pub allow_different_scenarios: bool,
}

pub fn run(args: &CompareArgs) -> Outcome {
    let read = |path: &PathBuf| Summary::read(path).map_err(anyhow::Error::msg);
    let (baseline, current) = match (read(&args.baseline), read(&args.current)) {
        (Ok(baseline), Ok(current)) => (baseline, current),
        (Err(err), _) | (_, Err(err)) => return Outcome::InvalidInput(err),
    };
    if !args.allow_different_scenarios {
        if let Err(err) = check_comparable(&baseline, &current) {
            return Outcome::InvalidInput(err.into());
        }
    }
    let tolerances = match &args.scenario {
        Some(path) => match scenario::load(path) {
            Ok(plan) => plan.compare,
            Err(err) => return Outcome::InvalidInput(err.into()),
        },
        None => CompareTolerances::default(),
    };
    let comparison = gate::compare(&baseline, &current, &tolerances, args.max_regression);
    print!("{}", comparison.render());
    if comparison.regressed() {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}
