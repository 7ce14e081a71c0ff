//! Command implementations and the one place where outcomes become exit codes.

pub mod baseline;
pub mod capacity;
pub mod compare;
pub mod merge;
pub mod merge_wait;
pub mod processes;
pub mod progress;
pub mod report;
pub mod run;
pub mod serve;
pub mod shards_progress;
pub mod split;
pub mod validate;

use std::process::ExitCode;

use presence_bench::run::RunError;
use presence_bench::schema::Verdict;

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
                eprintln!("error: {}", said_once(&err));
                ExitCode::from(2)
            }
            Outcome::NotCarriedOut(err) => {
                eprintln!("error: {}", said_once(&err));
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

/// Logs go to stderr, filtered by `RUST_LOG` (default `warn`), so stdout stays for reports;
/// coloured only on a terminal, so that a log kept in a file reads as text.
pub fn init_tracing() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = std::io::stderr().is_terminal();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

/// An error and its causes, each said once. Most of this crate's errors name their cause in
/// their own message (`#[error("{path}: {source}")]`, so that one line says it wherever it is
/// shown); the whole chain would then end `...: No such file or directory (os error 2): No
/// such file or directory (os error 2)`.
fn said_once(err: &anyhow::Error) -> String {
    let mut out = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::said_once;

    #[test]
    fn an_error_names_each_cause_once() {
        let io = || std::io::Error::from_raw_os_error(2);
        #[derive(Debug, thiserror::Error)]
        #[error("x.hlog: {source}")]
        struct Named {
            source: std::io::Error,
        }
        let named = anyhow::Error::new(Named { source: io() }).context("merging");
        assert_eq!(said_once(&named), format!("merging: x.hlog: {}", io()));
        let plain = anyhow::Error::new(io()).context("reading x.hlog");
        assert_eq!(
            said_once(&plain),
            format!("reading x.hlog: {}", io()),
            "a cause not in the message is named"
        );
    }
}
