//! The files of `--out` that are written once, after the run: summary.json and the HTML
//! report (the interval files and health.jsonl are written as the run goes, `run::live`). A
//! merged run's interval files are put together from its shards' here instead, so that
//! `report DIR` draws any run.

use std::path::{Path, PathBuf};

use super::RunError;
use crate::report::{self, merge_files};
use crate::schema::Summary;

/// Where a run's interval files come from.
pub enum Made<'a> {
    /// Written as the run went, by its interval writers and the writer of health.jsonl (what
    /// they answered once done).
    Here {
        intervals: Option<std::io::Result<u64>>,
        health: Option<std::io::Result<u64>>,
    },
    /// A merged run's: put together from the directories of its shards (those with a summary).
    Merged { shards: &'a [PathBuf] },
}

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

/// Writes summary.json to `out`, then the run's other files as they were `made`, and builds
/// the HTML report when asked for.
pub fn write(
    out: &Path,
    summary: &Summary,
    made: Made<'_>,
    html: Option<&Path>,
) -> Result<(), RunError> {
    let path = out.join("summary.json");
    summary.write(&path).map_err(RunError::writing(&path))?;
    match made {
        Made::Here { intervals, health } => write_here(out, summary, intervals, health, html),
        Made::Merged { shards } => write_merged(shards, out, html, summary),
    }
}

/// A run of this process: what its interval and health writers answered, and the report.
fn write_here(
    out: &Path,
    summary: &Summary,
    intervals: Option<std::io::Result<u64>>,
    health: Option<std::io::Result<u64>>,
    html: Option<&Path>,
) -> Result<(), RunError> {
    if let Some(written) = intervals {
        written.map_err(|source| RunError::Write {
            what: "writing the interval files".into(),
            source,
        })?;
        eprintln!("{}", growth(out, summary.duration_seconds));
    }
    if let Some(written) = health {
        let path = out.join("health.jsonl");
        written.map_err(RunError::writing(&path))?;
    }
    if let Some(html) = html {
        report::html::write(out, html).map_err(RunError::Html)?;
    }
    eprintln!("reports written to {}", out.display());
    Ok(())
}

/// Merges the interval files of the shards in `dirs` into `out`, as a single run writes them,
/// so that `report DIR` draws any merged run; with `html`, draws the report from them. Without
/// `html`, shards that left no interval files (a merge Job given summaries alone) are only
/// warned about: the merged summary is what was asked for.
fn write_merged(
    dirs: &[PathBuf],
    out: &Path,
    html: Option<&Path>,
    summary: &Summary,
) -> Result<(), RunError> {
    let started_at =
        humantime::parse_rfc3339_weak(&summary.started_at).unwrap_or(std::time::UNIX_EPOCH);
    let merged = merge_files::write(dirs, out, started_at, summary.run_id.as_ref());
    let Some(file) = html else {
        if let Err(err) = merged {
            eprintln!(
                "warning: the merged interval files are not complete in {} ({err}): `report` \
                 cannot draw it",
                out.display()
            );
        }
        return Ok(());
    };
    merged
        .and_then(|()| report::html::write(out, file))
        .map_err(RunError::ShardFiles)
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
