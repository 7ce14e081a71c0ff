//! A split run in summary.json: what each shard records about itself (`shard`), so that
//! `merge` can tell shards of one run from shards of another, find the missing ones, and judge
//! the merged totals by the scenario's own thresholds without being given the scenario again;
//! and the merged run's row per shard (`shards`).

use serde::{Deserialize, Serialize};

/// summary.json's `shard`: present when a run was one shard of several, or started at a set
/// instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
    /// FNV-1a 64 of the scenario file's text, in hex: shards of one run share it.
    pub scenario_hash: String,
    pub seed: u64,
    /// The harness's version: shards of different builds are not merged.
    pub version: String,
    /// The synchronised start (`--start-at`), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// How late after `start_at` the schedule began, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_lag_ms: Option<f64>,
    /// The scenario file's text, so the merged totals are judged by its thresholds; without
    /// its `target.headers`, whose values are secrets (a merge needs none of them).
    pub scenario_text: String,
}

/// One shard of a merged run, for the per-shard table: a bad runner shows here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRow {
    pub index: u32,
    /// False when its summary was missing (a partial merge, `--allow-missing`).
    pub present: bool,
    pub visitors: u64,
    pub errors: u64,
    /// The shard's own harness verdict (`ok` or `limited`), empty when unknown.
    pub harness: String,
    /// The shard's own outcome status, as its summary.json says.
    pub status: String,
    pub start_lag_ms: Option<f64>,
}
