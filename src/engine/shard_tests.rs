//! Tests of the driver's split (`crate::shard`): the shards' levels and arrivals partition
//! the single plan's, none twice, none missing.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{arrivals_due, visitors_wanted};
use crate::scenario::{Load, Stage};
use crate::shard::Shard;

fn shards(count: u32) -> Vec<Shard> {
    (0..count)
        .map(|index| Shard::new(index, count).unwrap())
        .collect()
}

/// The closed model: at many instants of a ramp, the shards' levels add up to the global
/// level, and the visitors each shard keeps alive (its first `share` global numbers) are
/// together exactly visitors `0..level`, none twice.
#[test]
fn closed_model_levels_and_visitors_partition_the_single_plan() {
    let load = Load::Stages(vec![
        Stage {
            from: 0,
            to: 997,
            over: Duration::from_secs(10),
        },
        Stage {
            from: 997,
            to: 13,
            over: Duration::from_secs(7),
        },
    ]);
    for count in [1, 2, 3, 7] {
        for millis in (0..18_000).step_by(37) {
            let elapsed = Duration::from_millis(millis);
            let level = u64::from(load.target_at(elapsed).unwrap());
            let mut alive = BTreeSet::new();
            let mut sum = 0;
            for shard in shards(count) {
                let wanted = visitors_wanted(&load, elapsed, shard) as u64;
                sum += wanted;
                for local in 0..wanted {
                    assert!(
                        alive.insert(shard.global(local)),
                        "visitor twice at {millis} ms"
                    );
                }
            }
            assert_eq!(sum, level, "{count} shards at {millis} ms");
            assert_eq!(alive, (0..level).collect(), "{count} shards at {millis} ms");
        }
    }
}

/// The open model: the shards' arrivals are the global arrival sequence striped, each
/// arrival on its shard at the same instant as in one process.
#[test]
fn open_model_arrivals_partition_the_single_sequence() {
    let (per_second, for_) = (333.3, Duration::from_secs(3));
    let mut single = Vec::new();
    let mut striped = vec![Vec::new(); 3];
    let mut started = [0u64; 3];
    for millis in (0..4_000).step_by(10) {
        let elapsed = Duration::from_millis(millis);
        let due = arrivals_due(per_second, for_, elapsed, Shard::WHOLE);
        single.extend((single.len() as u64..due).map(|index| (index, millis)));
        for shard in shards(3) {
            let local = &mut started[shard.index as usize];
            let due = arrivals_due(per_second, for_, elapsed, shard);
            for next in *local..due {
                striped[shard.index as usize].push((shard.global(next), millis));
            }
            *local = due;
        }
    }
    assert_eq!(single.len(), 999, "333.3/s for 3 s");
    let mut merged: Vec<(u64, u64)> = striped.iter().flatten().copied().collect();
    merged.sort_unstable();
    assert_eq!(
        merged, single,
        "same arrivals, same instants, none twice, none missing"
    );
    for (k, arrivals) in striped.iter().enumerate() {
        assert!(
            arrivals.iter().all(|(index, _)| index % 3 == k as u64),
            "shard {k} keeps its stripe"
        );
    }
}
