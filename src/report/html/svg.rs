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

/// Colours for lines that are not behaviors or transports (visitors, messages, error kinds):
/// readable on white and told apart by most colour-blind readers.
pub const COLORS: [&str; 5] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"];

/// One colour per behavior (and per transport), by its position among the run's behaviors
/// (summary.json lists every behavior of the scenario, by name): the same behavior has the
/// same colour on every chart and beside its name in the tables, whichever charts it has
/// samples on. Tableau's ten; an eleventh behavior starts over.
const KEYED: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// The colour of the `index`th behavior (or transport) of a run.
pub fn keyed_color(index: usize) -> &'static str {
    KEYED[index % KEYED.len()]
}

/// The percentile lines of a latency chart, the same colours on every chart.
pub const P50: &str = "#1f77b4";
pub const P90: &str = "#2ca02c";
pub const P99: &str = "#ff7f0e";
pub const MAX: &str = "#555555";
pub const SERVICE: &str = "#9467bd";

pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: &'static str,
    /// Drawn dashed: a line read apart from the others (a maximum beside percentiles).
    pub dashed: bool,
}

impl Series {
    pub fn new(name: impl Into<String>, color: &'static str, points: Vec<(f64, f64)>) -> Series {
        Series {
            name: name.into(),
            points,
            color,
            dashed: false,
        }
    }

    pub fn dashed(self) -> Series {
        Series {
            dashed: true,
            ..self
        }
    }
}

/// How the x axis is read.
#[derive(Clone, Copy)]
pub enum XAxis {
    /// Seconds from the start of the run.
    Seconds,
    /// Percentiles on a log scale, HdrHistogram style: x is `log10(1 / (1 - q))`.
    Percentile,
    /// A load (visitors, arrivals per second): a capacity search's levels.
    Load,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x: XAxis,
    /// Formats a y value for the axis labels.
    pub y_label: fn(f64) -> String,
    pub series: Vec<Series>,
    /// Vertical lines at these x values, with a label (drill events, a capacity).
    pub markers: Vec<(f64, String)>,
    /// Horizontal lines at these y values, with a label (an SLO): the y axis reaches them.
    pub rules: Vec<(f64, String)>,
    /// The x axis reaches at least this far: the run's length, so every time chart of a
    /// run shares one scale and its drill markers line up.
    pub x_end: f64,
    /// The y axis ends at (a round number above) this value instead of the highest point, so
    /// a few seconds' maximum does not flatten the percentiles: points above it are drawn at
    /// the top edge with a mark, and the legend says how far off the scale the line went.
    pub y_cap: Option<f64>,
    /// Points further apart than this on the x axis are not joined: a metric sampled in a
    /// few seconds of the run is drawn where it was sampled, not as a line across the gap.
    pub join_within: Option<f64>,
}

impl<'a> Chart<'a> {
    /// A chart with no markers, no cap and every point joined.
    pub fn new(
        title: &'a str,
        x: XAxis,
        y_label: fn(f64) -> String,
        series: Vec<Series>,
    ) -> Chart<'a> {
        Chart {
            title,
            x,
            y_label,
            series,
            markers: Vec::new(),
            rules: Vec::new(),
            x_end: 0.0,
            y_cap: None,
            join_within: None,
        }
    }
}

/// The chart as an `<svg>` element with its legend; a note when no series has points. A
/// point with no neighbour to join (a metric sampled in one second) is drawn as a dot.
pub fn render(chart: &Chart) -> String {
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x_max, mut y_max) = (
        chart.x_end,
        chart.rules.iter().map(|(y, _)| *y).fold(0.0, f64::max),
    );
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
    let y_top = nice_ceiling(
        chart
            .y_cap
            .filter(|cap| *cap > 0.0)
            .map_or(y_max, |cap| cap.min(y_max)),
    );
    let sx = |x: f64| LEFT + x / x_max * (WIDTH - LEFT - RIGHT);
    let sy = |y: f64| TOP + (1.0 - y.min(y_top) / y_top) * (HEIGHT - TOP - BOTTOM);
    let _ = write!(
        out,
        "<svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\">"
    );
    for i in 0..=4 {
        let y = y_top * f64::from(i) / 4.0;
        let (right, at, label) = (WIDTH - RIGHT, sy(y), escape(&(chart.y_label)(y)));
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{right:.1}\" y1=\"{at:.1}\" \
             y2=\"{at:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
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
    for (index, (x, label)) in chart.markers.iter().enumerate() {
        // Each label a line lower than the last, so that markers close together stay
        // readable; in the right half, left of its line, so that it stays on the chart.
        let (at, line) = (sx(*x), TOP + 10.0 + 12.0 * (index % 4) as f64);
        let (text_x, anchor) = if at > (LEFT + WIDTH - RIGHT) / 2.0 {
            (at - 3.0, "end")
        } else {
            (at + 3.0, "start")
        };
        let _ = write!(
            out,
            "<line class=\"marker\" x1=\"{at:.1}\" x2=\"{at:.1}\" y1=\"{TOP}\" \
             y2=\"{:.1}\"><title>{1}</title></line><text class=\"marker\" x=\"{text_x:.1}\" \
             y=\"{line}\" text-anchor=\"{anchor}\">{1}</text>",
            HEIGHT - BOTTOM,
            escape(label),
        );
    }
    for (y, label) in &chart.rules {
        let (right, at, label) = (WIDTH - RIGHT, sy(*y), escape(label));
        let _ = write!(
            out,
            "<line class=\"rule\" x1=\"{LEFT}\" x2=\"{right:.1}\" y1=\"{at:.1}\" \
             y2=\"{at:.1}\"><title>{label}</title></line><text class=\"rule\" x=\"{:.1}\" \
             y=\"{:.1}\" text-anchor=\"end\">{label}</text>",
            right - 2.0,
            at - 3.0
        );
    }
    for series in &chart.series {
        let thinned = thin(&series.points, x_max);
        // Thinning leaves one point per slice of the axis: slices apart are still neighbours.
        let gap = chart
            .join_within
            .map(|gap| gap.max(2.5 * x_max / MAX_POINTS as f64));
        let dash = if series.dashed {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        for segment in segments(&thinned, gap) {
            if let [(x, y)] = segment {
                let _ = write!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                    sx(*x),
                    sy(*y),
                    series.color
                );
                continue;
            }
            let path: Vec<String> = segment
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
                .collect();
            let _ = write!(
                out,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"{dash} points=\"{}\"/>",
                series.color,
                path.join(" ")
            );
        }
        // Each point above the scale gets a mark at the top edge, its value in a tooltip.
        for (x, y) in thinned.iter().filter(|(_, y)| *y > y_top) {
            let (cx, top) = (sx(*x), TOP);
            let _ = write!(
                out,
                "<path class=\"clip\" d=\"M{:.1} {:.1}L{cx:.1} {top:.1}L{:.1} {:.1}Z\" \
                 fill=\"{}\"><title>{} {}</title></path>",
                cx - 4.0,
                top + 6.0,
                cx + 4.0,
                top + 6.0,
                series.color,
                escape(&series.name),
                escape(&(chart.y_label)(*y))
            );
        }
    }
    out.push_str("</svg><div class=\"legend\">");
    for series in &chart.series {
        let swatch = if series.dashed {
            "class=\"dashed\" style=\"border-color"
        } else {
            "style=\"background"
        };
        let _ = write!(
            out,
            "<span><i {swatch}:{}\"></i>{}",
            series.color,
            escape(&series.name)
        );
        let highest = series.points.iter().map(|(_, y)| *y).fold(0.0, f64::max);
        if highest > y_top {
            let _ = write!(
                out,
                " <b class=\"clipped\">&#9650; off the scale, up to {}</b>",
                escape(&(chart.y_label)(highest))
            );
        }
        out.push_str("</span>");
    }
    out.push_str("</div></figure>");
    out
}

/// `points` cut where two neighbours are more than `gap` apart on the x axis.
fn segments(points: &[(f64, f64)], gap: Option<f64>) -> Vec<&[(f64, f64)]> {
    let Some(gap) = gap else {
        return if points.is_empty() {
            Vec::new()
        } else {
            vec![points]
        };
    };
    points.chunk_by(|a, b| b.0 - a.0 <= gap).collect()
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
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * magnitude)
}

fn x_ticks(axis: XAxis, x_max: f64) -> Vec<(f64, String)> {
    match axis {
        XAxis::Seconds | XAxis::Load => {
            let unit = if matches!(axis, XAxis::Seconds) {
                "s"
            } else {
                ""
            };
            let step = nice_ceiling(x_max / 6.0);
            (0..=6)
                .map(|i| f64::from(i) * step)
                .filter(|x| *x <= x_max)
                .map(|x| (x, format!("{x}{unit}")))
                .collect()
        }
        XAxis::Percentile => (0..=x_max.floor() as i32)
            .map(|k| (f64::from(k), percentile_label(f64::from(k))))
            .collect(),
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
        assert_eq!(
            thin(&points[..10], 9.0).len(),
            10,
            "short lines are left as they are"
        );
    }

    #[test]
    fn names_are_escaped_and_an_empty_chart_says_so() {
        let chart = Chart {
            markers: vec![(1.0, "kill <x>".into())],
            x_end: 2.0,
            ..Chart::new(
                "<b>",
                XAxis::Seconds,
                |y| format!("{y}"),
                vec![Series::new("a&b", P50, vec![(0.0, 1.0), (2.0, 3.0)])],
            )
        };
        let svg = render(&chart);
        assert!(
            svg.contains("&lt;b&gt;") && svg.contains("a&amp;b") && svg.contains("kill &lt;x&gt;"),
            "{svg}"
        );
        assert!(!svg.contains("<b>"));
        let empty = Chart {
            series: vec![Series::new("a", P50, vec![])],
            ..chart
        };
        assert!(render(&empty).contains("no samples"));
    }

    #[test]
    fn a_metric_sampled_in_one_second_is_drawn_as_a_dot() {
        let lone = Chart {
            x_end: 24.0,
            ..Chart::new(
                "extend",
                XAxis::Seconds,
                |y| format!("{y}"),
                vec![Series::new("p50", P50, vec![(7.0, 350.0)])],
            )
        };
        let svg = render(&lone);
        assert!(
            svg.contains("<circle ") && !svg.contains("no samples"),
            "{svg}"
        );
        assert!(
            !svg.contains("<polyline"),
            "a line of one point draws nothing: {svg}"
        );
        // Seconds apart are not joined across the gap; each run of neighbours is a line.
        let points = vec![(1.0, 5.0), (2.0, 6.0), (3.0, 5.0), (15.0, 9.0)];
        let sparse = Chart {
            join_within: Some(1.5),
            ..Chart::new(
                "x",
                XAxis::Seconds,
                |y| format!("{y}"),
                vec![Series::new("p50", P50, points)],
            )
        };
        let svg = render(&sparse);
        assert_eq!(
            (
                svg.matches("<polyline").count(),
                svg.matches("<circle").count()
            ),
            (1, 1),
            "{svg}"
        );
    }

    #[test]
    fn a_rule_is_on_the_scale_and_close_markers_keep_apart_and_on_the_chart() {
        let chart = Chart {
            markers: vec![
                (207.0, "capacity 207".into()),
                (213.0, "first broken 213".into()),
            ],
            rules: vec![(50.0, "SLO p99 < 50".into())],
            ..Chart::new(
                "c",
                XAxis::Load,
                |y| format!("{y:.0}"),
                vec![Series::new("p99", P99, vec![(50.0, 2.0), (400.0, 9.0)])],
            )
        };
        let svg = render(&chart);
        // The axis reaches the rule, though every point is below it; no unit on a load axis.
        assert!(
            svg.contains(">50</text>") && svg.contains(">400</text>") && !svg.contains("400s"),
            "{svg}"
        );
        assert!(
            svg.contains("<line class=\"rule\" x1=\"62\" x2=\"548.0\" y1=\"12.0\""),
            "at the top: {svg}"
        );
        assert!(svg.contains(">SLO p99 &lt; 50</text>"), "{svg}");
        // Right of the middle: read leftwards, one line apart.
        assert!(
            svg.contains("y=\"22\" text-anchor=\"end\">capacity 207<"),
            "{svg}"
        );
        assert!(
            svg.contains("y=\"34\" text-anchor=\"end\">first broken 213<"),
            "{svg}"
        );
    }

    #[test]
    fn a_capped_axis_keeps_the_percentiles_readable_and_marks_the_maximum() {
        let series = vec![
            Series::new("p50", P50, vec![(0.0, 10.0), (1.0, 12.0), (2.0, 11.0)]),
            Series::new("p99", P99, vec![(0.0, 40.0), (1.0, 90.0), (2.0, 45.0)]),
            Series::new("max", MAX, vec![(0.0, 50.0), (1.0, 2000.0), (2.0, 60.0)]).dashed(),
        ];
        let chart = Chart {
            y_cap: Some(90.0),
            ..Chart::new("c", XAxis::Seconds, |y| format!("{y:.0}"), series)
        };
        let svg = render(&chart);
        // The axis ends at 100 (above the p99's 90), not at 2000.
        assert!(
            svg.contains(">100</text>") && !svg.contains(">2000</text>"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("class=\"clip\"").count(),
            1,
            "one mark for the one point off the scale: {svg}"
        );
        assert!(
            svg.contains("off the scale, up to 2000"),
            "the legend says how far: {svg}"
        );
        assert!(
            svg.contains("stroke-dasharray"),
            "the maximum is dashed: {svg}"
        );
        let uncapped = render(&Chart {
            y_cap: None,
            ..chart
        });
        assert!(
            uncapped.contains(">2000</text>") && !uncapped.contains("off the scale"),
            "{uncapped}"
        );
    }
}
