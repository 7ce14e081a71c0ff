//! The page: one self-contained HTML document (styles inline, charts as inline SVG, no
//! script and no external resource), so it opens offline and can be attached to a CI job.

use std::fmt::Write;

use super::data::ReportData;
use super::{charts, escape};
use crate::report::summary::LatencySummary;
use crate::report::table::micros;
use crate::report::verdict::Status;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}\
h1{margin:0 0 4px}h2{margin-top:28px;border-bottom:1px solid #ddd}\
.meta{color:#555}.verdict{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:600}\
.passed{background:#e6f4ea;color:#1e4620}.failed{background:#fce8e6;color:#7a1c12}\
.other{background:#fff4e5;color:#663c00}table{border-collapse:collapse;margin:8px 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th:first-child,.name{text-align:left}\
.ok{color:#1e6b2a}.bad{color:#b3261e;font-weight:600}figure{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}\
figcaption{font-weight:600;margin-bottom:2px}svg text{font-size:11px;fill:#444}\
line.grid{stroke:#eee}line.marker{stroke:#b3261e;stroke-dasharray:4 3}text.marker{fill:#b3261e}\
.legend span{margin-right:12px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}\
.none{color:#888;font-style:italic}";

/// The whole document.
pub fn render(data: &ReportData) -> String {
    let s = &data.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>presence-bench: {0}</title>\
         <style>{STYLE}</style></head><body><h1>{0}</h1><p class=\"meta\">{1} &middot; started {2} &middot; {3:.1} s &middot; \
         {4} visitors started, peak {5}</p>",
        escape(&s.scenario),
        escape(&s.target),
        escape(&s.started_at),
        s.duration_seconds,
        s.visitors.started,
        s.visitors.peak
    );
    // What a reader looks for first: the verdict and why, then the run over time.
    out.push_str(&verdict(data));
    out.push_str("<h2>Checks and thresholds</h2>");
    out.push_str(&judgements(data));
    out.push_str("<h2>Load</h2>");
    out.push_str(&timeline_or_note(data, charts::load));
    if !s.drills.is_empty() {
        out.push_str("<h2>Drills</h2>");
        out.push_str(&drills(data));
        out.push_str(&timeline_or_note(data, charts::storms));
    }
    out.push_str("<h2>Latency</h2>");
    out.push_str(&latency_table(data));
    for metric in &data.metrics {
        let _ = write!(out, "<h3>{}</h3>", escape(&metric.name));
        out.push_str(&charts::metric(data, metric));
    }
    if !s.behaviors.is_empty() {
        out.push_str("<h2>Latency by behavior</h2>");
        out.push_str(&behavior_table(data));
        out.push_str(&charts::behaviors(data, s.metrics.keys()));
    }
    out.push_str("<h2>Errors</h2>");
    out.push_str(&errors(data));
    out.push_str("<h2>Harness health</h2>");
    out.push_str(&harness(data));
    out.push_str("</body></html>\n");
    out
}

/// A timeline chart, or why there is none (a directory written before timeline.jsonl).
fn timeline_or_note(data: &ReportData, chart: fn(&ReportData) -> String) -> String {
    if data.timeline.is_empty() {
        "<p class=\"none\">no timeline.jsonl in this run's directory</p>".to_owned()
    } else {
        chart(data)
    }
}

fn verdict(data: &ReportData) -> String {
    let Some(outcome) = &data.summary.outcome else {
        return "<div class=\"verdict other\">verdict: none recorded</div>".to_owned();
    };
    let class = match outcome.status {
        Status::Passed => "passed",
        status if status.is_failure() => "failed",
        _ => "other",
    };
    format!("<div class=\"verdict {class}\">{} (exit code {})</div>", escape(&outcome.line()), outcome.exit_code)
}

fn pass(passed: bool) -> &'static str {
    if passed {
        "<td class=\"ok\">pass</td>"
    } else {
        "<td class=\"bad\">FAIL</td>"
    }
}

const LATENCY_COLUMNS: &str =
    "<th>count</th><th>rate/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>";

fn latency_table(data: &ReportData) -> String {
    let mut out = format!("<table><tr><th>metric</th>{LATENCY_COLUMNS}");
    for (name, m) in &data.summary.metrics {
        latency_row(&mut out, &[name], m);
    }
    out.push_str("</table>");
    out
}

/// Each behavior's latencies, a row per behavior and metric.
fn behavior_table(data: &ReportData) -> String {
    let mut out = format!("<table><tr><th>behavior</th><th class=\"name\">metric</th>{LATENCY_COLUMNS}");
    for (behavior, set) in &data.summary.behaviors {
        if set.metrics.is_empty() {
            let _ =
                write!(out, "<tr><td>{}</td><td colspan=\"8\" class=\"none\">no samples</td></tr>", escape(behavior));
        }
        for (name, m) in &set.metrics {
            latency_row(&mut out, &[behavior, name], m);
        }
    }
    out.push_str("</table>");
    out
}

/// A table row: `names` in the first cells, then the figures.
fn latency_row(out: &mut String, names: &[&String], m: &LatencySummary) {
    out.push_str("<tr>");
    for name in names {
        let _ = write!(out, "<td class=\"name\">{}</td>", escape(name));
    }
    let _ = write!(out, "<td>{}</td><td>{:.1}</td>", m.count, m.rate);
    for value in [m.p50, m.p90, m.p99, m.p999, m.max] {
        let _ = write!(out, "<td>{}</td>", micros(value));
    }
    out.push_str("</tr>");
}

fn drills(data: &ReportData) -> String {
    let mut out = String::from(
        "<table><tr><th>at</th><th>kind</th><th>server</th><th>affected</th><th>never back</th><th>back 99%</th>\
         <th>back 100%</th><th>attempts</th><th>peak attempts/s</th><th>reconnect p99</th><th>action</th></tr>",
    );
    let back = |v: Option<f64>| v.map_or_else(|| "never".to_owned(), |s| format!("{s:.2}s"));
    for e in &data.summary.drills {
        let action = e.action.as_ref().map_or_else(
            || "-".to_owned(),
            |a| format!("{} {} ({:.0} ms)", if a.ok { "ok" } else { "FAILED" }, a.detail, a.duration_ms),
        );
        let limited = e.harness_limited.as_ref().map(|s| format!("; HARNESS-LIMITED ({s})")).unwrap_or_default();
        let _ = write!(
            out,
            "<tr><td>{:.1}s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.at_s,
            escape(&e.kind),
            escape(&e.server),
            e.affected,
            e.never_back,
            back(e.back_99_s),
            back(e.back_100_s),
            e.reconnect_attempts,
            e.peak_reconnects_per_s,
            micros(e.reconnect.p99),
            escape(&(action + &limited))
        );
    }
    out.push_str("</table>");
    out
}

fn judgements(data: &ReportData) -> String {
    let s = &data.summary;
    let mut out = String::new();
    if s.thresholds.is_empty() {
        out.push_str("<p class=\"none\">no thresholds</p>");
    } else {
        out.push_str("<table><tr><th>threshold</th><th>expression</th><th>value</th><th>result</th></tr>");
        for t in &s.thresholds {
            let value = t.value.map_or_else(|| "no samples".to_owned(), |v| format!("{v:.1} {}", t.unit));
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td>{}</tr>",
                escape(&t.name),
                escape(&t.expression),
                escape(&value),
                pass(t.passed)
            );
        }
        out.push_str("</table>");
    }
    if !s.check_results.is_empty() {
        out.push_str("<table><tr><th>delivery check</th><th>violations</th><th>exercised</th><th>result</th></tr>");
        for c in &s.check_results {
            let exercised = if c.exercised { "yes" } else { "no" };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{exercised}</td>{}</tr>",
                escape(&c.name),
                c.violations,
                pass(c.passed)
            );
        }
        out.push_str("</table>");
    }
    out
}

fn errors(data: &ReportData) -> String {
    if data.summary.errors.is_empty() {
        return "<p class=\"none\">no errors</p>".to_owned();
    }
    let mut out = String::from("<table><tr><th>kind</th><th>count</th></tr>");
    for (kind, n) in &data.summary.errors {
        let _ = write!(out, "<tr><td>{}</td><td>{n}</td></tr>", escape(kind));
    }
    out.push_str("</table>");
    out + &timeline_or_note(data, charts::errors)
}

fn harness(data: &ReportData) -> String {
    let Some(h) = &data.summary.harness else {
        return "<p class=\"none\">not recorded</p>".to_owned();
    };
    let mut out = format!(
        "<p>{}: CPU {:.2} s on {} cores, saturated in {:.0}% of seconds, scheduling lag p99 {} max {}, peak memory {:.1} MiB</p>",
        escape(&h.verdict),
        h.cpu_seconds,
        h.cores,
        h.cpu_saturated_share * 100.0,
        micros(h.scheduling_lag.p99),
        micros(h.scheduling_lag.max),
        h.peak_rss_bytes as f64 / (1024.0 * 1024.0)
    );
    for reason in &h.reasons {
        let _ = write!(out, "<p class=\"bad\">{}</p>", escape(reason));
    }
    if data.health.is_empty() {
        out.push_str("<p class=\"none\">no health.jsonl in this run's directory</p>");
    } else {
        out.push_str(&charts::health(data));
    }
    out
}
