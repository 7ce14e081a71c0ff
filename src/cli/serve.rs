//! `presence-bench serve`: runs the reference cluster until Ctrl-C or SIGTERM, then drains
//! it, for at most the drain window and the shutdown grace; a second signal stops it at once.

use anyhow::{anyhow, Context as _};

use presence_bench::server::{Cluster, ServerError, Settings};

use super::signals::Stops;
use super::Outcome;

/// Run the embedded reference Presence cluster.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub settings: Settings,
}

pub fn run(args: ServeArgs) -> Outcome {
    let runtime = match tokio::runtime::Runtime::new().context("cannot start the async runtime") {
        Ok(runtime) => runtime,
        Err(err) => return Outcome::NotCarriedOut(err),
    };
    let outcome = runtime.block_on(serve(args.settings));
    // Whatever a forced stop left running is dropped with the runtime, not waited for.
    runtime.shutdown_background();
    outcome
}

async fn serve(settings: Settings) -> Outcome {
    let mut stops = match Stops::listen().context("cannot listen for Ctrl-C or SIGTERM") {
        Ok(stops) => stops,
        Err(err) => return Outcome::NotCarriedOut(err),
    };
    let bound = settings.drain_window + settings.shutdown_grace;
    let cluster = match Cluster::start(settings).await {
        Ok(cluster) => cluster,
        Err(err @ ServerError::InvalidSettings(_)) => return Outcome::InvalidInput(err.into()),
        Err(err) => return Outcome::NotCarriedOut(err.into()),
    };
    for instance in cluster.instances() {
        println!("instance {} {}", instance.server, instance.url);
    }
    println!("directory {}", cluster.directory_url());
    println!("metrics {}/metrics", cluster.directory_url());
    stops.next().await;
    eprintln!(
        "stopping: draining the cluster, for at most {} (a second Ctrl-C or SIGTERM stops at once)",
        humantime::format_duration(bound)
    );
    tokio::select! {
        () = cluster.shutdown() => Outcome::Passed,
        () = stops.next() => Outcome::NotCarriedOut(anyhow!("stopped by a second signal before the cluster had shut down")),
    }
}
