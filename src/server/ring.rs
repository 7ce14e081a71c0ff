//! Consistent hashing with virtual nodes: a visitor maps to the same instance from every
//! instance's `/locate`, and when one instance leaves only its share of visitors moves.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// Points per instance; enough for an even spread over a handful of instances.
const VIRTUAL_NODES: u32 = 128;

/// A hash ring over a list of members, answering positions in that list.
#[derive(Debug, Default)]
pub struct Ring {
    /// `(point, member index)`, sorted by point.
    points: Vec<(u64, usize)>,
}

impl Ring {
    /// Builds the ring over `members`, identified by name.
    pub fn new<'a>(members: impl IntoIterator<Item = &'a str>) -> Self {
        let mut points: Vec<(u64, usize)> = members
            .into_iter()
            .enumerate()
            .flat_map(|(index, name)| {
                (0..VIRTUAL_NODES).map(move |node| (hash(&(name, node)), index))
            })
            .collect();
        points.sort_unstable();
        Ring { points }
    }

    /// The member that owns `key`: the first point at or after its hash, wrapping around.
    pub fn pick(&self, key: &str) -> Option<usize> {
        let first = self.points.first()?;
        let at = hash(&key);
        let position = self.points.partition_point(|(point, _)| *point < at);
        Some(self.points.get(position).unwrap_or(first).1)
    }
}

/// `DefaultHasher::new()` uses fixed keys, so every instance in the process agrees.
fn hash(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_ring_picks_nobody() {
        assert_eq!(Ring::new([]).pick("v"), None);
    }

    #[test]
    fn picks_are_stable_and_spread() {
        let ring = Ring::new(["s1", "s2", "s3"]);
        let picks: Vec<usize> = (0..3000)
            .map(|i| ring.pick(&format!("visitor-{i}")).unwrap())
            .collect();
        for member in 0..3 {
            let share = picks.iter().filter(|&&pick| pick == member).count();
            assert!(
                (600..1400).contains(&share),
                "member {member} got {share} of 3000"
            );
        }
        assert_eq!(ring.pick("visitor-7"), Some(picks[7]));
    }

    #[test]
    fn removing_a_member_moves_only_its_keys() {
        let before = Ring::new(["s1", "s2", "s3"]);
        let after = Ring::new(["s1", "s2"]);
        for i in 0..1000 {
            let key = format!("v{i}");
            let old = before.pick(&key).unwrap();
            if old != 2 {
                assert_eq!(after.pick(&key), Some(old));
            }
        }
    }
}
