//! `presence-bench report DIR`: rebuilds the HTML report from a run's (or a merge's) output
//! directory, so a report can be made after the fact or on another machine.

use std::path::PathBuf;

use super::Outcome;
use presence_bench::report::html::{self, ReportError};
use presence_bench::report::table;
use presence_bench::schema::Summary;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// A run's output directory (`run --out DIR`): summary.json and latency.hlog, with
    /// timeline.jsonl and health.jsonl when present.
    pub dir: PathBuf,
    /// Where to write the report; default DIR/report.html.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also print each behavior's latencies, as `run --by-behavior` does.
    #[arg(long)]
    pub by_behavior: bool,
}

pub fn run(args: &ReportArgs) -> Outcome {
    if args.by_behavior {
        match Summary::read(&args.dir.join("summary.json")) {
            Ok(summary) => print!("{}", table::behaviors(&summary)),
            Err(err) => return Outcome::InvalidInput(anyhow::Error::msg(err)),
        }
    }
    let file = args
        .html
        .clone()
        .unwrap_or_else(|| args.dir.join("report.html"));
    match html::write(&args.dir, &file) {
        Ok(()) => Outcome::Passed,
        // Unreadable input is the caller's to fix; a report that cannot be written is not.
        Err(err @ ReportError::Write { .. }) => Outcome::NotCarriedOut(err.into()),
        Err(err) => Outcome::InvalidInput(err.into()),
    }
}
