//! The run's outcome: one value for every way a run ends, from which the exit code, the
//! table's last line, summary.json's `outcome` and the JUnit report are all derived, so they
//! cannot tell different stories (docs/ci.md has the table of outcomes).

use std::fmt::Write;

use super::compare::Comparison;
use super::findings::{failures, Failure};
use super::neighbours;
use super::{exercise, regression, threshold};
use crate::measure::{Check, Counter};
use crate::scenario::Threshold;
use crate::schema::{HarnessSummary, Status, Summary, Verdict};

impl Status {
    /// The process exit code (docs/ci.md): 1 is a verdict against the server, 3 is no verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Passed => 0,
            Status::Failed | Status::Aborted => 1,
            Status::Interrupted
            | Status::TargetDown
            | Status::DrillFailed
            | Status::HarnessLimited
            | Status::Incomplete => 3,
        }
    }

    /// The word the table's `verdict:` line starts with.
    pub fn word(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::Aborted => "ABORTED",
            Status::Interrupted => "INTERRUPTED",
            Status::TargetDown => "TARGET DOWN",
            Status::DrillFailed => "DRILL FAILED",
            Status::HarnessLimited => "HARNESS-LIMITED",
            Status::Incomplete => "INCOMPLETE",
        }
    }

    /// True for the outcomes that are a verdict against the server (a JUnit `<failure>`);
    /// the others are no verdict at all (a JUnit `<error>`).
    pub fn is_failure(self) -> bool {
        self.exit_code() == 1
    }
}

impl Verdict {
    pub fn new(status: Status, reason: impl Into<String>) -> Self {
        Verdict {
            status,
            reason: reason.into(),
            exit_code: status.exit_code(),
        }
    }

    /// The table's last line, without the newline: `verdict: PASS`, `verdict: FAIL (why)`.
    pub fn line(&self) -> String {
        if self.reason.is_empty() {
            format!("verdict: {}", self.status.word())
        } else {
            format!("verdict: {} ({})", self.status.word(), self.reason)
        }
    }
}

/// How the run was stopped, as only the caller knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ending {
    /// The run was stopped before its planned end (Ctrl-C, SIGTERM, or an abort).
    pub interrupted: bool,
    /// The target was found down before the load started (see `engine::preflight`).
    pub target_down: Option<String>,
}

/// What a run is judged by.
pub struct Rules<'a> {
    pub thresholds: &'a [Threshold],
    /// The checks the scenario sets up (`exercise::expected`).
    pub expected: &'a [Check],
    /// The comparison with a baseline, when there is one.
    pub comparison: Option<&'a Comparison>,
}

/// Fills the verdict into `summary`: thresholds, ungoverned checks, the baseline comparison,
/// and the outcome they add up to with how the run ended; answers that outcome.
/// A target found down before the load started is judged on nothing else: no threshold or
/// check had a chance, and listing them all as failed would bury the one reason.
pub fn judge(summary: &mut Summary, rules: &Rules, ending: &Ending) -> Verdict {
    if ending.target_down.is_none() {
        summary.thresholds = threshold::evaluate(rules.thresholds, summary, rules.expected);
        summary.check_results = exercise::judge(summary, rules.expected);
        summary.baseline = rules
            .comparison
            .map(regression::results)
            .unwrap_or_default();
    }
    let verdict = decide(summary, ending);
    summary.outcome = Some(verdict.clone());
    verdict
}

/// The outcome of a judged summary (thresholds, checks and baseline already filled in).
pub fn decide(summary: &Summary, ending: &Ending) -> Verdict {
    if let Some(reason) = &ending.target_down {
        return Verdict::new(Status::TargetDown, reason.clone());
    }
    if let Some(reason) = missing_shards(summary) {
        return Verdict::new(Status::Incomplete, reason);
    }
    if let Some(reason) = &summary.aborted {
        return Verdict::new(Status::Aborted, reason.clone());
    }
    let failed = failures(summary);
    // Before "no session opened": a run stopped at once may not have opened one yet.
    if ending.interrupted {
        let mut reason = "stopped before its end; the report covers what ran".to_owned();
        if !failed.is_empty() {
            let _ = write!(reason, "; failing so far: {}", list(&failed));
        }
        return Verdict::new(Status::Interrupted, reason);
    }
    if let Some(reason) = no_session(summary) {
        return Verdict::new(Status::TargetDown, reason);
    }
    let limits = summary.harness.as_ref().and_then(HarnessSummary::reason);
    // Latencies compared with a baseline measure the harness's own queueing too when it was
    // the bottleneck, and a neighbour's work when other processes took the machine's CPU (a
    // busy CI runner): regressions alone are then no verdict against the server, while a lost
    // signal or an error is one whatever the harness's and the machine's state.
    if !failed.is_empty()
        && failed
            .iter()
            .all(|failure| matches!(failure, Failure::Regression { .. }))
    {
        if let Some(why) = limits.clone().or_else(|| busy_machine(summary)) {
            let reason = format!(
                "{why}; the comparison with the baseline is not judged ({})",
                list(&failed)
            );
            return Verdict::new(Status::HarnessLimited, reason);
        }
    }
    if !failed.is_empty() {
        let mut reason = list(&failed);
        if summary.harness.as_ref().is_some_and(|h| !h.trusted) {
            reason.push_str("; the harness was limited too, latencies include its own delays");
        }
        return Verdict::new(Status::Failed, reason);
    }
    let drills: Vec<String> = summary
        .drills
        .iter()
        .filter_map(|e| {
            e.action
                .as_ref()
                .filter(|a| !a.ok)
                .map(|a| format!("{} at {:.1}s: {}", e.kind, e.at_s, a.detail))
        })
        .collect();
    if !drills.is_empty() {
        return Verdict::new(
            Status::DrillFailed,
            format!("drill action failed: {}", drills.join("; ")),
        );
    }
    if let Some(reason) = limits {
        return Verdict::new(Status::HarnessLimited, reason);
    }
    Verdict::new(Status::Passed, "")
}

/// Why the machine was too busy with other work for a comparison with a baseline, if it was.
fn busy_machine(summary: &Summary) -> Option<String> {
    let neighbours = summary.harness.as_ref()?.neighbours?;
    neighbours.disturbance(neighbours::local_server_cores(
        &summary.target,
        summary.server_resources.as_ref(),
    ))
}

/// At most this many failures are named in a reason; the table lists them all.
const NAMED: usize = 3;

fn list(failed: &[Failure]) -> String {
    let mut text: Vec<String> = failed.iter().take(NAMED).map(ToString::to_string).collect();
    if failed.len() > NAMED {
        text.push(format!("and {} more", failed.len() - NAMED));
    }
    text.join(", ")
}

/// A merged run whose shards did not all report, unless the merge was allowed to be partial.
fn missing_shards(summary: &Summary) -> Option<String> {
    let missing: Vec<String> = summary
        .shards
        .iter()
        .filter(|row| !row.present)
        .map(|row| row.index.to_string())
        .collect();
    if missing.is_empty() || summary.partial {
        return None;
    }
    Some(format!(
        "no summary from shard {} of {}: the totals are not the whole run's (`merge \
         --allow-missing` judges the rest)",
        missing.join(", "),
        summary.shards.len()
    ))
}

/// Visitors tried and not one session opened: the target is down, or is not a Presence server.
/// The errors say what the visitors met.
fn no_session(summary: &Summary) -> Option<String> {
    let count = |counter: Counter| summary.counters.get(counter.name()).copied().unwrap_or(0);
    if count(Counter::VisitorsStarted) == 0 || count(Counter::SessionsOpened) > 0 {
        return None;
    }
    let errors: Vec<String> = summary
        .errors
        .iter()
        .map(|(kind, n)| format!("{n} {kind}{}", hint(kind)))
        .collect();
    let errors = if errors.is_empty() {
        "no error recorded".to_owned()
    } else {
        errors.join(", ")
    };
    Some(format!(
        "no session could be opened on {}: {errors}",
        summary.target
    ))
}

/// What an error kind met at session opening says about the target.
fn hint(kind: &str) -> &'static str {
    match kind {
        "connect" => " (connection refused or unreachable)",
        "locate" => " (the directory's /locate failed: not a Presence directory?)",
        "locate_url" => " (/locate answered an unusable URL)",
        "tls" => " (TLS handshake failed)",
        "handshake" => " (WebSocket upgrade refused: not a Presence instance?)",
        "protocol" | "unexpected_reply" => " (not a Presence server: unexpected answer)",
        "timeout" => " (no answer)",
        // Openings still waiting when the run ended: the server takes connections, answers none.
        "unanswered" => " (no answer before the run ended)",
        "lost" => " (the connection ended before the session opened)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ActionResult, LagSummary, Neighbours};

    /// A summary of a run that opened sessions and measured nothing wrong, as an old
    /// (pre-`outcome`) summary.json reads.
    fn summary() -> Summary {
        serde_json::from_str(concat!(
            r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":10.0,"#,
            r#""target":"http://127.0.0.1:9",
                "visitors":{"started":5,"completed":5,"peak":5},"metrics":{},
                "counters":{"visitors_started":5,"sessions_opened":5},"checks":{},"errors":{}}"#,
        ))
        .unwrap()
    }

    fn status(summary: &Summary, ending: &Ending) -> (Status, u8, String) {
        let verdict = decide(summary, ending);
        (verdict.status, verdict.exit_code, verdict.line())
    }

    fn harness_limited() -> HarnessSummary {
        HarnessSummary {
            cpu_seconds: 1.0,
            cores: 2,
            cpu_saturated_share: 0.5,
            peak_rss_bytes: 0,
            scheduling_lag: LagSummary {
                unit: "us".into(),
                p99: 0,
                max: 0,
            },
            verdict: "harness_limited".into(),
            trusted: false,
            reasons: vec!["CPU saturated".into()],
            intervals: 10,
            limited_intervals: Vec::new(),
            closing: None,
            neighbours: None,
            pace: None,
        }
    }

    #[test]
    fn every_ending_has_its_status_code_and_line() {
        let clean = Ending::default();
        assert_eq!(
            status(&summary(), &clean),
            (Status::Passed, 0, "verdict: PASS".into())
        );

        let mut s = summary();
        s.errors.insert("reply_timeout".into(), 4);
        assert_eq!(
            status(&s, &clean),
            (
                Status::Failed,
                1,
                "verdict: FAIL (4 reply_timeout errors)".into()
            )
        );

        let mut s = summary();
        s.aborted = Some("aborted at 2.0s: threshold presence_ack \"p99 < 1ms\" failed".into());
        let interrupted = Ending {
            interrupted: true,
            target_down: None,
        };
        let (code, line) = (status(&s, &interrupted).1, status(&s, &interrupted).2);
        assert_eq!(
            (status(&s, &interrupted).0, code),
            (Status::Aborted, 1),
            "an abort is a failed threshold"
        );
        assert!(
            line.starts_with("verdict: ABORTED (aborted at 2.0s"),
            "{line}"
        );

        let (st, code, line) = status(&summary(), &interrupted);
        assert_eq!((st, code), (Status::Interrupted, 3));
        assert_eq!(
            line,
            "verdict: INTERRUPTED (stopped before its end; the report covers what ran)"
        );

        let down = Ending {
            interrupted: false,
            target_down: Some("target down: cannot connect".into()),
        };
        assert_eq!(status(&summary(), &down).0, Status::TargetDown);

        let mut s = summary();
        s.counters.insert("sessions_opened".into(), 0);
        s.errors.insert("connect".into(), 7);
        let (st, code, line) = status(&s, &clean);
        assert_eq!((st, code), (Status::TargetDown, 3));
        assert_eq!(
            line,
            "verdict: TARGET DOWN (no session could be opened on http://127.0.0.1:9: 7 connect \
             (connection refused or unreachable))"
        );

        // A server that takes connections and never answers an opening (half-open) is named too.
        let mut s = summary();
        s.counters.insert("sessions_opened".into(), 0);
        s.errors.insert("unanswered".into(), 4);
        s.errors.insert("lost".into(), 2);
        let line = status(&s, &clean).2;
        assert!(
            line.ends_with(
                "2 lost (the connection ended before the session opened), 4 \
                 unanswered (no answer before the run ended))"
            ),
            "{line}"
        );

        let mut s = summary();
        s.harness = Some(harness_limited());
        assert_eq!(
            status(&s, &clean),
            (
                Status::HarnessLimited,
                3,
                "verdict: HARNESS-LIMITED (CPU saturated)".into()
            )
        );
    }

    #[test]
    fn a_drill_action_that_failed_is_not_a_pass() {
        let mut s: Summary = summary();
        let event = concat!(
            r#"{"at_s":2.0,"kind":"kill","count":1,"server":"","action":{"ok":false,"#,
            r#""detail":"HTTP 500","duration_ms":3.0},
            "window_s":1.0,"affected":0,"back":0,"never_back":0,"back_99_s":null,"#,
            r#""back_100_s":null,"reconnect_attempts":0,
            "peak_reconnects_per_s":0,"spread_ms":0.0,"stddev_ms":0.0,"reconnect":{"count":0,"#,
            r#""p50":0,"p99":0,"max":0},
            "causes":{"drain":0,"kill":0,"other":0},"signals":{"delivery":{"count":0,"p50":0,"#,
            r#""p99":0,"max":0},
            "queued_delivery":{"count":0,"p50":0,"p99":0,"max":0},"lost":0}}"#,
        );
        s.drills.push(serde_json::from_str(event).unwrap());
        let (st, code, line) = status(&s, &Ending::default());
        assert_eq!((st, code), (Status::DrillFailed, 3));
        assert_eq!(
            line,
            "verdict: DRILL FAILED (drill action failed: kill at 2.0s: HTTP 500)"
        );
        s.drills[0].action = Some(ActionResult {
            ok: true,
            detail: "HTTP 200".into(),
            duration_ms: 3.0,
            servers: vec![],
        });
        assert_eq!(status(&s, &Ending::default()).0, Status::Passed);
    }

    #[test]
    fn a_failure_wins_over_harness_limits_and_says_both() {
        let mut s = summary();
        s.harness = Some(harness_limited());
        s.errors.insert("timeout".into(), 1);
        let (st, code, line) = status(&s, &Ending::default());
        assert_eq!((st, code), (Status::Failed, 1));
        assert!(
            line.ends_with("the harness was limited too, latencies include its own delays)"),
            "{line}"
        );
    }

    #[test]
    fn regressions_of_a_harness_limited_run_are_no_verdict_but_other_failures_are() {
        let mut s = summary();
        s.harness = Some(harness_limited());
        let regressed = r#"{"metric":"presence_ack","passed":false,"detail":"p50 228us -> 356us"}"#;
        s.baseline.push(serde_json::from_str(regressed).unwrap());
        let (st, code, line) = status(&s, &Ending::default());
        assert_eq!((st, code), (Status::HarnessLimited, 3), "{line}");
        assert!(
            line.contains("not judged (presence_ack regressed: p50 228us -> 356us)"),
            "{line}"
        );
        s.errors.insert("timeout".into(), 1);
        assert_eq!(status(&s, &Ending::default()).0, Status::Failed);
        // A trusted run's regression is a failure.
        let mut s = summary();
        s.baseline.push(serde_json::from_str(regressed).unwrap());
        assert_eq!(status(&s, &Ending::default()).0, Status::Failed);
    }

    #[test]
    fn regressions_while_the_machine_was_busy_with_other_work_are_no_verdict() {
        let busy = Some(Neighbours {
            cores: 1.2,
            steal: 0.0,
        });
        let trusted = HarnessSummary {
            verdict: "trusted".into(),
            trusted: true,
            reasons: Vec::new(),
            neighbours: busy,
            ..harness_limited()
        };
        let regressed = r#"{"metric":"presence_ack","passed":false,"detail":"p90 1.1ms -> 1.5ms"}"#;
        let mut s = summary();
        s.harness = Some(trusted.clone());
        s.baseline.push(serde_json::from_str(regressed).unwrap());
        let (st, code, line) = status(&s, &Ending::default());
        assert_eq!((st, code), (Status::HarnessLimited, 3), "{line}");
        assert!(
            line.contains("other processes kept 1.20 cores busy"),
            "{line}"
        );
        assert!(
            line.contains("not judged (presence_ack regressed"),
            "{line}"
        );
        // An error is a failure on any machine.
        s.errors.insert("timeout".into(), 1);
        assert_eq!(status(&s, &Ending::default()).0, Status::Failed);
        // A quiet machine's regression is a failure; a busy machine's pass is a pass.
        let mut s = summary();
        s.harness = Some(HarnessSummary {
            neighbours: Some(Neighbours {
                cores: 0.05,
                steal: 0.0,
            }),
            ..trusted.clone()
        });
        s.baseline.push(serde_json::from_str(regressed).unwrap());
        assert_eq!(status(&s, &Ending::default()).0, Status::Failed);
        let mut s = summary();
        s.harness = Some(trusted);
        assert_eq!(status(&s, &Ending::default()).0, Status::Passed);
    }

    #[test]
    fn the_outcome_is_written_and_read_back_and_old_summaries_still_read() {
        let mut s = summary();
        assert_eq!(s.outcome, None, "a summary without outcome reads");
        s.outcome = Some(Verdict::new(Status::TargetDown, "refused"));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json["outcome"],
            serde_json::json!({"status": "target_down", "reason": "refused", "exit_code": 3})
        );
        let back: Summary = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }
}
