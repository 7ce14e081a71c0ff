//! What a shard of a split run records about itself in summary.json, so that `merge` can
//! tell shards of one run from shards of another, find the missing ones, and judge the
//! merged totals by the scenario's own thresholds without being given the scenario again.

use serde::{Deserialize, Serialize};

use crate::shard::Shard;

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

impl ShardInfo {
    /// The record of `shard` of a run of `scenario_text` with `seed`. The text recorded (and
    /// hashed: shards whose tokens differ are one run) has no `target.headers`.
    pub fn new(shard: Shard, scenario_text: &str, seed: u64) -> Self {
        let scenario_text = crate::scenario::without_headers(scenario_text);
        ShardInfo {
            index: shard.index,
            count: shard.count,
            scenario_hash: scenario_hash(&scenario_text),
            seed,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            start_at: None,
            start_lag_ms: None,
            scenario_text: scenario_text.into_owned(),
        }
    }
}

/// FNV-1a 64 of the scenario's text, in hex.
pub fn scenario_hash(text: &str) -> String {
    format!("{:016x}", fnv1a(text))
}

/// FNV-1a 64 of `text`: stable across builds and platforms, unlike `DefaultHasher`.
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a_and_tells_texts_apart() {
        assert_eq!(scenario_hash(""), "cbf29ce484222325");
        assert_eq!(scenario_hash("a"), "af63dc4c8601ec8c");
        assert_ne!(scenario_hash("seed: 1"), scenario_hash("seed: 2"));
    }
}
