//! Custom `data` objects (docs/protocol.md sections 2 and 5): values are strings or numbers,
//! at most [`MAX_DATA_KEYS`] keys.

use serde_json::{Map, Value};

/// Custom data as carried on the wire.
pub type Data = Map<String, Value>;

/// The most keys a `data` object may have.
pub const MAX_DATA_KEYS: usize = 64;

/// Why a `data` object was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    #[error("data has {0} keys, at most {MAX_DATA_KEYS} are allowed")]
    TooManyKeys(usize),
    #[error("data key {key:?} holds {kind}; only strings and numbers are allowed")]
    BadValue { key: String, kind: &'static str },
}

/// Checks that `data` is flat: strings and numbers only, at most [`MAX_DATA_KEYS`] keys.
pub fn validate(data: &Data) -> Result<(), DataError> {
    if data.len() > MAX_DATA_KEYS {
        return Err(DataError::TooManyKeys(data.len()));
    }
    for (key, value) in data {
        let kind = match value {
            Value::String(_) | Value::Number(_) => continue,
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        return Err(DataError::BadValue {
            key: key.clone(),
            kind,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data(value: Value) -> Data {
        value.as_object().cloned().expect("an object")
    }

    #[test]
    fn strings_and_numbers_pass() {
        assert_eq!(validate(&data(json!({"a": "x", "b": 1, "c": 2.5}))), Ok(()));
    }

    #[test]
    fn nested_and_other_values_fail() {
        for bad in [
            json!({"a": {}}),
            json!({"a": []}),
            json!({"a": true}),
            json!({"a": null}),
        ] {
            assert!(matches!(
                validate(&data(bad)),
                Err(DataError::BadValue { .. })
            ));
        }
    }

    #[test]
    fn too_many_keys_fail() {
        let mut many = Data::new();
        for i in 0..=MAX_DATA_KEYS {
            many.insert(format!("k{i}"), Value::from(i));
        }
        assert_eq!(
            validate(&many),
            Err(DataError::TooManyKeys(MAX_DATA_KEYS + 1))
        );
    }
}
