//! Whether a delivery check had any opportunity to fail, and whether the scenario set up what
//! it checks. A check that saw nothing passes vacuously; the verdict must say so instead
//! (`not exercised`), and fail when the scenario asked for what never happened, such as agents
//! configured to signal that sent no signal (docs/ci.md).

use crate::measure::{Check, Counter, Metric};
use crate::scenario::{Plan, Step};
use crate::schema::{CheckResult, Summary};

/// The checks whose subject the scenario sets up: agents that signal or invoke (signal
/// checks), agents that watch visitors who send presence (presence checks), behaviors with
/// `connect_unique` (unique checks) or a second tab (blur routing).
pub fn expected(plan: &Plan) -> Vec<Check> {
    let agents = plan.agents.as_ref().filter(|agents| agents.count > 0);
    let signalling = agents.is_some_and(|a| {
        a.signals_per_second.is_some_and(|rate| rate > 0.0)
            || a.invokes.as_ref().is_some_and(|i| i.per_second > 0.0)
    });
    let any_step =
        |wanted: fn(&Step) -> bool| plan.behaviors.iter().any(|b| has_step(&b.steps, wanted));
    let watching = agents.is_some_and(|a| a.watch > 0.0)
        && any_step(|s| matches!(s, Step::Presence(_) | Step::Navigate(_)));
    let unique = any_step(|s| matches!(s, Step::ConnectUnique));
    let tabs = any_step(|s| matches!(s, Step::OpenTab));
    Check::ALL
        .into_iter()
        .filter(|check| match family(*check) {
            Family::Sessions => true,
            Family::Signals => signalling,
            Family::Presence => watching,
            Family::Unique => unique,
            Family::Blur => tabs,
        })
        .collect()
}

/// True when `check` had something to judge in the run `summary` describes.
pub fn exercised(summary: &Summary, check: Check) -> bool {
    let samples = |metrics: &[Metric]| {
        metrics
            .iter()
            .any(|m| summary.metrics.get(m.name()).is_some_and(|m| m.count > 0))
    };
    let violated = summary.checks.get(check.name()).is_some_and(|n| *n > 0);
    violated
        || match family(check) {
            Family::Sessions => summary
                .counters
                .get(Counter::SessionsOpened.name())
                .is_some_and(|n| *n > 0),
            Family::Signals => summary
                .counters
                .get(Counter::SignalsSent.name())
                .is_some_and(|n| *n > 0),
            Family::Presence => samples(&[Metric::PresencePropagation, Metric::OnlinePropagation]),
            Family::Unique => samples(&[Metric::UniqueAssign]),
            Family::Blur => samples(&[Metric::Blur, Metric::Focus]),
        }
}

/// Judges the delivery checks that fail a run and that no threshold governs.
pub fn judge(summary: &Summary, expected: &[Check]) -> Vec<CheckResult> {
    Check::ALL
        .into_iter()
        .filter(|check| check.fails_run())
        .filter(|check| !summary.thresholds.iter().any(|t| t.name == check.name()))
        .map(|check| {
            let violations = summary.checks.get(check.name()).copied().unwrap_or(0);
            let exercised = exercised(summary, check);
            CheckResult {
                name: check.name().to_owned(),
                violations,
                exercised,
                passed: violations == 0 && (exercised || !expected.contains(&check)),
            }
        })
        .collect()
}

/// What a check judges; each family has one opportunity and one setting that asks for it.
#[derive(Clone, Copy)]
enum Family {
    /// Every scenario opens sessions: what `connected` says is always checked.
    Sessions,
    Signals,
    Presence,
    Unique,
    Blur,
}

fn family(check: Check) -> Family {
    match check {
        Check::ConnectedMismatch => Family::Sessions,
        Check::SignalsLost
        | Check::SignalsDuplicated
        | Check::SignalsOutOfOrder
        | Check::SignalsUnfocused
        | Check::SignalsUnknown => Family::Signals,
        Check::BlurMisrouted | Check::BlurMissing | Check::TabMismatch => Family::Blur,
        Check::UniqueCollisions | Check::UniqueMalformed => Family::Unique,
        Check::PresenceMissed | Check::PresenceStale => Family::Presence,
    }
}

fn has_step(steps: &[Step], wanted: fn(&Step) -> bool) -> bool {
    steps
        .iter()
        .any(|step| wanted(step) || matches!(step, Step::Repeat(r) if has_step(&r.steps, wanted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(extra: &str, steps: &str) -> Plan {
        let text = format!(
            "name: t\nduration: 10s\nload: {{ stages: [{{ hold: 10s }}] }}\n\
             behaviors: [{{ name: a, steps: {steps} }}]\n{extra}"
        );
        crate::scenario::from_str(&text, "t.yaml").unwrap()
    }

    fn summary(counters: &str, checks: &str) -> Summary {
        serde_json::from_str(&format!(
            r#"{{"schema":1,"scenario":"t","started_at":"x","duration_seconds":10.0,"target":"x",
                "visitors":{{"started":1,"completed":1,"peak":1}},"metrics":{{}},
                "counters":{{{counters}}},"checks":{{{checks}}},"errors":{{}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn the_scenario_says_which_checks_it_sets_up() {
        assert_eq!(
            expected(&plan("", "[connect, presence]")),
            vec![Check::ConnectedMismatch]
        );
        let agents = "agents: { count: 2, watch: 0.5, signals: { rate: 5/s } }\n";
        let names: Vec<_> = expected(&plan(
            agents,
            "[connect, { repeat: { steps: [presence] } }]",
        ))
        .into_iter()
        .map(Check::name)
        .collect();
        assert_eq!(
            names,
            [
                "signals_lost",
                "signals_duplicated",
                "signals_out_of_order",
                "signals_unfocused",
                "presence_missed",
                "presence_stale",
                "connected_mismatch",
                "signals_unknown"
            ]
        );
        let names: Vec<_> = expected(&plan("", "[connect_unique, open_tab]"))
            .into_iter()
            .map(Check::name)
            .collect();
        assert_eq!(
            names,
            [
                "blur_misrouted",
                "blur_missing",
                "unique_collisions",
                "unique_malformed",
                "connected_mismatch",
                "tab_mismatch"
            ]
        );
    }

    #[test]
    fn a_check_without_opportunity_is_not_exercised_and_fails_only_when_set_up() {
        let idle = summary(r#""signals_sent":0"#, r#""signals_lost":0"#);
        let lost = judge(&idle, &[])
            .into_iter()
            .find(|c| c.name == "signals_lost")
            .unwrap();
        assert_eq!(
            (lost.exercised, lost.passed),
            (false, true),
            "nothing asked for signals"
        );
        let lost = judge(&idle, &[Check::SignalsLost])
            .into_iter()
            .find(|c| c.name == "signals_lost")
            .unwrap();
        assert_eq!(
            (lost.exercised, lost.passed),
            (false, false),
            "agents should have signalled"
        );
        let busy = summary(r#""signals_sent":10"#, r#""signals_lost":0"#);
        let lost = judge(&busy, &[Check::SignalsLost])
            .into_iter()
            .find(|c| c.name == "signals_lost")
            .unwrap();
        assert_eq!((lost.exercised, lost.passed), (true, true));
        let violated = summary(r#""signals_sent":0"#, r#""presence_missed":2"#);
        assert!(
            exercised(&violated, Check::PresenceMissed),
            "a violation is an opportunity taken"
        );
    }
}
