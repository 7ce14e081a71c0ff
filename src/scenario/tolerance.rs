//! Regression tolerances for `compare`: `10%`, `2ms`, or both (`10% or 2ms`). Latency noise is
//! relative on slow paths and absolute on fast ones (a 40us p50 moving to 60us is +50% and
//! means nothing), so with both parts a change is a regression only when it exceeds both.
//! A scenario's `compare.metrics` sets one per metric (`presence_ack: 5%`) or per statistic
//! (`presence_ack.max: 50%`, `extend.p99: off`); `--tolerance NAME=TOLERANCE` does the same on
//! the command line.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::measure::Metric;

use super::de::parse_duration;

const TOLERANCE_EXPECTED: &str = "a tolerance such as 10%, 2ms or \"10% or 2ms\"";

/// How much worse a latency may get before it counts as a regression.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// A fraction of the baseline (`0.1` for `10%`).
    pub relative: Option<f64>,
    /// In microseconds.
    pub absolute: Option<f64>,
}

impl Tolerance {
    pub fn parse(text: &str) -> Result<Tolerance, String> {
        let malformed = || format!("expected {TOLERANCE_EXPECTED}, found {text:?}");
        let mut tolerance = Tolerance {
            relative: None,
            absolute: None,
        };
        for part in text.split(" or ") {
            let part = part.trim();
            if let Some(percent) = part.strip_suffix('%') {
                let percent: f64 = percent.trim().parse().map_err(|_| malformed())?;
                if !percent.is_finite() || percent < 0.0 || tolerance.relative.is_some() {
                    return Err(malformed());
                }
                tolerance.relative = Some(percent / 100.0);
            } else {
                let duration = parse_duration(part).map_err(|_| malformed())?;
                if tolerance.absolute.is_some() {
                    return Err(malformed());
                }
                tolerance.absolute = Some(duration.as_secs_f64() * 1e6);
            }
        }
        Ok(tolerance)
    }

    /// Whether going from `baseline` to `current` (microseconds, higher is worse) exceeds
    /// every part of the tolerance.
    pub fn is_exceeded(self, baseline: f64, current: f64) -> bool {
        let worse = current - baseline;
        let relative = self.relative.is_none_or(|r| worse > baseline * r);
        let absolute = self.absolute.is_none_or(|a| worse > a);
        worse > 0.0 && relative && absolute
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let relative = self.relative.map(|r| format!("{}%", r * 100.0));
        let absolute = self.absolute.map(|a| {
            humantime::format_duration(std::time::Duration::from_micros(a as u64)).to_string()
        });
        let parts: Vec<String> = relative.into_iter().chain(absolute).collect();
        f.write_str(&parts.join(" or "))
    }
}

impl<'de> Deserialize<'de> for Tolerance {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ToleranceVisitor;

        impl Visitor<'_> for ToleranceVisitor {
            type Value = Tolerance;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(TOLERANCE_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Tolerance, E> {
                Tolerance::parse(text).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(ToleranceVisitor)
    }
}

/// A statistic `compare` shows. `p50`, `p90` and `p99` are judged by default where a run has
/// the samples for them; `max` is one sample, the run's worst moment, and is only judged when
/// a tolerance names it (`presence_ack.max: 50%`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CompareStat {
    P50,
    P90,
    P99,
    Max,
}

impl CompareStat {
    pub const ALL: [CompareStat; 4] = [
        CompareStat::P50,
        CompareStat::P90,
        CompareStat::P99,
        CompareStat::Max,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CompareStat::P50 => "p50",
            CompareStat::P90 => "p90",
            CompareStat::P99 => "p99",
            CompareStat::Max => "max",
        }
    }

    /// The quantile, or `None` for `max`.
    pub fn quantile(self) -> Option<f64> {
        match self {
            CompareStat::P50 => Some(0.5),
            CompareStat::P90 => Some(0.9),
            CompareStat::P99 => Some(0.99),
            CompareStat::Max => None,
        }
    }
}

/// What a `compare.metrics` entry names: a metric's gated statistics (`presence_ack`) or one
/// statistic of it (`presence_ack.p99`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ToleranceKey {
    pub metric: Metric,
    pub stat: Option<CompareStat>,
}

impl ToleranceKey {
    pub fn parse(name: &str) -> Result<ToleranceKey, String> {
        let (metric_name, stat_name) = match name.split_once('.') {
            Some((metric, stat)) => (metric, Some(stat)),
            None => (name, None),
        };
        let Some(metric) = Metric::ALL.into_iter().find(|m| m.name() == metric_name) else {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
            return Err(format!(
                "expected a latency metric ({}), optionally with a statistic (.p50, .p90, .p99, \
                 .max), found {name:?}",
                names.join(", ")
            ));
        };
        let stat = match stat_name {
            None => None,
            Some(stat_name) => match CompareStat::ALL.into_iter().find(|s| s.name() == stat_name) {
                Some(stat) => Some(stat),
                None => {
                    return Err(format!(
                        "expected a compared statistic (p50, p90, p99, max) after {metric_name:?}, \
                         found {stat_name:?} in {name:?}"
                    ))
                }
            },
        };
        Ok(ToleranceKey { metric, stat })
    }
}

impl fmt::Display for ToleranceKey {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.metric.name())?;
        match self.stat {
            Some(stat) => write!(f, ".{}", stat.name()),
            None => Ok(()),
        }
    }
}

/// A tolerance, or `off`: the statistic is shown and never judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Setting {
    Off,
    Tolerance(Tolerance),
}

const SETTING_EXPECTED: &str = "a tolerance such as 10%, 2ms or \"10% or 2ms\", or off";

impl Setting {
    pub fn parse(text: &str) -> Result<Setting, String> {
        if text.trim() == "off" {
            return Ok(Setting::Off);
        }
        Tolerance::parse(text)
            .map(Setting::Tolerance)
            .map_err(|_| format!("expected {SETTING_EXPECTED}, found {text:?}"))
    }

    pub fn tolerance(self) -> Option<Tolerance> {
        match self {
            Setting::Off => None,
            Setting::Tolerance(tolerance) => Some(tolerance),
        }
    }
}

impl<'de> Deserialize<'de> for Setting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SettingVisitor;

        impl Visitor<'_> for SettingVisitor {
            type Value = Setting;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SETTING_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Setting, E> {
                Setting::parse(text).map_err(E::custom)
            }

            // `off` unquoted is YAML 1.1's false to some readers; read it as written.
            fn visit_bool<E: de::Error>(self, value: bool) -> Result<Setting, E> {
                if value {
                    Err(E::custom(format!(
                        "expected {SETTING_EXPECTED}, found true"
                    )))
                } else {
                    Ok(Setting::Off)
                }
            }
        }

        deserializer.deserialize_str(SettingVisitor)
    }
}

/// A `--tolerance NAME=TOLERANCE` of the command line: `presence_ack.max=50%`, `extend.p99=off`.
pub fn parse_assignment(text: &str) -> Result<(ToleranceKey, Setting), String> {
    let Some((name, setting)) = text.split_once('=') else {
        return Err(format!(
            "expected NAME=TOLERANCE such as presence_ack.max=50% or extend.p99=off, found {text:?}"
        ));
    };
    Ok((
        ToleranceKey::parse(name.trim())?,
        Setting::parse(setting.trim())?,
    ))
}

/// The scenario's `compare:` section, and the command line's `--tolerance` over it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareTolerances {
    /// For every metric without its own; `None` leaves it to the command line or the default.
    pub max_regression: Option<Tolerance>,
    /// By metric (its gated statistics) or by one statistic of a metric.
    pub metrics: BTreeMap<ToleranceKey, Setting>,
}

impl CompareTolerances {
    /// `overrides` (the command line's) replace the entries of the same name.
    pub fn with(mut self, overrides: &[(ToleranceKey, Setting)]) -> CompareTolerances {
        self.metrics.extend(overrides.iter().copied());
        self
    }

    /// The entry for `stat` of `metric`, its own before its metric's, and whether it was its
    /// own (a tolerance naming a statistic asks for it to be judged, even `max`).
    pub fn of(&self, metric: Metric, stat: CompareStat) -> Option<(Setting, bool)> {
        let own = self
            .metrics
            .get(&ToleranceKey {
                metric,
                stat: Some(stat),
            })
            .map(|setting| (*setting, true));
        own.or_else(|| {
            self.metrics
                .get(&ToleranceKey { metric, stat: None })
                .map(|setting| (*setting, false))
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompareSpec {
    #[serde(default)]
    max_regression: Option<Tolerance>,
    #[serde(default)]
    metrics: BTreeMap<KeyName, Setting>,
}

impl From<CompareSpec> for CompareTolerances {
    fn from(spec: CompareSpec) -> Self {
        CompareTolerances {
            max_regression: spec.max_regression,
            metrics: spec
                .metrics
                .into_iter()
                .map(|(name, setting)| (name.0, setting))
                .collect(),
        }
    }
}

/// A `compare.metrics` key: a latency metric, optionally `.p50`, `.p90`, `.p99` or `.max`.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct KeyName(ToleranceKey);

impl<'de> Deserialize<'de> for KeyName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ToleranceKey::parse(&name)
            .map(KeyName)
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_parse_in_either_order() {
        let both = Tolerance {
            relative: Some(0.1),
            absolute: Some(2000.0),
        };
        assert_eq!(Tolerance::parse("10% or 2ms"), Ok(both));
        assert_eq!(Tolerance::parse("2ms or 10%"), Ok(both));
        assert_eq!(
            Tolerance::parse("5%"),
            Ok(Tolerance {
                relative: Some(0.05),
                absolute: None
            })
        );
        assert_eq!(
            Tolerance::parse("500us"),
            Ok(Tolerance {
                relative: None,
                absolute: Some(500.0)
            })
        );
        assert_eq!(both.to_string(), "10% or 2ms");
    }

    #[test]
    fn malformed_tolerances_are_refused() {
        for text in [
            "10",
            "ten%",
            "-5%",
            "10% or 20%",
            "1ms or 2ms",
            "10% and 2ms",
            "",
        ] {
            let err = Tolerance::parse(text).unwrap_err();
            assert!(
                err.starts_with("expected a tolerance such as"),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn a_regression_exceeds_every_part() {
        let both = Tolerance::parse("10% or 2ms").unwrap();
        assert!(!both.is_exceeded(1000.0, 2500.0), "+150% but only +1.5ms");
        assert!(!both.is_exceeded(50_000.0, 53_000.0), "+3ms but only +6%");
        assert!(both.is_exceeded(10_000.0, 13_000.0), "+30% and +3ms");
        assert!(!both.is_exceeded(10_000.0, 5_000.0), "an improvement");
        let relative = Tolerance::parse("10%").unwrap();
        assert!(relative.is_exceeded(100.0, 111.0));
        assert!(!relative.is_exceeded(100.0, 110.0));
        let zero = Tolerance::parse("0%").unwrap();
        assert!(
            !zero.is_exceeded(100.0, 100.0),
            "no change is no regression"
        );
    }

    #[test]
    fn keys_name_a_metric_or_one_statistic_of_it() {
        let key = ToleranceKey::parse("presence_ack.max").unwrap();
        assert_eq!(
            key,
            ToleranceKey {
                metric: Metric::PresenceAck,
                stat: Some(CompareStat::Max)
            }
        );
        assert_eq!(key.to_string(), "presence_ack.max");
        assert_eq!(
            ToleranceKey::parse("extend").unwrap(),
            ToleranceKey {
                metric: Metric::Extend,
                stat: None
            }
        );
        let err = ToleranceKey::parse("presence_ack.p95").unwrap_err();
        assert!(
            err.contains("expected a compared statistic (p50, p90, p99, max)"),
            "{err}"
        );
        let err = ToleranceKey::parse("signals_lost.p99").unwrap_err();
        assert!(
            err.starts_with("expected a latency metric (connect"),
            "{err}"
        );
        assert_eq!(
            parse_assignment("extend.p99=off"),
            Ok((
                ToleranceKey {
                    metric: Metric::Extend,
                    stat: Some(CompareStat::P99)
                },
                Setting::Off
            ))
        );
        assert!(parse_assignment("extend.p99")
            .unwrap_err()
            .starts_with("expected NAME=TOLERANCE"));
        assert!(parse_assignment("extend.p99=lots")
            .unwrap_err()
            .contains("or off, found \"lots\""));
    }

    #[test]
    fn a_statistic_s_own_entry_wins_over_its_metric_s() {
        let ack = |stat| ToleranceKey {
            metric: Metric::PresenceAck,
            stat,
        };
        let five = Setting::parse("5%").unwrap();
        let tolerances = CompareTolerances::default().with(&[
            (ack(None), five),
            (ack(Some(CompareStat::Max)), Setting::Off),
        ]);
        assert_eq!(
            tolerances.of(Metric::PresenceAck, CompareStat::P99),
            Some((five, false))
        );
        assert_eq!(
            tolerances.of(Metric::PresenceAck, CompareStat::Max),
            Some((Setting::Off, true))
        );
        assert_eq!(tolerances.of(Metric::Connect, CompareStat::P99), None);
    }
}
