//! `presence-bench baseline add SUMMARY --to DIR --keep N`: adds a good run to a baseline
//! history (docs/ci.md), so that gates compare with the spread of recent runs, not one run.

use std::path::PathBuf;

use presence_bench::report::baseline;
use presence_bench::schema::Summary;

use super::Outcome;

#[derive(clap::Subcommand)]
pub enum BaselineCommand {
    /// Add a run's summary.json to a baseline directory (or replace a baseline .json file),
    /// keeping the last N runs.
    Add(AddArgs),
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// The summary.json of a run that passed.
    pub summary: PathBuf,
    /// The baseline: a directory of runs (created if need be), or a file ending in .json that
    /// holds one run.
    #[arg(long, value_name = "DIR_OR_FILE")]
    pub to: PathBuf,
    /// How many of the latest runs a directory keeps; older ones are removed.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub keep: u16,
    /// Add a run that did not pass (refused otherwise: a baseline of failing runs would make
    /// the next regression look normal).
    #[arg(long)]
    pub allow_failed: bool,
}

pub fn run(command: &BaselineCommand) -> Outcome {
    let BaselineCommand::Add(args) = command;
    let summary = match Summary::read(&args.summary) {
        Ok(summary) => summary,
        Err(err) => return Outcome::InvalidInput(anyhow::Error::msg(err)),
    };
    if let Some(outcome) = summary
        .outcome
        .as_ref()
        .filter(|outcome| outcome.exit_code != 0 && !args.allow_failed)
    {
        return Outcome::InvalidInput(anyhow::anyhow!(
            "{}: the run did not pass (exit code {}: {}); a baseline holds good runs \
             (--allow-failed adds it anyway)",
            args.summary.display(),
            outcome.exit_code,
            outcome.reason
        ));
    }
    match baseline::add(&summary, &args.to, usize::from(args.keep)) {
        Ok(added) => {
            println!("added {}", added.written.display());
            for file in &added.removed {
                println!(
                    "removed {} (keeping the last {})",
                    file.display(),
                    args.keep
                );
            }
            Outcome::Passed
        }
        Err(err) => Outcome::NotCarriedOut(anyhow::Error::msg(err)),
    }
}
