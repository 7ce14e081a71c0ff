//! Arrival rates: a count per unit of time (`200/s`, `12000/m`), never a bare number.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

const RATE_EXPECTED: &str = "a rate such as 200/s, 12000/m or 5/ms";

/// Events per second, parsed from `N/ms`, `N/s`, `N/m` (or `/min`) or `N/h`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
}

impl Rate {
    pub fn per_second(self) -> f64 {
        self.per_second
    }

    /// Parses `count/unit`; the count may have a fraction (`0.5/s`) and must be above zero.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let malformed = || format!("expected {RATE_EXPECTED}, found {text:?}");
        let (count, unit) = text.split_once('/').ok_or_else(malformed)?;
        let count: f64 = count.trim().parse().map_err(|_| malformed())?;
        let seconds_per_unit = match unit.trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(malformed()),
        };
        if !count.is_finite() || count <= 0.0 {
            return Err(format!("expected a rate above zero, found {text:?}"));
        }
        Ok(Rate {
            per_second: count / seconds_per_unit,
        })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RateVisitor;

        impl Visitor<'_> for RateVisitor {
            type Value = Rate;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(RATE_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Rate, E> {
                Rate::parse(text).map_err(E::custom)
            }

            fn visit_u64<E: de::Error>(self, number: u64) -> Result<Rate, E> {
                self.visit_f64(number as f64)
            }

            fn visit_i64<E: de::Error>(self, number: i64) -> Result<Rate, E> {
                self.visit_f64(number as f64)
            }

            fn visit_f64<E: de::Error>(self, number: f64) -> Result<Rate, E> {
                Err(E::custom(format!(
                    "expected {RATE_EXPECTED} (a unit is needed), found \"{number}\""
                )))
            }
        }

        deserializer.deserialize_any(RateVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_becomes_per_second() {
        assert_eq!(Rate::parse("200/s").unwrap().per_second(), 200.0);
        assert_eq!(Rate::parse("12000/m").unwrap().per_second(), 200.0);
        assert_eq!(Rate::parse("60/min").unwrap().per_second(), 1.0);
        assert_eq!(Rate::parse("7200/h").unwrap().per_second(), 2.0);
        assert_eq!(Rate::parse("5/ms").unwrap().per_second(), 5000.0);
        assert_eq!(Rate::parse(" 0.5 / s ").unwrap().per_second(), 0.5);
    }

    #[test]
    fn malformed_and_non_positive_rates_are_refused() {
        assert_eq!(
            Rate::parse("200").unwrap_err(),
            "expected a rate such as 200/s, 12000/m or 5/ms, found \"200\""
        );
        assert!(Rate::parse("200/d")
            .unwrap_err()
            .starts_with("expected a rate such as"));
        assert!(Rate::parse("x/s")
            .unwrap_err()
            .starts_with("expected a rate such as"));
        assert_eq!(
            Rate::parse("0/s").unwrap_err(),
            "expected a rate above zero, found \"0/s\""
        );
        assert_eq!(
            Rate::parse("-3/s").unwrap_err(),
            "expected a rate above zero, found \"-3/s\""
        );
    }

    #[test]
    fn bare_numbers_need_a_unit() {
        let err = serde_yaml::from_str::<Rate>("200").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "expected a rate such as 200/s, 12000/m or 5/ms (a unit is needed), found \"200\""
            ),
            "{err}"
        );
    }
}
