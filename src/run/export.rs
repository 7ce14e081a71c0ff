//! The `/metrics` endpoint of a run: started before the load, kept up for `--metrics-linger`
//! after it so the last scrape is not lost, then stopped ("cancel, then await").

use std::net::SocketAddr;
use std::time::Duration;

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

/// Binds the endpoint and answers it with the exporter to hand to the engine.
/// A shard of a split run labels its series with its index.
pub async fn start(settings: MetricsExport, shard: Option<u32>) -> Result<(Endpoint, Exporter), ExportError> {
    let exporter = Exporter::for_shard(shard);
    let shutdown = CancellationToken::new();
    let (addr, task) =
        prometheus::serve(exporter.scrape(), settings.listen, shutdown.clone(), Bounds::default()).await?;
    eprintln!("metrics: serving http://{addr}/metrics");
    Ok((Endpoint { addr, linger: settings.linger, shutdown, task }, exporter))
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
