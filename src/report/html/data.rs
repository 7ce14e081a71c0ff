//! What the HTML report is drawn from, read back from a run's output directory only
//! (summary.json, latency.hlog, and timeline.jsonl / health.jsonl when present), so a
//! directory written by another process or by a merge gives the same report.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde::de::DeserializeOwned;

use crate::measure::new_histogram;
use crate::report::encoded;
use crate::report::timeline::{HealthRow, TimelineRow};
use crate::schema::Summary;

/// Why a report could not be built; each names the file (and line) at fault.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The report itself could not be written.
    #[error("{path}: cannot be written: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Summary(String),
    #[error("{path}:{line}: {detail}")]
    Line {
        path: PathBuf,
        line: usize,
        detail: String,
    },
}

/// One interval of one metric, microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalPoint {
    /// The interval's start, seconds from the start of the run.
    pub t_s: f64,
    pub length_s: f64,
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

/// A latency metric over the run: per interval, and the whole run's distribution.
pub struct MetricSeries {
    pub name: String,
    pub intervals: Vec<IntervalPoint>,
    pub total: Histogram<u64>,
}

/// One behavior's (or transport's) whole-run distributions, by metric name (summary.json's
/// `behaviors` and `transports`).
pub struct NamedHistograms {
    pub name: String,
    pub histograms: BTreeMap<String, Histogram<u64>>,
}

/// Everything the page shows.
pub struct ReportData {
    pub summary: Summary,
    /// By metric name, in the interval log's order of first appearance.
    pub metrics: Vec<MetricSeries>,
    /// The whole run's service times of the requests, by metric name (summary.json
    /// `service_histograms`): the interval log holds the latencies from intent only.
    pub service: BTreeMap<String, Histogram<u64>>,
    /// By behavior name; empty for summaries without behaviors.
    pub behaviors: Vec<NamedHistograms>,
    /// Each transport's whole-run histograms (`connect`, `presence_ack`), by transport name;
    /// empty for summaries without a split.
    pub transports: Vec<NamedHistograms>,
    /// Empty when the directory has no timeline.jsonl.
    pub timeline: Vec<TimelineRow>,
    /// Empty when the directory has no health.jsonl.
    pub health: Vec<HealthRow>,
}

impl ReportData {
    /// Reads a run's output directory.
    pub fn read(dir: &Path) -> Result<ReportData, ReportError> {
        let path = dir.join("summary.json");
        let summary = Summary::read(&path).map_err(ReportError::Summary)?;
        let decode = |field: &str, histograms: &BTreeMap<String, String>| {
            decode_all(&path, field, histograms)
        };
        let service = decode("service_histograms", &summary.service_histograms)?;
        let behaviors = summary
            .behaviors
            .iter()
            .map(|(name, set)| {
                Ok(NamedHistograms {
                    name: name.clone(),
                    histograms: decode(&format!("behaviors.{name}.histograms"), &set.histograms)?,
                })
            })
            .collect::<Result<_, ReportError>>()?;
        let transports = summary
            .transports
            .iter()
            .map(|(name, split)| {
                Ok(NamedHistograms {
                    name: name.clone(),
                    histograms: decode(
                        &format!("transports.{name}.histograms"),
                        &split.histograms,
                    )?,
                })
            })
            .collect::<Result<_, ReportError>>()?;
        Ok(ReportData {
            metrics: read_hlog(&dir.join("latency.hlog"))?,
            summary,
            service,
            behaviors,
            transports,
            timeline: read_rows(&dir.join("timeline.jsonl"))?,
            health: read_rows(&dir.join("health.jsonl"))?,
        })
    }

    /// A report of `summary` alone, without interval files or histograms (the tests').
    #[cfg(test)]
    pub fn of(summary: Summary) -> ReportData {
        ReportData {
            summary,
            metrics: Vec::new(),
            service: BTreeMap::new(),
            behaviors: Vec::new(),
            transports: Vec::new(),
            timeline: Vec::new(),
            health: Vec::new(),
        }
    }
}

/// Encoded histograms of summary.json (at `path`) by name, decoded; errors name the field.
fn decode_all(
    path: &Path,
    field: &str,
    encoded: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Histogram<u64>>, ReportError> {
    encoded
        .iter()
        .map(|(metric, text)| {
            let histogram = encoded::decode(text).map_err(|err| {
                ReportError::Summary(format!(
                    "{}: field `{field}.{metric}`: {err}",
                    path.display()
                ))
            })?;
            Ok((metric.clone(), histogram))
        })
        .collect()
}

/// One interval of one metric as the interval log holds it.
pub struct LoggedInterval {
    pub tag: String,
    /// From the start of the run.
    pub start: Duration,
    pub length: Duration,
    pub histogram: Histogram<u64>,
}

/// Every interval of the interval log at `path`, in order. Errors name the line at fault.
pub fn read_intervals(path: &Path) -> Result<Vec<LoggedInterval>, ReportError> {
    let bytes = std::fs::read(path).map_err(|source| ReportError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut deserializer = Deserializer::new();
    // The iterator does not say where an entry was: count the interval lines alongside.
    let interval_lines = line_numbers_of_intervals(&bytes);
    let mut intervals = Vec::new();
    for (index, entry) in IntervalLogIterator::new(&bytes).enumerate() {
        let at = |detail: String| ReportError::Line {
            path: path.to_owned(),
            line: interval_lines.get(index).copied().unwrap_or(0),
            detail,
        };
        let interval = match entry {
            Ok(LogEntry::Interval(interval)) => interval,
            Ok(_) => continue,
            Err(err) => return Err(at(format!("not an interval log entry: {err:?}"))),
        };
        let tag = interval
            .tag()
            .map_or("untagged", |tag| tag.as_str())
            .to_owned();
        let encoded = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|err| at(format!("histogram of {tag}: {err}")))?;
        let histogram: Histogram<u64> = deserializer
            .deserialize(&mut Cursor::new(encoded))
            .map_err(|err| at(format!("histogram of {tag}: {err:?}")))?;
        intervals.push(LoggedInterval {
            tag,
            start: interval.start_timestamp(),
            length: interval.duration(),
            histogram,
        });
    }
    Ok(intervals)
}

/// The interval log's histograms by tag.
fn read_hlog(path: &Path) -> Result<Vec<MetricSeries>, ReportError> {
    let mut order: Vec<String> = Vec::new();
    let mut by_name: BTreeMap<String, MetricSeries> = BTreeMap::new();
    for LoggedInterval {
        tag,
        start,
        length,
        histogram,
    } in read_intervals(path)?
    {
        let series = by_name.entry(tag.clone()).or_insert_with(|| {
            order.push(tag.clone());
            MetricSeries {
                name: tag,
                intervals: Vec::new(),
                total: new_histogram(),
            }
        });
        series
            .total
            .add(&histogram)
            .expect("auto-resizing histograms take any value");
        series.intervals.push(IntervalPoint {
            t_s: start.as_secs_f64(),
            length_s: length.as_secs_f64(),
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            max: histogram.max(),
        });
    }
    Ok(order
        .into_iter()
        .filter_map(|name| by_name.remove(&name))
        .collect())
}

/// 1-based line numbers of the lines that hold intervals (not comments or headers), in order.
fn line_numbers_of_intervals(bytes: &[u8]) -> Vec<usize> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| {
            line.first()
                .is_some_and(|b| b.is_ascii_digit() || *b == b'T')
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// One JSON object per line; a missing file is no rows (older runs and merges without it).
pub fn read_rows<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, ReportError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(ReportError::Io {
                path: path.to_owned(),
                source,
            })
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|err| ReportError::Line {
                path: path.to_owned(),
                line: i + 1,
                detail: err.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A run of 24 s that opened sessions, measured nothing and judged nothing, as an old
    /// (pre-`outcome`) summary.json reads: the tests add what they look at.
    pub fn summary() -> Summary {
        serde_json::from_str(concat!(
            r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":24.0,"#,
            r#""target":"embedded",
                "visitors":{"started":5,"completed":5,"peak":5},"metrics":{},
                "counters":{"visitors_started":5,"sessions_opened":5},"checks":{},"errors":{}}"#,
        ))
        .unwrap()
    }

    #[test]
    fn a_bad_timeline_line_is_named() {
        let dir =
            std::env::temp_dir().join(format!("presence-bench-html-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("timeline.jsonl");
        std::fs::write(
            &path,
            "{\"t_s\": 0, \"length_s\": 1, \"lag_p99_us\": 1, \"lag_max_us\": 2}\n{oops\n",
        )
        .unwrap();
        let err = read_rows::<HealthRow>(&path).unwrap_err().to_string();
        assert!(err.contains("timeline.jsonl:2:"), "{err}");
        assert!(read_rows::<HealthRow>(&dir.join("absent.jsonl"))
            .unwrap()
            .is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
