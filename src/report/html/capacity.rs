//! A capacity search's section (docs/capacity.md): the answer as the terminal prints it, each
//! judged metric's p50 and p99 against the levels' load with its SLO, the answer and the
//! first broken level marked, and the errors of each level. Drawn from summary.json's
//! `capacity` section alone, so `report DIR` draws it for any search.

use std::fmt::Write;

use super::charts::{count, latency};
use super::escape;
use super::svg::{self, render, Chart, Series, XAxis, COLORS};
use crate::report::capacity::shown;
use crate::schema::{Answer, CapacitySummary, LevelRow, Quantiles};

/// A latency chart's y axis ends at (a round number above) this many times its highest SLO:
/// the broken levels above the knee often go seconds past it, and a scale up to them would
/// flatten the levels around the knee, which are the ones a reader reads. Points above are
/// drawn at the top edge, and the legend says how far they went.
const SLO_SCALE: f64 = 4.0;

/// The section: the answer, what the server paid, then the charts.
pub fn section(capacity: &CapacitySummary) -> String {
    let mut out = String::from("<h2>Capacity</h2>");
    let _ = write!(out, "<p><b>{}</b></p>", escape(&capacity.answer_line()));
    for line in capacity
        .server_cost
        .render(&capacity.unit, capacity.plan_for)
        .lines()
    {
        let _ = write!(out, "<p>{}</p>", escape(line));
    }
    let mut levels: Vec<&LevelRow> = capacity.levels.iter().collect();
    // By load, each load's levels in the order run (a confirmation after its narrowing).
    levels.sort_by(|a, b| a.load.total_cmp(&b.load));
    let markers = markers(&capacity.answer);
    for metric in judged_metrics(capacity) {
        out.push_str(&latencies(capacity, &levels, &metric, &markers));
    }
    out.push_str(&errors(capacity, &levels, &markers));
    out
}

/// Each level's errors and check violations; a line of text when there were none at all
/// (a chart of zeros says less, on an axis of fractions).
fn errors(capacity: &CapacitySummary, levels: &[&LevelRow], markers: &[(f64, String)]) -> String {
    if levels
        .iter()
        .all(|level| level.errors == 0 && level.check_violations == 0)
    {
        return "<p class=\"none\">no errors and no check violations in any level's judged \
                window</p>"
            .to_owned();
    }
    let per_level =
        |count: fn(&LevelRow) -> u64| levels.iter().map(|l| (l.load, count(l) as f64)).collect();
    let series = vec![
        Series::new("errors", COLORS[3], per_level(|l| l.errors)),
        Series::new(
            "check violations",
            COLORS[4],
            per_level(|l| l.check_violations),
        ),
    ];
    let title = format!(
        "errors and check violations in each level's judged window, by {}",
        capacity.unit
    );
    render(&on_load(&title, counted, series, markers))
}

/// A count on an axis that may be split finer than one (a level with 2 errors: 0, 0.5, ...).
fn counted(y: f64) -> String {
    if y.fract() == 0.0 {
        count(y)
    } else {
        format!("{y:.1}")
    }
}

/// The metrics an SLO bounds, in the scenario's order; `presence_ack` without any, as the
/// terminal table.
fn judged_metrics(capacity: &CapacitySummary) -> Vec<String> {
    let mut metrics: Vec<String> = Vec::new();
    for slo in &capacity.slos {
        if !metrics.contains(&slo.metric) {
            metrics.push(slo.metric.clone());
        }
    }
    if metrics.is_empty() {
        metrics.push(crate::measure::Metric::PresenceAck.name().to_owned());
    }
    metrics
}

/// The answer on the load axis: the capacity (or the bound the harness set) and the first
/// level that broke (or from which the harness was the limit).
fn markers(answer: &Answer) -> Vec<(f64, String)> {
    let at = |load: f64, what: &str| (load, format!("{what} {}", shown(load, "")));
    match answer {
        Answer::Capacity {
            load,
            first_broken: Some(broken),
            ..
        } => {
            vec![at(*load, "capacity"), at(broken.load, "first broken")]
        }
        Answer::Capacity {
            load,
            first_broken: None,
            ..
        } => vec![at(*load, "capacity at least")],
        Answer::Below { first_broken } => vec![at(first_broken.load, "first broken")],
        Answer::AtLeast {
            load, limited_at, ..
        } => load
            .map(|load| at(load, "at least"))
            .into_iter()
            .chain([at(*limited_at, "harness-limited")])
            .collect(),
        Answer::NoVerdict { .. } => Vec::new(),
    }
}

/// `metric`'s p50 and p99 in each level's window, with its SLOs as horizontal lines.
fn latencies(
    capacity: &CapacitySummary,
    levels: &[&LevelRow],
    metric: &str,
    markers: &[(f64, String)],
) -> String {
    let quantile = |pick: fn(&Quantiles) -> u64| -> Vec<(f64, f64)> {
        levels
            .iter()
            .filter_map(|level| Some((level.load, pick(level.metrics.get(metric)?) as f64)))
            .collect()
    };
    let series = vec![
        Series::new("p50", svg::P50, quantile(|q| q.p50)),
        Series::new("p99", svg::P99, quantile(|q| q.p99)),
    ];
    let slos = capacity.slos.iter().filter(|slo| slo.metric == metric);
    let rules: Vec<(f64, String)> = slos
        .map(|slo| (slo.bound_us, format!("SLO {}", slo.expression)))
        .collect();
    let highest = rules.iter().map(|(bound, _)| *bound).fold(0.0, f64::max);
    let title = format!(
        "{metric} p50 and p99 in each level's judged window, by {}",
        capacity.unit
    );
    render(&Chart {
        rules,
        y_cap: (highest > 0.0).then_some(highest * SLO_SCALE),
        ..on_load(&title, latency, series, markers)
    })
}

/// A chart over the levels' load, with the answer marked; the axis reaches every marker.
fn on_load<'a>(
    title: &'a str,
    y_label: fn(f64) -> String,
    series: Vec<Series>,
    markers: &[(f64, String)],
) -> Chart<'a> {
    Chart {
        markers: markers.to_vec(),
        x_end: markers.iter().map(|(x, _)| *x).fold(0.0, f64::max),
        ..Chart::new(title, XAxis::Load, y_label, series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Broken;

    #[test]
    fn each_answer_is_marked_in_its_own_words() {
        let broken = |load| Broken {
            load,
            reason: "p99".into(),
        };
        let marked = |answer| {
            markers(&answer)
                .into_iter()
                .map(|(x, label)| format!("{x} {label}"))
                .collect::<Vec<_>>()
        };
        let found = Answer::Capacity {
            load: 23.5,
            first_broken: Some(broken(24.0)),
            narrowed: true,
        };
        assert_eq!(marked(found), ["23.5 capacity 23.5", "24 first broken 24"]);
        let top = Answer::Capacity {
            load: 1600.0,
            first_broken: None,
            narrowed: false,
        };
        assert_eq!(marked(top), ["1600 capacity at least 1600"]);
        assert_eq!(
            marked(Answer::Below {
                first_broken: broken(50.0)
            }),
            ["50 first broken 50"]
        );
        let limited = Answer::AtLeast {
            load: Some(200.0),
            limited_at: 400.0,
            reason: "lag".into(),
        };
        assert_eq!(
            marked(limited),
            ["200 at least 200", "400 harness-limited 400"]
        );
        let from_the_first = Answer::AtLeast {
            load: None,
            limited_at: 50.0,
            reason: "lag".into(),
        };
        assert_eq!(marked(from_the_first), ["50 harness-limited 50"]);
        assert!(marked(Answer::NoVerdict {
            reason: "stopped".into(),
            target_down: false
        })
        .is_empty());
    }
}
