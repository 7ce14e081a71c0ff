//! Deserialization helpers for the scenario's small typed values.
//!
//! Every check that concerns one value lives in its visitor, not after deserialization: an
//! error raised while the deserializer is on the value gets that value's line, column and
//! field path from serde_norway for free.

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::bounds::{MAX_AGENTS, MAX_VISITORS};

/// What every duration error says: a bare `10` could be seconds or milliseconds.
const DURATION_EXPECTED: &str = "a duration with a unit such as 500ms or 10s";

/// Parses a duration with a unit (humantime syntax: `500ms`, `10s`, `1m 30s`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|_| format!("expected {DURATION_EXPECTED}, found {text:?}"))
}

/// A duration written with a unit; zero allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span(pub Duration);

/// A duration written with a unit, above zero: for spans where zero would stall or divide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NonZeroSpan(pub Duration);

struct SpanVisitor {
    non_zero: bool,
}

impl Visitor<'_> for SpanVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(DURATION_EXPECTED)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        let duration = parse_duration(text).map_err(E::custom)?;
        if self.non_zero && duration.is_zero() {
            return Err(E::custom(format!(
                "expected a duration above zero, found {text:?}"
            )));
        }
        Ok(duration)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "expected {DURATION_EXPECTED}, found \"{number}\""
        )))
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "expected {DURATION_EXPECTED}, found \"{number}\""
        )))
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Duration, E> {
        Err(E::custom(format!(
            "expected {DURATION_EXPECTED}, found \"{number}\""
        )))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(SpanVisitor { non_zero: false })
            .map(Span)
    }
}

impl<'de> Deserialize<'de> for NonZeroSpan {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(SpanVisitor { non_zero: true })
            .map(NonZeroSpan)
    }
}

/// For `deserialize_with` on plan fields that hold a plain `Duration` above zero.
pub(crate) fn non_zero_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    NonZeroSpan::deserialize(deserializer).map(|span| span.0)
}

/// A whole number in `min..=max`, with a message naming what it counts.
struct WholeVisitor {
    what: &'static str,
    min: u32,
    max: u32,
}

impl WholeVisitor {
    fn out_of_range<E: de::Error>(&self, found: impl fmt::Display) -> E {
        let range = match (self.min, self.max) {
            (0, u32::MAX) => "0 or more".to_owned(),
            (min, u32::MAX) => format!("{min} or more"),
            (min, max) => format!("from {min} to {max}"),
        };
        E::custom(format!(
            "expected {} (a whole number, {range}), found \"{found}\"",
            self.what
        ))
    }
}

impl Visitor<'_> for WholeVisitor {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} (a whole number)", self.what)
    }

    fn visit_u64<E: de::Error>(self, number: u64) -> Result<u32, E> {
        match u32::try_from(number) {
            Ok(n) if (self.min..=self.max).contains(&n) => Ok(n),
            _ => Err(self.out_of_range(number)),
        }
    }

    fn visit_i64<E: de::Error>(self, number: i64) -> Result<u32, E> {
        match u64::try_from(number) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Err(self.out_of_range(number)),
        }
    }

    fn visit_f64<E: de::Error>(self, number: f64) -> Result<u32, E> {
        Err(self.out_of_range(number))
    }
}

/// A number of visitors alive at once (`to` of a stage): 0 is a valid level.
pub(crate) fn visitor_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserializer.deserialize_any(WholeVisitor {
        what: "a number of visitors",
        min: 0,
        max: MAX_VISITORS,
    })
}

/// A cap on visitors alive at once: 0 would never start one.
pub(crate) fn visitor_cap<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserializer.deserialize_any(WholeVisitor {
        what: "a number of visitors",
        min: 1,
        max: MAX_VISITORS,
    })
}

/// A number of agent sessions: `agents` without one would be a section that does nothing.
pub(crate) fn agent_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserializer.deserialize_any(WholeVisitor {
        what: "a number of agents",
        min: 1,
        max: MAX_AGENTS,
    })
}

/// A behavior's weight: a zero weight would be a behavior that never runs.
pub(crate) fn weight<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    deserializer.deserialize_any(WholeVisitor {
        what: "a weight",
        min: 1,
        max: u32::MAX,
    })
}

/// A repeat count: `times: 0` is a repeat that does nothing, surely a mistake.
pub(crate) fn times<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    deserializer
        .deserialize_any(WholeVisitor {
            what: "a number of repetitions",
            min: 1,
            max: u32::MAX,
        })
        .map(Some)
}

/// Source addresses 127.0.0.2 ..= 127.0.0.255: at most 254 of them.
pub(crate) fn source_ips<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u8, D::Error> {
    let visitor = WholeVisitor {
        what: "a number of source addresses",
        min: 1,
        max: 254,
    };
    deserializer
        .deserialize_any(visitor)
        .map(|n| u8::try_from(n).unwrap_or(u8::MAX))
}

/// A list that must hold at least one item; `what` names the items in the error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NonEmpty<T>(pub Vec<T>);

struct NonEmptyVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for NonEmptyVisitor<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list with at least one item")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        if items.is_empty() {
            return Err(de::Error::custom(
                "expected a list with at least one item, found an empty list",
            ));
        }
        Ok(items)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NonEmpty<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_seq(NonEmptyVisitor(PhantomData))
            .map(NonEmpty)
    }
}

/// A name that is not blank: reports and metric labels are keyed by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name(pub String);

struct NameVisitor;

impl Visitor<'_> for NameVisitor {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Name, E> {
        if name.trim().is_empty() {
            return Err(E::custom("expected a name, found an empty string"));
        }
        Ok(Name(name.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Reads the one key of a single-key mapping (`hold: 5s`, `uniform: [1s, 2s]`).
pub(crate) fn first_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    what: &str,
) -> Result<String, A::Error> {
    map.next_key::<String>()?
        .ok_or_else(|| de::Error::custom(format!("expected {what}, found an empty mapping")))
}

/// Refuses a second key after the value of the first was read: `{hold: 5s, extend: ~}` is
/// usually a list item whose dash was forgotten, and silently dropping either half would hide it.
pub(crate) fn no_second_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    first: &str,
) -> Result<(), A::Error> {
    match map.next_key::<String>()? {
        None => Ok(()),
        Some(second) => Err(de::Error::custom(format!(
            "expected a mapping with the single key `{first}`, found also `{second}` (a missing \
             `-`?)"
        ))),
    }
}

/// How many instances one drill event scales or kills: 0 would be an event that does nothing.
pub(crate) fn instance_count<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u32>, D::Error> {
    deserializer
        .deserialize_any(WholeVisitor {
            what: "a number of instances",
            min: 1,
            max: 100,
        })
        .map(Some)
}
