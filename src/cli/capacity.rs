//! `presence-bench capacity`: the command line of a capacity search. The scenario, target,
//! outputs and display are `run`'s own options (flattened, merged into the plan by the same
//! code); the search's are added here, and the search itself is the library's
//! (`presence_bench::capacity`). With `--processes P` it is split: P children `capacity
//! --shard K/P` walk one fixed schedule from one start (`cli::processes`), then are merged.

use std::time::Duration;

use super::processes::{self, Subcommand};
use super::run::{self, RunArgs};
use super::Outcome;
use presence_bench::capacity::{self, Settings, Timing};
use presence_bench::run::progress::Mode;
use presence_bench::run::Options;
use presence_bench::scenario::Plan;

#[derive(clap::Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The first level of the staircase, in the scenario's dimension: visitors (closed
    /// model) or arrivals per second (open). Default: a sixteenth of --to.
    #[arg(long, value_name = "LOAD")]
    pub from: Option<f64>,
    /// The highest level tried. Default: four times the scenario's own load.
    #[arg(long, value_name = "LOAD")]
    pub to: Option<f64>,
    /// Each staircase level is the last one times this (a split search's levels are spaced
    /// by --resolution instead).
    #[arg(long, default_value_t = 2.0)]
    pub step: f64,
    /// How narrow the bracket between held and broken gets, relative to its top: `5%`.
    #[arg(long, default_value = "5%", value_parser = parse_share)]
    pub resolution: f64,
    /// Not judged, at the start of each level: its connects and the backlog of the level
    /// before settle.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// The judged plateau of each level.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub hold: Duration,
    /// The judged plateau that confirms the answer (not run by a split search). Default:
    /// three times --hold.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub confirm: Option<Duration>,
    /// The capacity needed: exit 0 when the answer reaches it, 1 when it does not.
    #[arg(long, value_name = "LOAD")]
    pub require: Option<f64>,
    /// A load to size the server for: the server processes it takes, each holding what one
    /// held at the answer, with the CPU and memory they pay (from the target's metrics).
    #[arg(long, value_name = "LOAD")]
    pub plan_for: Option<f64>,
}

/// `5%` or `0.05`.
fn parse_share(text: &str) -> Result<f64, String> {
    let parsed = match text.trim().strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    };
    parsed.map_err(|_| format!("expected a share such as 5% or 0.05, found {text:?}"))
}

pub fn execute(args: CapacityArgs) -> Outcome {
    if args.run.gate.baseline.is_some() {
        return Outcome::InvalidInput(anyhow::anyhow!(
            "capacity: --baseline is not supported by a capacity search: its levels are judged \
             against the scenario's thresholds"
        ));
    }
    let plan = match run::plan(&args.run) {
        Ok(plan) => plan,
        Err(err) => return Outcome::InvalidInput(err),
    };
    let settings = Settings {
        from: args.from,
        to: args.to,
        step: args.step,
        resolution: args.resolution,
        timing: Timing {
            warmup: args.warmup,
            hold: args.hold,
            confirm: args.confirm.unwrap_or(args.hold * 3),
        },
        require: args.require,
        plan_for: args.plan_for,
    };
    if let Some(processes) = args.run.processes {
        return split(&args.run, plan, &settings, processes);
    }
    let options = match run::options(&args.run, &plan) {
        // A level's line when it is judged is the progress: a bar over the longest search
        // possible would say nothing.
        Ok(options) => Options {
            progress: Mode::Off,
            ..options
        },
        Err(err) => return Outcome::InvalidInput(err),
    };
    // A level is merged from the same wall-clock window of every shard.
    if options.shard.is_split() && options.start_at.is_none() {
        return Outcome::InvalidInput(anyhow::anyhow!(
            "capacity --shard {}: the shards of a split search walk one schedule from one start; \
             give every shard the same --start-at",
            options.shard
        ));
    }
    run::raise_open_file_limit();
    run::carry_out(args.run.threads, |shutdown| async move {
        capacity::search(plan, &settings, options, shutdown).await
    })
}

/// `capacity --processes P`: P children walk the split search's schedule, each its stripe of
/// every level, and their summaries are merged into the answer. The children are given the
/// range as this process resolved it, so that they cannot compute another schedule.
fn split(args: &RunArgs, mut plan: Plan, settings: &Settings, processes: u32) -> Outcome {
    let range = match settings.range(&plan) {
        Ok(range) => range,
        Err(err) => return Outcome::InvalidInput(err.into()),
    };
    let timing = settings.timing;
    let schedule = match capacity::schedule::staircase(range, timing.warmup, timing.hold) {
        Ok(schedule) => schedule,
        Err(err) => return Outcome::InvalidInput(err.into()),
    };
    // The children's progress is followed over the schedule, not the scenario's duration.
    plan.duration = schedule.length();
    let duration = |value: Duration| humantime::format_duration(value).to_string();
    let mut search = vec![
        "--from".to_owned(),
        range.from.to_string(),
        "--to".to_owned(),
        range.to.to_string(),
        "--resolution".to_owned(),
        range.resolution.to_string(),
        "--warmup".to_owned(),
        duration(timing.warmup),
        "--hold".to_owned(),
        duration(timing.hold),
    ];
    for (option, value) in [
        ("--require", settings.require),
        ("--plan-for", settings.plan_for),
    ] {
        if let Some(value) = value {
            search.extend([option.to_owned(), value.to_string()]);
        }
    }
    let subcommand = Subcommand {
        name: "capacity",
        args: &search,
    };
    processes::run(args, &plan, processes, subcommand)
}
