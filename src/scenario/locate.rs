//! Locating checks that span several fields (stages against `duration`, `extend` against an
//! earlier `connect_unique`, ...). They run on the deserialized scenario, which has no positions,
//! so each produces an [`Issue`] naming a field path; [`locate`] then walks the YAML text down that
//! path and fails on the node it names, letting serde_norway attach line, column and path exactly
//! as it does for its own errors.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a field path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Segment {
    Key(&'static str),
    Index(usize),
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
        Issue { path: Vec::new(), message: message.into() }
    }

    /// The same issue, one level further from the root.
    pub fn under(mut self, segment: Segment) -> Issue {
        self.path.insert(0, segment);
        self
    }
}

/// Returns serde_norway's error for `issue`, located on the node its path names.
pub(crate) fn locate(text: &str, issue: &Issue) -> serde_yaml::Error {
    let probe = Probe { path: &issue.path, message: &issue.message };
    match probe.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Err(err) => err,
        // Unreachable: the probe fails on every node it ends on.
        Ok(()) => de::Error::custom(&issue.message),
    }
}

/// Walks down `path`; fails with `message` on the node where the path ends or stops matching.
#[derive(Clone, Copy)]
struct Probe<'a> {
    path: &'a [Segment],
    message: &'a str,
}

impl Probe<'_> {
    fn fail<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(self.message))
    }
}

impl<'de> DeserializeSeed<'de> for Probe<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Probe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if let [Segment::Key(wanted), rest @ ..] = self.path {
            while let Some(key) = map.next_key::<String>()? {
                if key == *wanted {
                    return map.next_value_seed(Probe { path: rest, message: self.message });
                }
                map.next_value::<IgnoredAny>()?;
            }
        }
        self.fail()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let [Segment::Index(wanted), rest @ ..] = self.path {
            for _ in 0..*wanted {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    return self.fail();
                }
            }
            if let Some(()) = seq.next_element_seed(Probe { path: rest, message: self.message })? {
                return Ok(());
            }
        }
        self.fail()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.fail()
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.fail()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.fail()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.fail()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.fail()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.fail()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.fail()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Index, Key};

    const TEXT: &str = "a: 1\nlist:\n  - x\n  - { b: 2, c: [3, 4] }\n";

    fn position(path: Vec<Segment>) -> (usize, usize, String) {
        let err = locate(TEXT, &Issue { path, message: "boom".into() });
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
    fn missing_fields_point_at_the_enclosing_section() {
        let (line, column, text) = position(vec![Key("list"), Index(1), Key("absent")]);
        assert_eq!((line, column), (4, 5));
        assert!(text.starts_with("list[1]: boom"), "{text}");
    }
}
