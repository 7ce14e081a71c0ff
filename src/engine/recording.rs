//! What records the run beside its load: the recorder, the harness's health monitor, the
//! collector feeding the observers each interval (with the Prometheus export), and the scraper
//! of the target's resources. Started before the first session opens, stopped once the load's
//! tasks are done, so that every sample counts and every interval is fed.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::reach::Reached;
use super::steer::Steering;
use super::{EngineOptions, HTTP_TIMEOUT};
use crate::measure::health::{HealthReport, Monitor};
use crate::measure::prometheus::TargetNow;
use crate::measure::server_resources;
use crate::measure::{collector, Recorder, Totals};
use crate::net::http_client::HttpClient;
use crate::scenario::{Load, Plan};
use crate::schema::ServerResources;
use crate::visitor::Closing;

/// The run's recording, while it goes.
pub struct Recording {
    /// Where every task of the run records its samples.
    pub recorder: Recorder,
    monitor: Monitor,
    collector: JoinHandle<Totals>,
    collector_stop: CancellationToken,
    scraper: Option<JoinHandle<ServerResources>>,
    scrape_stop: CancellationToken,
}

/// What the recording answers once stopped.
pub struct Recorded {
    pub totals: Totals,
    pub server_resources: Option<ServerResources>,
    pub health: HealthReport,
}

impl Recording {
    /// Starts recording the run that began at `started`, fed to `options`' observers.
    pub fn start(
        plan: &Plan,
        reached: &Reached,
        started: Instant,
        closing: &Closing,
        options: EngineOptions,
    ) -> Recording {
        let recorder =
            Recorder::with_behaviors(plan.behaviors.iter().map(|b| b.name.clone()).collect());
        let collector_stop = CancellationToken::new();
        let monitor = Monitor::start(started, closing.token(), options.health_rows);
        if let Some(health) = options.health {
            // Nobody waiting for it any more is no reason to stop the run.
            let _ = health.send(monitor.handle());
        }
        let mut observers = options.observers;
        if let Some(export) = options.export {
            // The embedded cluster's instances are known before any session opens there.
            let servers = reached
                .target
                .cluster
                .as_ref()
                .map(|cluster| cluster.instances())
                .unwrap_or_default();
            let export = export.with_servers(servers.iter().map(|info| info.server.as_str()));
            let export = export.with_health(monitor.handle());
            let export =
                export.with_target(visitor_target(plan.load.clone(), options.steering.clone()));
            observers.push(Box::new(export));
        }
        let collector = tokio::spawn(collector::collect(
            recorder.clone(),
            options.interval,
            observers,
            collector_stop.clone(),
        ));
        // The server's resources: from the scenario's metrics URL, or the embedded cluster's own.
        let metrics_url = plan.target.metrics_url.clone().or_else(|| {
            let cluster = reached.target.cluster.as_ref()?;
            Some(format!("{}/metrics", cluster.directory_url()))
        });
        let scrape_stop = CancellationToken::new();
        let scraper = metrics_url
            .filter(|_| options.shard.owns_drills())
            .map(|url| {
                let client = HttpClient::with_tls(HTTP_TIMEOUT, reached.tls.clone());
                let watched = server_resources::watch(
                    client,
                    (url, options.server_feed),
                    (started, plan.duration),
                    scrape_stop.clone(),
                );
                tokio::spawn(watched)
            });
        Recording {
            recorder,
            monitor,
            collector,
            collector_stop,
            scraper,
            scrape_stop,
        }
    }

    /// Stops the collector and the scraper, then the health monitor; answers what they
    /// recorded.
    pub async fn stop(self) -> Recorded {
        self.collector_stop.cancel();
        self.scrape_stop.cancel();
        let totals = self.collector.await.expect("the collector does not panic");
        let server_resources = match self.scraper {
            Some(scraper) => scraper.await.ok(),
            None => None,
        };
        let health = self.monitor.stop().await;
        Recorded {
            totals,
            server_resources,
            health,
        }
    }
}

/// The visitor target and stage index at each time into the run, for the exporter's gauges:
/// the load model's, except that a capacity search (`steering`) sets a closed model's level
/// while the run goes, and the target is that level, live, not the stages it replaces.
fn visitor_target(
    load: Load,
    steering: Option<Steering>,
) -> impl Fn(Duration) -> TargetNow + Send + 'static {
    move |elapsed| {
        let (target, stage) = load.target_and_stage(elapsed);
        let visitors = match (&steering, &load) {
            (Some(steering), Load::Stages(_)) => steering.level().round(),
            _ => f64::from(target),
        };
        TargetNow { visitors, stage }
    }
}
