//! `presence-bench merge DIR... --out DIR`: the shards' summaries of a split run become the
//! whole run's report. The command line is parsed here, and the merge is the library's
//! (`presence_bench::run::merge`), judged and written as `run` does; shards of a split
//! capacity search are judged level by level (`capacity::merge::judge`).

use std::path::PathBuf;
use std::time::Duration;

use super::{merge_wait, Outcome};
use presence_bench::capacity;
use presence_bench::run::gate::GateOptions;
use presence_bench::run::merge::{self, Merge};
use presence_bench::schema::RunId;

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The shards' output directories (each with the summary.json of `run --shard K/N --out`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Directory for the merged summary.json (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the merged run's HTML report to FILE, with the merged latency.hlog,
    /// timeline.jsonl and health.jsonl it is drawn from in `--out` (docs/reports.md).
    #[arg(long, value_name = "FILE", requires = "out")]
    pub html: Option<PathBuf>,
    /// Judge the shards that reported when some did not (the report says partial); without it
    /// a missing shard is exit 3.
    #[arg(long)]
    pub allow_missing: bool,
    /// Merge only shards of this run (`run --run-id`, or the id a shard derived and printed):
    /// a summary of another run, left over in a reused directory, is refused (exit 2).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<RunId>,
    /// Wait up to DURATION (e.g. 70m) for every shard to finish its summary.json (of
    /// `--run-id`, with it) before merging: a merge started together with the shards.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait: Option<Duration>,
    #[command(flatten)]
    pub gate: GateOptions,
}

pub fn run(args: &MergeArgs) -> Outcome {
    if let Some(wait) = args.wait {
        merge_wait::until_finished(&args.dirs, args.run_id.as_ref(), wait);
    }
    super::run::outcome(merge::merge(&Merge {
        dirs: &args.dirs,
        run_id: args.run_id.as_ref(),
        allow_missing: args.allow_missing,
        out: args.out.as_deref(),
        html: args.html.as_deref(),
        gate: &args.gate,
        own_judge: Some(capacity::merge::judge),
    }))
}
