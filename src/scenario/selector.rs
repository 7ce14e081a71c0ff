//! The behavior selector of a threshold's name, in the syntax k6 users know from tagged
//! thresholds: `presence_ack{behavior:browser}`. `presence_ack{behavior=browser}`, the way
//! Prometheus writes a label, is read the same, since people coming from Grafana write that.
//! A selected behavior must be one of the scenario's, checked once the behaviors are read
//! ([`unknown_behaviors`]).

use super::locate::{Issue, Segment};
use super::thresholds::ThresholdsSpec;

/// The tag a threshold can select on: the only dimension latencies are kept by.
pub(crate) const TAG: &str = "behavior";

/// Splits `name{behavior:NAME}` into the name and the behavior; a name without braces has
/// none. The error says what was expected and what was found.
pub(crate) fn split(written: &str) -> Result<(&str, Option<&str>), String> {
    let Some(open) = written.find('{') else {
        return Ok((written, None));
    };
    let malformed = || {
        format!(
            "expected a name such as presence_ack or presence_ack{{{TAG}:browser}}, found \
             {written:?}"
        )
    };
    let inner = written[open + 1..]
        .strip_suffix('}')
        .ok_or_else(malformed)?;
    let (tag, value) = inner.split_once([':', '=']).ok_or_else(malformed)?;
    let (tag, value) = (tag.trim(), value.trim());
    if tag != TAG {
        return Err(format!(
            "expected the tag `{TAG}` in {written:?} (the only one latencies are kept by), found \
             {tag:?}"
        ));
    }
    if value.is_empty() || value.contains(['{', '}']) {
        return Err(malformed());
    }
    Ok((written[..open].trim_end(), Some(value)))
}

/// An issue for each name of the section that selects a behavior the scenario does not have
/// (`behaviors` holds the scenario's behavior names), with the closest one as a suggestion.
pub(crate) fn unknown_behaviors(spec: &ThresholdsSpec, behaviors: &[&str]) -> Vec<Issue> {
    let mut issues: Vec<Issue> = Vec::new();
    let mut reported = None;
    for (entry, threshold) in &spec.0 {
        let Some(behavior) = threshold.behavior.as_deref() else {
            continue;
        };
        if behaviors.contains(&behavior) || reported == Some(*entry) {
            continue;
        }
        reported = Some(*entry);
        let hint = crate::measure::closest(behavior, behaviors.iter().copied())
            .map(|close| format!(": did you mean {close}?"))
            .unwrap_or_default();
        let message = format!(
            "expected a behavior of the scenario ({}) in {:?}, found {behavior:?}{hint}",
            behaviors.join(", "),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{from_str, ScenarioError};

    #[test]
    fn both_spellings_are_read() {
        assert_eq!(split("presence_ack"), Ok(("presence_ack", None)));
        assert_eq!(
            split("presence_ack{behavior:browser}"),
            Ok(("presence_ack", Some("browser")))
        );
        assert_eq!(
            split("presence_ack{behavior=browser}"),
            Ok(("presence_ack", Some("browser")))
        );
        assert_eq!(
            split("connect{ behavior: tab-hopper }"),
            Ok(("connect", Some("tab-hopper")))
        );
    }

    #[test]
    fn malformed_selectors_say_what_was_expected() {
        assert!(split("presence_ack{behavior:browser")
            .unwrap_err()
            .starts_with("expected a name such as"));
        assert!(split("presence_ack{browser}")
            .unwrap_err()
            .starts_with("expected a name such as"));
        assert!(split("presence_ack{behavior:}")
            .unwrap_err()
            .starts_with("expected a name such as"));
        assert_eq!(
            split("presence_ack{name:browser}").unwrap_err(),
            "expected the tag `behavior` in \"presence_ack{name:browser}\" (the only one latencies \
             are kept by), found \"name\""
        );
    }

    #[test]
    fn an_unknown_behavior_is_located_on_its_name_with_a_suggestion() {
        let head = "name: t\nduration: 10s\nload: { stages: [{ hold: 10s }] }\n\
                    behaviors:\n  - { name: browser, steps: [connect] }\n  - { name: mobile, \
                    steps: [connect] }\n";
        let tail = "thresholds:\n  connect: [\"p99 < 1s\"]\n  presence_ack{behavior:browsr}: \
                    [\"p99 < 1s\", \"max < 2s\"]\n  connect{behavior:tablet}: [\"p99 < 1s\"]\n";
        let Err(ScenarioError::Invalid(all)) = from_str(&format!("{head}{tail}"), "x.yaml") else {
            panic!("expected a validation error")
        };
        let found: Vec<_> = all
            .iter()
            .map(|e| (e.line, e.column, e.path.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    9,
                    3,
                    "thresholds",
                    "expected a behavior of the scenario (browser, mobile) in \
                     \"presence_ack{behavior:browsr}\", found \"browsr\": did you mean browser?"
                ),
                (
                    10,
                    3,
                    "thresholds",
                    "expected a behavior of the scenario (browser, mobile) in \
                     \"connect{behavior:tablet}\", found \"tablet\""
                ),
            ],
            "one error per name, not per threshold"
        );
    }
}
