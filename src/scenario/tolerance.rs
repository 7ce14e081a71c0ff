//! Regression tolerances for `compare`: `10%`, `2ms`, or both (`10% or 2ms`). Latency noise is
//! relative on slow paths and absolute on fast ones (a 40us p50 moving to 60us is +50% and
//! means nothing), so with both parts a change is a regression only when it exceeds both.

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
        let mut tolerance = Tolerance { relative: None, absolute: None };
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
        let absolute =
            self.absolute.map(|a| humantime::format_duration(std::time::Duration::from_micros(a as u64)).to_string());
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

/// The scenario's `compare:` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompareTolerances {
    /// For every metric without its own; `None` leaves it to the command line or the default.
    pub max_regression: Option<Tolerance>,
    pub metrics: BTreeMap<Metric, Tolerance>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CompareSpec {
    #[serde(default)]
    max_regression: Option<Tolerance>,
    #[serde(default)]
    metrics: BTreeMap<MetricName, Tolerance>,
}

impl From<CompareSpec> for CompareTolerances {
    fn from(spec: CompareSpec) -> Self {
        CompareTolerances {
            max_regression: spec.max_regression,
            metrics: spec.metrics.into_iter().map(|(name, tolerance)| (name.0, tolerance)).collect(),
        }
    }
}

/// A latency metric's name: only latencies are compared.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MetricName(Metric);

impl<'de> Deserialize<'de> for MetricName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        match Metric::ALL.into_iter().find(|m| m.name() == name) {
            Some(metric) => Ok(MetricName(metric)),
            None => {
                let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
                Err(de::Error::custom(format!("expected a latency metric ({}), found {name:?}", names.join(", "))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerances_parse_in_either_order() {
        let both = Tolerance { relative: Some(0.1), absolute: Some(2000.0) };
        assert_eq!(Tolerance::parse("10% or 2ms"), Ok(both));
        assert_eq!(Tolerance::parse("2ms or 10%"), Ok(both));
        assert_eq!(Tolerance::parse("5%"), Ok(Tolerance { relative: Some(0.05), absolute: None }));
        assert_eq!(Tolerance::parse("500us"), Ok(Tolerance { relative: None, absolute: Some(500.0) }));
        assert_eq!(both.to_string(), "10% or 2ms");
    }

    #[test]
    fn malformed_tolerances_are_refused() {
        for text in ["10", "ten%", "-5%", "10% or 20%", "1ms or 2ms", "10% and 2ms", ""] {
            let err = Tolerance::parse(text).unwrap_err();
            assert!(err.starts_with("expected a tolerance such as"), "{text}: {err}");
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
        assert!(!zero.is_exceeded(100.0, 100.0), "no change is no regression");
    }
}
