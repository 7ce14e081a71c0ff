//! Think times: how long a visitor waits, constant or drawn from a distribution so that
//! thousands of visitors do not act in lockstep.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::de::{first_key, no_second_key, parse_duration, NonZeroSpan, Span};

/// A wait: `5s`, `{ uniform: [10s, 20s] }` or `{ exponential: 15s }` (the mean).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Think {
    Constant(Duration),
    /// Uniform between `low` and `high`, both included.
    Uniform {
        low: Duration,
        high: Duration,
    },
    /// Exponential with this mean: the gaps of a Poisson process, memoryless like real arrivals.
    Exponential {
        mean: Duration,
    },
}

impl Think {
    pub fn sample(&self, rng: &mut impl Rng) -> Duration {
        match *self {
            Think::Constant(duration) => duration,
            Think::Uniform { low, high } => rng.random_range(low..=high),
            Think::Exponential { mean } => {
                // Inverse CDF; `1 - u` is in (0, 1], so the logarithm is finite (at most ~37
                // means).
                let u: f64 = rng.random();
                mean.mul_f64(-(1.0 - u).ln())
            }
        }
    }

    /// The average wait, for summaries and for pacing estimates.
    pub fn mean(&self) -> Duration {
        match *self {
            Think::Constant(duration) => duration,
            Think::Uniform { low, high } => (low + high) / 2,
            Think::Exponential { mean } => mean,
        }
    }
}

const THINK_EXPECTED: &str =
    "a think time: a duration such as 5s, { uniform: [10s, 20s] } or { exponential: 15s }";

struct ThinkVisitor;

impl<'de> Visitor<'de> for ThinkVisitor {
    type Value = Think;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(THINK_EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Think, E> {
        parse_duration(text).map(Think::Constant).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Think, E> {
        self.visit_str(&number.to_string())
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Think, E> {
        self.visit_str(&number.to_string())
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Think, E> {
        self.visit_str(&number.to_string())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Think, A::Error> {
        let key = first_key(&mut map, THINK_EXPECTED)?;
        let think = match key.as_str() {
            "uniform" => {
                let [Span(low), Span(high)] = map.next_value::<[Span; 2]>()?;
                if low > high {
                    return Err(de::Error::custom(format!(
                        "expected uniform: [low, high] with low <= high, found [{}, {}]",
                        humantime::format_duration(low),
                        humantime::format_duration(high)
                    )));
                }
                Think::Uniform { low, high }
            }
            "exponential" => Think::Exponential {
                mean: map.next_value::<NonZeroSpan>()?.0,
            },
            other => {
                return Err(de::Error::unknown_variant(
                    other,
                    &["uniform", "exponential"],
                ))
            }
        };
        no_second_key(&mut map, &key)?;
        Ok(think)
    }
}

impl<'de> Deserialize<'de> for Think {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ThinkVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn think(yaml: &str) -> Think {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn error(yaml: &str) -> String {
        serde_yaml::from_str::<Think>(yaml).unwrap_err().to_string()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(think("5s"), Think::Constant(Duration::from_secs(5)));
        assert_eq!(
            think("{ uniform: [10s, 20s] }"),
            Think::Uniform {
                low: Duration::from_secs(10),
                high: Duration::from_secs(20)
            }
        );
        assert_eq!(
            think("exponential: 15s"),
            Think::Exponential {
                mean: Duration::from_secs(15)
            }
        );
    }

    #[test]
    fn refuses_bad_forms() {
        assert!(error("10")
            .starts_with("expected a duration with a unit such as 500ms or 10s, found \"10\""));
        assert!(error("{ uniform: [20s, 10s] }")
            .starts_with("expected uniform: [low, high] with low <= high"));
        assert!(error("{ uniform: [1s] }").contains("invalid length 1"));
        assert!(error("{ exponential: 0s }").contains("expected a duration above zero"));
        assert!(error("{ normal: 1s }").contains("unknown variant `normal`"));
        assert!(
            error("{ uniform: [1s, 2s], exponential: 1s }").contains("found also `exponential`")
        );
    }

    #[test]
    fn samples_stay_in_range() {
        let mut rng = SmallRng::seed_from_u64(7);
        let uniform = Think::Uniform {
            low: Duration::from_secs(10),
            high: Duration::from_secs(20),
        };
        let exponential = Think::Exponential {
            mean: Duration::from_secs(1),
        };
        let mut total = Duration::ZERO;
        for _ in 0..2000 {
            let wait = uniform.sample(&mut rng);
            assert!((Duration::from_secs(10)..=Duration::from_secs(20)).contains(&wait));
            total += exponential.sample(&mut rng);
        }
        assert_eq!(
            Think::Constant(Duration::from_millis(3)).sample(&mut rng),
            Duration::from_millis(3)
        );
        let mean = total.as_secs_f64() / 2000.0;
        assert!((0.85..1.15).contains(&mean), "exponential mean {mean}");
    }
}
