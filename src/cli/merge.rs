//! `presence-bench merge DIR... --out DIR`: the shards' summaries of a split run become the
//! whole run's report, judged once on the merged totals by the same gate as `run` (thresholds,
//! delivery checks, baseline, JUnit, the verdict), from the scenario the shards recorded.
//! With `--out`, the shards' interval files are merged too (so `report DIR` draws the merged
//! run), and with `--html` the run's HTML report is drawn from them. Shards of a split
//! capacity search are judged level by level instead (`capacity::merge`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use super::{merge_wait, Outcome};
use presence_bench::capacity::{self, merge::Endings};
use presence_bench::report::html::{self, ReportError};
use presence_bench::report::merge::{self, ShardSummary};
use presence_bench::report::merge_files;
use presence_bench::report::run_id::RunId;
use presence_bench::report::verdict::Ending;
use presence_bench::report::{shard_table, Summary};
use presence_bench::run::gate::{self, Gate, GateOptions};
use presence_bench::scenario;

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The shards' output directories (each with the summary.json of `run --shard K/N --out`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Directory for the merged summary.json (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the merged run's HTML report to FILE, with the merged latency.hlog,
    /// timeline.jsonl and health.jsonl it is drawn from in `--out` (docs/reports.md).
    #[arg(long, value_name = "FILE", requires = "out")]
    pub html: Option<PathBuf>,
    /// Judge the shards that reported when some did not (the report says partial); without it
    /// a missing shard is exit 3.
    #[arg(long)]
    pub allow_missing: bool,
    /// Merge only shards of this run (`run --run-id`, or the id a shard derived and printed):
    /// a summary of another run, left over in a reused directory, is refused (exit 2).
    #[arg(long, value_name = "ID")]
    pub run_id: Option<RunId>,
    /// Wait up to DURATION (e.g. 70m) for every shard to finish its summary.json (of
    /// `--run-id`, with it) before merging: a merge started together with the shards.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait: Option<Duration>,
    #[command(flatten)]
    pub gate: GateOptions,
}

pub fn run(args: &MergeArgs) -> Outcome {
    if let Some(wait) = args.wait {
        merge_wait::until_finished(&args.dirs, args.run_id.as_ref(), wait);
    }
    let inputs = Inputs {
        dirs: &args.dirs,
        run_id: args.run_id.as_ref(),
        allow_missing: args.allow_missing,
    };
    merge_dirs(
        &inputs,
        args.out.as_deref(),
        args.html.as_deref(),
        &args.gate,
    )
}

/// The shards a merge is given.
pub struct Inputs<'a> {
    /// Their output directories.
    pub dirs: &'a [PathBuf],
    /// The run they must all be of, when known.
    pub run_id: Option<&'a RunId>,
    /// Judge the shards present when some are missing.
    pub allow_missing: bool,
}

/// Merges the summaries in `dirs`, judges, prints and writes the merged report and interval
/// files into `out` (and with `html`, the HTML report); `run --processes` ends with this too.
pub fn merge_dirs(
    inputs: &Inputs<'_>,
    out: Option<&Path>,
    html: Option<&Path>,
    gate_args: &GateOptions,
) -> Outcome {
    let Inputs {
        dirs,
        run_id,
        allow_missing,
    } = *inputs;
    let writable = out.map_or(Ok(()), |out| {
        std::fs::create_dir_all(out)
            .with_context(|| format!("--out {}: cannot create the directory", out.display()))
    });
    if let Err(err) = writable {
        return Outcome::InvalidInput(err);
    }
    if let Err(err) = html
        .map_or(Ok(()), gate::check_file)
        .and_then(|()| gate::check_writable(None, gate_args))
    {
        return err.into();
    }
    let mut shards = Vec::new();
    let mut present = Vec::new();
    for dir in dirs {
        let file = dir.join("summary.json");
        // `run` creates summary.json empty before it starts, to find an unwritable path early.
        if std::fs::metadata(&file).map_or(true, |meta| meta.len() == 0) {
            eprintln!(
                "warning: {}: no summary (the shard did not run or finish); counted as missing",
                file.display()
            );
            continue;
        }
        match Summary::read(&file) {
            Ok(summary) if run_id.is_some() && summary.run_id.as_ref() != run_id => {
                let found = summary
                    .run_id
                    .map_or_else(|| "none".to_owned(), |id| id.to_string());
                return Outcome::InvalidInput(anyhow::anyhow!(
                    "{}: of run {found}, not of run {} (--run-id): left over from another run in a reused directory?",
                    file.display(),
                    run_id.map(RunId::as_str).unwrap_or_default()
                ));
            }
            Ok(summary) => {
                shards.push(ShardSummary { file, summary });
                present.push(dir.clone());
            }
            Err(err) => return Outcome::InvalidInput(anyhow::Error::msg(err)),
        }
    }
    if shards.is_empty() {
        return Outcome::NotCarriedOut(anyhow::anyhow!(
            "no shard left a summary.json in {}",
            list(dirs)
        ));
    }
    let merged = match merge::merge(&shards) {
        Ok(merged) => merged,
        Err(err) => return Outcome::InvalidInput(err.into()),
    };
    let origin = format!(
        "{} (shard.scenario_text)",
        dirs[0].join("summary.json").display()
    );
    let plan = match scenario::from_str(&merged.info.scenario_text, &origin) {
        Ok(plan) => plan,
        Err(err) => return Outcome::InvalidInput(err.into()),
    };
    let baseline = match gate::read_baseline(gate_args, &plan.name) {
        Ok(baseline) => baseline,
        Err(err) => return err.into(),
    };
    let gate = Gate::of(&plan);
    let mut summary = merged.summary;
    summary.partial = allow_missing && !merged.missing.is_empty();
    let ending = Ending {
        interrupted: merged.interrupted.is_some(),
        target_down: merged.target_down.clone(),
    };
    eprint!("{}", shard_table::render(&summary));
    let endings = Endings {
        missing: &merged.missing,
        interrupted: merged.interrupted.as_deref(),
        target_down: merged.target_down.as_deref(),
    };
    let verdict = match capacity::merge::merged(&shards, &plan, &endings) {
        Ok(None) => gate::judge(&mut summary, &gate, baseline.as_ref(), gate_args, &ending),
        // A split capacity search: judged level by level, as a search in one process is.
        Ok(Some(found)) => {
            let on_stderr = gate_args.summary_json.as_deref() == Some(Path::new("-"));
            let took = Duration::from_secs_f64(summary.duration_seconds);
            let shown = capacity::shown_metrics(&plan);
            capacity::conclude(&mut summary, found, &shown, took, on_stderr)
        }
        Err(err) => return Outcome::InvalidInput(err.into()),
    };
    if let Some(out) = out {
        let path = out.join("summary.json");
        if let Err(err) = summary
            .write(&path)
            .with_context(|| format!("writing {}", path.display()))
        {
            return Outcome::NotCarriedOut(err);
        }
    }
    if let Err(err) = gate::write_outputs(&summary, gate_args) {
        return err.into();
    }
    if let Some(out) = out {
        if let Err(outcome) = write_run_files(&present, out, html, &summary) {
            return outcome;
        }
    }
    Outcome::Judged(verdict)
}

/// Merges the interval files of the shards in `dirs` into `out`, as a single run writes them,
/// so that `report DIR` draws any merged run; with `html`, draws the report from them. Without
/// `html`, shards that left no interval files (a merge Job given summaries alone) are only
/// warned about: the merged summary is what was asked for.
fn write_run_files(
    dirs: &[PathBuf],
    out: &Path,
    html: Option<&Path>,
    summary: &Summary,
) -> Result<(), Outcome> {
    let started_at =
        humantime::parse_rfc3339_weak(&summary.started_at).unwrap_or(std::time::UNIX_EPOCH);
    let merged = merge_files::write(dirs, out, started_at, summary.run_id.as_ref());
    let Some(file) = html else {
        if let Err(err) = merged {
            eprintln!(
                "warning: the merged interval files are not complete in {} ({err}): `report` cannot draw it",
                out.display()
            );
        }
        return Ok(());
    };
    match merged.and_then(|()| html::write(out, file)) {
        Ok(()) => Ok(()),
        // A shard's file that cannot be read is the caller's to fix; a report not written is not.
        Err(err @ ReportError::Write { .. }) => Err(Outcome::NotCarriedOut(err.into())),
        Err(err) => Err(Outcome::InvalidInput(err.into())),
    }
}

fn list(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|dir| dir.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
