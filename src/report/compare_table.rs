//! The comparison as a table: both values, the change, the tolerance, the noise and the
//! verdict of each statistic, and a closing count.

use std::fmt::Write;

use super::compare::{Change, Comparison, Unjudged};
use super::table::micros;

impl Comparison {
    /// The table: both values, the change, the tolerance, the noise and the verdict of each
    /// statistic.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.runs > 1 {
            let _ = writeln!(
                out,
                "baseline: {} runs; each statistic against the median of them, past the \
                 slowest of them and past {} times their spread",
                self.runs,
                super::noise::SPREADS
            );
        }
        if let Some(scales) = &self.pace {
            let _ = writeln!(out, "{}", scales.note());
        }
        if self.judged_runs > 1 {
            let _ = writeln!(
                out,
                "current: {} runs; each statistic is their median",
                self.judged_runs
            );
        }
        let _ = writeln!(
            out,
            "{:<20} {:<5} {:>10} {:>10} {:>22}  {:<12} {:>7}  verdict",
            "metric", "stat", "baseline", "current", "change", "tolerance", "noise"
        );
        let shown = |value: Option<u64>| value.map_or_else(|| "-".to_owned(), micros);
        for row in &self.rows {
            let change = match (row.baseline, row.current) {
                (Some(b), Some(c)) => change_text(b, c),
                _ => "-".to_owned(),
            };
            let noise = match row.noise {
                None => "-".to_owned(),
                Some(noise) if noise >= 10.0 => ">±999%".to_owned(),
                Some(noise) => format!("±{:.1}%", noise * 100.0),
            };
            let verdict = match row.change {
                Change::Improved => "improved".to_owned(),
                Change::Within => "ok".to_owned(),
                Change::WithinNoise => "ok (within noise)".to_owned(),
                Change::Regressed => "REGRESSED".to_owned(),
                Change::Missing => "MISSING".to_owned(),
                Change::New => "new".to_owned(),
                Change::NotJudged(Unjudged::Off) => "not judged (off)".to_owned(),
                Change::NotJudged(Unjudged::Max) => "not judged (max)".to_owned(),
                Change::NotJudged(Unjudged::Samples { count, needed }) => {
                    format!("not judged ({count} samples, {} needs {needed})", row.stat)
                }
            };
            let tolerance = row
                .tolerance
                .map_or_else(|| "off".to_owned(), |t| t.to_string());
            let _ = writeln!(
                out,
                "{:<20} {:<5} {:>10} {:>10} {:>22}  {:<12} {:>7}  {verdict}",
                row.metric,
                row.stat,
                shown(row.baseline),
                shown(row.current),
                change,
                tolerance,
                noise,
            );
        }
        let regressions = self.rows.iter().filter(|row| row.regressed()).count();
        let improvements = self
            .rows
            .iter()
            .filter(|r| r.change == Change::Improved)
            .count();
        let judged = self
            .rows
            .iter()
            .filter(|r| !matches!(r.change, Change::NotJudged(_) | Change::New))
            .count();
        let _ = writeln!(
            out,
            "compare: {regressions} regressed, {improvements} improved, of {judged} judged \
             ({} shown)",
            self.rows.len()
        );
        out
    }
}

/// `+17.3% (+590us)` or `-5.0% (-300us)`.
fn change_text(baseline: u64, current: u64) -> String {
    let delta = current as i64 - baseline as i64;
    let sign = if delta < 0 { "-" } else { "+" };
    let percent = if baseline == 0 {
        "n/a".to_owned()
    } else {
        format!("{:.1}%", delta.abs() as f64 * 100.0 / baseline as f64)
    };
    format!("{sign}{percent} ({sign}{})", micros(delta.unsigned_abs()))
}
