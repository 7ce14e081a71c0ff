//! A baseline: the run a gate compares with, or a history of recent good runs of the same
//! build's ancestors. A history is a directory of summary.json files (`baseline add` keeps
//! the last N); a single summary.json is a history of one.
//!
//! A history measures what one run cannot: how much the same code moves from run to run on
//! the machine kind (a busy neighbour, another CPU frequency). `compare` judges against its
//! spread, so a rerun of a build that was green stays green.

use std::path::{Path, PathBuf};

use crate::schema::Summary;

/// The runs a gate compares with, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub runs: Vec<Summary>,
}

impl Baseline {
    pub fn one(summary: Summary) -> Baseline {
        Baseline {
            runs: vec![summary],
        }
    }

    /// Reads a summary.json, or every `*.json` of a directory in name order (`baseline add`
    /// names them so that name order is age order).
    pub fn read(path: &Path) -> Result<Baseline, String> {
        if !path.is_dir() {
            return Summary::read(path).map(Baseline::one);
        }
        let files = summaries_in(path)?;
        if files.is_empty() {
            return Err(format!(
                "{}: no summary in the baseline directory; add runs with `presence-bench baseline \
                 add SUMMARY --to {}`",
                path.display(),
                path.display()
            ));
        }
        let runs = files
            .iter()
            .map(|file| Summary::read(file))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Baseline { runs })
    }
}

/// The `*.json` files of `dir`, sorted by name.
fn summaries_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|err| format!("{}: {err}", dir.display()))?
            .path();
        if path.extension().is_some_and(|ext| ext == "json") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// What `add` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub written: PathBuf,
    /// The oldest runs removed to keep the last N.
    pub removed: Vec<PathBuf>,
}

/// Adds the run of `summary` to the baseline at `to` and keeps its last `keep` runs.
///
/// `to` ending in `.json` is a single-run baseline: the summary replaces it. Anything else is
/// a history directory (created if need be): the run is written as `<started_at>.json`, so
/// name order is age order, without its per-second `timeline` and per-behavior figures,
/// which `compare` does not read (a committed history stays small).
pub fn add(summary: &Summary, to: &Path, keep: usize) -> Result<Added, String> {
    let mut kept = summary.clone();
    kept.timeline.clear();
    kept.behaviors.clear();
    if to.extension().is_some_and(|ext| ext == "json") && !to.is_dir() {
        kept.write(to)
            .map_err(|err| format!("{}: {err}", to.display()))?;
        return Ok(Added {
            written: to.to_owned(),
            removed: Vec::new(),
        });
    }
    std::fs::create_dir_all(to)
        .map_err(|err| format!("{}: cannot create the directory: {err}", to.display()))?;
    let stamp: String = summary
        .started_at
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let written = to.join(format!("{stamp}.json"));
    kept.write(&written)
        .map_err(|err| format!("{}: {err}", written.display()))?;
    let files = summaries_in(to)?;
    let removed: Vec<PathBuf> = files[..files.len().saturating_sub(keep.max(1))].to_vec();
    for file in &removed {
        std::fs::remove_file(file).map_err(|err| format!("{}: {err}", file.display()))?;
    }
    Ok(Added { written, removed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(started_at: &str) -> Summary {
        let text = format!(
            concat!(
                r#"{{"schema":1,"scenario":"t","started_at":"{started_at}","#,
                r#""duration_seconds":10.0,"target":"x",
                "visitors":{{"started":1,"completed":1,"peak":1}},"metrics":{{}},"counters":{{}},"#,
                r#""errors":{{}}}}"#,
            ),
            started_at = started_at,
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn a_history_keeps_the_last_runs_oldest_first() {
        let dir =
            std::env::temp_dir().join(format!("presence-bench-baseline-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let history = dir.join("ci-gate");
        assert!(Baseline::read(&history).is_err(), "nothing there yet");
        for second in 1..=4 {
            let added = add(
                &summary(&format!("2025-01-01T00:00:0{second}.000Z")),
                &history,
                3,
            )
            .unwrap();
            assert_eq!(added.removed.len(), usize::from(second == 4));
        }
        let baseline = Baseline::read(&history).unwrap();
        let started: Vec<&str> = baseline
            .runs
            .iter()
            .map(|run| run.started_at.as_str())
            .collect();
        assert_eq!(
            started,
            [
                "2025-01-01T00:00:02.000Z",
                "2025-01-01T00:00:03.000Z",
                "2025-01-01T00:00:04.000Z"
            ]
        );
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(Baseline::read(&empty)
            .unwrap_err()
            .contains("presence-bench baseline add"));

        // A single file is a history of one.
        let file = dir.join("one.json");
        add(&summary("2025-01-01T00:00:05.000Z"), &file, 5).unwrap();
        assert_eq!(Baseline::read(&file).unwrap().runs.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
