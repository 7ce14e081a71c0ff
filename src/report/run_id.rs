//! One run's identity. The shards of a split run share nothing but their inputs, so each
//! derives the same id from them (the scenario's hash, the seed, the shard count and the
//! agreed start), or is given one (`--run-id`). Every output file carries it, so `merge` can
//! tell a shard of this run from a leftover of an earlier one in a reused directory, and a
//! Kubernetes run can name its Jobs and its results directory after it.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::split::fnv1a;

/// The longest id: it is part of Kubernetes object names (`presence-bench-ID-merge`), which
/// a label value limits to 63 characters.
pub const MAX_LEN: usize = 40;

/// A run's id: lowercase letters, digits and `-`, starting and ending with a letter or digit
/// (a DNS label, so it can name Kubernetes objects and directories alike).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RunId(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RunIdError {
    #[error("a run id is 1 to {MAX_LEN} characters, found {0}")]
    Length(usize),
    #[error(
        "a run id is lowercase letters, digits and `-`, starting and ending with a letter or digit \
         (it names Kubernetes objects and directories), found `{0}`"
    )]
    Characters(String),
}

impl RunId {
    /// The id every shard of one run computes alike: `run-` and 12 hex digits of the FNV-1a
    /// hash of its inputs. The start is taken to the millisecond, as `--start-at` is printed.
    pub fn derive(scenario_hash: &str, seed: u64, shards: u32, start: Option<SystemTime>) -> RunId {
        let start = start.map_or_else(
            || "none".to_owned(),
            |at| humantime::format_rfc3339_millis(at).to_string(),
        );
        let hash = fnv1a(&format!("{scenario_hash}/{seed}/{shards}/{start}"));
        RunId(format!("run-{:012x}", hash >> 16))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RunId {
    type Err = RunIdError;

    fn from_str(text: &str) -> Result<RunId, RunIdError> {
        if text.is_empty() || text.len() > MAX_LEN {
            return Err(RunIdError::Length(text.len()));
        }
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !text.chars().all(allowed) || text.starts_with('-') || text.ends_with('-') {
            return Err(RunIdError::Characters(text.to_owned()));
        }
        Ok(RunId(text.to_owned()))
    }
}

impl TryFrom<String> for RunId {
    type Error = RunIdError;

    fn try_from(text: String) -> Result<RunId, RunIdError> {
        text.parse()
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> String {
        id.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn shards_of_one_run_derive_one_id_and_any_other_input_changes_it() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_144_400);
        let id = RunId::derive("cbf29ce484222325", 7, 3, Some(start));
        assert_eq!(id, RunId::derive("cbf29ce484222325", 7, 3, Some(start)));
        assert!(
            id.as_str().starts_with("run-") && id.as_str().len() == 16,
            "{id}"
        );
        assert_eq!(
            id.as_str().parse::<RunId>().as_ref(),
            Ok(&id),
            "a derived id is a valid one"
        );
        let others = [
            RunId::derive("cbf29ce484222326", 7, 3, Some(start)),
            RunId::derive("cbf29ce484222325", 8, 3, Some(start)),
            RunId::derive("cbf29ce484222325", 7, 2, Some(start)),
            RunId::derive(
                "cbf29ce484222325",
                7,
                3,
                Some(start + Duration::from_millis(1)),
            ),
            RunId::derive("cbf29ce484222325", 7, 3, None),
        ];
        for other in others {
            assert_ne!(other, id);
        }
    }

    #[test]
    fn a_given_id_must_be_able_to_name_a_kubernetes_object() {
        assert_eq!(
            "nightly-42".parse::<RunId>().map(String::from),
            Ok("nightly-42".to_owned())
        );
        assert_eq!("".parse::<RunId>(), Err(RunIdError::Length(0)));
        assert_eq!("a".repeat(41).parse::<RunId>(), Err(RunIdError::Length(41)));
        for bad in ["Nightly", "run_1", "-run", "run-", "run/1"] {
            assert!(
                matches!(bad.parse::<RunId>(), Err(RunIdError::Characters(_))),
                "{bad}"
            );
        }
        let err = serde_json::from_str::<RunId>("\"Bad\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lowercase letters"), "{err}");
    }
}
