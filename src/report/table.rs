//! The end-of-run table people read in the terminal.

use std::fmt::Write;

use super::compare::Comparison;
use super::summary::{LatencySummary, Summary};

/// Renders a summary as a fixed-width table; the comparison with a baseline, when given, comes
/// before the verdict section, so the table always ends with the `verdict:` line.
pub fn render(summary: &Summary, comparison: Option<&Comparison>) -> String {
    let mut out = String::new();
    let v = &summary.visitors;
    let _ = writeln!(
        out,
        "scenario {}  target {}  duration {:.1}s",
        summary.scenario, summary.target, summary.duration_seconds
    );
    let _ = writeln!(out, "visitors: {} started, {} completed, {} peak concurrent", v.started, v.completed, v.peak);
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
    let _ = writeln!(out);
    out.push_str(&super::transports::render(&summary.transports));
    let counters: Vec<String> = summary.counters.iter().map(|(name, n)| format!("{name} {n}")).collect();
    let _ = writeln!(out, "counters: {}", counters.join(", "));
    out.push_str(&super::drills::render(&summary.drills));
    if summary.errors.is_empty() {
        let _ = writeln!(out, "errors: none");
    } else {
        let errors: Vec<String> = summary.errors.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
        let _ = writeln!(out, "errors: {}", errors.join(", "));
    }
    if let Some(harness) = &summary.harness {
        out.push_str(&harness.render());
    }
    if let Some(comparison) = comparison {
        out.push('\n');
        out.push_str(&comparison.render());
    }
    out.push_str(&super::findings::render(summary));
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
}
