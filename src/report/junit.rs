//! The verdict as JUnit XML, the format CI systems show natively: one test case per threshold,
//! per delivery check that no threshold governs, per error kind no threshold governs, per
//! metric compared with a baseline and per drill action; a `run` case when the run ended
//! without a verdict on the server (aborted, interrupted, target down, drill failed,
//! harness-limited). A run that is not a pass is never a green file (docs/ci.md). A capacity
//! search has its own cases: its levels and its answer.

use quick_xml::events::{BytesDecl, Event};
use quick_xml::Writer;

use super::findings::ungoverned_errors;
use crate::schema::{CapacitySummary, LevelStatus, Status, Summary};

/// How one test case ended.
#[derive(Debug, Clone, PartialEq)]
enum CaseEnd {
    Passed,
    /// Not exercised, and not required: shown as skipped, with why.
    Skipped(String),
    /// A verdict against the server.
    Failure(String),
    /// No verdict: the case could not be carried out.
    Error(String),
}

/// One test case: class, name, and how it ended.
struct Case {
    class: &'static str,
    name: String,
    end: CaseEnd,
}

fn judged(passed: bool, exercised: bool, measured: String) -> CaseEnd {
    match (passed, exercised) {
        (false, _) => CaseEnd::Failure(format!("measured {measured}")),
        (true, false) => CaseEnd::Skipped(format!("not exercised: {measured}")),
        (true, true) => CaseEnd::Passed,
    }
}

fn cases(summary: &Summary) -> Vec<Case> {
    if let Some(capacity) = &summary.capacity {
        return capacity_cases(summary, capacity);
    }
    let thresholds = summary.thresholds.iter().map(|t| Case {
        class: "thresholds",
        name: format!("{}: {}", t.name, t.expression),
        end: judged(t.passed, t.exercised, t.shown_value()),
    });
    let checks = summary.check_results.iter().map(|c| Case {
        class: "checks",
        name: format!("{}: count == 0", c.name),
        end: if c.exercised {
            judged(c.passed, true, c.violations.to_string())
        } else {
            judged(
                c.passed,
                false,
                "nothing happened that it checks".to_owned(),
            )
        },
    });
    let errors = ungoverned_errors(summary).map(|(kind, n)| Case {
        class: "errors",
        name: format!("errors.{kind}: count == 0"),
        end: CaseEnd::Failure(format!(
            "measured {n}; no threshold allows errors of this kind"
        )),
    });
    let baseline = summary.baseline.iter().map(|r| Case {
        class: "baseline",
        name: format!("{}: within tolerance of the baseline", r.metric),
        end: if r.passed {
            CaseEnd::Passed
        } else {
            CaseEnd::Failure(format!("regressed: {}", r.detail))
        },
    });
    let drills = summary.drills.iter().filter_map(|e| {
        let action = e.action.as_ref()?;
        Some(Case {
            class: "drills",
            name: format!("{} at {:.1}s", e.kind, e.at_s),
            end: if action.ok {
                CaseEnd::Passed
            } else {
                CaseEnd::Error(format!("action failed: {}", action.detail))
            },
        })
    });
    let run = summary
        .outcome
        .iter()
        .filter(|o| !matches!(o.status, Status::Passed | Status::Failed))
        .map(|o| Case {
            class: "run",
            name: "run completes".to_owned(),
            end: if o.status.is_failure() {
                CaseEnd::Failure(o.line())
            } else {
                CaseEnd::Error(o.line())
            },
        });
    thresholds
        .chain(checks)
        .chain(errors)
        .chain(baseline)
        .chain(drills)
        .chain(run)
        .collect()
}

/// A capacity search: one case per level (a level that broke is the search finding the
/// edge, not a failure; one the harness limited or found the target down is no verdict), and
/// the answer as the `capacity` case, failed or in error as its exit code says.
fn capacity_cases(summary: &Summary, capacity: &CapacitySummary) -> Vec<Case> {
    let levels = capacity.levels.iter().enumerate().map(|(index, level)| {
        let name = format!(
            "level {} ({}): {} {}",
            index + 1,
            level.phase,
            level.load,
            capacity.unit
        );
        let end = match level.status {
            LevelStatus::Held | LevelStatus::Broken => CaseEnd::Passed,
            LevelStatus::HarnessLimited | LevelStatus::TargetDown => {
                CaseEnd::Error(level.reason.clone())
            }
        };
        let name = if level.status == LevelStatus::Broken {
            format!("{name}: broken ({})", level.reason)
        } else {
            name
        };
        Case {
            class: "capacity.levels",
            name,
            end,
        }
    });
    let answer = summary.outcome.iter().map(|outcome| Case {
        class: "capacity",
        name: "capacity".to_owned(),
        end: match outcome.exit_code {
            0 => CaseEnd::Passed,
            1 => CaseEnd::Failure(outcome.reason.clone()),
            _ => CaseEnd::Error(outcome.reason.clone()),
        },
    });
    levels.chain(answer).collect()
}

/// Renders the report; the XML is escaped by quick-xml (`p99 < 25ms` is `p99 &lt; 25ms`).
pub fn render(summary: &Summary) -> String {
    let cases = cases(summary);
    let count =
        |wanted: fn(&CaseEnd) -> bool| cases.iter().filter(|c| wanted(&c.end)).count().to_string();
    let failures = count(|r| matches!(r, CaseEnd::Failure(_)));
    let errors = count(|r| matches!(r, CaseEnd::Error(_)));
    let skipped = count(|r| matches!(r, CaseEnd::Skipped(_)));
    let tests = cases.len().to_string();
    let time = format!("{:.3}", summary.duration_seconds);
    let suite = format!("presence-bench {}", summary.scenario);
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    let written: std::io::Result<()> = (|| {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer
            .create_element("testsuites")
            .with_attributes([
                ("name", "presence-bench"),
                ("tests", &tests),
                ("failures", &failures),
                ("errors", &errors),
                ("skipped", &skipped),
            ])
            .write_inner_content(|w| {
                w.create_element("testsuite")
                    .with_attributes([
                        ("name", suite.as_str()),
                        ("tests", &tests),
                        ("failures", &failures),
                        ("errors", &errors),
                        ("skipped", &skipped),
                        ("time", &time),
                        ("timestamp", &summary.started_at),
                    ])
                    .write_inner_content(|w| {
                        for case in &cases {
                            let element = w.create_element("testcase").with_attributes([
                                ("classname", case.class),
                                ("name", case.name.as_str()),
                            ]);
                            let (tag, kind, message) = match &case.end {
                                CaseEnd::Passed => {
                                    element.write_empty()?;
                                    continue;
                                }
                                CaseEnd::Skipped(message) => ("skipped", None, message),
                                CaseEnd::Failure(message) => ("failure", Some(case.class), message),
                                CaseEnd::Error(message) => ("error", Some(case.class), message),
                            };
                            element.write_inner_content(|w| {
                                let child = w
                                    .create_element(tag)
                                    .with_attribute(("message", message.as_str()));
                                match kind {
                                    Some(kind) => {
                                        child.with_attribute(("type", kind)).write_empty()?
                                    }
                                    None => child.write_empty()?,
                                };
                                Ok(())
                            })?;
                        }
                        Ok(())
                    })?;
                Ok(())
            })?;
        Ok(())
    })();
    // Writing into a Vec cannot fail.
    written.expect("writing XML to memory");
    String::from_utf8(writer.into_inner()).expect("quick-xml writes UTF-8") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{CheckResult, ThresholdResult};
    use quick_xml::events::Event;
    use quick_xml::Reader;

    use crate::report::verdict::{decide, Ending};

    fn summary() -> Summary {
        let mut s: Summary = serde_json::from_str(concat!(
            r#"{"schema":1,"scenario":"ci <gate> & \"co\"","#,
            r#""started_at":"2026-01-01T00:00:00.000Z","duration_seconds":2.5,
                "target":"x","visitors":{"started":1,"completed":1,"peak":1},"metrics":{},"#,
            r#""counters":{"sessions_opened":1},
                "checks":{"signals_lost":0,"blur_misrouted":3},"errors":{"connect":2}}"#,
        ))
        .unwrap();
        let result = |expression: &str, value, passed| ThresholdResult {
            name: "presence_ack".into(),
            behavior: None,
            expression: expression.into(),
            value: Some(value),
            unit: "us".into(),
            exercised: true,
            passed,
        };
        s.thresholds = vec![
            result("p99 < 25ms", 1500.0, true),
            result("max < 1ms", 9000.0, false),
        ];
        let check = |name: &str, violations, exercised| CheckResult {
            name: name.into(),
            violations,
            exercised,
            passed: violations == 0,
        };
        s.check_results = vec![
            check("signals_lost", 0, false),
            check("blur_misrouted", 3, true),
        ];
        s.aborted = Some("aborted at 1.0s: threshold presence_ack \"max < 1ms\" failed".into());
        s.outcome = Some(decide(&s, &Ending::default()));
        s
    }

    /// A parsed case: classname, name, and the child element with its message, if any.
    type Parsed = (String, String, Option<(String, String)>);

    /// Parses `xml` with a real XML parser; answers (classname, name, child element and its
    /// message) per case, and the suite's name.
    fn parse(xml: &str) -> (Vec<Parsed>, String) {
        let mut reader = Reader::from_str(xml);
        let mut cases = Vec::new();
        let mut suite = String::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    let attr = |key: &str| {
                        e.try_get_attribute(key).unwrap().map(|a| {
                            a.decode_and_unescape_value(reader.decoder())
                                .unwrap()
                                .into_owned()
                        })
                    };
                    let tag = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    match tag.as_str() {
                        "testsuite" => suite = attr("name").unwrap(),
                        "testcase" => {
                            cases.push((attr("classname").unwrap(), attr("name").unwrap(), None))
                        }
                        "failure" | "error" | "skipped" => {
                            cases.last_mut().unwrap().2 = Some((tag, attr("message").unwrap()))
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        (cases, suite)
    }

    fn case(class: &str, name: &str, child: Option<(&str, &str)>) -> Parsed {
        (
            class.to_owned(),
            name.to_owned(),
            child.map(|(tag, message)| (tag.to_owned(), message.to_owned())),
        )
    }

    #[test]
    fn the_report_parses_back_with_every_case() {
        let xml = render(&summary());
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{xml}"
        );
        assert!(
            xml.contains("tests=\"6\" failures=\"4\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        let (cases, suite) = parse(&xml);
        assert_eq!(suite, "presence-bench ci <gate> & \"co\"");
        let aborted =
            "verdict: ABORTED (aborted at 1.0s: threshold presence_ack \"max < 1ms\" failed)";
        assert_eq!(
            cases,
            vec![
                case("thresholds", "presence_ack: p99 < 25ms", None),
                case(
                    "thresholds",
                    "presence_ack: max < 1ms",
                    Some(("failure", "measured 9.00ms"))
                ),
                case(
                    "checks",
                    "signals_lost: count == 0",
                    Some(("skipped", "not exercised: nothing happened that it checks"))
                ),
                case(
                    "checks",
                    "blur_misrouted: count == 0",
                    Some(("failure", "measured 3"))
                ),
                case(
                    "errors",
                    "errors.connect: count == 0",
                    Some((
                        "failure",
                        "measured 2; no threshold allows errors of this kind"
                    ))
                ),
                case("run", "run completes", Some(("failure", aborted))),
            ]
        );
    }

    #[test]
    fn a_run_without_a_verdict_is_an_error_never_a_green_file() {
        let mut s = summary();
        s.aborted = None;
        s.thresholds.clear();
        s.check_results.clear();
        s.errors.clear();
        s.outcome = Some(decide(
            &s,
            &Ending {
                interrupted: true,
                target_down: None,
            },
        ));
        let xml = render(&s);
        assert!(
            xml.contains("tests=\"1\" failures=\"0\" errors=\"1\""),
            "{xml}"
        );
        let (cases, _) = parse(&xml);
        let line = "verdict: INTERRUPTED (stopped before its end; the report covers what ran)";
        assert_eq!(
            cases,
            vec![case("run", "run completes", Some(("error", line)))]
        );
    }
}
