//! `presence-bench serve`: runs the reference cluster until Ctrl-C or SIGTERM, then drains it.

use anyhow::Context as _;

use presence_bench::server::{Cluster, ServerError, Settings};

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
    runtime.block_on(serve(args.settings))
}

async fn serve(settings: Settings) -> Outcome {
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
    let stopped = stop_requested().await.context("cannot listen for Ctrl-C or SIGTERM");
    cluster.shutdown().await;
    match stopped {
        Ok(()) => Outcome::Passed,
        Err(err) => Outcome::NotCarriedOut(err),
    }
}

/// Completes on Ctrl-C, or on SIGTERM where there is one (how containers and CI stop us).
async fn stop_requested() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
