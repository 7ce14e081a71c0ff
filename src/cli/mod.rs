//! Command implementations and the one place where outcomes become exit codes.

pub mod compare;
pub mod merge;
pub mod processes;
pub mod progress;
pub mod report;
pub mod run;
pub mod serve;
pub mod shards_progress;
pub mod split;
pub mod validate;

use std::process::ExitCode;

use presence_bench::report::verdict::Verdict;
use presence_bench::run::RunError;

/// How a command ended; each variant is one documented exit code (docs/ci.md).
#[derive(Debug)]
pub enum Outcome {
    /// 0: everything held.
    Passed,
    /// 1: a baseline comparison failed (`compare`).
    Failed,
    /// A run that was judged: the verdict carries its own code, the same as summary.json's.
    Judged(Verdict),
    /// 2: the scenario or the command line is invalid.
    InvalidInput(anyhow::Error),
    /// 3: the command could not be carried out before any verdict (a runtime that would not
    /// start, a report that could not be written).
    NotCarriedOut(anyhow::Error),
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Passed => ExitCode::SUCCESS,
            Outcome::Failed => ExitCode::from(1),
            Outcome::Judged(verdict) => ExitCode::from(verdict.exit_code),
            Outcome::InvalidInput(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(2)
            }
            Outcome::NotCarriedOut(err) => {
                eprintln!("error: {err:#}");
                ExitCode::from(3)
            }
        }
    }
}

/// A run that ended unjudged: wrong input (2) or not carried out (3).
impl From<RunError> for Outcome {
    fn from(err: RunError) -> Self {
        if err.is_invalid_input() {
            Outcome::InvalidInput(err.into())
        } else {
            Outcome::NotCarriedOut(err.into())
        }
    }
}

/// Logs go to stderr, filtered by `RUST_LOG` (default `warn`), so stdout stays for reports.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}
