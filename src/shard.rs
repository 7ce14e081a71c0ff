//! Shards: one run split over N harness processes (or hosts) that together are the
//! single-process run. Every shard compiles the same global plan from the scenario and seed
//! and keeps its stripe of it, so no coordinator is needed (docs/distributed.md):
//!
//! - visitor `j` (and open-model arrival `j`, at the same instant as in one process) runs on
//!   shard `j mod N`; a shard's `l`-th visitor is global visitor `l * N + K`;
//! - a closed-model level `L` is split as `floor((L + N - 1 - K) / N)` on shard `K`: the
//!   shares add up to `L` at every instant, and are exactly the count of `j < L` with
//!   `j mod N = K`, so the stripes hold the same visitors as one process would;
//! - agent `a` runs on shard `a mod N` and signals only its own shard's visitors;
//! - drill actions are carried out by shard 0 only, while every shard measures the windows.
//!
//! What cannot be exact: the open model's `max_visitors` cap is split the same way, so one
//! shard may drop an arrival while another still has room; and a closed-model visitor that
//! finishes is replaced by the next index of its own shard.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Which stripe of the plan this process runs: shard `index` of `count`, from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Why a `K/N` shard was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("expected a shard as K/N (e.g. 0/3), found `{0}`")]
    Syntax(String),
    #[error("expected at least one shard, found {0}")]
    NoShards(u32),
    #[error(
        "expected a shard index below the shard count {count} (shards count from 0), found {index}"
    )]
    OutOfRange { index: u32, count: u32 },
}

impl Shard {
    /// The whole plan in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Shard `index` of `count`, checked.
    pub fn new(index: u32, count: u32) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards(count));
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    /// This shard's part of `total` things numbered `0..total`: how many of them are
    /// `≡ index (mod count)`. The parts of all shards add up to `total` exactly.
    pub fn share(self, total: u64) -> u64 {
        let (index, count) = (u64::from(self.index), u64::from(self.count));
        (total + count - 1 - index) / count
    }

    /// The global number of this shard's `local`-th visitor or arrival.
    pub fn global(self, local: u64) -> u64 {
        local * u64::from(self.count) + u64::from(self.index)
    }

    /// True when global visitor, arrival or agent number `number` runs on this shard.
    pub fn owns(self, number: u64) -> bool {
        number % u64::from(self.count) == u64::from(self.index)
    }

    /// True for the one shard that carries out drill actions.
    pub fn owns_drills(self) -> bool {
        self.index == 0
    }

    /// This shard's part of `items` (source addresses): those at positions `≡ index (mod
    /// count)`, so shards on one host use disjoint addresses when there are enough; with
    /// fewer addresses than shards, the one at `index mod len` (shared with other shards).
    pub fn stripe<T: Clone>(self, items: &[T]) -> Vec<T> {
        let mine: Vec<T> = items
            .iter()
            .enumerate()
            .filter(|(at, _)| self.owns(*at as u64))
            .map(|(_, item)| item.clone())
            .collect();
        match items.len() {
            0 => Vec::new(),
            len if mine.is_empty() => vec![items[self.index as usize % len].clone()],
            _ => mine,
        }
    }

    /// True when the plan is split at all.
    pub fn is_split(self) -> bool {
        self.count > 1
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(text.to_owned());
        let (index, count) = text.trim().split_once('/').ok_or_else(syntax)?;
        let index = index.trim().parse().map_err(|_| syntax())?;
        let count = count.trim().parse().map_err(|_| syntax())?;
        Shard::new(index, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(count: u32) -> Vec<Shard> {
        (0..count)
            .map(|index| Shard::new(index, count).unwrap())
            .collect()
    }

    #[test]
    fn shards_parse_and_refuse_nonsense() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(
            "3/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 3, count: 3 })
        );
        assert_eq!("0/0".parse::<Shard>(), Err(ShardError::NoShards(0)));
        assert_eq!(
            "1-3".parse::<Shard>(),
            Err(ShardError::Syntax("1-3".into()))
        );
        assert_eq!(
            "a/3".parse::<Shard>(),
            Err(ShardError::Syntax("a/3".into()))
        );
    }

    #[test]
    fn agents_and_drills_have_one_owner() {
        for number in 0..50u64 {
            assert_eq!(
                shards(4).iter().filter(|shard| shard.owns(number)).count(),
                1
            );
        }
        assert_eq!(
            shards(4).iter().filter(|shard| shard.owns_drills()).count(),
            1
        );
        assert!(Shard::WHOLE.owns(17) && Shard::WHOLE.owns_drills() && !Shard::WHOLE.is_split());
    }

    #[test]
    fn source_addresses_are_striped_disjointly_when_there_are_enough() {
        let addresses: Vec<u8> = (2..10).collect();
        let stripes: Vec<Vec<u8>> = shards(3)
            .iter()
            .map(|shard| shard.stripe(&addresses))
            .collect();
        assert_eq!(stripes, vec![vec![2, 5, 8], vec![3, 6, 9], vec![4, 7]]);
        assert_eq!(Shard::WHOLE.stripe(&addresses), addresses);
        assert_eq!(
            Shard { index: 4, count: 5 }.stripe(&[2u8, 3]),
            vec![2],
            "too few: one is shared"
        );
        assert!(Shard { index: 1, count: 2 }.stripe::<u8>(&[]).is_empty());
    }
}
