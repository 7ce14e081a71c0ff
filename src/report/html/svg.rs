//! Line charts drawn as inline SVG: the report needs a handful of line charts, and drawing
//! them here keeps the page free of scripts and of any network access.

use std::fmt::Write;

use super::escape;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 34.0;

/// At most this many points per line: an hour's run has 3,600 intervals per metric, more
/// than a chart's 500 pixels can show, and the page would grow by megabytes.
const MAX_POINTS: usize = 600;

/// Colours for series, in order: readable on white and told apart by most colour-blind readers.
pub const COLORS: [&str; 5] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// How the x axis is read.
#[derive(Clone, Copy)]
pub enum XAxis {
    /// Seconds from the start of the run.
    Seconds,
    /// Percentiles on a log scale, HdrHistogram style: x is `log10(1 / (1 - q))`.
    Percentile,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x: XAxis,
    /// Formats a y value for the axis labels.
    pub y_label: fn(f64) -> String,
    pub series: Vec<Series>,
    /// Vertical lines at these x values, with a label (drill events).
    pub markers: Vec<(f64, String)>,
    /// The x axis reaches at least this far: the run's length, so every time chart of a
    /// run shares one scale and its drill markers line up.
    pub x_end: f64,
}

/// The chart as an `<svg>` element with its legend; a note when no series has points.
pub fn render(chart: &Chart) -> String {
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_max) = (chart.x_end, 0.0f64);
    for (x, y) in points {
        x_max = x_max.max(*x);
        y_max = y_max.max(*y);
    }
    let mut out = format!("<figure><figcaption>{}</figcaption>", escape(chart.title));
    if chart.series.iter().all(|s| s.points.is_empty()) {
        out.push_str("<p class=\"none\">no samples</p></figure>");
        return out;
    }
    let x_max = if x_max > 0.0 { x_max } else { 1.0 };
    let y_top = nice_ceiling(y_max);
    let sx = |x: f64| LEFT + x / x_max * (WIDTH - LEFT - RIGHT);
    let sy = |y: f64| TOP + (1.0 - y / y_top) * (HEIGHT - TOP - BOTTOM);
    let _ = write!(out, "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\">");
    for i in 0..=4 {
        let y = y_top * f64::from(i) / 4.0;
        let (right, at, label) = (WIDTH - RIGHT, sy(y), escape(&(chart.y_label)(y)));
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{right:.1}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            LEFT - 4.0,
            at + 4.0
        );
    }
    for (x, label) in x_ticks(chart.x, x_max) {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            sx(x),
            HEIGHT - BOTTOM + 16.0,
            escape(&label)
        );
    }
    for (x, label) in &chart.markers {
        let _ = write!(
            out,
            "<line class=\"marker\" x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{TOP}\" y2=\"{1:.1}\"><title>{2}</title></line><text class=\"marker\" x=\"{3:.1}\" y=\"{4}\">{2}</text>",
            sx(*x),
            HEIGHT - BOTTOM,
            escape(label),
            sx(*x) + 3.0,
            TOP + 10.0
        );
    }
    for (series, color) in chart.series.iter().zip(COLORS.iter().cycle()) {
        let path: Vec<String> =
            thin(&series.points, x_max).iter().map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y))).collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/>",
            path.join(" ")
        );
    }
    out.push_str("</svg><div class=\"legend\">");
    for (series, color) in chart.series.iter().zip(COLORS.iter().cycle()) {
        let _ = write!(out, "<span><i style=\"background:{color}\"></i>{}</span>", escape(&series.name));
    }
    out.push_str("</div></figure>");
    out
}

/// At most [`MAX_POINTS`] points: each slice of the x axis keeps its highest point, so a
/// one-second latency spike or reconnect storm in an hour's run is still drawn.
fn thin(points: &[(f64, f64)], x_max: f64) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let mut kept: Vec<(usize, (f64, f64))> = Vec::with_capacity(MAX_POINTS);
    for &(x, y) in points {
        let slice = ((x / x_max) * (MAX_POINTS - 1) as f64) as usize;
        match kept.last_mut() {
            Some((last, point)) if *last == slice => {
                if y > point.1 {
                    *point = (x, y);
                }
            }
            _ => kept.push((slice, (x, y))),
        }
    }
    kept.into_iter().map(|(_, point)| point).collect()
}

/// A round number at or above `value`, so the top grid line has a readable label.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|v| *v >= value).unwrap_or(10.0 * magnitude)
}

fn x_ticks(axis: XAxis, x_max: f64) -> Vec<(f64, String)> {
    match axis {
        XAxis::Seconds => {
            let step = nice_ceiling(x_max / 6.0);
            (0..=6).map(|i| f64::from(i) * step).filter(|x| *x <= x_max).map(|x| (x, format!("{x}s"))).collect()
        }
        XAxis::Percentile => {
            (0..=x_max.floor() as i32).map(|k| (f64::from(k), percentile_label(f64::from(k)))).collect()
        }
    }
}

/// `0%`, `90%`, `99%`, `99.9%`... for x = 0, 1, 2, 3.
fn percentile_label(x: f64) -> String {
    let q = 100.0 * (1.0 - 10f64.powf(-x));
    let digits = (x as usize).saturating_sub(2);
    format!("{q:.digits$}%")
}

/// The x position of quantile `q` on a percentile axis.
pub fn percentile_x(q: f64) -> f64 {
    (1.0 / (1.0 - q).max(1e-12)).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_reads_like_hdrhistogram() {
        let labels: Vec<String> = (0..5).map(|k| percentile_label(f64::from(k))).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
        assert!((percentile_x(0.999) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn long_lines_are_thinned_keeping_their_peaks() {
        let mut points: Vec<(f64, f64)> = (0..3600).map(|s| (f64::from(s), 1.0)).collect();
        points[1234].1 = 50.0;
        let thinned = thin(&points, 3599.0);
        assert!(thinned.len() <= MAX_POINTS, "{} points", thinned.len());
        assert!(thinned.contains(&(1234.0, 50.0)), "the spike is kept");
        assert_eq!(thin(&points[..10], 9.0).len(), 10, "short lines are left as they are");
    }

    #[test]
    fn names_are_escaped_and_an_empty_chart_says_so() {
        let chart = Chart {
            title: "<b>",
            x: XAxis::Seconds,
            y_label: |y| format!("{y}"),
            series: vec![Series { name: "a&b".into(), points: vec![(0.0, 1.0), (2.0, 3.0)] }],
            markers: vec![(1.0, "kill <x>".into())],
            x_end: 2.0,
        };
        let svg = render(&chart);
        assert!(svg.contains("&lt;b&gt;") && svg.contains("a&amp;b") && svg.contains("kill &lt;x&gt;"), "{svg}");
        assert!(!svg.contains("<b>"));
        let empty = Chart { series: vec![Series { name: "a".into(), points: vec![] }], ..chart };
        assert!(render(&empty).contains("no samples"));
    }
}
