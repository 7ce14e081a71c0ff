//! The `agents` section: simulated agents that watch visitors and reach them, so the run can
//! measure what agents experience and check the server's delivery guarantees.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::bounds;
use super::de as typed;
use super::locate::{Issue, Segment};
use super::rate::Rate;

/// How long a due signal or presence event is awaited before it counts as lost or missed,
/// and how long before the end of the run agents stop sending, unless the scenario says.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// The compiled `agents` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Agents {
    /// Agent sessions.
    pub count: u32,
    /// Share (0 to 1) of live visitors that some agent watches with `lookup`.
    pub watch: f64,
    /// Signals per second over all agents (open model), if any.
    pub signals_per_second: Option<f64>,
    /// Invokes per second over all agents, and the action they name, if any.
    pub invokes: Option<Invokes>,
    /// Share (0 to 1) of signals and invokes sent to visitors that are offline right now.
    pub offline_signals: f64,
    /// See [`DEFAULT_GRACE`].
    pub grace: Duration,
}

/// Invokes sent by agents.
#[derive(Debug, Clone, PartialEq)]
pub struct Invokes {
    pub per_second: f64,
    pub action: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentsSpec {
    #[serde(deserialize_with = "typed::agent_count")]
    count: u32,
    #[serde(default)]
    watch: Share,
    #[serde(default)]
    signals: Option<SignalsSpec>,
    #[serde(default)]
    invokes: Option<InvokesSpec>,
    #[serde(default)]
    offline_signals: Share,
    #[serde(default, deserialize_with = "optional_grace")]
    grace: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalsSpec {
    rate: Rate,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InvokesSpec {
    rate: Rate,
    #[serde(default = "default_action")]
    action: String,
}

fn default_action() -> String {
    "startSession".to_owned()
}

fn optional_grace<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    typed::non_zero_duration(deserializer).map(Some)
}

impl AgentsSpec {
    pub(crate) fn compile(self) -> Result<Agents, Issue> {
        let signals_per_second = self.signals.map(|s| s.rate.per_second());
        let invokes = self.invokes.map(|i| Invokes {
            per_second: i.rate.per_second(),
            action: i.action,
        });
        let rates = [
            ("signals", signals_per_second),
            ("invokes", invokes.as_ref().map(|i| i.per_second)),
        ];
        for (section, rate) in rates {
            if let Some(per_second) = rate {
                bounds::check_rate(per_second).map_err(|message| {
                    Issue::here(message)
                        .under(Segment::Key("rate"))
                        .under(Segment::Key(section))
                })?;
            }
        }
        Ok(Agents {
            count: self.count,
            watch: self.watch.0,
            signals_per_second,
            invokes,
            offline_signals: self.offline_signals.0,
            grace: self.grace.unwrap_or(DEFAULT_GRACE),
        })
    }
}

/// A share written as a percentage (`20%`) or a fraction from 0 to 1 (`0.2`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Share(f64);

const SHARE_EXPECTED: &str = "a share such as 20% or 0.2 (from 0 to 1)";

impl Share {
    fn parse(text: &str) -> Result<Share, String> {
        let trimmed = text.trim();
        let fraction = match trimmed.strip_suffix('%') {
            Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
            None => trimmed.parse::<f64>(),
        }
        .map_err(|_| format!("expected {SHARE_EXPECTED}, found {text:?}"))?;
        Share::checked(fraction).ok_or_else(|| format!("expected {SHARE_EXPECTED}, found {text:?}"))
    }

    fn checked(fraction: f64) -> Option<Share> {
        (0.0..=1.0).contains(&fraction).then_some(Share(fraction))
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ShareVisitor;

        impl Visitor<'_> for ShareVisitor {
            type Value = Share;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SHARE_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Share, E> {
                Share::parse(text).map_err(E::custom)
            }

            fn visit_f64<E: de::Error>(self, number: f64) -> Result<Share, E> {
                Share::checked(number)
                    .ok_or_else(|| E::custom(format!("expected {SHARE_EXPECTED}, found {number}")))
            }

            fn visit_u64<E: de::Error>(self, number: u64) -> Result<Share, E> {
                self.visit_f64(number as f64)
            }

            fn visit_i64<E: de::Error>(self, number: i64) -> Result<Share, E> {
                self.visit_f64(number as f64)
            }
        }

        deserializer.deserialize_any(ShareVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agents(yaml: &str) -> Result<Agents, String> {
        let spec = serde_yaml::from_str::<AgentsSpec>(yaml).map_err(|err| err.to_string())?;
        spec.compile().map_err(|issue| issue.message)
    }

    #[test]
    fn the_full_section_compiles() {
        let compiled = agents(
            "count: 50\nwatch: 20%\nsignals: { rate: 500/s }\ninvokes: { rate: 20/s, action: go }\n\
             offline_signals: 0.05\n",
        )
        .unwrap();
        assert_eq!(compiled.count, 50);
        assert!((compiled.watch - 0.2).abs() < 1e-9);
        assert_eq!(compiled.signals_per_second, Some(500.0));
        assert_eq!(
            compiled.invokes,
            Some(Invokes {
                per_second: 20.0,
                action: "go".into()
            })
        );
        assert!((compiled.offline_signals - 0.05).abs() < 1e-9);
        assert_eq!(compiled.grace, DEFAULT_GRACE);
    }

    #[test]
    fn shares_outside_zero_to_one_are_refused() {
        let err = agents("count: 1\nwatch: 120%\n").unwrap_err();
        assert!(err.contains("expected a share such as 20% or 0.2"), "{err}");
        assert!(agents("count: 1\nwatch: lots\n").is_err());
        assert!(agents("count: 0\n").is_err());
        assert!(agents("count: 1\nsignals: { rate: 500 }\n").is_err());
    }

    #[test]
    fn counts_and_rates_have_upper_bounds() {
        let err = agents("count: 4294967295\n").unwrap_err();
        assert!(
            err.contains("expected a number of agents (a whole number, from 1 to 100000)"),
            "{err}"
        );
        assert!(agents("count: 100000\n").is_ok());
        let err = agents("count: 1\ninvokes: { rate: 2000000/s }\n").unwrap_err();
        assert_eq!(err, "expected a rate of at most 1000000/s, found 2000000/s");
    }
}
