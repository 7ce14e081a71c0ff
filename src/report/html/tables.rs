//! The report's tables. Each shows what the terminal table shows, from the same functions
//! where the table has one (the verdict lines, comeback times, transport and shard cells), so
//! the page and the terminal cannot tell different stories.

use std::fmt::Write;

use super::data::ReportData;
use super::escape;
use super::svg::keyed_color;
use crate::report::findings::{judged, Judged};
use crate::report::table::micros;
use crate::report::{drills, shard_table, transports};
use crate::schema::LatencySummary;

/// A row's cells, each escaped.
fn row(cells: &[&str]) -> String {
    let mut out = String::from("<tr>");
    for cell in cells {
        let _ = write!(out, "<td>{}</td>", escape(cell));
    }
    out.push_str("</tr>");
    out
}

/// The verdict section of the table: thresholds, checks, ungoverned errors and the baseline,
/// each PASS, FAIL or SKIP, with the count of each for the section's heading.
pub fn judgements(data: &ReportData) -> (String, [usize; 3]) {
    let lines = judged(&data.summary);
    let mut counts = [0; 3];
    if lines.is_empty() {
        return (
            "<p class=\"none\">no thresholds or checks</p>".to_owned(),
            counts,
        );
    }
    let mut out = String::from(
        "<table><tr><th></th><th class=\"name\">threshold</th><th class=\"name\">expression</th>\
         <th>measured</th></tr>",
    );
    for Judged {
        mark,
        name,
        expression,
        measured,
    } in &lines
    {
        let class = match *mark {
            "FAIL" => {
                counts[1] += 1;
                "bad"
            }
            "SKIP" => {
                counts[2] += 1;
                "skip"
            }
            _ => {
                counts[0] += 1;
                "ok"
            }
        };
        let _ = write!(
            out,
            "<tr><td class=\"{class}\">{mark}</td><td class=\"name\">{}</td>\
             <td class=\"name\">{}</td><td>{}</td></tr>",
            escape(name),
            escape(expression),
            escape(measured)
        );
    }
    out.push_str("</table>");
    (out, counts)
}

const LATENCY_COLUMNS: &str =
    "<th>count</th><th>rate/s</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th>\
     <th>max</th></tr>";

/// Every metric, each request followed by its service time (`presence_ack.service`), as in
/// the terminal table: the difference between the two rows is how late the sends went out.
pub fn latency(data: &ReportData) -> String {
    let s = &data.summary;
    if s.metrics.is_empty() {
        return "<p class=\"none\">no latency samples</p>".to_owned();
    }
    let mut out = format!("<table><tr><th>metric</th>{LATENCY_COLUMNS}");
    for (name, m) in &s.metrics {
        latency_row(&mut out, "", name, m);
        if let Some(service) = s.service.get(name) {
            latency_row(&mut out, "", &format!("{name}.service"), service);
        }
    }
    out.push_str("</table>");
    out
}

/// Each behavior's latencies and service times, a row per behavior and metric; the
/// behavior's name beside the colour it has on every chart.
pub fn behaviors(data: &ReportData) -> String {
    let mut out =
        format!("<table><tr><th>behavior</th><th class=\"name\">metric</th>{LATENCY_COLUMNS}");
    for (index, (behavior, set)) in data.summary.behaviors.iter().enumerate() {
        let cell = format!(
            "<td class=\"name\"><i class=\"swatch\" style=\"background:{}\"></i>{}</td>",
            keyed_color(index),
            escape(behavior)
        );
        if set.metrics.is_empty() {
            let _ = write!(
                out,
                "<tr>{cell}<td colspan=\"8\" class=\"none\">no samples</td></tr>"
            );
        }
        for (name, m) in &set.metrics {
            latency_row(&mut out, &cell, name, m);
            if let Some(service) = set.service.get(name) {
                latency_row(&mut out, &cell, &format!("{name}.service"), service);
            }
        }
    }
    out.push_str("</table>");
    out
}

/// A row: `first` (cells already made, or nothing), the metric's name, then the figures.
fn latency_row(out: &mut String, first: &str, name: &str, m: &LatencySummary) {
    let _ = write!(
        out,
        "<tr>{first}<td class=\"name\">{}</td><td>{}</td><td>{:.1}</td>",
        escape(name),
        m.count,
        m.rate
    );
    for value in [m.p50, m.p90, m.p99, m.p999, m.max] {
        let _ = write!(out, "<td>{}</td>", micros(value));
    }
    out.push_str("</tr>");
}

/// The drill events as the table has them: `-` for a comeback time when the event affected
/// no session (nothing to recover), `never` when some never came back.
pub fn drill_events(data: &ReportData) -> String {
    let events = &data.summary.drills;
    let mut out = String::from(
        "<table><tr><th>at</th><th class=\"name\">kind</th><th class=\"name\">server</th>\
         <th>affected</th><th>never back</th><th>back 99%</th><th>back 100%</th><th>attempts</th>\
         <th>peak attempts/s</th><th>spread</th><th>reconnect p50</th><th>reconnect p99</th>\
         <th>reconnect max</th><th class=\"name\">action</th></tr>",
    );
    for e in events {
        let action = e.action.as_ref().map_or_else(
            || "-".to_owned(),
            |a| {
                format!(
                    "{} {} ({:.0} ms)",
                    if a.ok { "ok" } else { "FAILED" },
                    a.detail,
                    a.duration_ms
                )
            },
        );
        let limited = e
            .harness_limited
            .as_ref()
            .map(|s| format!("; HARNESS-LIMITED ({s})"))
            .unwrap_or_default();
        let never = if e.never_back > 0 {
            " class=\"bad\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td>{:.1}s</td><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td>\
             <td{never}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}ms</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"name\">{}</td></tr>",
            e.at_s,
            escape(&e.kind),
            escape(if e.server.is_empty() { "-" } else { &e.server }),
            e.affected,
            e.never_back,
            drills::seconds(e.affected, e.back_99_s),
            drills::seconds(e.affected, e.back_100_s),
            e.reconnect_attempts,
            e.peak_reconnects_per_s,
            e.spread_ms,
            micros(e.reconnect.p50),
            micros(e.reconnect.p99),
            micros(e.reconnect.max),
            escape(&(action + &limited))
        );
    }
    out.push_str("</table>");
    let never: u64 = events.iter().map(|e| e.never_back).sum();
    let affected: u64 = events.iter().map(|e| e.affected).sum();
    let (class, verdict) = if never == 0 {
        ("ok", "every visitor back")
    } else {
        ("bad", "SOME VISITORS NEVER BACK")
    };
    let _ = write!(
        out,
        "<p>{} events, {affected} sessions affected, {never} never back: \
         <span class=\"{class}\">{verdict}</span></p>",
        events.len()
    );
    out
}

/// What happened in each event's window: why sessions were lost, and the agents' signals.
pub fn drill_windows(data: &ReportData) -> String {
    let mut out = String::from(
        "<table><tr><th>at</th><th class=\"name\">kind</th><th>lost by drain / kill / other</th>\
         <th>signals delivered (p99)</th><th>queued (p99)</th><th>signals lost</th><th>window</th>\
         </tr>",
    );
    for e in &data.summary.drills {
        let s = &e.signals;
        out.push_str(&row(&[
            &format!("{:.1}s", e.at_s),
            &e.kind,
            &format!(
                "{} / {} / {}",
                e.causes.drain, e.causes.kill, e.causes.other
            ),
            &format!("{} ({})", s.delivery.count, micros(s.delivery.p99)),
            &format!(
                "{} ({})",
                s.queued_delivery.count,
                micros(s.queued_delivery.p99)
            ),
            &s.lost.to_string(),
            &format!("{:.1}s", e.window_s),
        ]));
    }
    out.push_str("</table>");
    out
}

/// Visitors, sessions, errors and connect / presence_ack percentiles by transport, each
/// transport in the colour it has on the charts.
pub fn transports(data: &ReportData) -> String {
    let mut out = String::from(
        "<table><tr><th>transport</th><th>visitors</th><th>sessions</th><th>errors</th>\
         <th>connect p50</th>\
         <th>connect p99</th><th>presence_ack p50</th><th>presence_ack p99</th></tr>",
    );
    for (index, (name, t)) in data.summary.transports.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td class=\"name\"><i class=\"swatch\" style=\"background:{}\"></i>{}</td><td>{}\
             </td><td>{}</td><td>{}</td>",
            keyed_color(index),
            escape(name),
            t.visitors,
            t.sessions_opened,
            t.errors
        );
        for cell in transports::latencies(t) {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// One row per shard of a merged run: a late, limited, erroring or missing runner shows here.
pub fn shards(data: &ReportData) -> String {
    let s = &data.summary;
    let mut out = String::from(
        "<table><tr><th>shard</th><th>visitors</th><th>errors</th><th class=\"name\">harness</th>\
         <th class=\"name\">status</th><th>start lag</th></tr>",
    );
    for shard in &s.shards {
        let cells = shard_table::cells(s, shard);
        let class = if shard.present { "" } else { " class=\"bad\"" };
        let _ = write!(out, "<tr{class}>");
        for cell in &cells {
            let _ = write!(out, "<td>{}</td>", escape(cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    if s.partial {
        out.push_str(
            "<p class=\"bad\">partial: judged without the missing shards (--allow-missing)</p>",
        );
    }
    out
}

/// When the timeline first counted an error of `kind`: the start of that second.
pub fn first_error_at(data: &ReportData, kind: &str) -> Option<f64> {
    data.timeline
        .iter()
        .find(|r| r.errors.get(kind).is_some_and(|n| *n > 0))
        .map(|r| r.t_s)
}

/// Errors by kind, with the second each was first seen.
pub fn errors(data: &ReportData) -> String {
    let mut out = String::from("<table><tr><th>kind</th><th>count</th><th>first at</th></tr>");
    for (kind, n) in &data.summary.errors {
        let first =
            first_error_at(data, kind).map_or_else(|| "-".to_owned(), |t| format!("{t:.1}s"));
        out.push_str(&row(&[kind, &n.to_string(), &first]));
    }
    out.push_str("</table>");
    out
}
