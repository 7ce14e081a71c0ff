//! Reconnect backoff (docs/protocol.md section 4): capped exponential with jitter, so that the
//! visitors of a lost instance do not all come back in the same millisecond.

use std::time::Duration;

use rand::Rng;
use serde::Deserialize;

use super::de;

/// The `reconnect` section; it is also the plan's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Backoff {
    /// The delay before the first retry, before jitter. Default 100ms.
    #[serde(deserialize_with = "de::non_zero_duration")]
    pub base: Duration,
    /// The longest delay, before jitter. Default 10s.
    #[serde(deserialize_with = "de::non_zero_duration")]
    pub cap: Duration,
    /// Default `full`.
    pub jitter: Jitter,
}

/// How much of each delay is random.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Jitter {
    /// Uniform in `0..=delay`: spreads a herd best (the protocol's recommendation).
    #[default]
    Full,
    /// Half the delay fixed, half random: never retries at once.
    Equal,
    /// Exactly the delay: reproducible but synchronised.
    None,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            jitter: Jitter::Full,
        }
    }
}

impl Backoff {
    /// The wait before retry number `attempt` (0 for the first retry).
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let doubled = self
            .base
            .checked_mul(2u32.checked_pow(attempt).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX);
        let ceiling = doubled.min(self.cap);
        match self.jitter {
            Jitter::Full => rng.random_range(Duration::ZERO..=ceiling),
            Jitter::Equal => {
                let half = ceiling / 2;
                half + rng.random_range(Duration::ZERO..=ceiling - half)
            }
            Jitter::None => ceiling,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn backoff(jitter: Jitter) -> Backoff {
        Backoff {
            jitter,
            ..Backoff::default()
        }
    }

    #[test]
    fn none_doubles_up_to_the_cap() {
        let mut rng = SmallRng::seed_from_u64(1);
        let delays: Vec<u128> = (0..9)
            .map(|n| backoff(Jitter::None).delay(n, &mut rng).as_millis())
            .collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
        assert_eq!(
            backoff(Jitter::None).delay(u32::MAX, &mut rng),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn full_and_equal_stay_in_their_ranges() {
        let mut rng = SmallRng::seed_from_u64(2);
        for attempt in 0..12 {
            let ceiling = backoff(Jitter::None).delay(attempt, &mut rng);
            let full = backoff(Jitter::Full).delay(attempt, &mut rng);
            assert!(full <= ceiling);
            let equal = backoff(Jitter::Equal).delay(attempt, &mut rng);
            assert!(
                equal >= ceiling / 2 && equal <= ceiling,
                "{equal:?} vs {ceiling:?}"
            );
        }
    }

    #[test]
    fn yaml_defaults_and_overrides() {
        assert_eq!(
            serde_yaml::from_str::<Backoff>("{}").unwrap(),
            Backoff::default()
        );
        let custom: Backoff = serde_yaml::from_str("{ base: 1s, jitter: equal }").unwrap();
        assert_eq!(
            custom,
            Backoff {
                base: Duration::from_secs(1),
                jitter: Jitter::Equal,
                ..Backoff::default()
            }
        );
        assert!(serde_yaml::from_str::<Backoff>("{ jitter: some }").is_err());
        assert!(serde_yaml::from_str::<Backoff>("{ base: 100 }")
            .unwrap_err()
            .to_string()
            .contains("with a unit"));
    }
}
