//! The per-shard table of a merged run, printed before the run's table: one bad runner (late,
//! limited, erroring, missing) shows here while the totals above it look fine.

use std::fmt::Write;

use super::summary::Summary;

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
        let lag = row.start_lag_ms.map_or_else(|| "-".to_owned(), |lag| format!("{lag:.1}ms"));
        let _ = writeln!(
            out,
            "{:<7} {:>9} {:>9} {:<17} {:<16} {:>10}",
            format!("{}/{}", row.index, summary.shards.len()),
            row.visitors,
            row.errors,
            if row.harness.is_empty() { "-" } else { &row.harness },
            row.status,
            lag
        );
    }
    if summary.partial {
        let _ = writeln!(out, "partial: judged without the missing shards (--allow-missing)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Totals;
    use crate::report::summary::ShardRow;

    #[test]
    fn a_missing_shard_shows_and_a_partial_merge_says_so() {
        let mut summary = Summary::from_totals("t", "x", &Totals::default());
        assert_eq!(render(&summary), "");
        let row = |index, present| ShardRow {
            index,
            present,
            visitors: if present { 12 } else { 0 },
            errors: 0,
            harness: if present { "trusted".into() } else { String::new() },
            status: if present { "PASS".into() } else { "missing".into() },
            start_lag_ms: present.then_some(1.25),
        };
        summary.shards = vec![row(0, true), row(1, false)];
        summary.partial = true;
        let text = render(&summary);
        let rows: Vec<Vec<&str>> = text.lines().map(|line| line.split_whitespace().collect()).collect();
        assert_eq!(rows[1], ["0/2", "12", "0", "trusted", "PASS", "1.2ms"], "{text}");
        assert_eq!(rows[2], ["1/2", "0", "0", "-", "missing", "-"], "{text}");
        assert!(text.ends_with("partial: judged without the missing shards (--allow-missing)\n"), "{text}");
    }
}
