//! The report's charts, built from [`ReportData`]: what each one plots, not how it is drawn.

use hdrhistogram::Histogram;

use super::data::{MetricSeries, NamedHistograms, ReportData};
use super::svg::{self, keyed_color, percentile_x, render, Chart, Series, XAxis, COLORS};
use crate::report::table::micros;
use crate::report::timeline::{HealthRow, TimelineRow};

/// At most this many error kinds get a line of their own; a chart of twenty is unreadable.
const ERROR_KINDS_DRAWN: usize = 5;

/// Intervals shorter than this are left out of rate charts (see [`full_intervals`]).
const MIN_RATE_INTERVAL_S: f64 = 0.5;

/// Intervals further apart than this are not joined on a per-interval latency chart: seconds
/// without samples are a gap, not a straight line from the last sample to the next.
const JOIN_WITHIN_S: f64 = 1.5;

/// The metrics split by transport in summary.json (`report::transports`).
const TRANSPORT_METRICS: [&str; 2] = ["connect", "presence_ack"];

/// Drill events as vertical lines, `kill @12.0s`.
pub fn markers(data: &ReportData) -> Vec<(f64, String)> {
    data.summary
        .drills
        .iter()
        .map(|e| (e.at_s, format!("{} @{:.1}s", e.kind, e.at_s)))
        .collect()
}

pub(super) fn count(y: f64) -> String {
    if y >= 10_000.0 {
        format!("{:.0}k", y / 1e3)
    } else {
        format!("{y:.0}")
    }
}

pub(super) fn latency(y: f64) -> String {
    micros(y as u64)
}

fn series<T>(
    name: &str,
    color: &'static str,
    rows: &[T],
    point: impl Fn(&T) -> (f64, f64),
) -> Series {
    Series::new(name, color, rows.iter().map(point).collect())
}

/// A chart over the run's seconds, with the drill events marked and the run's length as its
/// x axis, so every time chart lines up with the others.
fn over_time<'a>(
    data: &ReportData,
    title: &'a str,
    y_label: fn(f64) -> String,
    series: Vec<Series>,
) -> Chart<'a> {
    Chart {
        markers: markers(data),
        x_end: data.summary.duration_seconds,
        ..Chart::new(title, XAxis::Seconds, y_label, series)
    }
}

/// The intervals long enough for a rate: the last one of a run may last a few milliseconds,
/// and ten messages in it would read as a thousand a second.
fn full_intervals(data: &ReportData) -> Vec<&TimelineRow> {
    data.timeline
        .iter()
        .filter(|r| r.length_s >= MIN_RATE_INTERVAL_S)
        .collect()
}

/// Visitors alive, and messages per second sent and received.
pub fn load(data: &ReportData) -> String {
    let rows = &data.timeline;
    let full = &full_intervals(data);
    let visitors = vec![series("visitors", COLORS[0], rows, |r| {
        (r.t_s + r.length_s, r.visitors as f64)
    })];
    let messages = vec![
        series("sent", COLORS[0], full, |r| {
            (r.t_s + r.length_s, r.messages_sent_per_s)
        }),
        series("received", COLORS[1], full, |r| {
            (r.t_s + r.length_s, r.messages_received_per_s)
        }),
    ];
    render(&over_time(data, "visitors alive", count, visitors))
        + &render(&over_time(data, "messages per second", count, messages))
}

/// One metric's percentiles per interval, and its whole-run distribution beside its service
/// time's when it is a request.
pub fn metric(data: &ReportData, metric: &MetricSeries) -> String {
    per_interval(data, metric) + &distribution_chart(data, metric)
}

/// p50, p90, p99 and max per interval. The y axis ends at the p99's highest point, so p50 and
/// p99 can be read; the maximum is dashed, and drawn at the top edge where it goes beyond.
pub fn per_interval(data: &ReportData, metric: &MetricSeries) -> String {
    let points = &metric.intervals;
    let at = |p: &super::data::IntervalPoint| p.t_s + p.length_s;
    let series = vec![
        series("p50", svg::P50, points, |p| (at(p), p.p50 as f64)),
        series("p90", svg::P90, points, |p| (at(p), p.p90 as f64)),
        series("p99", svg::P99, points, |p| (at(p), p.p99 as f64)),
        series("max", svg::MAX, points, |p| (at(p), p.max as f64)).dashed(),
    ];
    let p99_highest = points.iter().map(|p| p.p99).max().unwrap_or(0) as f64;
    let title = format!("{} per interval", metric.name);
    render(&Chart {
        y_cap: Some(p99_highest),
        join_within: Some(JOIN_WITHIN_S),
        ..over_time(data, &title, latency, series)
    })
}

/// The whole-run distribution, and the service time's beside it (the gap is how late the
/// sends went out, docs/reports.md).
fn distribution_chart(data: &ReportData, metric: &MetricSeries) -> String {
    let total = &metric.total;
    let mut series = vec![Series::new(
        "latency from intent",
        svg::P50,
        distribution(total),
    )];
    if let Some(service) = data.service.get(&metric.name) {
        series.push(Series::new(
            "service time",
            svg::SERVICE,
            distribution(service),
        ));
    }
    let title = format!(
        "{} distribution over the run ({} samples)",
        metric.name,
        total.len()
    );
    render(&Chart::new(&title, XAxis::Percentile, latency, series))
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
    curve.push((
        percentile_x(1.0 - 1.0 / total.len().max(1) as f64).max(deepest),
        total.max() as f64,
    ));
    curve
}

/// For each metric of `metrics` that some part (behavior or transport) recorded, its
/// whole-run distribution with one line per part that has samples of it. A part's colour is
/// its position among all the parts, so it keeps its colour on charts it is missing from.
fn by_part<'a>(
    parts: &[NamedHistograms],
    what: &str,
    metrics: impl Iterator<Item = &'a str>,
) -> String {
    let mut out = String::new();
    for metric in metrics {
        let series: Vec<Series> = parts
            .iter()
            .enumerate()
            .filter_map(|(index, part)| {
                let histogram = part.histograms.get(metric)?;
                Some(Series::new(
                    part.name.clone(),
                    keyed_color(index),
                    distribution(histogram),
                ))
            })
            .collect();
        // Metrics only agents record belong to no behavior.
        if series.is_empty() {
            continue;
        }
        let title = format!("{metric} distribution by {what}");
        out.push_str(&render(&Chart::new(
            &title,
            XAxis::Percentile,
            latency,
            series,
        )));
    }
    out
}

/// Each metric's whole-run distribution by behavior, so a reader sees which behavior suffered.
pub fn behaviors<'a>(data: &ReportData, metrics: impl Iterator<Item = &'a String>) -> String {
    by_part(&data.behaviors, "behavior", metrics.map(String::as_str))
}

/// `connect` and `presence_ack` by transport.
pub fn transports(data: &ReportData) -> String {
    by_part(&data.transports, "transport", TRANSPORT_METRICS.into_iter())
}

/// Sessions lost and reconnect attempts per second, with the drill events marked.
pub fn storms(data: &ReportData) -> String {
    let rows = &full_intervals(data);
    let per_s = |n: u64, r: &TimelineRow| n as f64 / r.length_s.max(1e-9);
    let series = vec![
        series("sessions lost/s", COLORS[3], rows, |r| {
            (r.t_s + r.length_s, per_s(r.sessions_lost, r))
        }),
        series("reconnects/s", COLORS[0], rows, |r| {
            (r.t_s + r.length_s, per_s(r.reconnects, r))
        }),
    ];
    render(&over_time(
        data,
        "sessions lost and reconnect attempts per second",
        count,
        series,
    ))
}

/// Errors per second, by kind: the most frequent kinds over the run.
pub fn errors(data: &ReportData) -> String {
    let rows = &full_intervals(data);
    let mut kinds: Vec<(&String, &u64)> = data.summary.errors.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1));
    let series = kinds
        .iter()
        .take(ERROR_KINDS_DRAWN)
        .zip(COLORS)
        .map(|((kind, _), color)| {
            series(kind, color, rows, |r| {
                (
                    r.t_s + r.length_s,
                    r.errors.get(*kind).copied().unwrap_or(0) as f64 / r.length_s.max(1e-9),
                )
            })
        })
        .collect();
    render(&over_time(data, "errors per second", count, series))
}

/// The harness's scheduling lag and CPU, second by second.
pub fn health(data: &ReportData) -> String {
    let rows = &data.health;
    let lag = vec![
        series("lag p99", svg::P99, rows, |r| {
            (r.t_s + r.length_s, r.lag_p99_us as f64)
        }),
        series("lag max", svg::MAX, rows, |r| {
            (r.t_s + r.length_s, r.lag_max_us as f64)
        })
        .dashed(),
    ];
    let percent = |name: &str, color, share: fn(&HealthRow) -> Option<f64>| {
        Series::new(
            name,
            color,
            rows.iter()
                .filter_map(|r| Some((r.t_s + r.length_s, share(r)? * 100.0)))
                .collect(),
        )
    };
    let cpu = [
        percent("harness", COLORS[0], |r| r.cpu_busy),
        percent("machine", COLORS[1], |r| r.machine_busy),
        percent("steal", COLORS[3], |r| r.steal),
    ]
    .into_iter()
    .filter(|series| !series.points.is_empty())
    .collect();
    let cpu_title = "harness CPU, the whole machine's, and the host's steal (share of all cores)";
    render(&over_time(data, "harness scheduling lag", latency, lag))
        + &render(&over_time(data, cpu_title, |y| format!("{y:.0}%"), cpu))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::new_histogram;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut histogram = new_histogram();
        for v in values {
            histogram.record(*v).unwrap();
        }
        histogram
    }

    fn part(name: &str, metrics: &[&str]) -> NamedHistograms {
        let histograms = metrics
            .iter()
            .map(|m| ((*m).to_owned(), histogram(&[100, 200, 300])))
            .collect();
        NamedHistograms {
            name: name.into(),
            histograms,
        }
    }

    /// The colour of each legend entry, in order: `(name, colour)`.
    fn legend(chart: &str) -> Vec<(String, String)> {
        let legend = &chart[chart.find("class=\"legend\"").expect("a legend")..];
        legend
            .split("<span><i style=\"background:")
            .skip(1)
            .map(|entry| {
                let (color, rest) = entry.split_once('"').unwrap();
                let name = rest.trim_start_matches("></i>").split('<').next().unwrap();
                (name.to_owned(), color.to_owned())
            })
            .collect()
    }

    #[test]
    fn a_behavior_keeps_its_colour_on_every_chart() {
        // `idle` records no presence_ack: `mobile` must not take its colour on that chart.
        let parts = [
            part("browser", &["connect", "presence_ack"]),
            part("idle", &["connect"]),
            part("mobile", &["connect", "presence_ack"]),
        ];
        let html = by_part(&parts, "behavior", ["connect", "presence_ack"].into_iter());
        let charts: Vec<&str> = html.split("</figure>").filter(|c| !c.is_empty()).collect();
        let (connect, ack) = (legend(charts[0]), legend(charts[1]));
        assert_eq!(connect.len(), 3);
        assert_eq!(
            ack.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["browser", "mobile"]
        );
        for (name, color) in &ack {
            let same = connect.iter().find(|(n, _)| n == name).unwrap();
            assert_eq!(&same.1, color, "{name} changed colour between charts");
        }
        let colors: std::collections::BTreeSet<&String> = connect.iter().map(|(_, c)| c).collect();
        assert_eq!(colors.len(), 3, "one colour per behavior: {connect:?}");
    }

    #[test]
    fn the_distribution_shows_the_service_time_beside_the_latency() {
        let mut data = ReportData::of(super::super::data::tests::summary());
        let metric = MetricSeries {
            name: "presence_ack".into(),
            intervals: Vec::new(),
            total: histogram(&[900, 1000]),
        };
        data.service
            .insert("presence_ack".into(), histogram(&[100, 200]));
        let chart = distribution_chart(&data, &metric);
        let names: Vec<String> = legend(&chart).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["latency from intent", "service time"], "{chart}");
    }
}
