//! The end-of-run table people read in the terminal.

use std::fmt::Write;

use super::compare::Comparison;
use crate::measure::Counter;
use crate::schema::{LatencySummary, Summary};

/// Renders a summary as a fixed-width table; the comparison with a baseline, when given, comes
/// before the verdict section, so the table always ends with the `verdict:` line. With
/// `by_behavior`, each behavior's latencies follow the overall ones (`--by-behavior`: a
/// scenario with many behaviors would make the default table long).
pub fn render(summary: &Summary, comparison: Option<&Comparison>, by_behavior: bool) -> String {
    let mut out = String::new();
    let v = &summary.visitors;
    let _ = writeln!(
        out,
        "scenario {}  target {}  duration {:.1}s",
        summary.scenario, summary.target, summary.duration_seconds
    );
    let _ = write!(
        out,
        "visitors: {} started, {} completed, {} peak concurrent",
        v.started, v.completed, v.peak
    );
    let opened = summary
        .counters
        .get(Counter::SessionsOpened.name())
        .copied()
        .unwrap_or(0);
    if let (Some([first, last]), Some(rate)) = (v.sessions_opened_s, v.opening_rate(opened)) {
        let _ = write!(
            out,
            "; sessions opened {opened} in {first:.2}s-{last:.2}s ({rate:.0}/s)"
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "metric", "count", "rate/s", "p50", "p90", "p99", "p99.9", "max"
    );
    for (name, m) in &summary.metrics {
        row(&mut out, name, m);
        // The server's share beside the latency from intent: the difference is lateness.
        if let Some(service) = summary.service.get(name) {
            row(&mut out, &format!("{name}.service"), service);
        }
    }
    if summary.metrics.is_empty() {
        let _ = writeln!(out, "(no latency samples)");
    }
    if by_behavior {
        out.push_str(&behaviors(summary));
    }
    let _ = writeln!(out);
    out.push_str(&super::transports::render(&summary.transports));
    let counters: Vec<String> = summary
        .counters
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let _ = writeln!(out, "counters: {}", counters.join(", "));
    out.push_str(&super::drills::render(&summary.drills));
    if summary.errors.is_empty() {
        let _ = writeln!(out, "errors: none");
    } else {
        let errors: Vec<String> = summary
            .errors
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        let _ = writeln!(out, "errors: {}", errors.join(", "));
    }
    if let Some(harness) = &summary.harness {
        out.push_str(&harness.render());
    }
    if let Some(resources) = &summary.server_resources {
        out.push_str(&super::server_resources::render(resources));
    }
    if let Some(comparison) = comparison {
        out.push('\n');
        out.push_str(&comparison.render());
    }
    out.push_str(&super::findings::render(summary));
    out
}

/// Each behavior's latencies, a block per behavior, in the columns of the overall table.
pub fn behaviors(summary: &Summary) -> String {
    let mut out = String::new();
    for (behavior, set) in &summary.behaviors {
        let _ = writeln!(out, "\nbehavior {behavior}");
        for (name, m) in &set.metrics {
            row(&mut out, &format!("  {name}"), m);
            if let Some(service) = set.service.get(name) {
                row(&mut out, &format!("  {name}.service"), service);
            }
        }
        if set.metrics.is_empty() {
            let _ = writeln!(out, "  (no latency samples)");
        }
    }
    out
}

fn row(out: &mut String, name: &str, m: &LatencySummary) {
    let _ = writeln!(
        out,
        "{:<22} {:>9} {:>9.1} {:>9} {:>9} {:>9} {:>9} {:>9}",
        name,
        m.count,
        m.rate,
        micros(m.p50),
        micros(m.p90),
        micros(m.p99),
        micros(m.p999),
        micros(m.max)
    );
}

/// Formats microseconds with a unit a person reads at a glance.
pub fn micros(us: u64) -> String {
    match us {
        0..=999 => format!("{us}us"),
        1_000..=999_999 => format!("{:.2}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_pick_a_readable_unit() {
        assert_eq!(micros(850), "850us");
        assert_eq!(micros(1_250), "1.25ms");
        assert_eq!(micros(2_500_000), "2.50s");
    }

    #[test]
    fn behaviors_show_only_when_asked_for() {
        let mut summary: Summary = serde_json::from_str(concat!(
            r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":1.0,"target":"x",
                "visitors":{"started":1,"completed":1,"peak":1},"metrics":{},"counters":{},"#,
            r#""errors":{},
                "behaviors":{"browser":{"metrics":{"connect":{"unit":"us","count":3,"rate":3.0,"#,
            r#""min":1,
                "mean":2.0,"p50":2,"p90":3,"p99":1500,"p999":3,"max":3}}},"idle":{}}}"#,
        ))
        .unwrap();
        assert!(!render(&summary, None, false).contains("behavior browser"));
        let table = render(&summary, None, true);
        assert!(table.contains("\nbehavior browser\n  connect "), "{table}");
        assert!(table.contains("1.50ms"), "{table}");
        assert!(
            table.contains("behavior idle\n  (no latency samples)"),
            "{table}"
        );
        summary.behaviors.clear();
        assert_eq!(render(&summary, None, true), render(&summary, None, false));
    }
}
