//! One run over several visitor groups (`target.groups`): each group is a world of its own,
//! with its own opener (the group it connects with) and its own delivery ledger, since a
//! visitor id (a server-assigned unique id, for one) means a different visitor in another
//! group. Visitor and agent number `j` belong to group `j mod G`, so the load spreads
//! evenly and the same way every run; agents signal and watch only their group's visitors.

use std::sync::Arc;

use crate::checks::Ledger;
use crate::session::Opener;

/// What the visitors and agents of one group share.
pub struct World {
    pub opener: Arc<Opener>,
    pub ledger: Arc<Ledger>,
    /// Agents in this group: agent `k` is in group `k mod G`.
    pub agents: u32,
}

/// The groups of a run, in order: visitor or agent `j` lives in the `j mod len`-th.
pub struct Worlds(Vec<World>);

impl Worlds {
    /// One world per group, in order: `opener_for(g)` and `ledger` for the `g`-th group.
    pub fn new(
        groups: u32,
        agents: u32,
        mut opener_for: impl FnMut(u32) -> Opener,
        ledger: impl Fn() -> Ledger,
    ) -> Self {
        let worlds = (0..groups.max(1))
            .map(|g| World {
                opener: Arc::new(opener_for(g)),
                ledger: Arc::new(ledger()),
                agents: agents_in(g, groups.max(1), agents),
            })
            .collect();
        Worlds(worlds)
    }

    pub fn iter(&self) -> impl Iterator<Item = &World> {
        self.0.iter()
    }
}

/// How many of agents `0..agents` fall in group `g` of `groups`.
fn agents_in(g: u32, groups: u32, agents: u32) -> u32 {
    agents / groups + u32::from(g < agents % groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_spread_like_visitors() {
        assert_eq!(
            (0..3).map(|g| agents_in(g, 3, 7)).collect::<Vec<_>>(),
            [3, 2, 2]
        );
        assert_eq!(
            (0..4).map(|g| agents_in(g, 4, 2)).collect::<Vec<_>>(),
            [1, 1, 0, 0]
        );
        assert_eq!(agents_in(0, 1, 5), 5);
    }
}
