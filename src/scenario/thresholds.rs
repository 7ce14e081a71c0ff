//! The `thresholds:` section: `name: [ "p99 < 25ms", { threshold: "...", abort_on_fail: true,
//! delay_abort_eval: 10s } ]`, where a latency's name may select a behavior
//! (`presence_ack{behavior:browser}`, see `selector`). Names and expressions are checked while
//! the deserializer is on them, so a bad one is reported at its own line and column; whether a
//! selected behavior exists is checked across sections (`selector::unknown_behaviors`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::measure::{Subject, ERROR_KIND_PREFIX};

use super::collect::Entries;
use super::de::Span;
use super::locate::{Issue, Segment};
use super::selector;
use super::target::{Destination, Target};
use super::threshold::{Expression, Threshold};

/// Every threshold of the section, in the order written, each with the position of its name
/// among the section's names (to locate it).
#[derive(Debug, Default)]
pub(crate) struct ThresholdsSpec(pub Vec<(usize, Threshold)>);

impl ThresholdsSpec {
    pub(crate) fn into_thresholds(self) -> Vec<Threshold> {
        self.0.into_iter().map(|(_, threshold)| threshold).collect()
    }

    /// `server_memory` and `server_cpu` need the target's metrics: an embedded cluster's, or
    /// `target.metrics_url`. Without either they could only fail, so they are refused here.
    pub(crate) fn unmeasurable_server(&self, target: &Target) -> Vec<Issue> {
        let measurable =
            target.metrics_url.is_some() || matches!(target.destination, Destination::Embedded(_));
        let mut reported = None;
        let mut issues = Vec::new();
        for (entry, threshold) in &self.0 {
            let server = matches!(
                threshold.subject,
                Subject::ServerMemory | Subject::ServerCpu
            );
            if measurable || !server || reported == Some(*entry) {
                continue;
            }
            reported = Some(*entry);
            let message = format!(
                "expected target.metrics_url (the server's Prometheus metrics) for {:?}, found a \
                 target without one",
                threshold.name
            );
            issues.push(
                Issue::here(message)
                    .under(Segment::Entry(*entry))
                    .under(Segment::Key("thresholds")),
            );
        }
        issues
    }
}

impl<'de> de::Deserialize<'de> for ThresholdsSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_map(SectionVisitor)
            .map(ThresholdsSpec)
    }
}

struct SectionVisitor;

impl<'de> Visitor<'de> for SectionVisitor {
    type Value = Vec<(usize, Threshold)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping from metric, counter, check or errors to a list of thresholds")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<(usize, Threshold)>, A::Error> {
        let mut thresholds = Vec::new();
        let mut entry = 0;
        while let Some(named) = next_name(&mut map)? {
            thresholds.extend(named.into_iter().map(|threshold| (entry, threshold)));
            entry += 1;
        }
        Ok(thresholds)
    }
}

/// Reads one name of the section and its list; `None` at the end of the section.
fn next_name<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Vec<Threshold>>, A::Error> {
    let Some(Name {
        name,
        subject,
        behavior,
    }) = map.next_key_seed(NameSeed)?
    else {
        return Ok(None);
    };
    let entries = map.next_value_seed(EntriesSeed { subject: &subject })?;
    let thresholds = entries.into_iter().map(|entry| Threshold {
        name: name.clone(),
        subject: subject.clone(),
        behavior: behavior.clone(),
        expression: entry.text,
        stat: entry.expression.stat,
        op: entry.expression.op,
        bound: entry.expression.bound,
        abort_after: entry.abort_after,
    });
    Ok(Some(thresholds.collect()))
}

/// The section read name by name, so that every bad name or expression is reported.
pub(crate) struct ThresholdEntries;

impl Entries for ThresholdEntries {
    fn read<'de, A: MapAccess<'de>>(&mut self, map: &mut A) -> Result<bool, A::Error> {
        next_name(map).map(|named| named.is_some())
    }

    fn finish<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A threshold's name, checked against what the harness measures.
struct NameSeed;

/// A name as read: as written, what it names, and the behavior it selects.
struct Name {
    name: String,
    subject: Subject,
    behavior: Option<String>,
}

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Name;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for NameSeed {
    type Value = Name;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a metric, counter, check or errors")
    }

    fn visit_str<E: de::Error>(self, written: &str) -> Result<Self::Value, E> {
        let (name, behavior) = selector::split(written).map_err(E::custom)?;
        let named = |subject| Name {
            name: written.to_owned(),
            subject,
            behavior: behavior.map(str::to_owned),
        };
        match Subject::parse(name) {
            Some(subject @ Subject::Metric(_)) => return Ok(named(subject)),
            Some(_) if behavior.is_some() => {
                return Err(E::custom(format!(
                    "expected a latency metric before {{{}:...}} in {written:?} (only latencies \
                     are kept per behavior), found {name:?}",
                    selector::TAG
                )))
            }
            Some(subject) => return Ok(named(subject)),
            None => {}
        }
        let hint = Subject::closest(name)
            .map(|close| format!(": did you mean {close}?"))
            .unwrap_or_default();
        if name.starts_with(ERROR_KIND_PREFIX) {
            return Err(E::custom(format!(
                "expected errors.KIND with a kind the harness records (docs/reports.md lists \
                 them), found {name:?}{hint}"
            )));
        }
        let known: Vec<&str> = Subject::known_names().collect();
        Err(E::custom(format!(
            "expected a metric, counter or delivery check ({}), errors or errors.KIND, found \
             {name:?}{hint}",
            known.join(", ")
        )))
    }
}

/// One entry as written.
struct Entry {
    text: String,
    expression: Expression,
    abort_after: Option<Duration>,
}

fn entry<E: de::Error>(text: &str, subject: &Subject) -> Result<Entry, E> {
    let expression = Expression::parse(text, subject).map_err(E::custom)?;
    Ok(Entry {
        text: text.trim().to_owned(),
        expression,
        abort_after: None,
    })
}

/// The list of one name's thresholds.
struct EntriesSeed<'a> {
    subject: &'a Subject,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = Vec<Entry>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = Vec<Entry>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of thresholds such as [\"p99 < 25ms\"]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Entry>, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = seq.next_element_seed(EntrySeed {
            subject: self.subject,
        })? {
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(de::Error::custom(
                "expected a list with at least one threshold, found an empty list",
            ));
        }
        Ok(entries)
    }
}

/// `"p99 < 25ms"` or `{ threshold: "p99 < 25ms", abort_on_fail: true, delay_abort_eval: 10s }`.
struct EntrySeed<'a> {
    subject: &'a Subject,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a threshold such as \"p99 < 25ms\", or a mapping with `threshold` and `abort_on_fail`",
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Entry, E> {
        entry(text, self.subject)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut found = None;
        let mut abort_on_fail = false;
        let mut delay = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "threshold" => {
                    found = Some(map.next_value_seed(ExpressionSeed {
                        subject: self.subject,
                    })?)
                }
                "abort_on_fail" => abort_on_fail = map.next_value()?,
                "delay_abort_eval" => delay = Some(map.next_value::<Span>()?.0),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown field `{other}`, expected one of `threshold`, `abort_on_fail`, \
                         `delay_abort_eval`"
                    )))
                }
            }
        }
        let mut entry = found.ok_or_else(|| de::Error::custom("missing field `threshold`"))?;
        entry.abort_after =
            match (abort_on_fail, delay) {
                (true, delay) => Some(delay.unwrap_or(Duration::ZERO)),
                (false, None) => None,
                (false, Some(_)) => return Err(de::Error::custom(
                    "expected `abort_on_fail: true` alongside `delay_abort_eval` (the delay only \
                     applies to aborts)",
                )),
            };
        Ok(entry)
    }
}

/// The `threshold` string of the long form.
struct ExpressionSeed<'a> {
    subject: &'a Subject,
}

impl<'de> DeserializeSeed<'de> for ExpressionSeed<'_> {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for ExpressionSeed<'_> {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a threshold such as \"p99 < 25ms\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Entry, E> {
        entry(text, self.subject)
    }
}

#[cfg(test)]
mod tests {
    use crate::measure::{Metric, Subject};
    use crate::scenario::{from_str, Op, ScenarioError, Stat, Tolerance};

    const HEAD: &str = "name: t\nduration: 10s\nload: { stages: [{ hold: 10s }] }\n\
                        behaviors: [{ name: a, steps: [connect] }]\n";

    fn compile(tail: &str) -> Result<crate::scenario::Plan, ScenarioError> {
        from_str(&format!("{HEAD}{tail}"), "x.yaml")
    }

    /// (line, column, path, message) of the error in `tail`, lines counted from the document start.
    fn invalid(tail: &str) -> (usize, usize, String, String) {
        match compile(tail) {
            Err(ScenarioError::Invalid(mut all)) => {
                let err = all.remove(0);
                (err.line, err.column, err.path, err.message)
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn short_and_long_forms_compile() {
        let plan = compile(
            "thresholds:\n  presence_ack: [\"p99 < 25ms\", \"max < 250ms\"]\n  signals_lost: \
             [\"count == 0\"]\n  connect:\n    - { threshold: \"rate > 5/s\", abort_on_fail: true, \
             delay_abort_eval: 3s }\n  errors.timeout: [\"count <= 2\"]\n\
             compare: { max_regression: \"10% or 2ms\", metrics: { connect: 5% } }\n",
        )
        .unwrap();
        let t = &plan.thresholds;
        assert_eq!(t.len(), 5);
        assert_eq!(
            (t[0].name.as_str(), t[0].expression.as_str()),
            ("presence_ack", "p99 < 25ms")
        );
        assert_eq!(
            (t[0].stat, t[0].op, t[0].bound, t[0].abort_after),
            (Stat::P99, Op::Lt, 25_000.0, None)
        );
        assert_eq!(
            t[2].subject,
            Subject::Check(crate::measure::Check::SignalsLost)
        );
        assert_eq!(
            (t[3].stat, t[3].abort_after),
            (Stat::Rate, Some(std::time::Duration::from_secs(3)))
        );
        assert_eq!(
            t[4].subject,
            Subject::ErrorKind(crate::measure::ErrorKind::Timeout)
        );
        assert_eq!(
            plan.compare.max_regression,
            Some(Tolerance::parse("10% or 2ms").unwrap())
        );
        let connect = crate::scenario::ToleranceKey {
            metric: Metric::Connect,
            stat: None,
        };
        assert_eq!(
            plan.compare.metrics[&connect],
            crate::scenario::Setting::parse("5%").unwrap()
        );
    }

    #[test]
    fn without_the_sections_there_is_nothing_to_hold() {
        let plan = compile("").unwrap();
        assert!(plan.thresholds.is_empty());
        assert_eq!(plan.compare, Default::default());
    }

    #[test]
    fn unknown_names_are_located_on_the_key() {
        let (line, column, path, message) = invalid(
            "thresholds:\n  presence_ack: [\"p99 < 1ms\"]\n  presense_ack: [\"p99 < 1ms\"]\n",
        );
        assert_eq!((line, column, path.as_str()), (7, 3, "thresholds"));
        assert!(
            message
                .starts_with("expected a metric, counter or delivery check (connect, presence_ack"),
            "{message}"
        );
        assert!(
            message.contains("errors or errors.KIND, found \"presense_ack\""),
            "{message}"
        );
    }

    #[test]
    fn server_thresholds_need_the_server_s_metrics() {
        let server =
            "thresholds:\n  presence_ack: [\"p99 < 1s\"]\n  server_memory: [\"slope < 20MiB/h\"]\n";
        let (line, column, path, message) = invalid(&format!(
            "target: {{ url: 'http://127.0.0.1:9' }}\n{server}"
        ));
        assert_eq!((line, column, path.as_str()), (8, 3, "thresholds"));
        assert_eq!(
            message,
            "expected target.metrics_url (the server's Prometheus metrics) for \"server_memory\", \
             found a target without one"
        );
        let scraped = format!(
            "target: {{ url: 'http://127.0.0.1:9', metrics_url: 'http://127.0.0.1:9/metrics' }}\n\
             {server}"
        );
        assert_eq!(
            compile(&scraped).unwrap().thresholds[1].subject,
            Subject::ServerMemory
        );
        assert!(compile(server).is_ok(), "an embedded cluster's own metrics");
        let (line, _, _, message) =
            invalid("target: { url: 'http://127.0.0.1:9', metrics_url: 'ws://h:1/metrics' }\n");
        assert_eq!(line, 5);
        assert!(
            message.contains("expected an http:// or https:// URL of Prometheus metrics"),
            "{message}"
        );
    }

    #[test]
    fn unknown_names_get_the_closest_known_one() {
        let (line, column, path, message) =
            invalid("thresholds:\n  errors.reply_timout: [\"count == 0\"]\n");
        assert_eq!((line, column, path.as_str()), (6, 3, "thresholds"));
        assert!(
            message.contains("found \"errors.reply_timout\": did you mean errors.reply_timeout?"),
            "{message}"
        );
        let (_, _, _, message) = invalid("thresholds:\n  presense_ack: [\"p99 < 1ms\"]\n");
        assert!(message.ends_with("did you mean presence_ack?"), "{message}");
        let (_, _, _, message) = invalid("thresholds:\n  errors.nonsense_here: [\"count == 0\"]\n");
        assert!(
            message.ends_with("found \"errors.nonsense_here\""),
            "{message}"
        );
    }

    #[test]
    fn every_bad_name_is_reported() {
        let err = compile(
            "thresholds:\n  presense_ack: [\"p99 < 1ms\"]\n  connect: [\"p99 < 1ms\"]\n  \
             errors.tiemout: [\"count == 0\"]\n",
        )
        .unwrap_err();
        let ScenarioError::Invalid(all) = err else {
            panic!("expected a validation error")
        };
        let lines: Vec<usize> = all.iter().map(|invalid| invalid.line).collect();
        assert_eq!(lines, vec![6, 8], "{all:?}");
        assert!(
            all[1].message.ends_with("did you mean errors.timeout?"),
            "{}",
            all[1].message
        );
    }

    #[test]
    fn bad_expressions_are_located_on_the_string() {
        let (line, column, path, message) =
            invalid("thresholds:\n  presence_ack:\n    - \"p99 < 1ms\"\n    - \"p99 < 25\"\n");
        assert_eq!(
            (line, column, path.as_str()),
            (8, 7, "thresholds.presence_ack[1]")
        );
        assert_eq!(
            message,
            "expected a duration with a unit such as 500ms or 10s, found \"25\" in \"p99 < 25\""
        );
        let (line, column, _, message) = invalid("thresholds:\n  signals_lost: [\"p99 < 1ms\"]\n");
        assert_eq!((line, column), (6, 18));
        assert_eq!(
            message,
            "expected count for a delivery check in \"p99 < 1ms\", found \"p99\""
        );
    }

    #[test]
    fn the_long_form_is_checked_field_by_field() {
        let (line, column, path, message) = invalid(
            "thresholds:\n  connect:\n    - { threshold: \"p99 <\", abort_on_fail: true }\n",
        );
        assert_eq!(
            (line, column, path.as_str()),
            (7, 20, "thresholds.connect[0].threshold")
        );
        assert!(
            message.starts_with("expected a threshold such as"),
            "{message}"
        );
        let (line, _, _, message) =
            invalid("thresholds:\n  connect:\n    - { threshold: \"p99 < 1s\", abort: true }\n");
        assert_eq!(line, 7);
        assert!(message.starts_with("unknown field `abort`"), "{message}");
        let (_, _, _, message) = invalid("thresholds:\n  connect: [{ abort_on_fail: true }]\n");
        assert_eq!(message, "missing field `threshold`");
        let (_, _, _, message) = invalid(
            "thresholds:\n  connect: [{ threshold: \"p99 < 1s\", delay_abort_eval: 5s }]\n",
        );
        assert!(
            message.starts_with("expected `abort_on_fail: true` alongside"),
            "{message}"
        );
        let (_, _, _, message) = invalid("thresholds:\n  connect: []\n");
        assert_eq!(
            message,
            "expected a list with at least one threshold, found an empty list"
        );
    }

    #[test]
    fn a_threshold_selects_a_behavior_in_k6_or_prometheus_style() {
        let plan = compile(
            "thresholds:\n  presence_ack{behavior:a}: [\"p99 < 25ms\"]\n  connect{behavior=a}: \
             [\"count > 0\"]\n",
        )
        .unwrap();
        let t = &plan.thresholds;
        assert_eq!(
            (t[0].name.as_str(), t[0].behavior.as_deref()),
            ("presence_ack{behavior:a}", Some("a"))
        );
        assert_eq!(t[0].subject, Subject::Metric(Metric::PresenceAck));
        assert_eq!(
            (t[1].subject.clone(), t[1].behavior.as_deref()),
            (Subject::Metric(Metric::Connect), Some("a"))
        );
        assert_eq!(
            compile("thresholds:\n  connect: [\"count > 0\"]\n")
                .unwrap()
                .thresholds[0]
                .behavior,
            None
        );
    }

    #[test]
    fn only_latencies_select_a_behavior() {
        let (line, column, path, message) =
            invalid("thresholds:\n  errors{behavior:a}: [\"count == 0\"]\n");
        assert_eq!((line, column, path.as_str()), (6, 3, "thresholds"));
        assert!(
            message.starts_with("expected a latency metric before {behavior:...}"),
            "{message}"
        );
        let (_, _, _, message) = invalid("thresholds:\n  presence_ack{tab:a}: [\"p99 < 1s\"]\n");
        assert!(
            message.starts_with("expected the tag `behavior`"),
            "{message}"
        );
        let (_, _, _, message) =
            invalid("thresholds:\n  presense_ack{behavior:a}: [\"p99 < 1s\"]\n");
        assert!(message.ends_with("did you mean presence_ack?"), "{message}");
    }

    #[test]
    fn compare_tolerances_are_located() {
        let (line, column, path, message) =
            invalid("compare:\n  metrics: { presence_ack: \"10 percent\" }\n");
        assert_eq!(
            (line, column, path.as_str()),
            (6, 28, "compare.metrics.presence_ack")
        );
        assert!(
            message.starts_with("expected a tolerance such as"),
            "{message}"
        );
        let (_, _, _, message) = invalid("compare:\n  metrics: { signals_lost: 5% }\n");
        assert!(
            message.starts_with("expected a latency metric (connect"),
            "{message}"
        );
    }

    #[test]
    fn per_statistic_tolerances_are_read_and_located() {
        use crate::scenario::{CompareStat, Setting, ToleranceKey};
        let plan = compile(
            "compare:\n  metrics: { presence_ack.max: 50%, extend.p99: off, connect: 5% }\n",
        )
        .unwrap();
        let key = |metric, stat| ToleranceKey { metric, stat };
        assert_eq!(
            plan.compare.metrics[&key(Metric::PresenceAck, Some(CompareStat::Max))],
            Setting::parse("50%").unwrap()
        );
        assert_eq!(
            plan.compare.metrics[&key(Metric::Extend, Some(CompareStat::P99))],
            Setting::Off
        );
        let (line, column, path, message) =
            invalid("compare:\n  metrics:\n    presence_ack.p95: 50%\n");
        assert_eq!(
            (line, column, path.as_str()),
            (7, 5, "compare.metrics"),
            "{message}"
        );
        assert!(
            message.contains(
                "expected a compared statistic (p50, p90, p99, max) after \"presence_ack\""
            ),
            "{message}"
        );
        let (line, column, path, message) = invalid("compare:\n  metrics:\n    extend.p99: of\n");
        assert_eq!(
            (line, column, path.as_str()),
            (7, 17, "compare.metrics.extend.p99"),
            "{message}"
        );
        assert!(message.ends_with("or off, found \"of\""), "{message}");
    }
}
