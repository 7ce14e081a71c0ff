//! What `presence` and `navigate` steps send: page info and custom data, as templates that
//! each visitor renders into the protocol's types.

use std::fmt;

use rand::Rng;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::Deserialize as DeriveDeserialize;
use serde_json::{Number, Value};

use super::template::{Template, TemplateContext};
use crate::wire::data::{Data, MAX_DATA_KEYS};
use crate::wire::Page;

/// Page info with templated fields (docs/protocol.md `presence.page`).
#[derive(Debug, Clone, Default, PartialEq, Eq, DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub struct PageTemplate {
    #[serde(default)]
    pub url: Option<Template>,
    #[serde(default)]
    pub title: Option<Template>,
    #[serde(default)]
    pub referrer: Option<Template>,
    #[serde(default)]
    pub browser: Option<Template>,
}

impl PageTemplate {
    pub fn render(&self, ctx: &TemplateContext, rng: &mut impl Rng) -> Page {
        let mut field = |template: &Option<Template>| template.as_ref().map(|t| t.render(ctx, rng));
        Page {
            url: field(&self.url),
            title: field(&self.title),
            referrer: field(&self.referrer),
            browser: field(&self.browser),
        }
    }
}

/// One custom data value: the protocol allows strings and numbers only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataValue {
    Text(Template),
    Number(Number),
}

/// Custom data, in the order written (at most the protocol's key limit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataTemplate(pub Vec<(String, DataValue)>);

impl DataTemplate {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn render(&self, ctx: &TemplateContext, rng: &mut impl Rng) -> Data {
        self.0
            .iter()
            .map(|(key, value)| {
                let value = match value {
                    DataValue::Text(template) => Value::String(template.render(ctx, rng)),
                    DataValue::Number(number) => Value::Number(number.clone()),
                };
                (key.clone(), value)
            })
            .collect()
    }
}

impl<'de> Deserialize<'de> for DataValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DataValueVisitor;

        impl Visitor<'_> for DataValueVisitor {
            type Value = DataValue;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a number (the protocol allows no other data values)")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<DataValue, E> {
                Template::deserialize(de::value::StrDeserializer::<E>::new(text))
                    .map(DataValue::Text)
            }

            fn visit_u64<E: de::Error>(self, number: u64) -> Result<DataValue, E> {
                Ok(DataValue::Number(number.into()))
            }

            fn visit_i64<E: de::Error>(self, number: i64) -> Result<DataValue, E> {
                Ok(DataValue::Number(number.into()))
            }

            fn visit_f64<E: de::Error>(self, number: f64) -> Result<DataValue, E> {
                Number::from_f64(number)
                    .map(DataValue::Number)
                    .ok_or_else(|| E::custom(format!("expected a finite number, found {number}")))
            }
        }

        deserializer.deserialize_any(DataValueVisitor)
    }
}

impl<'de> Deserialize<'de> for DataTemplate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DataVisitor;

        impl<'de> Visitor<'de> for DataVisitor {
            type Value = DataTemplate;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of keys to strings or numbers")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataTemplate, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, DataValue>()? {
                    entries.push((key, value));
                }
                if entries.len() > MAX_DATA_KEYS {
                    return Err(de::Error::custom(format!(
                        "expected at most {MAX_DATA_KEYS} data keys (the protocol's limit), found \
                         {}",
                        entries.len()
                    )));
                }
                Ok(DataTemplate(entries))
            }
        }

        deserializer.deserialize_map(DataVisitor)
    }
}

/// A `presence` step: page info (optional) and data (optional), merged into what the server holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub struct PresenceUpdate {
    #[serde(default)]
    pub page: Option<PageTemplate>,
    #[serde(default)]
    pub data: DataTemplate,
}

/// A `navigate` step: a new page, so a new session whose first presence carries the page.
#[derive(Debug, Clone, PartialEq, Eq, DeriveDeserialize)]
#[serde(deny_unknown_fields)]
pub struct Navigation {
    pub page: PageTemplate,
    #[serde(default)]
    pub data: DataTemplate,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;
    use serde_json::json;

    const CTX: TemplateContext = TemplateContext {
        visitor: "v1",
        tab: "t1",
        seq: 1,
        index: 0,
    };

    #[test]
    fn data_renders_strings_and_numbers() {
        let data: DataTemplate =
            serde_yaml::from_str("{ b: 'x-{{visitor}}', a: 3, c: 1.5 }").unwrap();
        let rendered = data.render(&CTX, &mut SmallRng::seed_from_u64(1));
        assert_eq!(
            Value::Object(rendered),
            json!({"b": "x-v1", "a": 3, "c": 1.5})
        );
    }

    #[test]
    fn data_refuses_other_values() {
        for bad in ["{ a: true }", "{ a: [1] }", "{ a: { b: 1 } }", "{ a: ~ }"] {
            let err = serde_yaml::from_str::<DataTemplate>(bad)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("expected a string or a number"),
                "{bad}: {err}"
            );
        }
        let many: String = (0..65).map(|i| format!("k{i}: 1\n")).collect();
        let err = serde_yaml::from_str::<DataTemplate>(&many)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("expected at most 64 data keys"), "{err}");
    }

    #[test]
    fn page_renders_only_given_fields() {
        let page: PageTemplate =
            serde_yaml::from_str("{ url: 'https://x/{{index}}', title: T }").unwrap();
        let page = page.render(&CTX, &mut SmallRng::seed_from_u64(1));
        assert_eq!(
            page,
            Page {
                url: Some("https://x/0".into()),
                title: Some("T".into()),
                ..Page::default()
            }
        );
        assert!(serde_yaml::from_str::<PageTemplate>("{ uri: x }").is_err());
    }
}
