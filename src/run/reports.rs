//! The files of `--out` that are written once, after the run: summary.json, health.jsonl and
//! the HTML report (the interval files are written as the run goes, `run::intervals`).

use std::path::Path;

use tokio::task::JoinHandle;

use super::RunError;
use crate::measure::health::HealthSecond;
use crate::report::{self, Summary};

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
        let written = intervals.await.map_err(std::io::Error::other).and_then(|written| written);
        written.map_err(|source| RunError::Write { what: "writing the interval files".into(), source })?;
    }
    let path = out.join("health.jsonl");
    report::timeline::write_health(&path, health).map_err(RunError::writing(&path))?;
    if let Some(html) = html {
        report::html::write(out, html).map_err(RunError::Html)?;
        eprintln!("HTML report written to {}", html.display());
    }
    eprintln!("reports written to {}", out.display());
    Ok(())
}
