//! Locating checks that span several fields (stages against `duration`, `extend` against an
//! earlier `connect_unique`, ...). They run on the deserialized scenario, which has no positions,
//! so each produces an [`Issue`] naming a field path; [`locate`] then walks the YAML text down that
//! path and fails on the node it names, letting serde_norway attach line, column and path exactly
//! as it does for its own errors.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a field path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(&'static str),
    Index(usize),
    /// The key of a mapping's n-th entry (0-based): for keys that are data, such as the
    /// names of `thresholds`. Only last in a path: the issue is placed on the key itself.
    Entry(usize),
}

/// A cross-field validation error, not yet located in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issue {
    /// From the document root; the deepest node that exists is reported if the path runs past it
    /// (a field left to its default points at its enclosing section).
    pub path: Vec<Segment>,
    pub message: String,
}

impl Issue {
    /// An issue at the node the caller is checking; callers up the tree prefix their own segment.
    pub fn here(message: impl Into<String>) -> Issue {
        Issue {
            path: Vec::new(),
            message: message.into(),
        }
    }

    /// The same issue, one level further from the root.
    pub fn under(mut self, segment: Segment) -> Issue {
        self.path.insert(0, segment);
        self
    }
}

/// Returns serde_norway's error for `issue`, located on the node its path names.
pub(crate) fn locate(text: &str, issue: &Issue) -> serde_yaml::Error {
    let probe = At::<PhantomData<()>> {
        path: &issue.path,
        inner: None,
        missing: Some(&issue.message),
    };
    match probe.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Err(err) => err,
        // Unreachable: the probe fails on every node it ends on.
        Ok(()) => de::Error::custom(&issue.message),
    }
}

/// Walks down `path`, passing over everything else, and reads the node there with `inner`.
/// Where the path leads nowhere (or, without `inner`, where it ends), it fails with `missing`
/// on the deepest node that exists, or reads nothing when `missing` is `None`.
pub(crate) struct At<'a, S> {
    pub path: &'a [Segment],
    pub inner: Option<S>,
    pub missing: Option<&'a str>,
}

/// Fails on the key it reads, with its message: failing while on the key is what places the
/// error there (failing before reading it would place it on the entry before).
struct Fail<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for Fail<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Fail<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(self.0))
    }
}

/// The end of a walk that found nothing: fails with `missing`, if given.
fn end<E: de::Error>(missing: Option<&str>) -> Result<(), E> {
    match missing {
        Some(message) => Err(E::custom(message)),
        None => Ok(()),
    }
}

impl<'de, S: DeserializeSeed<'de, Value = ()>> DeserializeSeed<'de> for At<'_, S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match (self.path, self.inner) {
            ([], Some(inner)) => inner.deserialize(deserializer),
            (path, inner) => deserializer.deserialize_any(At {
                path,
                inner,
                missing: self.missing,
            }),
        }
    }
}

impl<'de, S: DeserializeSeed<'de, Value = ()>> Visitor<'de> for At<'_, S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if let ([Segment::Entry(wanted)], Some(message)) = (self.path, self.missing) {
            for _ in 0..*wanted {
                map.next_entry::<IgnoredAny, IgnoredAny>()?;
            }
            // Fails on the key, so the error is placed there.
            map.next_key_seed(Fail(message))?;
            return end(self.missing);
        }
        if let [Segment::Key(wanted), path @ ..] = self.path {
            while let Some(key) = map.next_key::<String>()? {
                if key == *wanted {
                    map.next_value_seed(At {
                        path,
                        inner: self.inner,
                        missing: self.missing,
                    })?;
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    return Ok(());
                }
                map.next_value::<IgnoredAny>()?;
            }
        }
        end(self.missing)?;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let [Segment::Index(wanted), path @ ..] = self.path {
            let mut found = true;
            for _ in 0..*wanted {
                found = found && seq.next_element::<IgnoredAny>()?.is_some();
            }
            if found
                && seq
                    .next_element_seed(At {
                        path,
                        inner: self.inner,
                        missing: self.missing,
                    })?
                    .is_some()
            {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        }
        end(self.missing)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        end(self.missing)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        end(self.missing)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        end(self.missing)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        end(self.missing)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        end(self.missing)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        end(self.missing)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        end(self.missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Index, Key};

    const TEXT: &str = "a: 1\nlist:\n  - x\n  - { b: 2, c: [3, 4] }\n";

    fn position(path: Vec<Segment>) -> (usize, usize, String) {
        let err = locate(
            TEXT,
            &Issue {
                path,
                message: "boom".into(),
            },
        );
        let location = err.location().expect("a location");
        (location.line(), location.column(), err.to_string())
    }

    #[test]
    fn finds_nested_nodes() {
        let (line, column, text) = position(vec![Key("list"), Index(1), Key("c"), Index(1)]);
        assert_eq!((line, column), (4, 20));
        assert!(text.starts_with("list[1].c[1]: boom"), "{text}");
    }

    #[test]
    fn an_entry_is_found_by_its_position_and_the_issue_placed_on_its_key() {
        let text = "m:\n  x: 1\n  y{z}: [2]\n";
        let err = locate(
            text,
            &Issue {
                path: vec![Key("m"), Segment::Entry(1)],
                message: "boom".into(),
            },
        );
        let location = err.location().expect("a location");
        assert_eq!((location.line(), location.column()), (3, 3));
        assert!(err.to_string().starts_with("m: boom"), "{err}");
    }

    #[test]
    fn missing_fields_point_at_the_enclosing_section() {
        let (line, column, text) = position(vec![Key("list"), Index(1), Key("absent")]);
        assert_eq!((line, column), (4, 5));
        assert!(text.starts_with("list[1]: boom"), "{text}");
    }
}
