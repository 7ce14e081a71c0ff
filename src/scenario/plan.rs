//! The compiled scenario: plain data the engine executes, every value checked and typed.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub use super::agents::{Agents, Invokes};
pub use super::backoff::{Backoff, Jitter};
pub use super::drills::{Action, ActionRun, DrillActions, DrillEvent, DrillKind, DrillPlan};
pub use super::load::{Load, Stage};
pub use super::metrics::MetricsExport;
pub use super::step::{Repeat, Repetitions, Step};
pub use super::target::{Destination, Target};
pub use super::threshold::Threshold;
pub use super::tolerance::CompareTolerances;
use super::transport::TransportMix;
use crate::wire::Transport;

/// A validated scenario, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    /// Drives every random choice; see [`visitor_rng`].
    pub seed: u64,
    pub target: Target,
    /// Hard cap on the run.
    pub duration: Duration,
    pub load: Load,
    pub reconnect: Backoff,
    /// Live Prometheus export, when the scenario asks for it.
    pub metrics: Option<MetricsExport>,
    /// At least one; weights are above zero.
    pub behaviors: Vec<Behavior>,
    /// Simulated agents, if the scenario has any.
    pub agents: Option<Agents>,
    /// The run's verdict: each must hold for the run to pass (exit code 0).
    pub thresholds: Vec<Threshold>,
    /// Tolerances for comparing the run with a baseline.
    pub compare: CompareTolerances,
    /// Scale events and what they are measured by; `None` without a `drills` section.
    pub drills: Option<DrillPlan>,
}

/// A kind of visitor: a weighted share of the population and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Behavior {
    pub name: String,
    pub weight: u32,
    /// The behavior's own transports, instead of the target's.
    pub transport: Option<TransportMix>,
    /// At least one.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Picks a behavior for a new visitor, each in proportion to its weight; returns its index.
    pub fn pick_behavior(&self, rng: &mut impl Rng) -> usize {
        let total: u64 = self.behaviors.iter().map(|b| u64::from(b.weight)).sum();
        let mut ticket = rng.random_range(0..total);
        for (index, behavior) in self.behaviors.iter().enumerate() {
            match ticket.checked_sub(u64::from(behavior.weight)) {
                Some(rest) => ticket = rest,
                None => return index,
            }
        }
        // Unreachable: the ticket is below the sum of the weights.
        self.behaviors.len() - 1
    }

    /// The transport of visitor number `index`, of behavior `behavior`: from the behavior's
    /// mix, or the target's (see `TransportMix::pick`).
    pub fn transport_of(&self, behavior: usize, index: u64) -> Transport {
        let mix = self.behaviors[behavior]
            .transport
            .as_ref()
            .unwrap_or(&self.target.transport);
        mix.pick(self.seed, index)
    }

    /// Every transport some visitor may use.
    pub fn transports(&self) -> Vec<Transport> {
        let mut all: Vec<Transport> = self.target.transport.transports().collect();
        all.extend(
            self.behaviors
                .iter()
                .filter_map(|b| b.transport.as_ref())
                .flat_map(TransportMix::transports),
        );
        all.sort();
        all.dedup();
        all
    }
}

/// The random generator of visitor number `index` in a run seeded with `seed`: the same pair
/// always gives the same sequence (on the same build), whatever order visitors start in, and
/// neighbouring indices give unrelated sequences.
pub fn visitor_rng(seed: u64, index: u64) -> SmallRng {
    derived_rng(seed, index, 0xA076_1D64_78BD_642F)
}

/// The random generator of agent number `index`: the same scheme as [`visitor_rng`], in a
/// stream of its own, so agent 3 and visitor 3 do not draw the same numbers.
pub fn agent_rng(seed: u64, index: u32) -> SmallRng {
    derived_rng(seed, u64::from(index), 0xE703_7ED1_A0B4_28DB)
}

/// One scheme for every task's generator: the seed and the index, mixed, in `stream`.
fn derived_rng(seed: u64, index: u64, stream: u64) -> SmallRng {
    SmallRng::seed_from_u64(mix(seed) ^ mix(index ^ stream))
}

/// splitmix64's finalizer: turns nearby inputs into unrelated outputs.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with_weights(weights: &[u32]) -> Plan {
        let yaml = format!(
            "name: t\nduration: 1s\nload: {{ stages: [{{ hold: 1s }}] }}\nbehaviors:\n{}",
            weights
                .iter()
                .enumerate()
                .map(|(i, w)| format!("  - {{ name: b{i}, weight: {w}, steps: [connect] }}\n"))
                .collect::<String>()
        );
        crate::scenario::from_str(&yaml, "t.yaml").unwrap()
    }

    #[test]
    fn agents_and_visitors_draw_from_streams_of_their_own() {
        let draw = |mut rng: SmallRng| -> Vec<u64> { (0..4).map(|_| rng.random()).collect() };
        assert_eq!(
            draw(agent_rng(7, 3)),
            draw(agent_rng(7, 3)),
            "the same seed and index repeat"
        );
        assert_ne!(draw(agent_rng(7, 3)), draw(visitor_rng(7, 3)));
        assert_ne!(
            draw(agent_rng(7, 3)),
            draw(agent_rng(8, 3)),
            "the seed drives agents too"
        );
    }

    #[test]
    fn behaviors_are_picked_by_weight() {
        let plan = plan_with_weights(&[80, 15, 5]);
        let mut rng = visitor_rng(1, 0);
        let mut counts = [0u32; 3];
        for _ in 0..10_000 {
            counts[plan.pick_behavior(&mut rng)] += 1;
        }
        assert!((7_700..8_300).contains(&counts[0]), "{counts:?}");
        assert!((1_300..1_700).contains(&counts[1]), "{counts:?}");
        assert!((350..650).contains(&counts[2]), "{counts:?}");
        let single = plan_with_weights(&[3]);
        assert_eq!(single.pick_behavior(&mut rng), 0);
    }

    #[test]
    fn the_same_seed_gives_the_same_sequence() {
        let draw = |seed, index| -> Vec<u64> {
            let mut rng = visitor_rng(seed, index);
            (0..8).map(|_| rng.random()).collect()
        };
        assert_eq!(draw(42, 7), draw(42, 7));
        assert_ne!(draw(42, 7), draw(42, 8));
        assert_ne!(draw(42, 7), draw(43, 7));
        assert_ne!(draw(1, 0), draw(0, 1));
    }
}
