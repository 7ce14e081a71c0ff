//! What a shard of a split run records about itself in summary.json (`shard`, whose shape is
//! `schema`'s), so that `merge` can tell shards of one run from shards of another, find the
//! missing ones, and judge the merged totals by the scenario's own thresholds without being
//! given the scenario again.

use crate::schema::ShardInfo;
use crate::shard::Shard;

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
