//! One threshold expression (`p99 < 25ms`, `rate > 500/s`, `count == 0`): its grammar, its units
//! and which statistics suit which subject. Bounds are kept in the report's units (microseconds,
//! per second, a count) so evaluating one is a plain comparison.

use std::fmt;
use std::time::Duration;

use crate::measure::Subject;

use super::de::parse_duration;
use super::rate::Rate;

/// A statistic of a subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    P50,
    P90,
    P99,
    P999,
    Min,
    Max,
    Mean,
    /// Per second over the run.
    Rate,
    Count,
    /// Least-squares slope over the steady part of the run (the server's memory).
    Slope,
}

/// What a statistic is measured in, and so how its bound is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A duration with a unit (`25ms`), compared in microseconds.
    Micros,
    /// A rate (`500/s`), compared per second.
    PerSecond,
    /// A plain number.
    Count,
    /// Bytes (`500MiB`), of the server's memory.
    Bytes,
    /// Bytes per hour (`20MiB/h`), memory's slope.
    BytesPerHour,
    /// CPU seconds per second (`0.8`: 80% of one core).
    Share,
}

const STATS: [(&str, Stat); 10] = [
    ("p50", Stat::P50),
    ("p90", Stat::P90),
    ("p99", Stat::P99),
    ("p99.9", Stat::P999),
    ("min", Stat::Min),
    ("max", Stat::Max),
    ("mean", Stat::Mean),
    ("rate", Stat::Rate),
    ("count", Stat::Count),
    ("slope", Stat::Slope),
];

impl Stat {
    /// The unit of this statistic of `subject`: a p99 is a duration of a latency, a share of a
    /// core of the server's CPU.
    pub fn unit(self, subject: &Subject) -> Unit {
        match (subject, self) {
            (Subject::ServerMemory, Stat::Slope) => Unit::BytesPerHour,
            (Subject::ServerMemory, _) => Unit::Bytes,
            (Subject::ServerCpu, _) => Unit::Share,
            (_, Stat::Rate) => Unit::PerSecond,
            (_, Stat::Count) => Unit::Count,
            _ => Unit::Micros,
        }
    }

    /// Latencies have every statistic but `slope`; counters, checks and errors are counts, so
    /// only `count` and (except checks, whose count is the verdict) `rate` mean something for
    /// them. The server's memory has its slope over the steady part and its max; its CPU the
    /// distribution of its per-scrape use.
    fn suits(self, subject: &Subject) -> bool {
        match subject {
            Subject::Metric(_) => self != Stat::Slope,
            Subject::Check(_) => self == Stat::Count,
            Subject::Counter(_) | Subject::Errors | Subject::ErrorKind(_) => {
                matches!(self, Stat::Count | Stat::Rate)
            }
            Subject::ServerMemory => matches!(self, Stat::Slope | Stat::Max),
            Subject::ServerCpu => matches!(
                self,
                Stat::P50 | Stat::P90 | Stat::P99 | Stat::Max | Stat::Mean
            ),
        }
    }
}

/// A comparison; the threshold holds when `measured OP bound` is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// Longest first, so `<=` is not read as `<` followed by `=`.
const OPS: [(&str, Op); 6] = [
    ("<=", Op::Le),
    (">=", Op::Ge),
    ("==", Op::Eq),
    ("!=", Op::Ne),
    ("<", Op::Lt),
    (">", Op::Gt),
];

impl Op {
    pub fn holds(self, measured: f64, bound: f64) -> bool {
        match self {
            Op::Lt => measured < bound,
            Op::Le => measured <= bound,
            Op::Gt => measured > bound,
            Op::Ge => measured >= bound,
            Op::Eq => measured == bound,
            Op::Ne => measured != bound,
        }
    }
}

/// A parsed, validated threshold of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The name as written (`presence_ack`, `errors.timeout`, `presence_ack{behavior:browser}`).
    pub name: String,
    pub subject: Subject,
    /// The behavior whose latencies it bounds (`{behavior:NAME}`); `None`: the whole run's.
    pub behavior: Option<String>,
    /// The expression as written, trimmed: shown in reports next to the measured value.
    pub expression: String,
    pub stat: Stat,
    pub op: Op,
    /// In the unit of `stat`.
    pub bound: f64,
    /// `Some(delay)` when a failure stops the run, evaluated from `delay` after the start.
    pub abort_after: Option<Duration>,
}

/// The parts of an expression, before it is tied to a name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Expression {
    pub stat: Stat,
    pub op: Op,
    pub bound: f64,
}

impl Expression {
    /// Parses `STAT OP BOUND` for `subject`; the error says what was expected and what was found.
    pub(crate) fn parse(text: &str, subject: &Subject) -> Result<Expression, String> {
        let text = text.trim();
        let malformed = || {
            format!(
                "expected a threshold such as \"p99 < 25ms\", \"rate > 500/s\" or \"count == 0\", \
                 found {text:?}"
            )
        };
        let at = text.find(['<', '>', '=', '!']).ok_or_else(malformed)?;
        let (stat_text, rest) = text.split_at(at);
        let (op_text, op) = OPS
            .into_iter()
            .find(|(op, _)| rest.starts_with(op))
            .ok_or_else(malformed)?;
        let bound_text = rest[op_text.len()..].trim();
        let stat_text = stat_text.trim();
        let stat = STATS
            .into_iter()
            .find(|(name, _)| *name == stat_text)
            .map(|(_, stat)| stat)
            .ok_or_else(|| {
                let names: Vec<&str> = STATS.iter().map(|(name, _)| *name).collect();
                format!(
                    "expected a statistic ({}) in {text:?}, found {stat_text:?}",
                    names.join(", ")
                )
            })?;
        if !stat.suits(subject) {
            let suited: Vec<&str> = STATS
                .iter()
                .filter(|(_, s)| s.suits(subject))
                .map(|(name, _)| *name)
                .collect();
            return Err(format!(
                "expected {} for {} in {text:?}, found {stat_text:?}",
                suited.join(" or "),
                kind(subject)
            ));
        }
        if bound_text.is_empty() {
            return Err(malformed());
        }
        let bound = parse_bound(stat.unit(subject), bound_text)
            .map_err(|err| format!("{err} in {text:?}"))?;
        Ok(Expression { stat, op, bound })
    }
}

fn parse_bound(unit: Unit, text: &str) -> Result<f64, String> {
    match unit {
        Unit::Micros => parse_duration(text).map(|d| d.as_secs_f64() * 1e6),
        Unit::PerSecond => Rate::parse(text).map(Rate::per_second),
        Unit::Count => text.parse::<u64>().map(|n| n as f64).map_err(|_| {
            format!("expected a count (a whole number such as 0 or 100), found {text:?}")
        }),
        Unit::Bytes => parse_bytes(text),
        Unit::BytesPerHour => {
            let per =
                |(size, hours): (&str, f64)| parse_bytes(size.trim()).map(|bytes| bytes / hours);
            match text.rsplit_once('/') {
                Some((size, "h")) => per((size, 1.0)),
                Some((size, "m" | "min")) => per((size, 1.0 / 60.0)),
                Some((size, "s")) => per((size, 1.0 / 3600.0)),
                _ => Err(format!(
                    "expected a memory slope such as 20MiB/h (per h, m or s), found {text:?}"
                )),
            }
        }
        Unit::Share => text
            .parse::<f64>()
            .ok()
            .filter(|share| share.is_finite() && *share >= 0.0)
            .ok_or_else(|| {
                format!("expected CPU seconds per second (0.8 is 80% of one core), found {text:?}")
            }),
    }
}

/// Sizes as people write them: `512KiB`, `20MiB`, `1GiB`, `500MB`, `1024B`.
fn parse_bytes(text: &str) -> Result<f64, String> {
    const UNITS: [(&str, f64); 7] = [
        ("KiB", 1024.0),
        ("MiB", 1_048_576.0),
        ("GiB", 1_073_741_824.0),
        ("KB", 1e3),
        ("MB", 1e6),
        ("GB", 1e9),
        ("B", 1.0),
    ];
    UNITS
        .iter()
        .find_map(|(unit, scale)| {
            let number = text.strip_suffix(unit)?.trim().parse::<f64>().ok()?;
            (number.is_finite() && number >= 0.0).then_some(number * scale)
        })
        .ok_or_else(|| {
            format!("expected a size with a unit such as 20MiB, 500MB or 1GiB, found {text:?}")
        })
}

fn kind(subject: &Subject) -> &'static str {
    match subject {
        Subject::Metric(_) => "a latency",
        Subject::Counter(_) => "a counter",
        Subject::Check(_) => "a delivery check",
        Subject::Errors | Subject::ErrorKind(_) => "an error count",
        Subject::ServerMemory => "the server's memory",
        Subject::ServerCpu => "the server's CPU",
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Unit::Micros => "us",
            Unit::PerSecond => "/s",
            Unit::Count => "count",
            Unit::Bytes => "B",
            Unit::BytesPerHour => "B/h",
            Unit::Share => "s/s",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Counter, Metric};

    const ACK: Subject = Subject::Metric(Metric::PresenceAck);

    fn parse(text: &str, subject: &Subject) -> Result<(Stat, Op, f64), String> {
        Expression::parse(text, subject).map(|e| (e.stat, e.op, e.bound))
    }

    #[test]
    fn every_statistic_and_unit_parses() {
        assert_eq!(parse("p99 < 25ms", &ACK), Ok((Stat::P99, Op::Lt, 25_000.0)));
        assert_eq!(
            parse("p99.9 <= 1s", &ACK),
            Ok((Stat::P999, Op::Le, 1_000_000.0))
        );
        assert_eq!(parse("max<250ms", &ACK), Ok((Stat::Max, Op::Lt, 250_000.0)));
        assert_eq!(
            parse(" mean < 5ms ", &ACK),
            Ok((Stat::Mean, Op::Lt, 5_000.0))
        );
        assert_eq!(parse("p50 >= 1us", &ACK), Ok((Stat::P50, Op::Ge, 1.0)));
        assert_eq!(parse("rate > 500/s", &ACK), Ok((Stat::Rate, Op::Gt, 500.0)));
        assert_eq!(
            parse("rate > 600/m", &Subject::Counter(Counter::MessagesSent)),
            Ok((Stat::Rate, Op::Gt, 10.0))
        );
        assert_eq!(
            parse(
                "count == 0",
                &Subject::Check(crate::measure::Check::SignalsLost)
            ),
            Ok((Stat::Count, Op::Eq, 0.0))
        );
        assert_eq!(
            parse("count != 3", &Subject::Errors),
            Ok((Stat::Count, Op::Ne, 3.0))
        );
    }

    #[test]
    fn malformed_expressions_say_what_was_expected() {
        let err = parse("p99 25ms", &ACK).unwrap_err();
        assert!(err.starts_with("expected a threshold such as"), "{err}");
        assert!(parse("p99 <", &ACK)
            .unwrap_err()
            .starts_with("expected a threshold such as"));
        assert_eq!(
            parse("p98 < 25ms", &ACK).unwrap_err(),
            "expected a statistic (p50, p90, p99, p99.9, min, max, mean, rate, count, slope) in \
             \"p98 < 25ms\", found \"p98\""
        );
        assert_eq!(
            parse("p99 < 25", &ACK).unwrap_err(),
            "expected a duration with a unit such as 500ms or 10s, found \"25\" in \"p99 < 25\""
        );
        assert!(parse("rate > 500", &ACK)
            .unwrap_err()
            .starts_with("expected a rate such as"));
        assert!(parse("count == 1.5", &ACK)
            .unwrap_err()
            .starts_with("expected a count"));
        assert!(parse("p99 =< 1ms", &ACK)
            .unwrap_err()
            .starts_with("expected a threshold such as"));
    }

    #[test]
    fn statistics_must_suit_the_subject() {
        assert_eq!(
            parse(
                "p99 < 1ms",
                &Subject::Check(crate::measure::Check::SignalsLost)
            )
            .unwrap_err(),
            "expected count for a delivery check in \"p99 < 1ms\", found \"p99\""
        );
        assert_eq!(
            parse("max < 1ms", &Subject::Errors).unwrap_err(),
            "expected rate or count for an error count in \"max < 1ms\", found \"max\""
        );
    }

    #[test]
    fn the_server_s_resources_have_their_own_units() {
        let memory = Subject::ServerMemory;
        assert_eq!(
            parse("slope < 20MiB/h", &memory),
            Ok((Stat::Slope, Op::Lt, 20.0 * 1_048_576.0))
        );
        assert_eq!(
            parse("slope < 1KiB/s", &memory),
            Ok((Stat::Slope, Op::Lt, 1024.0 * 3600.0))
        );
        assert_eq!(parse("max <= 1GB", &memory), Ok((Stat::Max, Op::Le, 1e9)));
        assert_eq!(
            parse("p99 < 0.8", &Subject::ServerCpu),
            Ok((Stat::P99, Op::Lt, 0.8))
        );
        assert_eq!(
            parse("slope < 20MiB", &memory).unwrap_err(),
            "expected a memory slope such as 20MiB/h (per h, m or s), found \"20MiB\" in \"slope < \
             20MiB\""
        );
        assert!(parse("max < 20", &memory)
            .unwrap_err()
            .starts_with("expected a size with a unit"));
        assert!(parse("p99 < 80%", &Subject::ServerCpu)
            .unwrap_err()
            .starts_with("expected CPU seconds per second"));
        assert_eq!(
            parse("p99 < 1ms", &memory).unwrap_err(),
            "expected max or slope for the server's memory in \"p99 < 1ms\", found \"p99\""
        );
        assert!(parse("slope < 1ms", &ACK)
            .unwrap_err()
            .starts_with("expected p50 or p90"));
    }

    #[test]
    fn comparisons_hold_as_written() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && !Op::Le.holds(3.0, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && !Op::Gt.holds(2.0, 2.0));
        assert!(Op::Ge.holds(2.0, 2.0) && !Op::Ge.holds(1.0, 2.0));
        assert!(Op::Eq.holds(0.0, 0.0) && !Op::Eq.holds(1.0, 0.0));
        assert!(Op::Ne.holds(1.0, 0.0) && !Op::Ne.holds(0.0, 0.0));
    }
}
