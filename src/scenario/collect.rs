//! Reading a scenario that does not deserialize, to report every mistake rather than the first.
//!
//! serde stops at the first error, and the deserializer cannot carry on after one (it is left
//! in the middle of a value). So a list or mapping is read again, part by part: each pass skips
//! the parts before the one that failed last time and reads on from the next, so `n` mistakes
//! cost `n + 1` passes over the text, never one pass per part. Every error still comes from
//! serde_norway reading the original text, with its line, column and field path.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};

use super::locate::{At, Segment};

/// Most errors reported for one file: past this, more are noise (and more passes).
pub(crate) const MAX_ERRORS: usize = 50;

/// Reads the parts of one mapping: the reader decides what each entry must be.
pub(crate) trait Entries {
    /// Reads the next entry, key and value; `Ok(false)` at the end of the mapping.
    fn read<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<bool, A::Error>;

    /// Passes over the next entry, read in an earlier pass; `Ok(false)` at the end.
    fn skip<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<bool, A::Error> {
        match map.next_key::<IgnoredAny>()? {
            Some(_) => map.next_value::<IgnoredAny>().map(|_| true),
            None => Ok(false),
        }
    }

    /// Checks the mapping as a whole once every entry was seen (missing fields, say).
    fn finish<E: de::Error>(self) -> Result<(), E>;
}

/// How a pass reads the part at a path: a list item by item, or a mapping entry by entry.
pub(crate) enum Parts<T, R> {
    /// Every item must be a `T`; `non_empty` refuses an empty list.
    List {
        non_empty: bool,
        item: PhantomData<T>,
    },
    /// Every entry as `R` reads it.
    Map(R),
}

/// What one pass found: the error, and the index of the part it failed in (`None` when it
/// failed outside every part: a syntax error, or the value is not a list or mapping at all).
pub(crate) struct Failure {
    pub error: serde_yaml::Error,
    pub part: Option<usize>,
}

/// Every error in the parts of the value at `path`, in text order; empty when the value is
/// absent or reads cleanly. Stops after `limit` errors.
pub(crate) fn each_error<T, R>(
    text: &str,
    path: &[Segment],
    parts: impl Fn() -> Parts<T, R>,
    limit: usize,
) -> Vec<Failure>
where
    T: DeserializeOwned,
    R: Entries,
{
    let mut failures = Vec::new();
    let mut from = 0;
    while failures.len() < limit {
        let reached = Cell::new(None);
        let pass = At {
            path,
            inner: Some(Resume {
                parts: parts(),
                from,
                reached: &reached,
            }),
            missing: None,
        };
        let Err(error) = pass.deserialize(serde_yaml::Deserializer::from_str(text)) else {
            break;
        };
        let part = reached.get();
        failures.push(Failure { error, part });
        match part {
            Some(index) => from = index + 1,
            None => break,
        }
    }
    failures
}

/// What [`value_at`] found.
pub(crate) enum Found<T> {
    Absent,
    /// There, but not a valid `T` (its errors come from [`each_error`]).
    Invalid,
    Value(T),
}

/// The value at `path` read as a `T`.
pub(crate) fn value_at<T: DeserializeOwned>(text: &str, path: &[Segment]) -> Found<T> {
    let slot = Cell::new(None);
    let pass = At {
        path,
        inner: Some(Keep { slot: &slot }),
        missing: None,
    };
    match pass.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Ok(()) => slot.into_inner().map_or(Found::Absent, Found::Value),
        Err(_) => Found::Invalid,
    }
}

/// Reads a `T` into `slot`.
struct Keep<'a, T> {
    slot: &'a Cell<Option<T>>,
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Keep<'_, T> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.slot.set(Some(T::deserialize(deserializer)?));
        Ok(())
    }
}

/// One pass over a list or mapping: parts before `from` are passed over, the others read;
/// `reached` tells which part the pass was in when it failed.
struct Resume<'a, T, R> {
    parts: Parts<T, R>,
    from: usize,
    reached: &'a Cell<Option<usize>>,
}

impl<'de, T: DeserializeOwned, R: Entries> DeserializeSeed<'de> for Resume<'_, T, R> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.parts {
            Parts::List { .. } => deserializer.deserialize_seq(self),
            Parts::Map(_) => deserializer.deserialize_map(self),
        }
    }
}

impl<'de, T: DeserializeOwned, R: Entries> Visitor<'de> for Resume<'_, T, R> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.parts {
            Parts::List { .. } => f.write_str("a list"),
            Parts::Map(_) => f.write_str("a mapping"),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Parts::List { non_empty, .. } = self.parts else {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &self));
        };
        for index in 0.. {
            let more = if index < self.from {
                seq.next_element::<IgnoredAny>()?.is_some()
            } else {
                self.reached.set(Some(index));
                seq.next_element::<T>()?.is_some()
            };
            if !more {
                self.reached.set(None);
                if index == 0 && non_empty {
                    return Err(de::Error::custom(
                        "expected a list with at least one item, found an empty list",
                    ));
                }
                break;
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Parts::Map(mut entries) = self.parts else {
            return Err(de::Error::invalid_type(de::Unexpected::Map, &"a list"));
        };
        for index in 0.. {
            let more = if index < self.from {
                entries.skip(&mut map)?
            } else {
                self.reached.set(Some(index));
                entries.read(&mut map)?
            };
            if !more {
                break;
            }
        }
        self.reached.set(None);
        entries.finish()
    }
}

/// For lists: a reader of mappings that is never used.
pub(crate) struct NoEntries;

impl Entries for NoEntries {
    fn read<'de, A: MapAccess<'de>>(&mut self, _: &mut A) -> Result<bool, A::Error> {
        Ok(false)
    }

    fn finish<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Reads every item of a list as `T`.
pub(crate) fn list<T>(non_empty: bool) -> Parts<T, NoEntries> {
    Parts::List {
        non_empty,
        item: PhantomData,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use Segment::Key;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        n: u8,
    }

    fn lines(failures: &[Failure]) -> Vec<usize> {
        failures
            .iter()
            .map(|f| f.error.location().map_or(0, |l| l.line()))
            .collect()
    }

    #[test]
    fn every_bad_item_is_reported_once_in_order() {
        let text = "x: 1\nlist:\n  - { n: 1 }\n  - { n: 300 }\n  - { n: 2 }\n  - { m: 1 }\n  - \
                    { n: -1 }\n";
        let failures = each_error(text, &[Key("list")], || list::<Item>(true), MAX_ERRORS);
        assert_eq!(lines(&failures), vec![4, 6, 7]);
        assert_eq!(
            failures.iter().map(|f| f.part).collect::<Vec<_>>(),
            vec![Some(1), Some(3), Some(4)]
        );
        assert!(
            failures[1]
                .error
                .to_string()
                .starts_with("list[3]: unknown field `m`"),
            "{}",
            failures[1].error
        );
    }

    #[test]
    fn clean_absent_and_malformed_values() {
        let clean = each_error(
            "list: [{ n: 1 }]\n",
            &[Key("list")],
            || list::<Item>(true),
            MAX_ERRORS,
        );
        assert!(clean.is_empty());
        assert!(each_error(
            "other: 1\n",
            &[Key("list")],
            || list::<Item>(true),
            MAX_ERRORS
        )
        .is_empty());
        let empty = each_error(
            "list: []\n",
            &[Key("list")],
            || list::<Item>(true),
            MAX_ERRORS,
        );
        assert_eq!(empty.len(), 1);
        assert!(
            empty[0].error.to_string().contains("at least one item"),
            "{}",
            empty[0].error
        );
        let scalar = each_error(
            "list: 5\n",
            &[Key("list")],
            || list::<Item>(true),
            MAX_ERRORS,
        );
        assert_eq!((scalar.len(), scalar[0].part), (1, None));
    }

    #[test]
    fn the_limit_bounds_the_passes() {
        let text: String = (0..20).map(|_| "- { n: 999 }\n").collect();
        assert_eq!(each_error(&text, &[], || list::<Item>(true), 5).len(), 5);
    }
}
