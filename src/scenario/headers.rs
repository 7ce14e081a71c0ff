//! `target.headers`: request headers sent on every request to the target, `Name: value`
//! pairs of a mapping. Each name and value is checked while the deserializer is on it, so a
//! bad one is reported at its own line and column (`target.headers` for a name,
//! `target.headers.Authorization` for a value); a value's error never quotes it, since values
//! are often secrets (`Authorization: "Bearer ${API_TOKEN}"`).

use std::borrow::Cow;
use std::fmt;

use http::{HeaderName, HeaderValue};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::net::headers::{self, Headers};

/// The mapping as written, checked; empty values left out (no header is sent for them).
#[derive(Debug, Default)]
pub(crate) struct HeadersSpec(pub Headers);

impl<'de> Deserialize<'de> for HeadersSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(HeadersVisitor)
    }
}

struct HeadersVisitor;

impl<'de> Visitor<'de> for HeadersVisitor {
    type Value = HeadersSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a mapping of header names to values, such as { Authorization: \"Bearer \
             ${API_TOKEN}\" }",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeadersSpec, A::Error> {
        let mut names: Vec<HeaderName> = Vec::new();
        let mut pairs: Vec<(HeaderName, HeaderValue)> = Vec::new();
        while let Some(name) = map.next_key_seed(NameSeed(&names))? {
            names.push(name.clone());
            if let Some(value) = map.next_value_seed(ValueSeed(&name))? {
                pairs.push((name, value));
            }
        }
        // The names differ (checked on each key), so this cannot fail.
        Headers::new(pairs)
            .map(HeadersSpec)
            .map_err(de::Error::custom)
    }
}

/// A header name, refused if it cannot be sent or was given before.
struct NameSeed<'a>(&'a [HeaderName]);

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = HeaderName;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<HeaderName, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed<'_> {
    type Value = HeaderName;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a header name")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<HeaderName, E> {
        let name = headers::check_name(text).map_err(E::custom)?;
        if self.0.contains(&name) {
            return Err(E::custom(headers::HeaderError::Twice(text.to_owned())));
        }
        Ok(name)
    }
}

/// A header value; `None` when empty.
struct ValueSeed<'a>(&'a HeaderName);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Option<HeaderValue>;

    fn deserialize<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<HeaderValue>, D::Error> {
        // A plain scalar is read as its text: `X-Api-Key: ${KEY}` with a key of digits is a
        // string, not a number.
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for ValueSeed<'_> {
    type Value = Option<HeaderValue>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a header value (a string)")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<HeaderValue>, E> {
        headers::check_value(self.0, text).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<HeaderValue>, E> {
        Ok(None)
    }
}

/// `text` without its `target.headers`, for every copy of a scenario the harness writes to
/// disk (a shard's summary.json, `run --processes`'s scenario.yaml): header values hold
/// secrets, substituted from the environment, and nothing reads them back from there (a
/// merge judges thresholds; `run --processes` hands its shards their headers through the
/// environment). A text without headers is answered as it is; one with them is rewritten
/// (comments dropped), as `--set` rewrites it.
pub fn without_headers(text: &str) -> Cow<'_, str> {
    let Ok(mut document) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
        return Cow::Borrowed(text);
    };
    let target = document
        .get_mut("target")
        .and_then(serde_yaml::Value::as_mapping_mut);
    if target.and_then(|target| target.remove("headers")).is_none() {
        return Cow::Borrowed(text);
    }
    // Never the text with its headers: a document that cannot be written again (none can
    // fail to be) is recorded empty, and a merge refuses it as invalid.
    Cow::Owned(serde_yaml::to_string(&document).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::without_headers;
    use crate::scenario::from_str;

    fn scenario(headers: &str) -> String {
        format!(
            "name: h\nduration: 1s\ntarget:\n  url: http://127.0.0.1:1\n  headers:\n{headers}\
             load: {{ stages: [ {{ hold: 1s }} ] }}\n\
             behaviors: [ {{ name: b, steps: [connect] }} ]\n"
        )
    }

    fn errors(headers: &str) -> Vec<String> {
        let err = from_str(&scenario(headers), "h.yaml").expect_err("refused");
        err.to_string().lines().map(str::to_owned).collect()
    }

    #[test]
    fn headers_are_read_in_order_and_empty_ones_left_out() {
        let plan = from_str(
            &scenario(
                "    Authorization: Bearer abc\n    X-Api-Key: 0012345\n    Origin: \
                 \"https://shop.example\"\n    X-Optional: \"\"\n    X-Null:\n",
            ),
            "h.yaml",
        )
        .unwrap();
        let headers = &plan.target.headers;
        assert_eq!(
            headers.to_lines(),
            "authorization: Bearer abc\nx-api-key: 0012345\norigin: https://shop.example"
        );
        assert!(
            !format!("{plan:?}").contains("Bearer abc"),
            "the plan's Debug shows no value"
        );
    }

    /// The one error of the `target` section (one per section is reported), placed on the
    /// name or the value at fault.
    fn error(headers: &str) -> String {
        let found = errors(headers);
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].clone()
    }

    #[test]
    fn each_bad_header_is_reported_at_its_place() {
        let owned = error("    Origin: x\n    Host: example.com\n");
        assert!(
            owned.starts_with(
                "h.yaml:7:5: target.headers: expected a header the harness does not set itself, \
                 found \"Host\""
            ),
            "{owned}"
        );
        let upgrade = error("    Sec-WebSocket-Protocol: x\n");
        assert!(
            upgrade.contains("found \"Sec-WebSocket-Protocol\""),
            "{upgrade}"
        );
        let name = error("    Bad Name: x\n");
        assert!(
            name.starts_with("h.yaml:6:5: target.headers: expected a header name"),
            "{name}"
        );
        let value = error("    Authorization: \"Bearer SECRET\\u0007\"\n");
        assert_eq!(
            value,
            "h.yaml:6:20: target.headers.Authorization: expected a value of visible ASCII \
             characters for authorization, found a control character at character 14"
        );
        assert!(!value.contains("SECRET"), "{value}");
        let twice = error("    Authorization: a\n    authorization: b\n");
        assert!(
            twice.starts_with("h.yaml:7:5: target.headers: expected each header once"),
            "{twice}"
        );
    }

    #[test]
    fn recorded_copies_leave_the_headers_out() {
        let text =
            scenario("    Authorization: Bearer SECRET123\n    Origin: https://shop.example\n");
        let recorded = without_headers(&text);
        assert!(
            !recorded.contains("SECRET123") && !recorded.contains("headers"),
            "{recorded}"
        );
        let plan = from_str(&recorded, "recorded.yaml").expect("still a valid scenario");
        assert!(plan.target.headers.is_empty());
        assert_eq!(
            plan.target.destination,
            from_str(&text, "h.yaml").unwrap().target.destination
        );
        let plain = "name: x # a comment kept\n";
        assert!(
            matches!(without_headers(plain), std::borrow::Cow::Borrowed(same) if same == plain)
        );
    }

    #[test]
    fn a_value_that_is_not_text_is_refused() {
        let found = errors("    X-A: [1, 2]\n");
        assert!(
            found[0]
                .contains("target.headers.X-A: invalid type: sequence, expected a header value"),
            "{found:?}"
        );
    }
}
