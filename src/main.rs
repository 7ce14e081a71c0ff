//! The `presence-bench` command: parses the command line, dispatches, and maps outcomes to
//! exit codes in one place (`cli::Outcome`).

mod cli;

use clap::{Parser, Subcommand};

/// Load generation and benchmarking harness for Presence servers.
#[derive(Parser)]
#[command(name = "presence-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and report what it measured.
    Run(cli::run::RunArgs),
    /// Find the largest load at which a scenario's thresholds and checks hold (docs/capacity.md).
    Capacity(cli::capacity::CapacityArgs),
    /// Run the embedded reference Presence cluster until Ctrl-C or SIGTERM.
    Serve(cli::serve::ServeArgs),
    /// Compare two summary.json files; fails when a latency regressed past its tolerance.
    Compare(cli::compare::CompareArgs),
    /// Keep a baseline: a history of good runs that `run --baseline` and `compare` judge against.
    #[command(subcommand)]
    Baseline(cli::baseline::BaselineCommand),
    /// Check scenario files without running them.
    Validate(cli::validate::ValidateArgs),
    /// Build the self-contained HTML report of a run's output directory.
    Report(cli::report::ReportArgs),
    /// Merge the summaries of a split run's shards and judge the whole run once.
    Merge(cli::merge::MergeArgs),
}

fn main() -> std::process::ExitCode {
    cli::init_tracing();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => cli::run::execute(args),
        Command::Capacity(args) => cli::capacity::execute(args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Compare(args) => cli::compare::run(&args),
        Command::Baseline(command) => cli::baseline::run(&command),
        Command::Validate(args) => cli::validate::run(&args),
        Command::Report(args) => cli::report::run(&args),
        Command::Merge(args) => cli::merge::run(&args),
    };
    outcome.exit_code()
}
