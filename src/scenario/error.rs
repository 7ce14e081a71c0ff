//! The one error a scenario can produce, with the places in the file a person should look at.

use std::fmt;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read at all.
    #[error("{file}: cannot read the scenario: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    /// The file is larger than any scenario needs (a generated file gone wrong): refused
    /// before it is read, as reading and validating gigabytes takes minutes.
    #[error(
        "{file}: the scenario is {bytes} bytes, over the {} MiB a scenario file may be",
        super::bounds::MAX_FILE_BYTES >> 20
    )]
    TooLarge { file: String, bytes: u64 },
    /// The file was read but is not a valid scenario: every mistake found, in text order
    /// (at least one), one per line when shown.
    #[error("{}", lines(.0))]
    Invalid(Vec<Invalid>),
    /// A `--set` that cannot be applied to the document.
    #[error(transparent)]
    Override(#[from] super::overrides::OverrideError),
}

fn lines(all: &[Invalid]) -> String {
    all.iter()
        .map(Invalid::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A validation error: where (file, 1-based line and column, field path) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Field path such as `behaviors[1].steps[2].hold`; empty for the document itself.
    pub path: String,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl Invalid {
    /// Takes serde_norway's error apart. It only exposes the location as data; the field path
    /// is the prefix of its message (`path: message at line L column C`), so it is split off here.
    pub(crate) fn from_yaml(file: &str, err: &serde_yaml::Error) -> Invalid {
        let mut text = err.to_string();
        let (line, column) = match err.location() {
            Some(location) => {
                let suffix = format!(" at line {} column {}", location.line(), location.column());
                if let Some(at) = text.find(&suffix) {
                    text.replace_range(at..at + suffix.len(), "");
                }
                (location.line(), location.column())
            }
            // Only errors about the whole document (such as an empty file) have no location.
            None => (1, 1),
        };
        let (path, message) = split_path(&text);
        Invalid {
            file: file.to_owned(),
            line,
            column,
            path: path.to_owned(),
            message: message.to_owned(),
        }
    }
}

impl Invalid {
    /// Keeps the location inside `text`: serde_norway places errors about the whole document
    /// (a missing field in a file of comments, say) at the end of the stream, which can be a
    /// line past the last one (found by tests/it/fuzz.rs). Such errors then point at the end.
    pub(crate) fn inside(mut self, text: &str) -> Invalid {
        let last = text.split('\n').enumerate().last();
        if let Some((index, line)) = last.filter(|(index, _)| self.line > index + 1) {
            self.line = index + 1;
            self.column = line.chars().count() + 1;
        }
        self
    }
}

/// Splits `behaviors[1].weight: expected ...` into path and message. A path is made of field
/// names, indices and dots only, so a message such as `invalid type: ...` is never mistaken for
/// one.
fn split_path(text: &str) -> (&str, &str) {
    let is_path_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '?');
    match text.split_once(": ") {
        Some((path, message)) if !path.is_empty() && path.chars().all(is_path_char) => {
            (path, message)
        }
        _ => ("", text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column_path_message() {
        let invalid = Invalid {
            file: "scenarios/x.yaml".into(),
            line: 12,
            column: 7,
            path: "behaviors[1].steps[2].hold".into(),
            message: "expected a duration with a unit such as 500ms or 10s, found \"10\"".into(),
        };
        assert_eq!(
            invalid.to_string(),
            "scenarios/x.yaml:12:7: behaviors[1].steps[2].hold: expected a duration with a unit \
             such as 500ms or 10s, found \"10\""
        );
    }

    #[test]
    fn a_location_past_the_end_points_at_the_end() {
        let past = Invalid {
            file: "x".into(),
            line: 2,
            column: 1,
            path: String::new(),
            message: "m".into(),
        };
        let inside = past.clone().inside("# only a comment");
        assert_eq!((inside.line, inside.column), (1, 17));
        assert_eq!(past.clone().inside("a\nb"), past, "line 2 exists");
    }

    #[test]
    fn every_mistake_is_shown_on_its_own_line() {
        let at = |line| Invalid {
            file: "x.yaml".into(),
            line,
            column: 1,
            path: String::new(),
            message: "bad".into(),
        };
        let err = ScenarioError::Invalid(vec![at(1), at(5)]);
        assert_eq!(err.to_string(), "x.yaml:1:1: bad\nx.yaml:5:1: bad");
    }

    #[test]
    fn paths_are_told_from_messages() {
        assert_eq!(
            split_path("load.stages[0]: expected x"),
            ("load.stages[0]", "expected x")
        );
        assert_eq!(
            split_path("invalid type: map, expected x"),
            ("", "invalid type: map, expected x")
        );
        assert_eq!(
            split_path("missing field `name`"),
            ("", "missing field `name`")
        );
    }
}
