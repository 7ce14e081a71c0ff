//! Why a run ended without a verdict, in two families the caller decides on: the input was
//! wrong (exit 2, nothing ran) or the run could not be carried out (exit 3). A run that was
//! judged is not an error: its verdict is in `RunResult`. A merge of a split run's shards
//! (`run::merge`) and a run over child processes (`run::processes`) end in the same two.

use std::path::Path;

use super::export::ExportError;
use crate::engine::start::LateStart;
use crate::report::html::ReportError;
use crate::report::merge::MergeError;
use crate::scenario::ScenarioError;
use crate::shard::Shard;

/// A run that ended without being judged.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An output cannot be created or written, found before the run (`what` names it).
    #[error("{what}")]
    Unwritable {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// The baseline cannot be read, or is of another scenario or schema.
    #[error("{0}")]
    Baseline(String),
    /// The `/metrics` endpoint could not be started.
    #[error(transparent)]
    Metrics(#[from] ExportError),
    /// A synchronised start was missed: the shard ran nothing (the merge counts it missing).
    #[error("shard {shard}")]
    Late {
        shard: Shard,
        #[source]
        source: LateStart,
    },
    /// A report file could not be written after the run (`what` names it).
    #[error("{what}")]
    Write {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Settings a command built on a run cannot run with (`capacity`'s range, say).
    #[error("{0}")]
    Invalid(String),
    /// The HTML report could not be built.
    #[error("writing the HTML report")]
    Html(#[source] ReportError),
    /// A shard's summary cannot be merged: it cannot be read, or is of another run.
    #[error("{0}")]
    Shard(String),
    /// No shard left a summary to merge (`what` names where they were looked for).
    #[error("{0}")]
    NoShards(String),
    /// The shards' summaries do not make one run.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// The scenario the shards recorded is not valid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The merged run's interval files or HTML report could not be made from the shards':
    /// a shard's file that cannot be read is the caller's to fix, a file not written is not.
    #[error(transparent)]
    ShardFiles(ReportError),
    /// A shard's child process could not be started (`what` names it).
    #[error("{0}")]
    Spawn(String),
}

impl RunError {
    /// Wrong input (exit 2), as opposed to a run that could not be carried out (exit 3).
    pub fn is_invalid_input(&self) -> bool {
        match self {
            RunError::Unwritable { .. }
            | RunError::Baseline(_)
            | RunError::Invalid(_)
            | RunError::Shard(_)
            | RunError::Merge(_)
            | RunError::Scenario(_) => true,
            RunError::ShardFiles(err) => !matches!(err, ReportError::Write { .. }),
            _ => false,
        }
    }

    pub(crate) fn unwritable(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RunError {
        let what = what.into();
        move |source| RunError::Unwritable { what, source }
    }

    pub(crate) fn writing(path: &Path) -> impl FnOnce(std::io::Error) -> RunError {
        let what = format!("writing {}", path.display());
        move |source| RunError::Write { what, source }
    }
}
