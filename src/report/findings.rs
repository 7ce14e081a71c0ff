//! What failed in a judged summary, item by item: thresholds, delivery checks, errors that no
//! threshold governs, and baseline regressions. The verdict's reason, the table's verdict
//! section and JUnit all read this one list.

use std::fmt::{self, Write};

use crate::schema::Summary;

/// One failed item of the verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    Threshold {
        name: String,
        expression: String,
        measured: String,
    },
    Check {
        name: String,
        violations: u64,
        exercised: bool,
    },
    Errors {
        kind: String,
        count: u64,
    },
    Regression {
        metric: String,
        detail: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Failure::Threshold {
                name,
                expression,
                measured,
            } => {
                write!(f, "{name} \"{expression}\" measured {measured}")
            }
            Failure::Check {
                name,
                exercised: false,
                ..
            } => write!(f, "{name} not exercised"),
            Failure::Check {
                name, violations, ..
            } => write!(f, "{name} {violations}"),
            Failure::Errors { kind, count } => write!(f, "{count} {kind} errors"),
            Failure::Regression { metric, detail } => write!(f, "{metric} regressed: {detail}"),
        }
    }
}

/// Errors that no threshold governs, by kind: a threshold on `errors` governs every kind, one
/// on `errors.KIND` that kind. Each fails the run (as k6's `http_req_failed` would under a
/// threshold; here without one, since a run with errors it was not told to allow is not a pass).
pub fn ungoverned_errors(summary: &Summary) -> impl Iterator<Item = (&str, u64)> + '_ {
    let governs = |kind: &str| {
        summary
            .thresholds
            .iter()
            .any(|t| t.name == "errors" || t.name.strip_prefix("errors.") == Some(kind))
    };
    summary
        .errors
        .iter()
        .filter(move |(kind, n)| **n > 0 && !governs(kind))
        .map(|(kind, n)| (kind.as_str(), *n))
}

/// Every failed item, in the table's order.
pub fn failures(summary: &Summary) -> Vec<Failure> {
    let thresholds = summary
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| Failure::Threshold {
            name: t.name.clone(),
            expression: t.expression.clone(),
            measured: t.shown_value(),
        });
    let checks = summary
        .check_results
        .iter()
        .filter(|c| !c.passed)
        .map(|c| Failure::Check {
            name: c.name.clone(),
            violations: c.violations,
            exercised: c.exercised,
        });
    let errors = ungoverned_errors(summary).map(|(kind, count)| Failure::Errors {
        kind: kind.to_owned(),
        count,
    });
    let regressions = summary
        .baseline
        .iter()
        .filter(|r| !r.passed)
        .map(|r| Failure::Regression {
            metric: r.metric.clone(),
            detail: r.detail.clone(),
        });
    thresholds
        .chain(checks)
        .chain(errors)
        .chain(regressions)
        .collect()
}

/// One line of the verdict section: `PASS`, `FAIL` or `SKIP` (passed, but nothing happened
/// that it could judge, or the scenario never set it up), what was judged, and the figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub mark: &'static str,
    pub name: String,
    pub expression: String,
    pub measured: String,
}

/// Every judged item, in the table's order: thresholds, ungoverned checks, ungoverned error
/// kinds and compared metrics. The table and the HTML report both print these.
pub fn judged(summary: &Summary) -> Vec<Judged> {
    let mark = |passed: bool, exercised: bool| match (passed, exercised) {
        (false, _) => "FAIL",
        (true, false) => "SKIP",
        (true, true) => "PASS",
    };
    let line = |mark, name: &str, expression: &str, measured| Judged {
        mark,
        name: name.to_owned(),
        expression: expression.to_owned(),
        measured,
    };
    let thresholds = summary.thresholds.iter().map(|t| {
        line(
            mark(t.passed, t.exercised),
            &t.name,
            &t.expression,
            t.shown_value(),
        )
    });
    let checks = summary.check_results.iter().map(|c| {
        let measured = if c.exercised {
            c.violations.to_string()
        } else {
            "not exercised".to_owned()
        };
        line(
            mark(c.passed, c.exercised),
            &c.name,
            "(check) count == 0",
            measured,
        )
    });
    let errors = ungoverned_errors(summary).map(|(kind, n)| {
        line(
            "FAIL",
            &format!("errors.{kind}"),
            "(errors) count == 0",
            n.to_string(),
        )
    });
    let baseline = summary.baseline.iter().map(|r| {
        let detail = if r.passed {
            "within tolerance"
        } else {
            r.detail.as_str()
        };
        line(
            mark(r.passed, true),
            &r.metric,
            "(baseline)",
            detail.to_owned(),
        )
    });
    thresholds
        .chain(checks)
        .chain(errors)
        .chain(baseline)
        .collect()
}

/// The table's verdict section: a line per threshold, ungoverned check, ungoverned error kind
/// and compared metric, then the `verdict:` line of the outcome.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    let lines = judged(summary);
    // Wide enough for the longest threshold name (`presence_ack{behavior:browser}`).
    let w = summary
        .thresholds
        .iter()
        .map(|t| t.name.len())
        .fold(24, usize::max);
    if !lines.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<4}  {:<w$} {:<20} measured",
            "", "threshold", "expression"
        );
    }
    for Judged {
        mark,
        name,
        expression,
        measured,
    } in &lines
    {
        let _ = writeln!(out, "{mark:<4}  {name:<w$} {expression:<20} {measured}");
    }
    if let Some(reason) = &summary.aborted {
        let _ = writeln!(out, "run {reason}");
    }
    if let Some(outcome) = &summary.outcome {
        let _ = writeln!(out, "{}", outcome.line());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{CheckResult, ThresholdResult};

    #[test]
    fn a_long_threshold_name_widens_the_column_for_every_line() {
        let mut s: Summary = serde_json::from_str(concat!(
            r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":1.0,"target":"x",
                "visitors":{"started":1,"completed":1,"peak":1},"metrics":{},"counters":{},"#,
            r#""errors":{}}"#,
        ))
        .unwrap();
        s.thresholds = vec![ThresholdResult {
            name: "presence_ack{behavior:a-long-behavior}".into(),
            behavior: Some("a-long-behavior".into()),
            expression: "p99 < 1ms".into(),
            value: Some(500.0),
            unit: "us".into(),
            exercised: true,
            passed: true,
        }];
        s.check_results = vec![CheckResult {
            name: "signals_lost".into(),
            violations: 0,
            exercised: true,
            passed: true,
        }];
        let text = render(&s);
        let column = |line: &str, text: &str| {
            line.find(text)
                .unwrap_or_else(|| panic!("{text} in {line:?}"))
        };
        let lines: Vec<&str> = text.lines().filter(|line| !line.is_empty()).collect();
        let at = column(lines[0], "expression");
        assert_eq!(column(lines[1], "p99 < 1ms"), at, "{text}");
        assert_eq!(column(lines[2], "(check)"), at, "{text}");
    }
}
