//! The `/metrics` endpoint of a run: started before the load, kept up for `--metrics-linger`
//! after it so the last scrape is not lost, then stopped ("cancel, then await").

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use axum::http::header;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::measure::prometheus::{Exporter, Scrape};
use crate::net::serve::{self, Bounds};
use crate::scenario::MetricsExport;
use crate::wire::Transport;

/// Why the metrics endpoint could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

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
    let exporter =
        Exporter::labelled(Some(run), shard).with_transports(Transport::ALL.map(Transport::name));
    let shutdown = CancellationToken::new();
    let (addr, task) = serve(
        exporter.scrape(),
        settings.listen,
        shutdown.clone(),
        Bounds::default(),
    )
    .await?;
    eprintln!("metrics: serving http://{addr}/metrics");
    eprintln!("metrics: every series labelled run=\"{run}\"");
    Ok((
        Endpoint {
            addr,
            linger: settings.linger,
            shutdown,
            task,
        },
        exporter,
    ))
}

/// Serves `GET /metrics` on `addr` (port 0 picks a free one) until `stop`; answers the
/// bound address and the server task to await after cancelling, which ends within
/// `bounds.grace` whatever the scrapers do.
async fn serve(
    scrape: Scrape,
    addr: SocketAddr,
    stop: CancellationToken,
    bounds: Bounds,
) -> Result<(SocketAddr, JoinHandle<()>), ExportError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ExportError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ExportError::Bind { addr, source })?;
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let scrape = scrape.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    scrape.render(),
                )
            }
        }),
    );
    let task = tokio::spawn(serve::serve(listener, router, stop, bounds));
    Ok((bound, task))
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
        assert_eq!(
            run_id("autoscale-drill", start),
            "autoscale-drill@2026-12-01T17:00:00Z"
        );
        // To the second: the id does not carry the milliseconds of the start.
        assert_eq!(
            run_id("autoscale-drill", start),
            run_id("autoscale-drill", start + Duration::from_millis(500))
        );
    }

    #[tokio::test]
    async fn the_endpoint_stops_within_its_grace_with_a_scraper_stuck_mid_request() {
        use tokio::io::AsyncWriteExt;
        let stop = CancellationToken::new();
        let bounds = Bounds {
            header_read_timeout: Duration::from_secs(3600),
            grace: Duration::from_millis(200),
        };
        let (addr, task) = serve(
            Exporter::new().scrape(),
            "127.0.0.1:0".parse().unwrap(),
            stop.clone(),
            bounds,
        )
        .await
        .unwrap();
        let mut stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
        stuck
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the endpoint stops")
            .unwrap();
    }
}
