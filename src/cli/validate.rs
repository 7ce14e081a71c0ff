//! `presence-bench validate FILE...`: checks scenarios without running them, so a CI job can
//! refuse a broken scenario before any machine is booked for a load test.

use std::path::PathBuf;

use presence_bench::scenario::{self, Destination, Load, Plan};

use super::Outcome;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Change a field of every scenario before it is validated, as `run --set` does.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<scenario::Override>,
}

/// Prints one line per file (`FILE: ok (...)` on stdout, the error on stderr, then any
/// warnings on stderr); every file is checked even after a failure, so one run lists every
/// problem.
pub fn run(args: &ValidateArgs) -> Outcome {
    let mut failed = 0;
    for file in &args.files {
        match scenario::load_with(file, &args.sets) {
            Ok(plan) => {
                println!("{}: ok ({})", file.display(), summary(&plan));
                // Valid, but probably not what was meant: said, never failed.
                for warning in scenario::pacing_warnings(&plan) {
                    eprintln!("{}: warning: {warning}", file.display());
                }
            }
            Err(err) => {
                eprintln!("{err}");
                failed += 1;
            }
        }
    }
    if failed == 0 {
        Outcome::Passed
    } else {
        Outcome::InvalidInput(anyhow::anyhow!(
            "{failed} of {} scenario files are invalid",
            args.files.len()
        ))
    }
}

fn summary(plan: &Plan) -> String {
    let behaviors = match plan.behaviors.len() {
        1 => "1 behavior".to_owned(),
        n => format!("{n} behaviors"),
    };
    let load = match &plan.load {
        Load::Stages(_) => format!("stages up to {} visitors", plan.load.peak_visitors()),
        Load::ArrivalRate {
            per_second,
            max_visitors,
            ..
        } => {
            format!("{per_second}/s arrivals, at most {max_visitors} visitors")
        }
    };
    let target = match &plan.target.destination {
        Destination::Embedded(settings) => format!("embedded cluster of {}", settings.instances),
        Destination::Directory { url } => format!("directory {url}"),
        Destination::Instance { url } => format!("instance {url}"),
    };
    format!(
        "{behaviors}, {load}, {}, {target}",
        humantime::format_duration(plan.duration)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_the_quickstart() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.yaml");
        let plan = scenario::load(std::path::Path::new(path)).unwrap();
        assert_eq!(
            summary(&plan),
            "3 behaviors, stages up to 1000 visitors, 24s, embedded cluster of 3"
        );
    }

    #[test]
    fn invalid_files_are_invalid_input() {
        let args = ValidateArgs {
            files: vec![PathBuf::from("/nonexistent.yaml")],
            sets: Vec::new(),
        };
        assert!(matches!(run(&args), Outcome::InvalidInput(_)));
    }
}
