//! The verdict as JUnit XML, the format CI systems show natively: one test case per threshold
//! and per delivery check that no threshold governs, failing with the measured value, plus a
//! failing `run` case when an `abort_on_fail` threshold stopped the run.

use quick_xml::events::{BytesDecl, Event};
use quick_xml::Writer;

use super::summary::Summary;
use super::threshold::ungoverned_checks;

/// One test case: class, name, and the failure message if it failed.
struct Case {
    class: &'static str,
    name: String,
    failure: Option<String>,
}

fn cases(summary: &Summary) -> Vec<Case> {
    let thresholds = summary.thresholds.iter().map(|t| Case {
        class: "thresholds",
        name: format!("{}: {}", t.name, t.expression),
        failure: (!t.passed).then(|| format!("measured {}", t.shown_value())),
    });
    let checks = ungoverned_checks(summary).map(|(name, n)| Case {
        class: "checks",
        name: format!("{name}: count == 0"),
        failure: (n > 0).then(|| format!("measured {n}")),
    });
    let aborted = summary.aborted.iter().map(|reason| Case {
        class: "run",
        name: "run completes".to_owned(),
        failure: Some(reason.clone()),
    });
    thresholds.chain(checks).chain(aborted).collect()
}

/// Renders the report; the XML is escaped by quick-xml (`p99 < 25ms` is `p99 &lt; 25ms`).
pub fn render(summary: &Summary) -> String {
    let cases = cases(summary);
    let failures = cases.iter().filter(|c| c.failure.is_some()).count().to_string();
    let tests = cases.len().to_string();
    let time = format!("{:.3}", summary.duration_seconds);
    let suite = format!("presence-bench {}", summary.scenario);
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    let written: std::io::Result<()> = (|| {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer
            .create_element("testsuites")
            .with_attributes([("name", "presence-bench"), ("tests", &tests), ("failures", &failures)])
            .write_inner_content(|w| {
                w.create_element("testsuite")
                    .with_attributes([
                        ("name", suite.as_str()),
                        ("tests", &tests),
                        ("failures", &failures),
                        ("errors", "0"),
                        ("time", &time),
                        ("timestamp", &summary.started_at),
                    ])
                    .write_inner_content(|w| {
                        for case in &cases {
                            let element = w
                                .create_element("testcase")
                                .with_attributes([("classname", case.class), ("name", case.name.as_str())]);
                            match &case.failure {
                                None => {
                                    element.write_empty()?;
                                }
                                Some(message) => {
                                    element.write_inner_content(|w| {
                                        w.create_element("failure")
                                            .with_attributes([("message", message.as_str()), ("type", "threshold")])
                                            .write_empty()?;
                                        Ok(())
                                    })?;
                                }
                            }
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
    use quick_xml::events::Event;
    use quick_xml::Reader;

    use crate::report::threshold::ThresholdResult;

    fn summary() -> Summary {
        let mut s: Summary = serde_json::from_str(
            r#"{"schema":1,"scenario":"ci <gate> & \"co\"","started_at":"2026-01-01T00:00:00.000Z","duration_seconds":2.5,
                "target":"x","visitors":{"started":1,"completed":1,"peak":1},"metrics":{},"counters":{},
                "checks":{"signals_lost":0,"blur_misrouted":3},"errors":{}}"#,
        )
        .unwrap();
        let result = |expression: &str, value, passed| ThresholdResult {
            name: "presence_ack".into(),
            expression: expression.into(),
            value: Some(value),
            unit: "us".into(),
            passed,
        };
        s.thresholds = vec![result("p99 < 25ms", 1500.0, true), result("max < 1ms", 9000.0, false)];
        s.aborted = Some("aborted at 1.0s: threshold presence_ack \"max < 1ms\" failed".into());
        s
    }

    /// Parses `xml` with a real XML parser; answers (classname, name, failure message) per case.
    fn parse(xml: &str) -> (Vec<(String, String, Option<String>)>, String) {
        let mut reader = Reader::from_str(xml);
        let mut cases = Vec::new();
        let mut suite = String::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    let attr = |key: &str| {
                        e.try_get_attribute(key)
                            .unwrap()
                            .map(|a| a.decode_and_unescape_value(reader.decoder()).unwrap().into_owned())
                    };
                    match e.name().as_ref() {
                        b"testsuite" => suite = attr("name").unwrap(),
                        b"testcase" => cases.push((attr("classname").unwrap(), attr("name").unwrap(), None)),
                        b"failure" => cases.last_mut().unwrap().2 = attr("message"),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        (cases, suite)
    }

    #[test]
    fn the_report_parses_back_with_every_case() {
        let xml = render(&summary());
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{xml}");
        assert!(xml.contains("tests=\"5\" failures=\"3\""), "{xml}");
        let (cases, suite) = parse(&xml);
        assert_eq!(suite, "presence-bench ci <gate> & \"co\"");
        let case = |class: &str, name: &str, failure: Option<&str>| {
            (class.to_owned(), name.to_owned(), failure.map(str::to_owned))
        };
        assert_eq!(
            cases,
            vec![
                case("thresholds", "presence_ack: p99 < 25ms", None),
                case("thresholds", "presence_ack: max < 1ms", Some("measured 9.00ms")),
                case("checks", "signals_lost: count == 0", None),
                case("checks", "blur_misrouted: count == 0", Some("measured 3")),
                case("run", "run completes", Some("aborted at 1.0s: threshold presence_ack \"max < 1ms\" failed")),
            ]
        );
    }
}
