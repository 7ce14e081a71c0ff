//! The files of `--out` that are written once, after the run: summary.json, health.jsonl and
//! the HTML report (the interval files are written as the run goes, `run::intervals`).

use std::path::Path;

use tokio::task::JoinHandle;

use super::RunError;
use crate::measure::health::HealthSecond;
use crate::report::{self, Summary};

/// Empties a reused `out` of the previous run's summary.json and health.jsonl before this run
/// starts (the interval files are created anew when the run opens them), so that nothing of
/// that run can pass for this one: a shard that misses its start, or a run that dies, leaves
/// an empty summary.json, which `merge` counts as a missing shard.
pub fn clear(out: &Path) -> Result<(), RunError> {
    let summary = out.join("summary.json");
    std::fs::File::create(&summary).map_err(RunError::unwritable(format!(
        "{}: cannot be written",
        summary.display()
    )))?;
    let health = out.join("health.jsonl");
    match std::fs::remove_file(&health) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(RunError::unwritable(
            format!("{}: cannot be removed", health.display()),
        )(err)),
        _ => Ok(()),
    }
}

/// Writes summary.json and health.jsonl to `out`, waits for the interval writers, and builds
/// the HTML report when asked for.
pub async fn write(
    out: &Path,
    summary: &Summary,
    health: &[HealthSecond],
    intervals: Option<JoinHandle<std::io::Result<u64>>>,
    html: Option<&Path>,
) -> Result<(), RunError> {
    let path = out.join("summary.json");
    summary.write(&path).map_err(RunError::writing(&path))?;
    if let Some(intervals) = intervals {
        let written = intervals
            .await
            .map_err(std::io::Error::other)
            .and_then(|written| written);
        written.map_err(|source| RunError::Write {
            what: "writing the interval files".into(),
            source,
        })?;
        eprintln!("{}", growth(out, summary.duration_seconds));
    }
    let path = out.join("health.jsonl");
    report::timeline::write_health(&path, health).map_err(RunError::writing(&path))?;
    if let Some(html) = html {
        report::html::write(out, html).map_err(RunError::Html)?;
    }
    eprintln!("reports written to {}", out.display());
    Ok(())
}

/// What the interval files cost per hour of run, so that a long run's size can be planned
/// for (`--log-interval` makes them smaller):
/// `interval files: latency.hlog 2.1 MiB/h, timeline.jsonl 0.4 MiB/h (1024 KiB in 1450 s)`.
fn growth(out: &Path, seconds: f64) -> String {
    const MIB: f64 = 1_048_576.0;
    let hours = (seconds / 3600.0).max(1e-9);
    let sizes: Vec<(&str, f64)> = ["latency.hlog", "timeline.jsonl"]
        .into_iter()
        .map(|file| {
            (
                file,
                std::fs::metadata(out.join(file)).map_or(0.0, |meta| meta.len() as f64),
            )
        })
        .collect();
    let rates: Vec<String> = sizes
        .iter()
        .map(|(file, bytes)| format!("{file} {:.1} MiB/h", bytes / MIB / hours))
        .collect();
    let total: f64 = sizes.iter().map(|(_, bytes)| bytes).sum();
    format!(
        "interval files: {} ({:.0} KiB in {seconds:.0} s)",
        rates.join(", "),
        total / 1024.0
    )
}
