//! Every mistake in a scenario that does not deserialize: each section, behavior, step and
//! threshold name is read on its own (see `collect`), and the checks across sections run on
//! the sections that could be read, so one `validate` lists them all.

use std::collections::HashSet;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor,
};
use serde::Deserialize;

use super::agents::AgentsSpec;
use super::backoff::Backoff;
use super::collect::{self, Entries, Failure, Found, Parts, MAX_ERRORS};
use super::de::{Name, NonEmpty, NonZeroSpan};
use super::drills::DrillsSpec;
use super::load::LoadSpec;
use super::locate::{self, Segment};
use super::metrics::MetricsSpec;
use super::spec::{BehaviorSpec, CrossSections};
use super::step::Step;
use super::target::TargetSpec;
use super::thresholds::ThresholdEntries;
use super::tolerance::CompareSpec;

/// The top-level keys, as `ScenarioSpec` names them.
const SECTIONS: &[&str] = &[
    "name",
    "description",
    "seed",
    "target",
    "duration",
    "load",
    "reconnect",
    "metrics",
    "behaviors",
    "agents",
    "thresholds",
    "compare",
    "drills",
];

/// Sections `ScenarioSpec` cannot do without.
const REQUIRED: &[&str] = &["name", "duration", "load", "behaviors"];

/// Every error that keeps `text` from deserializing into a `ScenarioSpec`, in text order: one
/// per top-level section, one per behavior and per step of a behavior, one per threshold
/// name, and the issues of the checks across the sections that could be read. At most
/// [`MAX_ERRORS`].
pub(crate) fn every_error(text: &str) -> Vec<serde_yaml::Error> {
    // Each pass reads the whole text, so the passes are bounded by the errors still wanted:
    // a file with thousands of mistakes costs about MAX_ERRORS passes, not thousands.
    let room = |found: &[Failure]| MAX_ERRORS.saturating_sub(found.len());
    let mut failures = collect::each_error(
        text,
        &[],
        || Parts::<IgnoredAny, _>::Map(Sections::default()),
        MAX_ERRORS,
    );
    let thresholds = [Segment::Key("thresholds")];
    let limit = room(&failures);
    failures.extend(collect::each_error(
        text,
        &thresholds,
        || Parts::<IgnoredAny, _>::Map(ThresholdEntries),
        limit,
    ));
    let behaviors = [Segment::Key("behaviors")];
    let bad_behaviors = collect::each_error(
        text,
        &behaviors,
        || collect::list::<BehaviorSpec>(true),
        room(&failures),
    );
    let bad_indices: Vec<usize> = bad_behaviors
        .iter()
        .filter_map(|failure| failure.part)
        .collect();
    failures.extend(bad_behaviors);
    for index in bad_indices {
        // A behavior's first bad step is already among its errors; the others are found here.
        let steps = [
            Segment::Key("behaviors"),
            Segment::Index(index),
            Segment::Key("steps"),
        ];
        let limit = room(&failures);
        if limit == 0 {
            break;
        }
        failures.extend(collect::each_error(
            text,
            &steps,
            || collect::list::<Step>(true),
            limit,
        ));
    }
    let mut errors: Vec<serde_yaml::Error> =
        failures.into_iter().map(|failure| failure.error).collect();
    let mut issues = Vec::new();
    cross_sections(text).check(&mut issues);
    errors.extend(issues.iter().map(|issue| locate::locate(text, issue)));
    let place = |err: &serde_yaml::Error| err.location().map(|l| (l.line(), l.column()));
    errors.sort_by_key(place);
    // One mistake can fail several passes (a behavior and its step): keep it once.
    errors.dedup_by(|a, b| place(a) == place(b) && a.to_string() == b.to_string());
    errors.truncate(MAX_ERRORS);
    errors
}

/// A top-level key, refused unless it is one of [`SECTIONS`].
struct SectionName;

impl<'de> DeserializeSeed<'de> for SectionName {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for SectionName {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a section name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        match SECTIONS.contains(&key) {
            true => Ok(key.to_owned()),
            false => Err(E::unknown_field(key, SECTIONS)),
        }
    }
}

/// Reads the next value as a `T`, for its errors only.
fn value<'de, T: Deserialize<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<T>().map(|_| ())
}

/// Reads the top-level sections one by one as `ScenarioSpec` does; `behaviors` and
/// `thresholds` are read on their own, part by part, and passed over here.
#[derive(Default)]
struct Sections {
    seen: HashSet<String>,
}

impl Entries for Sections {
    fn read<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<bool, A::Error> {
        // An unknown key is refused while the deserializer is on it, so the error points there.
        let Some(key) = map.next_key_seed(SectionName)? else {
            return Ok(false);
        };
        match key.as_str() {
            "name" => value::<Name, _>(map)?,
            "description" => value::<Option<String>, _>(map)?,
            "seed" => value::<u64, _>(map)?,
            "target" => value::<TargetSpec, _>(map)?,
            "duration" => value::<NonZeroSpan, _>(map)?,
            "load" => value::<LoadSpec, _>(map)?,
            "reconnect" => value::<Backoff, _>(map)?,
            "metrics" => value::<Option<MetricsSpec>, _>(map)?,
            "agents" => value::<Option<AgentsSpec>, _>(map)?,
            "compare" => value::<CompareSpec, _>(map)?,
            "drills" => value::<Option<DrillsSpec>, _>(map)?,
            // `behaviors` and `thresholds`, read part by part on their own.
            _ => value::<IgnoredAny, _>(map)?,
        }
        self.seen.insert(key);
        Ok(true)
    }

    fn skip<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<bool, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Ok(false);
        };
        value::<IgnoredAny, _>(map)?;
        self.seen.insert(key);
        Ok(true)
    }

    fn finish<E: de::Error>(self) -> Result<(), E> {
        match REQUIRED.iter().find(|name| !self.seen.contains(**name)) {
            Some(name) => Err(E::missing_field(name)),
            None => Ok(()),
        }
    }
}

/// The sections the checks across fields need, each read on its own: an absent section is
/// its default (or missing, when required), one that does not read is left out.
fn cross_sections(text: &str) -> CrossSections {
    CrossSections {
        target: section(text, "target", Some(TargetSpec::default())),
        duration: section::<NonZeroSpan>(text, "duration", None).map(|span| span.0),
        load: section(text, "load", None),
        reconnect: section(text, "reconnect", Some(Backoff::default())),
        drills: section(text, "drills", Some(None)),
        agents: section::<Option<AgentsSpec>>(text, "agents", Some(None)),
        behaviors: section::<NonEmpty<BehaviorSpec>>(text, "behaviors", None).map(|list| list.0),
    }
}

/// The top-level section `key` as a `T`; `absent` when the file has none.
fn section<T: DeserializeOwned>(text: &str, key: &'static str, absent: Option<T>) -> Option<T> {
    match collect::value_at::<T>(text, &[Segment::Key(key)]) {
        Found::Value(value) => Some(value),
        Found::Absent => absent,
        Found::Invalid => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::spec::ScenarioSpec;

    /// The sections read one by one are the document's own: serde lists the document's fields
    /// in its unknown-field error, in order.
    #[test]
    fn the_sections_are_the_documents_fields() {
        let err = serde_yaml::from_str::<ScenarioSpec>("zzz: 1\n")
            .unwrap_err()
            .to_string();
        let listed: Vec<String> = SECTIONS.iter().map(|name| format!("`{name}`")).collect();
        assert!(
            err.contains(&format!("expected one of {}", listed.join(", "))),
            "{err}"
        );
    }
}
