//! The `/metrics` endpoint of a run: started before the load, kept up for `--metrics-linger`
//! after it so the last scrape is not lost, then stopped ("cancel, then await").

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::measure::prometheus::{self, ExportError, Exporter};
use crate::protocol::http_server::Bounds;
use crate::scenario::MetricsExport;

/// A serving endpoint and the exporter the run feeds.
pub struct Endpoint {
    pub addr: SocketAddr,
    linger: Duration,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

/// Binds the endpoint and answers it with the exporter to hand to the engine. Every series
/// carries `run="ID"`; a shard of a split run also labels its series with its index.
pub async fn start(
    settings: MetricsExport,
    run: &str,
    shard: Option<u32>,
) -> Result<(Endpoint, Exporter), ExportError> {
    let exporter = Exporter::labelled(Some(run), shard);
    let shutdown = CancellationToken::new();
    let (addr, task) =
        prometheus::serve(exporter.scrape(), settings.listen, shutdown.clone(), Bounds::default()).await?;
    eprintln!("metrics: serving http://{addr}/metrics");
    eprintln!("metrics: every series labelled run=\"{run}\"");
    Ok((Endpoint { addr, linger: settings.linger, shutdown, task }, exporter))
}

/// The run's id on its Prometheus series: the scenario's name and the start of its schedule,
/// to the second (`quickstart@2026-12-01T17:00:00Z`). The shards of a split run start at one
/// agreed instant (`--start-at`, which `run --processes` sets), so they share it.
pub fn run_id(name: &str, start: SystemTime) -> String {
    format!("{name}@{}", humantime::format_rfc3339_seconds(start))
}

impl Endpoint {
    /// Keeps serving for the linger time (cut short by `stop`), then stops the endpoint.
    pub async fn finish(self, stop: &CancellationToken) {
        if !self.linger.is_zero() && !stop.is_cancelled() {
            eprintln!(
                "metrics: still serving http://{}/metrics for {} (Ctrl-C to stop)",
                self.addr,
                humantime::format_duration(self.linger)
            );
            tokio::select! {
                () = tokio::time::sleep(self.linger) => {}
                () = stop.cancelled() => {}
            }
        }
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_is_the_name_and_the_start_to_the_second() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_796_144_400_250);
        assert_eq!(run_id("autoscale-drill", start), "autoscale-drill@2026-12-01T17:00:00Z");
        // To the second: the id does not carry the milliseconds of the start.
        assert_eq!(run_id("autoscale-drill", start), run_id("autoscale-drill", start + Duration::from_millis(500)));
    }
}
