//! String templates (`https://shop.example/{{rand_path}}`): parsed once at load time, so a typo
//! is a validation error with a location and rendering on the hot path is a walk over parts.

use std::fmt::{self, Write as _};

use rand::Rng;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Everything a template may refer to about the visitor rendering it.
#[derive(Debug, Clone, Copy)]
pub struct TemplateContext<'a> {
    /// The visitor id.
    pub visitor: &'a str,
    /// The id of the tab doing the step.
    pub tab: &'a str,
    /// The `seq` of the presence message being built.
    pub seq: u64,
    /// The visitor's index in the run (0-based).
    pub index: u64,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Box<str>),
    RandInt { low: i64, high: i64 },
    RandPath,
    Visitor,
    Tab,
    Seq,
    Index,
}

/// Why a template did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("expected `}}}}` to close the `{{{{` at byte {0}")]
    Unclosed(usize),
    #[error("expected one of rand_int A B, rand_path, visitor, tab, seq, index; found `{0}`")]
    UnknownFunction(String),
    #[error("expected `{name}` {expected}, found `{found}`")]
    BadArguments {
        name: &'static str,
        expected: &'static str,
        found: String,
    },
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].into()));
            }
            let after_open = &rest[open + 2..];
            let close = after_open
                .find("}}")
                .ok_or(TemplateError::Unclosed(source.len() - rest.len() + open))?;
            parts.push(Part::parse(&after_open[..close])?);
            rest = &after_open[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.into()));
        }
        Ok(Template { parts })
    }

    /// Renders into a fresh string.
    pub fn render(&self, ctx: &TemplateContext, rng: &mut impl Rng) -> String {
        let mut out = String::new();
        self.render_into(ctx, rng, &mut out);
        out
    }

    /// Appends the rendering to `out`, so a caller can reuse one buffer across messages.
    pub fn render_into(&self, ctx: &TemplateContext, rng: &mut impl Rng, out: &mut String) {
        for part in &self.parts {
            // Writing into a String cannot fail.
            let _ = match part {
                Part::Text(text) => out.write_str(text),
                Part::RandInt { low, high } => write!(out, "{}", rng.random_range(*low..=*high)),
                Part::RandPath => write!(out, "p/{}", rng.random_range(0..1000u32)),
                Part::Visitor => out.write_str(ctx.visitor),
                Part::Tab => out.write_str(ctx.tab),
                Part::Seq => write!(out, "{}", ctx.seq),
                Part::Index => write!(out, "{}", ctx.index),
            };
        }
    }

    /// The text if the template has no placeholders: callers can skip rendering it.
    pub fn as_constant(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }
}

impl Part {
    fn parse(inner: &str) -> Result<Part, TemplateError> {
        let mut words = inner.split_whitespace();
        let name = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        let no_args = |part: Part, name: &'static str| {
            if args.is_empty() {
                Ok(part)
            } else {
                Err(TemplateError::BadArguments {
                    name,
                    expected: "without arguments",
                    found: inner.trim().into(),
                })
            }
        };
        match name {
            "rand_int" => {
                let bad = || TemplateError::BadArguments {
                    name: "rand_int",
                    expected: "with two integers A <= B",
                    found: inner.trim().into(),
                };
                match args.as_slice() {
                    [low, high] => match (low.parse::<i64>(), high.parse::<i64>()) {
                        (Ok(low), Ok(high)) if low <= high => Ok(Part::RandInt { low, high }),
                        _ => Err(bad()),
                    },
                    _ => Err(bad()),
                }
            }
            "rand_path" => no_args(Part::RandPath, "rand_path"),
            "visitor" => no_args(Part::Visitor, "visitor"),
            "tab" => no_args(Part::Tab, "tab"),
            "seq" => no_args(Part::Seq, "seq"),
            "index" => no_args(Part::Index, "index"),
            _ => Err(TemplateError::UnknownFunction(inner.trim().into())),
        }
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TemplateVisitor;

        impl Visitor<'_> for TemplateVisitor {
            type Value = Template;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, optionally with {{...}} placeholders")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Template, E> {
                Template::parse(text)
                    .map_err(|err| E::custom(format!("in template {text:?}: {err}")))
            }
        }

        deserializer.deserialize_str(TemplateVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    const CTX: TemplateContext = TemplateContext {
        visitor: "v42",
        tab: "t1",
        seq: 7,
        index: 3,
    };

    fn render(source: &str) -> String {
        Template::parse(source)
            .unwrap()
            .render(&CTX, &mut SmallRng::seed_from_u64(1))
    }

    #[test]
    fn renders_context_values() {
        assert_eq!(
            render("{{visitor}}/{{ tab }}#{{seq}}@{{index}}"),
            "v42/t1#7@3"
        );
        assert_eq!(render("plain"), "plain");
        assert_eq!(render(""), "");
        assert_eq!(render("a }} b"), "a }} b");
    }

    #[test]
    fn random_parts_stay_in_range() {
        let int = Template::parse("{{rand_int -2 2}}").unwrap();
        let path = Template::parse("https://x/{{rand_path}}").unwrap();
        let mut rng = SmallRng::seed_from_u64(9);
        for _ in 0..200 {
            let n: i64 = int.render(&CTX, &mut rng).parse().unwrap();
            assert!((-2..=2).contains(&n));
            let url = path.render(&CTX, &mut rng);
            let number: u32 = url.strip_prefix("https://x/p/").unwrap().parse().unwrap();
            assert!(number < 1000);
        }
        assert_eq!(render("{{rand_int 5 5}}"), "5");
    }

    #[test]
    fn render_into_appends() {
        let mut out = String::from(">");
        Template::parse("{{tab}}").unwrap().render_into(
            &CTX,
            &mut SmallRng::seed_from_u64(1),
            &mut out,
        );
        assert_eq!(out, ">t1");
    }

    #[test]
    fn constants_are_recognised() {
        assert_eq!(Template::parse("Shop").unwrap().as_constant(), Some("Shop"));
        assert_eq!(Template::parse("{{tab}}").unwrap().as_constant(), None);
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!(
            Template::parse("x{{visitor").unwrap_err(),
            TemplateError::Unclosed(1)
        );
        assert_eq!(
            Template::parse("{{rand_nt 1 2}}").unwrap_err().to_string(),
            "expected one of rand_int A B, rand_path, visitor, tab, seq, index; found `rand_nt 1 2`"
        );
        assert_eq!(
            Template::parse("{{rand_int 9 1}}").unwrap_err().to_string(),
            "expected `rand_int` with two integers A <= B, found `rand_int 9 1`"
        );
        assert!(matches!(
            Template::parse("{{rand_int 1}}"),
            Err(TemplateError::BadArguments { .. })
        ));
        assert!(matches!(
            Template::parse("{{tab 1}}"),
            Err(TemplateError::BadArguments { .. })
        ));
        assert!(matches!(
            Template::parse("{{}}"),
            Err(TemplateError::UnknownFunction(_))
        ));
    }
}
