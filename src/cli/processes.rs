//! `run --processes P`: the command line of a run split over P children of the harness's own
//! binary, shard K/P each, with one start instant and each with its own output directory.
//! Here each child's command line is made from the parent's (the effective scenario, a
//! comma-separated `--target` list dealt out to the shards, `/metrics` ports shifted, the
//! headers in the environment); starting, supervising and merging them is the library's
//! (`presence_bench::run::processes`), and the merged run is reported as `run` reports its
//! own. Source addresses are striped over the shards by the engine (`Shard::stripe`).
//! `capacity --processes P` runs its children the same way (`Subcommand`), and the merge
//! recognizes them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use super::run::RunArgs;
use super::shards_progress::{Display, Follower};
use super::Outcome;
use presence_bench::capacity;
use presence_bench::net::headers::Headers;
use presence_bench::run::merge::Merge;
use presence_bench::run::processes::Progress;
use presence_bench::runtime;
use presence_bench::scenario::Plan;
use presence_bench::shard::Shard;
use presence_bench::shutdown::Messages;

/// How far ahead the children's common start is set: time to start P processes and let each
/// parse the scenario and check the target.
const START_LEAD: Duration = Duration::from_secs(3);

/// What each child runs: `run`, or `capacity` with the search's own options (`args`, after
/// the scenario and the run's options).
#[derive(Clone, Copy)]
pub struct Subcommand<'a> {
    pub name: &'static str,
    pub args: &'a [String],
}

impl Subcommand<'_> {
    pub const RUN: Subcommand<'static> = Subcommand {
        name: "run",
        args: &[],
    };
}

/// Runs `plan` as `processes` shards of `subcommand` and merges them; `args` as given to
/// `run`. Without `--out`, the shards write to a temporary directory, removed once they are
/// merged (the merged table is the run's report).
pub fn run(args: &RunArgs, plan: &Plan, processes: u32, subcommand: Subcommand<'_>) -> Outcome {
    if args.split.shard.is_some() || args.split.shards.is_some() {
        return Outcome::InvalidInput(anyhow::anyhow!(
            "--processes splits the run itself: it takes no --shard or --shards"
        ));
    }
    let first = Shard::new(0, processes).map_err(anyhow::Error::from);
    if let Err(err) = first.and_then(|shard| super::split::check_target(plan, shard)) {
        return Outcome::InvalidInput(err);
    }
    let start_at = match args.split.start_at() {
        Ok(start) => start.map_or_else(|| SystemTime::now() + START_LEAD, |start| start.at),
        Err(err) => return Outcome::InvalidInput(err),
    };
    let display = match Display::of(&args.progress, args.quiet) {
        Ok(display) => display,
        Err(err) => return Outcome::InvalidInput(err),
    };
    let Some(out) = &args.out else {
        let temporary = std::env::temp_dir().join(format!("presence-bench-{}", std::process::id()));
        let outcome = run_in(
            (args, subcommand),
            plan,
            (processes, start_at),
            &temporary,
            display,
        );
        if let Err(err) = std::fs::remove_dir_all(&temporary) {
            eprintln!(
                "warning: the shards' reports are left in {}: cannot remove it: {err}",
                temporary.display()
            );
        }
        return outcome;
    };
    run_in(
        (args, subcommand),
        plan,
        (processes, start_at),
        out,
        display,
    )
}

/// Runs the shards with their reports under `out`, shows their progress on `display`, and
/// merges them.
fn run_in(
    (args, subcommand): (&RunArgs, Subcommand<'_>),
    plan: &Plan,
    (processes, start_at): (u32, SystemTime),
    out: &Path,
    display: Option<Display>,
) -> Outcome {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            return Outcome::NotCarriedOut(anyhow::anyhow!(
                "cannot find the harness's own binary: {err}"
            ))
        }
    };
    let metrics = plan.metrics.map(|export| export.listen);
    let dirs: Vec<PathBuf> = (0..processes)
        .map(|index| out.join(format!("shard-{index}")))
        .collect();
    // The children run the scenario as this process read it (`${VAR}` substituted, `--set`
    // applied), not the file again: one scenario for every shard. Its headers (the file's and
    // `--header`'s) go to them through the environment, never into the file.
    let scenario = match write_effective_scenario(args, out) {
        Ok(path) => path,
        Err(err) => return Outcome::InvalidInput(err),
    };
    // The merged report of an earlier run in this directory must not outlive a run that ends
    // with no shard to merge.
    if let Err(err) = presence_bench::run::clear(out) {
        return err.into();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return Outcome::NotCarriedOut(err.into()),
    };
    let kept = if args.out.is_some() {
        ""
    } else {
        " (removed after the merge)"
    };
    eprintln!(
        "running {} as {processes} processes, starting at {}; shards' reports in {}{kept}",
        plan.name,
        humantime::format_rfc3339_millis(start_at),
        out.display()
    );
    let commands = dirs
        .iter()
        .enumerate()
        .map(|(index, dir)| {
            let shard = Shard {
                index: index as u32,
                count: processes,
            };
            let metrics = metrics.map(|addr| shifted(addr, shard.index));
            child_command(
                &exe,
                (args, subcommand),
                &scenario,
                (shard, start_at),
                dir,
                metrics,
                &plan.target.headers,
            )
        })
        .collect();
    let timelines = dirs.iter().map(|dir| dir.join("timeline.jsonl")).collect();
    let progress = display.map(|display| {
        Box::new(Follower::new(timelines, plan.duration, display)) as Box<dyn Progress>
    });
    // The merged summary.json goes next to the shards' directories, as `run --out` writes it.
    let merge = Merge {
        dirs: &dirs,
        run_id: args.split.run_id.as_ref(),
        allow_missing: false,
        out: args.out.as_deref(),
        html: args.html.as_deref(),
        gate: &args.gate,
        own_judge: Some(capacity::merge::judge),
    };
    let result = runtime.block_on(async {
        let shutdown = super::run::listen(Messages::default());
        presence_bench::run::processes::run(commands, progress, &merge, shutdown).await
    });
    super::run::outcome(result)
}

/// Writes the effective scenario to `out/scenario.yaml` for the children to run, without its
/// headers (secrets, handed over in the environment by [`child_command`]).
fn write_effective_scenario(args: &RunArgs, out: &Path) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let (text, _) = presence_bench::scenario::effective_text(&args.scenario, &args.sets)?;
    let text = presence_bench::scenario::without_headers(&text);
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join("scenario.yaml");
    std::fs::write(&path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// The command line of shard `shard`: the subcommand with its own options, the parent's run
/// options, and the shard's. The run's
/// `headers` go in the environment (`--header`'s fallback): a command line is readable by
/// every user of the machine, a process's environment by its owner only.
fn child_command(
    exe: &Path,
    (args, subcommand): (&RunArgs, Subcommand<'_>),
    scenario: &Path,
    (shard, start_at): (Shard, SystemTime),
    out: &Path,
    metrics: Option<SocketAddr>,
    headers: &Headers,
) -> Command {
    let mut command = Command::new(exe);
    command.arg(subcommand.name).arg(scenario).arg("--quiet");
    command.args(subcommand.args);
    command.arg("--shard").arg(shard.to_string());
    command
        .arg("--start-at")
        .arg(humantime::format_rfc3339_nanos(start_at).to_string());
    command
        .arg("--start-tolerance")
        .arg(humantime::format_duration(args.split.start_tolerance).to_string());
    command.arg("--out").arg(out);
    let threads = args
        .threads
        .unwrap_or_else(|| runtime::threads_per_process(shard.count as usize));
    command.arg("--threads").arg(threads.to_string());
    if let Some(target) = args
        .target
        .as_deref()
        .and_then(|targets| shard_target(targets, shard))
    {
        command.arg("--target").arg(target);
    }
    if let Some(addr) = metrics {
        command.arg("--metrics-addr").arg(addr.to_string());
    }
    if let Some(run_id) = &args.split.run_id {
        command.arg("--run-id").arg(run_id.as_str());
    }
    if args.split.allow_distant_start {
        command.arg("--allow-distant-start");
    }
    command
        .arg("--log-interval")
        .arg(humantime::format_duration(args.log_interval).to_string());
    if let Some(linger) = args.metrics_linger {
        command
            .arg("--metrics-linger")
            .arg(humantime::format_duration(linger).to_string());
    }
    if headers.is_empty() {
        command.env_remove(super::run::HEADERS_ENV);
    } else {
        command.env(super::run::HEADERS_ENV, headers.to_lines());
    }
    command
}

/// Shard K's target out of a comma-separated `--target` list: the `K mod n`-th. Each shard
/// keeps its visitors and the agents that signal them on one server, so several servers that
/// share no state can take one run between them.
fn shard_target(targets: &str, shard: Shard) -> Option<&str> {
    let targets: Vec<&str> = targets
        .split(',')
        .map(str::trim)
        .filter(|target| !target.is_empty())
        .collect();
    (!targets.is_empty()).then(|| targets[shard.index as usize % targets.len()])
}

/// Each shard serves /metrics on its own port: the given one plus its index (0 stays 0).
fn shifted(addr: SocketAddr, index: u32) -> SocketAddr {
    match addr.port() {
        0 => addr,
        port => SocketAddr::new(addr.ip(), port.saturating_add(index as u16)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_dealt_out_to_the_shards() {
        let shard = |index| Shard { index, count: 3 };
        assert_eq!(
            shard_target("http://a:1, http://b:2", shard(0)),
            Some("http://a:1")
        );
        assert_eq!(
            shard_target("http://a:1, http://b:2", shard(1)),
            Some("http://b:2")
        );
        assert_eq!(
            shard_target("http://a:1, http://b:2", shard(2)),
            Some("http://a:1")
        );
        assert_eq!(shard_target("http://a:1", shard(2)), Some("http://a:1"));
        assert_eq!(shard_target(" , ", shard(0)), None);
    }
}
