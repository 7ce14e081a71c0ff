//! The `--baseline` comparison as part of the verdict: one result per compared metric, kept in
//! summary.json, so the table's verdict line and JUnit show a regression as the exit code does.

use super::compare::Comparison;
use super::table::micros;
use crate::schema::BaselineResult;

/// One result per metric of `comparison`, in its order.
pub fn results(comparison: &Comparison) -> Vec<BaselineResult> {
    let mut results: Vec<BaselineResult> = Vec::new();
    for row in &comparison.rows {
        let regressed = row.regressed();
        let detail = match (row.baseline, row.current) {
            (Some(b), Some(c)) if regressed => {
                let tolerance = row
                    .tolerance
                    .map_or_else(|| "off".to_owned(), |t| t.to_string());
                let noise = row.noise.map_or_else(String::new, |noise| {
                    format!(", noise ±{:.1}%", noise * 100.0)
                });
                format!(
                    "{} {} -> {} (tolerance {tolerance}{noise})",
                    row.stat,
                    micros(b),
                    micros(c)
                )
            }
            _ if regressed => format!("{} missing from this run", row.stat),
            _ => String::new(),
        };
        match results.last_mut().filter(|r| r.metric == row.metric) {
            Some(result) => {
                result.passed &= !regressed;
                if !detail.is_empty() {
                    if !result.detail.is_empty() {
                        result.detail.push_str(", ");
                    }
                    result.detail.push_str(&detail);
                }
            }
            None => results.push(BaselineResult {
                metric: row.metric.clone(),
                passed: !regressed,
                detail,
            }),
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::{Change, Row};
    use crate::scenario::Tolerance;

    #[test]
    fn one_result_per_metric_naming_what_regressed() {
        let tolerance = Tolerance::parse("10%").unwrap();
        let row = |metric: &str, stat, baseline, current, change| Row {
            metric: metric.into(),
            stat,
            baseline,
            current,
            tolerance: Some(tolerance),
            noise: (stat == "p99").then_some(0.031),
            change,
        };
        let comparison = Comparison {
            runs: 1,
            judged_runs: 1,
            pace: None,
            rows: vec![
                row("connect", "p50", Some(100), Some(100), Change::Within),
                row(
                    "presence_ack",
                    "p50",
                    Some(1000),
                    Some(1000),
                    Change::Within,
                ),
                row(
                    "presence_ack",
                    "p99",
                    Some(1200),
                    Some(2400),
                    Change::Regressed,
                ),
                row("presence_ack", "max", Some(5000), None, Change::Missing),
            ],
        };
        let results = results(&comparison);
        assert_eq!(results.len(), 2);
        assert!(results[0].passed && results[0].detail.is_empty());
        assert!(!results[1].passed);
        assert_eq!(
            results[1].detail,
            "p99 1.20ms -> 2.40ms (tolerance 10%, noise ±3.1%), max missing from this run"
        );
    }
}
