//! `merge --wait`: a merge started together with its shards (a Kubernetes merge Job applied
//! beside the shards' Job) waits until every shard of its run has written its summary.json,
//! or until the wait is over (then the shards still missing are missing, INCOMPLETE). The
//! shards write to a volume shared between machines: no event reaches this process when a
//! file appears there, so it looks again every few seconds.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use presence_bench::schema::{RunId, Summary};

/// How often the shards' directories are looked at again.
const EVERY: Duration = Duration::from_secs(2);

/// Whether `dir` holds a finished summary of `run` (of any run without one): summary.json
/// written whole (a shard writes it once, at its end) and naming that run. A shard that has
/// not finished, or a leftover of another run, is not there yet.
pub fn finished(dir: &Path, run: Option<&RunId>) -> bool {
    match Summary::read(&dir.join("summary.json")) {
        Ok(summary) => run.is_none_or(|run| summary.run_id.as_ref() == Some(run)),
        Err(_) => false,
    }
}

/// Waits until every one of `dirs` is [`finished`], for at most `wait`; says once which
/// shards it waits for.
pub fn until_finished(dirs: &[PathBuf], run: Option<&RunId>, wait: Duration) {
    let deadline = Instant::now() + wait;
    let mut said = false;
    loop {
        let waiting: Vec<String> = dirs
            .iter()
            .filter(|dir| !finished(dir, run))
            .map(|dir| dir.display().to_string())
            .collect();
        if waiting.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "merge: waited {}; still no summary in {}",
                humantime::format_duration(wait),
                waiting.join(", ")
            );
            return;
        }
        if !said {
            let of_run = run.map_or_else(String::new, |run| format!(" of run {run}"));
            eprintln!(
                "merge: waiting up to {} for the summaries{of_run} in {}",
                humantime::format_duration(wait),
                waiting.join(", ")
            );
            said = true;
        }
        std::thread::sleep(EVERY.min(deadline.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_once_written_whole_and_of_the_run() {
        let dir =
            std::env::temp_dir().join(format!("presence-bench-merge-wait-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run: RunId = "nightly".parse().unwrap();
        assert!(!finished(&dir, None), "no summary yet");
        std::fs::write(dir.join("summary.json"), "").unwrap();
        assert!(!finished(&dir, None), "emptied by a run that has not ended");
        let mut summary = Summary::from_totals("t", "http://127.0.0.1:9", &Default::default());
        summary.run_id = Some("earlier".parse().unwrap());
        summary.write(&dir.join("summary.json")).unwrap();
        assert!(finished(&dir, None));
        assert!(
            !finished(&dir, Some(&run)),
            "a leftover of another run is not this run's"
        );
        summary.run_id = Some(run.clone());
        summary.write(&dir.join("summary.json")).unwrap();
        assert!(finished(&dir, Some(&run)));
        let started = Instant::now();
        until_finished(
            std::slice::from_ref(&dir),
            Some(&run),
            Duration::from_secs(60),
        );
        assert!(started.elapsed() < EVERY, "nothing to wait for");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
