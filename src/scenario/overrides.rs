//! `--set path=value`: a field of the scenario changed from the command line
//! (`--set duration=2m --set load.stages[0].to=5000`). Applied to the YAML tree before
//! validation, so a bad value is refused like one written in the file, naming its field.

use serde_yaml::Value;

/// One `--set`: a field path and the YAML value to put there.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// As written: `load.stages[0].to`.
    pub path: String,
    keys: Vec<Key>,
    value: Value,
}

#[derive(Debug, Clone, PartialEq)]
enum Key {
    Field(String),
    Index(usize),
}

/// A `--set` that cannot be read or applied; names the override as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--set {set}: {message}")]
pub struct OverrideError {
    pub set: String,
    pub message: String,
}

impl std::str::FromStr for Override {
    type Err = OverrideError;

    /// `path=value`; the value is read as YAML (`5000` a number, `2m` text, `[a, b]` a list).
    /// Errors show the path only: the value may be a secret (`target.headers.Authorization`).
    fn from_str(set: &str) -> Result<Override, OverrideError> {
        let Some((path, value)) = set.split_once('=') else {
            return Err(OverrideError {
                set: set.to_owned(),
                message: "expected path=value".to_owned(),
            });
        };
        let fail = |message: &str| OverrideError {
            set: format!("{path}=..."),
            message: message.to_owned(),
        };
        let value = serde_yaml::from_str(value)
            .map_err(|err| fail(&format!("the value is not YAML: {err}")))?;
        Ok(Override {
            path: path.to_owned(),
            keys: keys(path).ok_or_else(|| fail("expected a path such as load.stages[0].to"))?,
            value,
        })
    }
}

/// `a.b[2].c` as keys; `None` for an empty part or a bad index.
fn keys(path: &str) -> Option<Vec<Key>> {
    let mut keys = Vec::new();
    for part in path.split('.') {
        let (field, mut indices) = part
            .split_once('[')
            .map_or((part, ""), |(f, rest)| (f, rest));
        if field.is_empty() {
            return None;
        }
        keys.push(Key::Field(field.to_owned()));
        if !indices.is_empty() {
            indices = indices.strip_suffix(']')?;
            for index in indices.split("][") {
                keys.push(Key::Index(index.parse().ok()?));
            }
        }
    }
    Some(keys)
}

impl Override {
    /// Sets the value in `document`; mappings on the way are created, list items must exist
    /// (or be the next one: `stages[3]` on three stages appends).
    pub fn apply(&self, document: &mut Value) -> Result<(), OverrideError> {
        let fail = |message: String| OverrideError {
            set: format!("{}=...", self.path),
            message,
        };
        let mut here = document;
        let mut walked = String::new();
        for key in &self.keys {
            here = match key {
                Key::Field(name) => {
                    if here.is_null() {
                        *here = Value::Mapping(Default::default());
                    }
                    let Value::Mapping(map) = here else {
                        return Err(fail(format!("{} is not a mapping", shown(&walked))));
                    };
                    walked = if walked.is_empty() {
                        name.clone()
                    } else {
                        format!("{walked}.{name}")
                    };
                    map.entry(Value::String(name.clone()))
                        .or_insert(Value::Null)
                }
                Key::Index(index) => {
                    let Value::Sequence(items) = here else {
                        return Err(fail(format!("{walked} is not a list")));
                    };
                    if *index == items.len() {
                        items.push(Value::Null);
                    }
                    let count = items.len();
                    walked = format!("{walked}[{index}]");
                    items
                        .get_mut(*index)
                        .ok_or_else(|| fail(format!("{walked}: the list has {count} items")))?
                }
            };
        }
        *here = self.value.clone();
        Ok(())
    }
}

fn shown(walked: &str) -> &str {
    if walked.is_empty() {
        "the document"
    } else {
        walked
    }
}

/// `text` with every override applied, as YAML again; `None` without overrides (the text is
/// then read as it is, so errors keep the file's own lines).
pub fn apply_all(text: &str, overrides: &[Override]) -> Option<Result<String, OverrideError>> {
    if overrides.is_empty() {
        return None;
    }
    // A document that is not YAML is left to the validation, which says where.
    let mut document: Value = serde_yaml::from_str(text).ok()?;
    Some(
        overrides
            .iter()
            .try_for_each(|set| set.apply(&mut document))
            .and_then(|()| {
                serde_yaml::to_string(&document).map_err(|err| OverrideError {
                    set: String::new(),
                    message: err.to_string(),
                })
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> Override {
        text.parse().unwrap()
    }

    #[test]
    fn fields_and_list_items_are_set() {
        let mut doc: Value =
            serde_yaml::from_str("duration: 10s\nload: { stages: [ { to: 10, over: 1s } ] }\n")
                .unwrap();
        for s in [
            "duration=2m",
            "load.stages[0].to=5000",
            "target.url=http://127.0.0.1:7700",
            "load.stages[1]={ hold: 5s }",
        ] {
            set(s).apply(&mut doc).unwrap();
        }
        assert_eq!(doc["duration"], Value::String("2m".into()));
        assert_eq!(doc["load"]["stages"][0]["to"], Value::Number(5000.into()));
        assert_eq!(
            doc["target"]["url"],
            Value::String("http://127.0.0.1:7700".into())
        );
        assert_eq!(doc["load"]["stages"][1]["hold"], Value::String("5s".into()));
    }

    #[test]
    fn what_cannot_be_set_is_named() {
        let mut doc: Value =
            serde_yaml::from_str("duration: 10s\nload: { stages: [ { to: 10 } ] }\n").unwrap();
        let err = set("load.stages[4].to=1").apply(&mut doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--set load.stages[4].to=...: load.stages[4]: the list has 1 items"
        );
        let err = set("duration.x=1").apply(&mut doc).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--set duration.x=...: duration is not a mapping"
        );
        assert!("duration"
            .parse::<Override>()
            .unwrap_err()
            .to_string()
            .contains("expected path=value"));
        assert!("load.stages[x]=1".parse::<Override>().is_err());
    }
}
