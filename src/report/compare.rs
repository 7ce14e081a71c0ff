//! Comparing a run with a baseline (two summary.json documents).
//!
//! Only latencies are compared, at p50, p90, p99 and max, and higher is worse: they are what a
//! slower server changes. Counters and rates follow the scenario's load rather than the server's
//! speed, and errors and delivery checks are already gated by thresholds and checks, so they
//! are left out. A metric that the baseline has and the run lacks is a regression (whatever it
//! measured stopped happening); one only the run has is shown as new.

use std::fmt::Write;

use super::summary::{LatencySummary, Summary};
use super::table::micros;
use crate::measure::Metric;
use crate::scenario::{CompareTolerances, Tolerance};

/// The tolerance when neither the command line nor the scenario gives one.
pub const DEFAULT_TOLERANCE: Tolerance = Tolerance { relative: Some(0.10), absolute: Some(1000.0) };

/// Reads one statistic of a latency.
type StatOf = fn(&LatencySummary) -> u64;

/// The statistics compared, in the order shown.
const STATS: [(&str, StatOf); 4] = [("p50", |m| m.p50), ("p90", |m| m.p90), ("p99", |m| m.p99), ("max", |m| m.max)];

/// How a statistic moved. The tolerance is noise in both directions: a change inside it is
/// `Within` whether it is better or worse, so a table shows `improved` only for a real gain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Better by more than the tolerance.
    Improved,
    /// Better, equal or worse, but within the tolerance.
    Within,
    Regressed,
    /// In the baseline only: a regression.
    Missing,
    /// In the current run only.
    New,
}

/// One statistic of one metric, in microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub metric: String,
    pub stat: &'static str,
    pub baseline: Option<u64>,
    pub current: Option<u64>,
    pub tolerance: Tolerance,
    pub change: Change,
}

/// Why two summaries cannot be compared meaningfully.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incomparable {
    #[error(
        "the summaries are of different scenarios (baseline {baseline:?}, current {current:?}); \
         compare runs of one scenario, or pass --allow-different-scenarios"
    )]
    Scenarios { baseline: String, current: String },
    #[error(
        "the summaries have different schemas (baseline {baseline}, current {current}); \
         re-run the baseline with this build, or pass --allow-different-scenarios"
    )]
    Schemas { baseline: u32, current: u32 },
}

/// Refuses to compare summaries of different scenarios or schema versions: the same metric
/// name then measures something else, and any verdict would be noise.
pub fn check_comparable(baseline: &Summary, current: &Summary) -> Result<(), Incomparable> {
    check_baseline_fits(baseline, &current.scenario, current.schema)
}

/// The same refusal before a run: `baseline` against the scenario about to run and the schema
/// this build writes, so `run --baseline` with the wrong file stops before the load, not after.
pub fn check_baseline_fits(baseline: &Summary, scenario: &str, schema: u32) -> Result<(), Incomparable> {
    if baseline.schema != schema {
        return Err(Incomparable::Schemas { baseline: baseline.schema, current: schema });
    }
    if baseline.scenario != scenario {
        return Err(Incomparable::Scenarios { baseline: baseline.scenario.clone(), current: scenario.to_owned() });
    }
    Ok(())
}

/// Every compared statistic of two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
}

/// The tolerance of metrics without their own: the command line's, else the scenario's, else
/// [`DEFAULT_TOLERANCE`].
pub fn overall_tolerance(command_line: Option<Tolerance>, scenario: &CompareTolerances) -> Tolerance {
    command_line.or(scenario.max_regression).unwrap_or(DEFAULT_TOLERANCE)
}

impl Comparison {
    /// Compares `current` with `baseline`; per-metric tolerances of `tolerances` win over `overall`.
    pub fn new(baseline: &Summary, current: &Summary, tolerances: &CompareTolerances, overall: Tolerance) -> Self {
        let mut names: Vec<&String> = baseline.metrics.keys().chain(current.metrics.keys()).collect();
        names.sort();
        names.dedup();
        names.retain(|name| !Metric::CONNECT_PHASES.iter().any(|phase| phase.name() == name.as_str()));
        let mut rows = Vec::new();
        for name in names {
            let tolerance = tolerances
                .metrics
                .iter()
                .find(|(metric, _)| metric.name() == name.as_str())
                .map_or(overall, |(_, tolerance)| *tolerance);
            let (old, new) = (baseline.metrics.get(name), current.metrics.get(name));
            for (stat, get) in STATS {
                let (baseline, current) = (old.map(get), new.map(get));
                let change = match (baseline, current) {
                    (Some(b), Some(c)) if tolerance.is_exceeded(b as f64, c as f64) => Change::Regressed,
                    // The same tolerance read backwards: the baseline is worse than the run.
                    (Some(b), Some(c)) if tolerance.is_exceeded(c as f64, b as f64) => Change::Improved,
                    (Some(_), Some(_)) => Change::Within,
                    (Some(_), None) => Change::Missing,
                    (None, _) => Change::New,
                };
                rows.push(Row { metric: name.clone(), stat, baseline, current, tolerance, change });
            }
        }
        Comparison { rows }
    }

    /// True when a statistic regressed past its tolerance or a metric went missing.
    pub fn regressed(&self) -> bool {
        self.rows.iter().any(|row| matches!(row.change, Change::Regressed | Change::Missing))
    }

    /// The table: both values, the change, the tolerance and the verdict of each statistic.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<16} {:<5} {:>10} {:>10} {:>22}  {:<12} verdict",
            "metric", "stat", "baseline", "current", "change", "tolerance"
        );
        let shown = |value: Option<u64>| value.map_or_else(|| "-".to_owned(), micros);
        for row in &self.rows {
            let change = match (row.baseline, row.current) {
                (Some(b), Some(c)) => change_text(b, c),
                _ => "-".to_owned(),
            };
            let verdict = match row.change {
                Change::Improved => "improved",
                Change::Within => "ok",
                Change::Regressed => "REGRESSED",
                Change::Missing => "MISSING",
                Change::New => "new",
            };
            let _ = writeln!(
                out,
                "{:<16} {:<5} {:>10} {:>10} {:>22}  {:<12} {verdict}",
                row.metric,
                row.stat,
                shown(row.baseline),
                shown(row.current),
                change,
                row.tolerance.to_string()
            );
        }
        let regressions = self.rows.iter().filter(|r| matches!(r.change, Change::Regressed | Change::Missing)).count();
        let improvements = self.rows.iter().filter(|r| r.change == Change::Improved).count();
        let _ =
            writeln!(out, "compare: {regressions} regressed, {improvements} improved, of {} compared", self.rows.len());
        out
    }
}

/// `+17.3% (+590us)` or `-5.0% (-300us)`.
fn change_text(baseline: u64, current: u64) -> String {
    let delta = current as i64 - baseline as i64;
    let sign = if delta < 0 { "-" } else { "+" };
    let percent =
        if baseline == 0 { "n/a".to_owned() } else { format!("{:.1}%", delta.abs() as f64 * 100.0 / baseline as f64) };
    format!("{sign}{percent} ({sign}{})", micros(delta.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(p50: u64, p90: u64, p99: u64, max: u64) -> LatencySummary {
        LatencySummary { unit: "us".into(), count: 100, rate: 10.0, min: 1, mean: 1.0, p50, p90, p99, p999: p99, max }
    }

    fn summary(metrics: &[(&str, LatencySummary)]) -> Summary {
        let mut s: Summary = serde_json::from_str(
            r#"{"schema":1,"scenario":"t","started_at":"x","duration_seconds":10.0,"target":"x",
                "visitors":{"started":1,"completed":1,"peak":1},"metrics":{},"counters":{},"errors":{}}"#,
        )
        .unwrap();
        s.metrics = metrics.iter().map(|(name, m)| (name.to_string(), m.clone())).collect();
        s
    }

    fn changes(comparison: &Comparison, metric: &str) -> Vec<Change> {
        comparison.rows.iter().filter(|r| r.metric == metric).map(|r| r.change).collect()
    }

    #[test]
    fn improvements_regressions_and_tolerances() {
        let baseline = summary(&[("presence_ack", latency(1000, 2000, 10_000, 50_000))]);
        // p50 -20% but only -200us; p90 +50% but only +1ms; p99 +30% and +3ms; max +2% only.
        let current = summary(&[("presence_ack", latency(800, 3000, 13_000, 51_000))]);
        let overall = Tolerance::parse("10% or 2ms").unwrap();
        let comparison = Comparison::new(&baseline, &current, &CompareTolerances::default(), overall);
        use Change::*;
        assert_eq!(changes(&comparison, "presence_ack"), vec![Within, Within, Regressed, Within]);
        assert!(comparison.regressed());
        let table = comparison.render();
        assert!(
            table.contains("p99      10.00ms    13.00ms       +30.0% (+3.00ms)  10% or 2ms   REGRESSED"),
            "{table}"
        );
        assert!(table.contains("-20.0% (-200us)"), "{table}");
        assert!(table.ends_with("compare: 1 regressed, 0 improved, of 4 compared\n"), "{table}");
    }

    #[test]
    fn changes_within_tolerance_are_ok_in_both_directions() {
        let baseline = summary(&[("presence_ack", latency(10_000, 10_000, 10_000, 10_000))]);
        // -0.9%, +2.7%, -30% and +30% against a 10% tolerance.
        let current = summary(&[("presence_ack", latency(9_910, 10_270, 7_000, 13_000))]);
        let overall = Tolerance::parse("10%").unwrap();
        let comparison = Comparison::new(&baseline, &current, &CompareTolerances::default(), overall);
        use Change::*;
        assert_eq!(changes(&comparison, "presence_ack"), vec![Within, Within, Improved, Regressed]);
    }

    #[test]
    fn different_scenarios_or_schemas_are_not_comparable() {
        let baseline = summary(&[]);
        assert_eq!(check_comparable(&baseline, &baseline), Ok(()));
        let other = Summary { scenario: "other".into(), ..baseline.clone() };
        let err = check_comparable(&baseline, &other).unwrap_err();
        assert!(err.to_string().contains("different scenarios (baseline \"t\", current \"other\")"), "{err}");
        let newer = Summary { schema: 2, ..baseline.clone() };
        assert_eq!(check_comparable(&baseline, &newer), Err(Incomparable::Schemas { baseline: 1, current: 2 }));
    }

    #[test]
    fn per_metric_tolerances_win() {
        let baseline = summary(&[("presence_ack", latency(1000, 2000, 10_000, 50_000))]);
        let current = summary(&[("presence_ack", latency(1000, 2000, 13_000, 50_000))]);
        let mut tolerances = CompareTolerances::default();
        tolerances.metrics.insert(Metric::PresenceAck, Tolerance::parse("50%").unwrap());
        let comparison = Comparison::new(&baseline, &current, &tolerances, Tolerance::parse("1%").unwrap());
        assert!(!comparison.regressed());
        assert_eq!(overall_tolerance(None, &tolerances), DEFAULT_TOLERANCE);
        tolerances.max_regression = Some(Tolerance::parse("5%").unwrap());
        assert_eq!(overall_tolerance(None, &tolerances), Tolerance::parse("5%").unwrap());
        assert_eq!(
            overall_tolerance(Some(Tolerance::parse("7%").unwrap()), &tolerances),
            Tolerance::parse("7%").unwrap()
        );
    }

    #[test]
    fn missing_metrics_regress_and_new_ones_do_not() {
        let baseline = summary(&[("connect", latency(1, 1, 1, 1))]);
        let current = summary(&[("blur", latency(1, 1, 1, 1))]);
        let comparison = Comparison::new(&baseline, &current, &CompareTolerances::default(), DEFAULT_TOLERANCE);
        assert_eq!(changes(&comparison, "blur"), vec![Change::New; 4]);
        assert_eq!(changes(&comparison, "connect"), vec![Change::Missing; 4]);
        assert!(comparison.regressed());
        let same = Comparison::new(&baseline, &baseline, &CompareTolerances::default(), DEFAULT_TOLERANCE);
        assert!(!same.regressed());
    }

    #[test]
    fn the_phases_of_connect_are_not_compared() {
        let baseline = summary(&[("connect", latency(1, 1, 1, 1)), ("connect_locate", latency(1, 1, 1, 1))]);
        let current = summary(&[("connect", latency(1, 1, 1, 1)), ("connect_tcp", latency(9, 9, 9, 9))]);
        let comparison = Comparison::new(&baseline, &current, &CompareTolerances::default(), DEFAULT_TOLERANCE);
        assert!(comparison.rows.iter().all(|row| row.metric == "connect"), "{:?}", comparison.rows);
        assert!(!comparison.regressed());
    }
}
