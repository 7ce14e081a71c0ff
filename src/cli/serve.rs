//! `presence-bench serve`: runs the reference cluster until Ctrl-C or SIGTERM, then drains
//! it, for at most the drain window and the shutdown grace; a second signal stops it at once.
//!
//! With `--processes P` (more than 1) the cluster is partitioned by group over P child
//! processes behind one directory (`server::partition`); a child is this binary started
//! with the hidden `--partition-child`.

use std::future::Future;
use std::io::Write as _;
use std::time::Duration;

use anyhow::{anyhow, Context as _};

use presence_bench::server::partition::{self, ChildSpec, Partition, PartitionError};
use presence_bench::server::{Cluster, ServerError, Settings};
use presence_bench::shutdown::{Messages, Shutdown};

use super::Outcome;

/// Run the embedded reference Presence cluster.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub settings: Settings,

    /// Server processes, each a full cluster for its share of the groups (group G belongs
    /// to process G mod P), behind one directory. Each starts `--instances` instances.
    #[arg(long, default_value_t = 1)]
    pub processes: usize,

    /// Worker threads of this process's runtime (default: one per core). With --processes P
    /// each server process gets its share of the cores, at least one.
    #[arg(long, value_name = "N")]
    pub threads: Option<std::num::NonZeroUsize>,

    /// Internal: run as child process of a partitioned server (JSON of its spec).
    #[arg(long, hide = true)]
    pub partition_child: Option<String>,
}

pub fn run(args: ServeArgs) -> Outcome {
    // Before anything else: a process started again keeps nothing of this one. Then before the
    // runtime's workers start, each of which would otherwise keep an arena of its own.
    presence_bench::heap::without_thread_cache();
    presence_bench::heap::one_arena();
    let runtime = match presence_bench::runtime::build(args.threads)
        .context("cannot start the async runtime")
    {
        Ok(runtime) => runtime,
        Err(err) => return Outcome::NotCarriedOut(err),
    };
    let outcome = runtime.block_on(async {
        match (&args.partition_child, args.processes) {
            (Some(spec), _) => serve_child(spec).await,
            (None, 1) => serve(args.settings).await,
            (None, processes) => serve_partitioned(args.settings, processes).await,
        }
    });
    // Whatever a forced stop left running is dropped with the runtime, not waited for.
    runtime.shutdown_background();
    outcome
}

async fn serve(settings: Settings) -> Outcome {
    let shutdown = match listen() {
        Ok(shutdown) => shutdown,
        Err(outcome) => return outcome,
    };
    let bound = settings.drain_window + settings.shutdown_grace;
    let cluster = match Cluster::start(settings).await {
        Ok(cluster) => cluster,
        Err(err @ ServerError::InvalidSettings(_)) => return Outcome::InvalidInput(err.into()),
        Err(err) => return Outcome::NotCarriedOut(err.into()),
    };
    let mut said = String::new();
    for instance in cluster.instances() {
        said.push_str(&format!("instance {} {}\n", instance.server, instance.url));
    }
    said.push_str(&format!("directory {}\n", cluster.directory_url()));
    said.push_str(&format!("metrics {}/metrics\n", cluster.directory_url()));
    say(&said);
    until_stopped(shutdown, "the cluster", bound, cluster.shutdown()).await
}

/// Prints the addresses on stdout. A reader that went away (a script or a test that read the
/// directory line and closed the pipe) must not bring the server down, as `println!` would
/// when the next line hits the closed pipe.
fn say(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Waits for a signal, then for `drain` (bounded by `bound` by whoever made it), unless a
/// second signal comes first.
async fn until_stopped(
    shutdown: Shutdown,
    what: &str,
    bound: Duration,
    drain: impl Future<Output = ()>,
) -> Outcome {
    shutdown.stop.cancelled().await;
    eprintln!(
        "stopping: draining {what}, for at most {} (a second Ctrl-C or SIGTERM stops at once)",
        humantime::format_duration(bound)
    );
    tokio::select! {
        () = drain => Outcome::Passed,
        () = shutdown.force.cancelled() => {
            Outcome::NotCarriedOut(anyhow!(
                "stopped by a second signal before {what} had shut down"
            ))
        }
    }
}

async fn serve_partitioned(settings: Settings, processes: usize) -> Outcome {
    let shutdown = match listen() {
        Ok(shutdown) => shutdown,
        Err(outcome) => return outcome,
    };
    let program = match std::env::current_exe()
        .context("cannot find this program to start its server processes")
    {
        Ok(program) => program,
        Err(err) => return Outcome::NotCarriedOut(err),
    };
    let bound = settings.drain_window + settings.shutdown_grace;
    let partition = match Partition::start(&program, settings, processes).await {
        Ok(partition) => partition,
        Err(err @ (PartitionError::NoProcess | PartitionError::InvalidSettings(_))) => {
            return Outcome::InvalidInput(err.into())
        }
        Err(err) => return Outcome::NotCarriedOut(err.into()),
    };
    let mut said = String::new();
    for (index, pid) in partition.child_ids().into_iter().enumerate() {
        let pid = pid.map_or_else(|| "?".to_owned(), |pid| pid.to_string());
        said.push_str(&format!("process {index} pid {pid}\n"));
    }
    said.push_str(&format!(
        "{}{}\n",
        partition::DIRECTORY_LINE,
        partition.directory_url()
    ));
    said.push_str(&format!("metrics {}/metrics\n", partition.directory_url()));
    say(&said);
    until_stopped(
        shutdown,
        &format!("{processes} server processes"),
        bound,
        partition.shutdown(),
    )
    .await
}

/// The messages are `until_stopped`'s, which knows what is being drained.
fn listen() -> Result<Shutdown, Outcome> {
    Shutdown::on_signals(Messages::default())
        .context("cannot listen for Ctrl-C or SIGTERM")
        .map_err(Outcome::NotCarriedOut)
}

async fn serve_child(spec: &str) -> Outcome {
    let spec: ChildSpec = match serde_json::from_str(spec).context("invalid --partition-child") {
        Ok(spec) => spec,
        Err(err) => return Outcome::InvalidInput(err),
    };
    let shutdown = match listen() {
        Ok(shutdown) => shutdown,
        Err(outcome) => return outcome,
    };
    match partition::child::serve(spec, shutdown.stop).await {
        Ok(()) => Outcome::Passed,
        Err(err) => Outcome::NotCarriedOut(err.into()),
    }
}
