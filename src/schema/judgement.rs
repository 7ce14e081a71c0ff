//! What a run was judged by and how it ended: each threshold, each ungoverned delivery check
//! and each baseline comparison, and the outcome they add up to (summary.json's
//! `thresholds`, `check_results`, `baseline` and `outcome`; docs/ci.md has the table of
//! outcomes).

use serde::{Deserialize, Serialize};

/// One threshold's outcome, as summary.json records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub name: String,
    /// The behavior the threshold selects (`{behavior:NAME}`); absent: the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<String>,
    pub expression: String,
    /// In `unit`; `null` when a latency statistic had no samples (which fails: a gate on
    /// something that never happened proves nothing).
    pub value: Option<f64>,
    /// `us`, `/s` or `count`.
    pub unit: String,
    /// False when what it measures had no opportunity to happen (a latency without samples, a
    /// check on signals none were sent); summaries older than the field read as true.
    #[serde(default = "exercised_by_default")]
    pub exercised: bool,
    pub passed: bool,
}

fn exercised_by_default() -> bool {
    true
}

/// One delivery check that no threshold governs, judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub violations: u64,
    /// False when nothing happened that the check could have judged.
    pub exercised: bool,
    /// False on a violation, or when not exercised although the scenario set it up.
    pub passed: bool,
}

/// One metric compared with the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineResult {
    pub metric: String,
    pub passed: bool,
    /// What regressed, e.g. `p99 1.20ms -> 2.40ms (tolerance 10% or 1ms)`; empty when it held.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// How a run ended; `report::verdict::decide` picks the first that applies in the order of
/// docs/ci.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every threshold, check, error governance and baseline comparison held.
    Passed,
    /// A threshold, a delivery check, an ungoverned error, a required check that was not
    /// exercised, or a baseline regression failed.
    Failed,
    /// An `abort_on_fail` threshold failed and stopped the run: a failed threshold.
    Aborted,
    /// Ctrl-C or SIGTERM stopped the run before its end: no verdict on the server.
    Interrupted,
    /// No session could be opened: the target is down or is not a Presence server.
    TargetDown,
    /// A drill event's action failed: the run did not test what the scenario asked for.
    DrillFailed,
    /// Everything held, but the harness was the bottleneck: the figures measure it too.
    HarnessLimited,
    /// A merged run lacks a shard's summary: the figures are not the whole run's.
    Incomplete,
}

/// summary.json's `outcome`: the status, why, and the exit code it earns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    /// Empty for a pass.
    pub reason: String,
    pub exit_code: u8,
}
