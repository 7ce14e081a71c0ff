//! A run's id (summary.json's `run_id`) and the rule every id keeps. The rule lives with the
//! type, since a value read back (`try_from`) or given (`--run-id`) is checked against it and
//! no `RunId` can be made without it; how a run derives its id is `report::run_id`'s.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The longest id: it is part of Kubernetes object names (`presence-bench-ID-merge`), which
/// a label value limits to 63 characters.
const MAX_LEN: usize = 40;

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
    use super::*;

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
