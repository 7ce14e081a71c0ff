//! The page: one self-contained HTML document (styles inline, charts as inline SVG, no
//! script and no external resource), so it opens offline and can be attached to a CI job.
//!
//! Laid out for a reader, not for completeness: the verdict and what failed at the top, then
//! the few charts that matter for this run (a capacity search's levels, load, drills, the key
//! metrics' latencies, errors), and everything else folded away in `<details>` (which needs no
//! script to open).

use std::fmt::Write;

use super::data::{MetricSeries, ReportData};
use super::{capacity, charts, escape, tables};
use crate::report::findings::{failures, Failure};
use crate::report::table::micros;
use crate::schema::Status;

const STYLE: &str =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}\
h1{margin:0 0 4px}h2{margin:24px 0 6px;border-bottom:1px solid #ddd}\
.meta{color:#555}.verdict{padding:10px 14px;border-radius:6px;margin:12px 0 4px;font-weight:600}\
.passed{background:#e6f4ea;color:#1e4620}.failed{background:#fce8e6;color:#7a1c12}\
.other{background:#fff4e5;color:#663c00}ul.failures{margin:4px 0 8px;padding-left:22px}\
table{border-collapse:collapse;margin:8px 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}\
td:first-child,th:first-child,.name{text-align:left}\
.ok{color:#1e6b2a}.bad{color:#b3261e;font-weight:600}.skip{color:#777}\
figure{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}\
figcaption{font-weight:600;margin-bottom:2px}svg text{font-size:11px;fill:#444}\
line.grid{stroke:#eee}line.marker{stroke:#b3261e;stroke-dasharray:4 3}text.marker{fill:#b3261e}\
line.rule{stroke:#b3261e;stroke-width:1.5}text.rule{fill:#b3261e}\
.legend span{margin-right:12px;font-size:12px}\
.legend i,i.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}\
.legend i.dashed{height:0;width:14px;border-top:2px dashed;vertical-align:middle}\
.clipped{font-weight:400;color:#555}\
details{margin:8px 0}summary{cursor:pointer;font-weight:600;color:#333}\
.none{color:#888;font-style:italic}";

/// At most this many metrics are charted outside the folded section.
const KEY_METRICS: usize = 3;

/// The whole document.
pub fn render(data: &ReportData) -> String {
    let s = &data.summary;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>presence-bench: {0}</title><style>{STYLE}</style></head><body><h1>{0}</h1>\
         <p class=\"meta\">{1} &middot; started {2} &middot; {3:.1} s &middot; \
         {4} visitors started, peak {5}</p>",
        escape(&s.scenario),
        escape(&s.target),
        escape(&s.started_at),
        s.duration_seconds,
        s.visitors.started,
        s.visitors.peak
    );
    out.push_str(&verdict(data));
    // A capacity search judges each level on its own, in its own section: the run's
    // thresholds and checks over the whole search are not judged, and "none" would mislead.
    match &s.capacity {
        Some(search) => out.push_str(&capacity::section(search)),
        None => out.push_str(&judgements(data)),
    }
    out.push_str("<h2>Load</h2>");
    out.push_str(&timeline_or_note(data, charts::load));
    if !s.drills.is_empty() {
        out.push_str("<h2>Drills</h2>");
        out.push_str(&tables::drill_events(data));
        out.push_str(&timeline_or_note(data, charts::storms));
        out.push_str(&folded(
            "What each event's window held: causes and signals",
            &tables::drill_windows(data),
        ));
    }
    out.push_str(&latency(data));
    out.push_str("<h2>Errors</h2>");
    out.push_str(&errors(data));
    if s.transports.len() > 1 {
        out.push_str("<h2>By transport</h2>");
        out.push_str(&tables::transports(data));
        out.push_str(&folded(
            "connect and presence_ack distributions by transport",
            &charts::transports(data),
        ));
    }
    if !s.shards.is_empty() {
        out.push_str("<h2>By shard</h2>");
        out.push_str(&tables::shards(data));
    }
    if !s.behaviors.is_empty() {
        out.push_str("<h2>By behavior</h2>");
        let body = tables::behaviors(data) + &charts::behaviors(data, s.metrics.keys());
        let behaviors = plural(s.behaviors.len(), "behavior");
        out.push_str(&folded(
            &format!("{behaviors}: latencies, service times and distributions"),
            &body,
        ));
    }
    out.push_str("<h2>Harness health</h2>");
    out.push_str(&harness(data));
    if let Some(resources) = &s.server_resources {
        // The table's lines, one paragraph per server process.
        out.push_str("<h2>Server resources</h2>");
        for line in crate::report::server_resources::render(resources).lines() {
            let _ = write!(out, "<p>{}</p>", escape(line));
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// `1 behavior`, `3 behaviors`.
fn plural(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// A section a reader opens when they want it.
fn folded(summary: &str, body: &str) -> String {
    format!(
        "<details><summary>{}</summary>{body}</details>",
        escape(summary)
    )
}

/// A timeline chart, or why there is none (a directory written before timeline.jsonl).
fn timeline_or_note(data: &ReportData, chart: fn(&ReportData) -> String) -> String {
    if data.timeline.is_empty() {
        "<p class=\"none\">no timeline.jsonl in this run's directory</p>".to_owned()
    } else {
        chart(data)
    }
}

/// The verdict line and exit code, then every failed item (the verdict names three at most),
/// each error kind with the second it was first seen.
fn verdict(data: &ReportData) -> String {
    let Some(outcome) = &data.summary.outcome else {
        return "<div class=\"verdict other\">verdict: none recorded</div>".to_owned();
    };
    let class = match outcome.status {
        Status::Passed => "passed",
        status if status.is_failure() => "failed",
        _ => "other",
    };
    let mut out = format!(
        "<div class=\"verdict {class}\">{} (exit code {})</div>",
        escape(&outcome.line()),
        outcome.exit_code
    );
    let failed = failures(&data.summary);
    if !failed.is_empty() {
        out.push_str("<ul class=\"failures\">");
        for failure in &failed {
            let first = match failure {
                Failure::Errors { kind, .. } => tables::first_error_at(data, kind)
                    .map(|t| format!(", the first at {t:.1}s"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let _ = write!(
                out,
                "<li class=\"bad\">{}{}</li>",
                escape(&failure.to_string()),
                escape(&first)
            );
        }
        out.push_str("</ul>");
    }
    out
}

/// The verdict section, open when something failed, folded to its counts otherwise.
fn judgements(data: &ReportData) -> String {
    let (table, [passed, failed, skipped]) = tables::judgements(data);
    if passed + failed + skipped == 0 {
        return format!("<h2>Checks and thresholds</h2>{table}");
    }
    let mut counts = vec![format!("{passed} PASS")];
    if failed > 0 {
        counts.push(format!("{failed} FAIL"));
    }
    if skipped > 0 {
        counts.push(format!("{skipped} SKIP"));
    }
    let open = if failed > 0 { " open" } else { "" };
    format!(
        "<h2>Checks and thresholds</h2><details{open}><summary>{}</summary>{table}</details>",
        escape(&counts.join(", "))
    )
}

/// The key metrics' charts, the latency table (with service times), the others' charts folded.
fn latency(data: &ReportData) -> String {
    let mut out = String::from("<h2>Latency</h2>");
    let key = key_metrics(data);
    for metric in &key {
        out.push_str(&charts::metric(data, metric));
    }
    out.push_str(&tables::latency(data));
    let rest: Vec<&MetricSeries> = data
        .metrics
        .iter()
        .filter(|m| !key.iter().any(|k| k.name == m.name))
        .collect();
    if !rest.is_empty() {
        let mut body = String::new();
        for metric in &rest {
            let _ = write!(body, "<h3>{}</h3>", escape(&metric.name));
            body.push_str(&charts::metric(data, metric));
        }
        let names: Vec<&str> = rest.iter().map(|m| m.name.as_str()).collect();
        out.push_str(&folded(
            &format!(
                "{}: {}",
                plural(rest.len(), "more metric"),
                names.join(", ")
            ),
            &body,
        ));
    }
    out
}

/// The metrics charted in the open: those a failed threshold names, then those any threshold
/// names, then `connect` and `presence_ack`, and `reconnect` in a drill; at most
/// [`KEY_METRICS`], and only those with samples in the interval log.
pub fn key_metrics(data: &ReportData) -> Vec<&MetricSeries> {
    let s = &data.summary;
    // `presence_ack{behavior:b}` and `presence_ack.service` bound presence_ack.
    let metric_of = |name: &str| name.split(['{', '.']).next().unwrap_or(name).to_owned();
    let failed = s
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| metric_of(&t.name));
    let any = s.thresholds.iter().map(|t| metric_of(&t.name));
    let defaults = ["connect", "presence_ack"]
        .into_iter()
        .chain((!s.drills.is_empty()).then_some("reconnect"));
    let mut key: Vec<&MetricSeries> = Vec::new();
    for name in failed.chain(any).chain(defaults.map(str::to_owned)) {
        if key.len() == KEY_METRICS {
            break;
        }
        if let Some(metric) = data.metrics.iter().find(|m| m.name == name) {
            if !key.iter().any(|k| k.name == name) {
                key.push(metric);
            }
        }
    }
    key
}

fn errors(data: &ReportData) -> String {
    if data.summary.errors.is_empty() {
        return "<p class=\"none\">no errors</p>".to_owned();
    }
    tables::errors(data) + &timeline_or_note(data, charts::errors)
}

/// The harness's verdict in a line; its lag and CPU per second folded away, unless they are
/// why the run has no verdict on the server.
fn harness(data: &ReportData) -> String {
    let Some(h) = &data.summary.harness else {
        return "<p class=\"none\">not recorded</p>".to_owned();
    };
    let mut out = format!(
        "<p>{}: CPU {:.2} s on {} cores, saturated in {:.0}% of seconds, scheduling lag p99 {} max \
         {}, peak memory {:.1} MiB</p>",
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
        let open = if h.trusted { "" } else { " open" };
        let _ = write!(
            out,
            "<details{open}><summary>scheduling lag and CPU per second</summary>{}</details>",
            charts::health(data)
        );
    }
    out
}
