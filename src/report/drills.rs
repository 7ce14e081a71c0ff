//! The drills block of the terminal table: one line per event, then what agents saw (and
//! whether the harness lagged during the window).

use std::fmt::Write;

use super::table::micros;
use crate::schema::EventReport;

/// Renders the drill events; empty without any.
pub fn render(events: &[EventReport]) -> String {
    let mut out = String::new();
    if events.is_empty() {
        return out;
    }
    let _ = writeln!(out, "drills:");
    let _ = writeln!(
        out,
        "  {:>7} {:<9} {:<7} {:>8} {:>7} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}  action",
        "at",
        "kind",
        "server",
        "affected",
        "never",
        "back99",
        "back100",
        "peak/s",
        "spread",
        "rc p50",
        "rc p99",
        "rc max"
    );
    for e in events {
        let action = e.action.as_ref().map_or_else(
            || "-".to_owned(),
            |a| {
                format!(
                    "{} {} ({:.0}ms)",
                    if a.ok { "ok" } else { "FAILED" },
                    a.detail,
                    a.duration_ms
                )
            },
        );
        let _ = writeln!(
            out,
            "  {:>6.1}s {:<9} {:<7} {:>8} {:>7} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9} {:>9}  {}",
            e.at_s,
            e.kind,
            if e.server.is_empty() { "-" } else { &e.server },
            e.affected,
            e.never_back,
            seconds(e.affected, e.back_99_s),
            seconds(e.affected, e.back_100_s),
            e.peak_reconnects_per_s,
            format!("{:.0}ms", e.spread_ms),
            micros(e.reconnect.p50),
            micros(e.reconnect.p99),
            micros(e.reconnect.max),
            action
        );
    }
    let _ = writeln!(
        out,
        "  in the windows: causes drain/kill/other, signals delivered (p99), queued (p99), lost"
    );
    for e in events {
        let s = &e.signals;
        let _ = write!(
            out,
            "  {:>6.1}s {:<9} {}/{}/{}  signals {} ({})  queued {} ({})  lost {}  window {:.1}s",
            e.at_s,
            e.kind,
            e.causes.drain,
            e.causes.kill,
            e.causes.other,
            s.delivery.count,
            micros(s.delivery.p99),
            s.queued_delivery.count,
            micros(s.queued_delivery.p99),
            s.lost,
            e.window_s
        );
        // The event's figures include the harness's own delays: say so where they are read.
        match &e.harness_limited {
            Some(spans) => _ = writeln!(out, "  HARNESS-LIMITED ({spans})"),
            None => _ = writeln!(out),
        }
    }
    let never: u64 = events.iter().map(|e| e.never_back).sum();
    let affected: u64 = events.iter().map(|e| e.affected).sum();
    let verdict = if never == 0 {
        "every visitor back"
    } else {
        "SOME VISITORS NEVER BACK"
    };
    let _ = writeln!(
        out,
        "  {} events, {affected} sessions affected, {never} never back: {verdict}",
        events.len()
    );
    out
}

/// A comeback time; `-` when nobody was affected, `never` when some never came back.
pub fn seconds(affected: u64, value: Option<f64>) -> String {
    match value {
        _ if affected == 0 => "-".to_owned(),
        None => "never".to_owned(),
        Some(s) => format!("{s:.2}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_in_which_the_harness_lagged_says_so() {
        let mut lagged = EventReport::window("kill", 12.0, 3.0);
        lagged.harness_limited = Some("12.0s-14.0s: lag max 840.0 ms".to_owned());
        let table = render(&[lagged, EventReport::window("scale_out", 30.0, 3.0)]);
        let lines: Vec<&str> = table
            .lines()
            .filter(|line| line.contains("window "))
            .collect();
        assert!(
            lines[0].ends_with("HARNESS-LIMITED (12.0s-14.0s: lag max 840.0 ms)"),
            "{table}"
        );
        assert!(!lines[1].contains("HARNESS-LIMITED"), "{table}");
    }
}
