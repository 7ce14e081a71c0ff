//! The per-shard table of a merged run, printed before the run's table: one bad runner (late,
//! limited, erroring, missing) shows here while the totals above it look fine.

use std::fmt::Write;

use crate::schema::{ShardRow, Summary};

/// A shard's row as the table prints it (the HTML report shows the same): shard `i/n`,
/// visitors, errors, harness verdict, status and start lag, `-` where unknown.
pub fn cells(summary: &Summary, row: &ShardRow) -> [String; 6] {
    [
        format!("{}/{}", row.index, summary.shards.len()),
        row.visitors.to_string(),
        row.errors.to_string(),
        if row.harness.is_empty() {
            "-".to_owned()
        } else {
            row.harness.clone()
        },
        row.status.clone(),
        row.start_lag_ms
            .map_or_else(|| "-".to_owned(), |lag| format!("{lag:.1}ms")),
    ]
}

/// One line per shard; empty for a summary that is not a merge.
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    if summary.shards.is_empty() {
        return out;
    }
    let _ = writeln!(
        out,
        "{:<7} {:>9} {:>9} {:<17} {:<16} {:>10}",
        "shard", "visitors", "errors", "harness", "status", "start lag"
    );
    for row in &summary.shards {
        let [shard, visitors, errors, harness, status, lag] = cells(summary, row);
        let _ = writeln!(
            out,
            "{shard:<7} {visitors:>9} {errors:>9} {harness:<17} {status:<16} {lag:>10}"
        );
    }
    if summary.partial {
        let _ = writeln!(
            out,
            "partial: judged without the missing shards (--allow-missing)"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Totals;

    #[test]
    fn a_missing_shard_shows_and_a_partial_merge_says_so() {
        let mut summary = Summary::from_totals("t", "x", &Totals::default());
        assert_eq!(render(&summary), "");
        let row = |index, present| ShardRow {
            index,
            present,
            visitors: if present { 12 } else { 0 },
            errors: 0,
            harness: if present {
                "trusted".into()
            } else {
                String::new()
            },
            status: if present {
                "PASS".into()
            } else {
                "missing".into()
            },
            start_lag_ms: present.then_some(1.25),
        };
        summary.shards = vec![row(0, true), row(1, false)];
        summary.partial = true;
        let text = render(&summary);
        let rows: Vec<Vec<&str>> = text
            .lines()
            .map(|line| line.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[1],
            ["0/2", "12", "0", "trusted", "PASS", "1.2ms"],
            "{text}"
        );
        assert_eq!(rows[2], ["1/2", "0", "0", "-", "missing", "-"], "{text}");
        assert!(
            text.ends_with("partial: judged without the missing shards (--allow-missing)\n"),
            "{text}"
        );
    }
}
