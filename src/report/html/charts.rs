//! The report's charts, built from [`ReportData`]: what each one plots, not how it is drawn.

use hdrhistogram::Histogram;

use super::data::{MetricSeries, ReportData};
use super::svg::{percentile_x, render, Chart, Series, XAxis};
use crate::report::table::micros;
use crate::report::timeline::{HealthRow, TimelineRow};

/// At most this many error kinds get a line of their own; a chart of twenty is unreadable.
const ERROR_KINDS_DRAWN: usize = 5;

/// Intervals shorter than this are left out of rate charts (see [`full_intervals`]).
const MIN_RATE_INTERVAL_S: f64 = 0.5;

/// Drill events as vertical lines, `kill @12.0s`.
pub fn markers(data: &ReportData) -> Vec<(f64, String)> {
    data.summary.drills.iter().map(|e| (e.at_s, format!("{} @{:.1}s", e.kind, e.at_s))).collect()
}

fn count(y: f64) -> String {
    if y >= 10_000.0 {
        format!("{:.0}k", y / 1e3)
    } else {
        format!("{y:.0}")
    }
}

fn latency(y: f64) -> String {
    micros(y as u64)
}

fn series<T>(name: &str, rows: &[T], point: impl Fn(&T) -> (f64, f64)) -> Series {
    Series { name: name.to_owned(), points: rows.iter().map(point).collect() }
}

/// The intervals long enough for a rate: the last one of a run may last a few milliseconds,
/// and ten messages in it would read as a thousand a second.
fn full_intervals(data: &ReportData) -> Vec<&TimelineRow> {
    data.timeline.iter().filter(|r| r.length_s >= MIN_RATE_INTERVAL_S).collect()
}

/// Visitors alive, and messages per second sent and received.
pub fn load(data: &ReportData) -> String {
    let rows = &data.timeline;
    let full = &full_intervals(data);
    let visitors = Chart {
        title: "visitors alive",
        x: XAxis::Seconds,
        y_label: count,
        series: vec![series("visitors", rows, |r| (r.t_s + r.length_s, r.visitors as f64))],
        markers: markers(data),
        x_end: data.summary.duration_seconds,
    };
    let messages = Chart {
        title: "messages per second",
        x: XAxis::Seconds,
        y_label: count,
        series: vec![
            series("sent", full, |r| (r.t_s + r.length_s, r.messages_sent_per_s)),
            series("received", full, |r| (r.t_s + r.length_s, r.messages_received_per_s)),
        ],
        markers: markers(data),
        x_end: data.summary.duration_seconds,
    };
    render(&visitors) + &render(&messages)
}

/// One metric's percentiles per interval and its whole-run distribution.
pub fn metric(data: &ReportData, metric: &MetricSeries) -> String {
    let points = &metric.intervals;
    let over_time = Chart {
        title: &format!("{} per interval", metric.name),
        x: XAxis::Seconds,
        y_label: latency,
        series: vec![
            series("p50", points, |p| (p.t_s, p.p50 as f64)),
            series("p90", points, |p| (p.t_s, p.p90 as f64)),
            series("p99", points, |p| (p.t_s, p.p99 as f64)),
            series("max", points, |p| (p.t_s, p.max as f64)),
        ],
        markers: markers(data),
        x_end: data.summary.duration_seconds,
    };
    let total = &metric.total;
    let distribution = Chart {
        title: &format!("{} distribution over the run ({} samples)", metric.name, total.len()),
        x: XAxis::Percentile,
        y_label: latency,
        series: vec![Series { name: "latency at percentile".into(), points: distribution(total) }],
        markers: Vec::new(),
        x_end: 0.0,
    };
    render(&over_time) + &render(&distribution)
}

/// A histogram's latency at each percentile, HdrHistogram style: quantiles up to the one the
/// sample count can tell apart, then the maximum.
fn distribution(total: &Histogram<u64>) -> Vec<(f64, f64)> {
    let deepest = (total.len().max(1) as f64).log10().max(1.0);
    let mut curve: Vec<(f64, f64)> = (0..=(deepest * 10.0) as u32)
        .map(|i| {
            let x = f64::from(i) / 10.0;
            (x, total.value_at_quantile(1.0 - 10f64.powf(-x)) as f64)
        })
        .collect();
    curve.push((percentile_x(1.0 - 1.0 / total.len().max(1) as f64).max(deepest), total.max() as f64));
    curve
}

/// For each metric `metrics` names that some behavior recorded, its whole-run distribution
/// with one line per behavior that has samples of it, so a reader sees which behavior suffered.
pub fn behaviors<'a>(data: &ReportData, metrics: impl Iterator<Item = &'a String>) -> String {
    let mut out = String::new();
    for metric in metrics {
        let series: Vec<Series> = data
            .behaviors
            .iter()
            .filter_map(|behavior| {
                let histogram = behavior.histograms.get(metric)?;
                Some(Series { name: behavior.name.clone(), points: distribution(histogram) })
            })
            .collect();
        // Metrics only agents record belong to no behavior.
        if series.is_empty() {
            continue;
        }
        let chart = Chart {
            title: &format!("{metric} distribution by behavior"),
            x: XAxis::Percentile,
            y_label: latency,
            series,
            markers: Vec::new(),
            x_end: 0.0,
        };
        out.push_str(&render(&chart));
    }
    out
}

/// Sessions lost and reconnect attempts per second, with the drill events marked.
pub fn storms(data: &ReportData) -> String {
    let rows = &full_intervals(data);
    render(&Chart {
        title: "sessions lost and reconnect attempts per second",
        x: XAxis::Seconds,
        y_label: count,
        series: vec![
            series("sessions lost/s", rows, |r| (r.t_s + r.length_s, r.sessions_lost as f64 / r.length_s.max(1e-9))),
            series("reconnects/s", rows, |r| (r.t_s + r.length_s, r.reconnects as f64 / r.length_s.max(1e-9))),
        ],
        markers: markers(data),
        x_end: data.summary.duration_seconds,
    })
}

/// Errors per second, by kind: the most frequent kinds over the run.
pub fn errors(data: &ReportData) -> String {
    let rows = &full_intervals(data);
    let mut kinds: Vec<(&String, &u64)> = data.summary.errors.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1));
    let series = kinds
        .iter()
        .take(ERROR_KINDS_DRAWN)
        .map(|(kind, _)| {
            series(kind, rows, |r| {
                (r.t_s + r.length_s, r.errors.get(*kind).copied().unwrap_or(0) as f64 / r.length_s.max(1e-9))
            })
        })
        .collect();
    render(&Chart {
        title: "errors per second",
        x: XAxis::Seconds,
        y_label: count,
        series,
        markers: markers(data),
        x_end: data.summary.duration_seconds,
    })
}

/// The harness's scheduling lag and CPU, second by second.
pub fn health(data: &ReportData) -> String {
    let rows = &data.health;
    let lag = Chart {
        title: "harness scheduling lag",
        x: XAxis::Seconds,
        y_label: latency,
        series: vec![
            series("lag p99", rows, |r| (r.t_s + r.length_s, r.lag_p99_us as f64)),
            series("lag max", rows, |r| (r.t_s + r.length_s, r.lag_max_us as f64)),
        ],
        markers: markers(data),
        x_end: data.summary.duration_seconds,
    };
    let percent = |name: &str, share: fn(&HealthRow) -> Option<f64>| Series {
        name: name.into(),
        points: rows.iter().filter_map(|r| Some((r.t_s + r.length_s, share(r)? * 100.0))).collect(),
    };
    let cpu = Chart {
        title: "harness CPU, the whole machine's, and the host's steal (share of all cores)",
        x: XAxis::Seconds,
        y_label: |y| format!("{y:.0}%"),
        series: [
            percent("harness", |r| r.cpu_busy),
            percent("machine", |r| r.machine_busy),
            percent("steal", |r| r.steal),
        ]
        .into_iter()
        .filter(|series| !series.points.is_empty())
        .collect(),
        markers: markers(data),
        x_end: data.summary.duration_seconds,
    };
    render(&lag) + &render(&cpu)
}
