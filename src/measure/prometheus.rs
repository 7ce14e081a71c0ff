//! Prometheus export, off the hot path. Visitors keep recording through `Recorder` only;
//! once per interval the collector hands what it drained to the [`Exporter`] (one of its observers), which
//! pushes counter deltas, gauge values and each latency histogram (bucketed from the
//! interval's HdrHistogram with `record_many`) into a `metrics` recorder from
//! metrics-exporter-prometheus. That recorder is private to the run, not the process-wide
//! global one, so runs in one process (tests, the embedded server) never mix.
//!
//! [`serve`] answers `GET /metrics` with the rendered text on an address of the user's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::routing::get;
use axum::Router;
use hdrhistogram::Histogram;
use metrics::{Key, Label, Level, Metadata, Recorder as _};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::health::HealthHandle;
use super::metric::{Check, Counter, Metric, Tally};
use super::names::{self, Kind};
use super::observer::{done, IntervalObserver, Observed, Snapshot};
use super::recorder::Shard;
use crate::protocol::http_server::{self, Bounds};
use crate::scenario::Load;

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Why the metrics endpoint could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot listen for metrics on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// The run's Prometheus registry and the handles `publish` updates.
pub struct Exporter {
    recorder: PrometheusRecorder,
    scrape: Scrape,
    latency: Vec<metrics::Histogram>,
    /// Service times of the requests (index = `Metric::service_index`).
    service: Vec<metrics::Histogram>,
    counters: Vec<metrics::Counter>,
    errors: BTreeMap<&'static str, metrics::Counter>,
    tallies: BTreeMap<(Tally, &'static str), metrics::Counter>,
    /// One series per delivery check (index = `Check::index`).
    checks: Vec<metrics::Counter>,
    visitors_live: metrics::Gauge,
    visitors_target: metrics::Gauge,
    stage: metrics::Gauge,
    elapsed: metrics::Gauge,
    rss: metrics::Gauge,
    open_fds: metrics::Gauge,
    machine_busy: metrics::Gauge,
    machine_steal: metrics::Gauge,
    lag: metrics::Histogram,
    lag_max: metrics::Gauge,
    load: Option<Load>,
    health: Option<HealthHandle>,
}

/// What the HTTP endpoint renders: the registry, plus the process CPU counter, which is
/// fractional seconds and so beyond the `metrics` crate's integer counters.
#[derive(Clone)]
pub struct Scrape {
    handle: PrometheusHandle,
    cpu_micros: Arc<AtomicU64>,
    /// `{shard="K"}` for a shard of a split run, which the registry adds to its own series.
    labels: String,
}

impl Scrape {
    /// The Prometheus text format of everything exported so far.
    pub fn render(&self) -> String {
        let mut text = self.handle.render();
        let cpu = self.cpu_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let help = names::harness_family(names::CPU).map_or("", |family| family.help);
        text.push_str(&format!("# HELP {0} {help}\n# TYPE {0} counter\n{0}{1} {cpu}\n", names::CPU, self.labels));
        text
    }
}

impl Default for Exporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Exporter {
    /// A registry with every harness family registered (labelled ones for their known labels).
    pub fn new() -> Exporter {
        Exporter::for_shard(None)
    }

    /// As [`Exporter::new`]; shard K of a split run labels every series `shard="K"`, so that
    /// dashboards sum the shards (histogram buckets summed, never quantiles averaged).
    pub fn for_shard(shard: Option<u32>) -> Exporter {
        let builder = PrometheusBuilder::new();
        let (builder, shard_labels) = match shard {
            Some(index) => (
                builder.add_global_label(names::SHARD_LABEL, index.to_string()),
                format!("{{{}=\"{index}\"}}", names::SHARD_LABEL),
            ),
            None => (builder, String::new()),
        };
        let latency_buckets = names::latency_buckets();
        let recorder = builder
            .set_buckets_for_metric(Matcher::Full(names::LATENCY.into()), &latency_buckets)
            .and_then(|builder| builder.set_buckets_for_metric(Matcher::Full(names::SERVICE.into()), &latency_buckets))
            .and_then(|builder| builder.set_buckets_for_metric(Matcher::Full(names::LAG.into()), names::LAG_BUCKETS))
            .expect("constant bucket lists are not empty")
            .build_recorder();
        for family in names::HARNESS.iter().filter(|family| family.name != names::CPU) {
            let (name, help) = (family.name.into(), family.help.into());
            match family.kind {
                Kind::Counter => recorder.describe_counter(name, None, help),
                Kind::Gauge => recorder.describe_gauge(name, None, help),
                Kind::Histogram => recorder.describe_histogram(name, None, help),
            }
        }
        let scrape =
            Scrape { handle: recorder.handle(), cpu_micros: Arc::new(AtomicU64::new(0)), labels: shard_labels };
        let gauge = |name: &'static str| recorder.register_gauge(&Key::from_static_name(name), &METADATA);
        let mut exporter = Exporter {
            latency: per_metric(&recorder, names::LATENCY, &Metric::ALL),
            service: per_metric(&recorder, names::SERVICE, &Metric::REQUESTS),
            counters: Counter::ALL
                .iter()
                .map(|counter| {
                    recorder.register_counter(&Key::from_static_name(names::counter_family(*counter)), &METADATA)
                })
                .collect(),
            checks: Check::ALL
                .iter()
                .map(|check| {
                    let key = Key::from_static_parts(names::CHECK_VIOLATIONS, labels("check", check.name()));
                    recorder.register_counter(&key, &METADATA)
                })
                .collect(),
            errors: BTreeMap::new(),
            tallies: BTreeMap::new(),
            visitors_live: gauge(names::VISITORS_LIVE),
            visitors_target: gauge(names::VISITORS_TARGET),
            stage: gauge(names::STAGE),
            elapsed: gauge(names::ELAPSED),
            rss: gauge(names::RSS),
            open_fds: gauge(names::OPEN_FDS),
            machine_busy: gauge(names::MACHINE_BUSY),
            machine_steal: gauge(names::MACHINE_STEAL),
            lag: recorder.register_histogram(&Key::from_static_name(names::LAG), &METADATA),
            lag_max: gauge(names::LAG_MAX),
            recorder,
            scrape,
            load: None,
            health: None,
        };
        for kind in names::ERROR_KINDS {
            exporter.error(kind.as_str());
        }
        for kind in names::DRILL_KINDS {
            exporter.tally(Tally::DrillEvent, kind);
        }
        for outcome in names::RECONNECT_OUTCOMES {
            exporter.tally(Tally::ReconnectAttempt, outcome);
        }
        for transport in crate::protocol::client::Transport::ALL {
            for tally in [Tally::TransportVisitor, Tally::TransportSession, Tally::TransportError] {
                exporter.tally(tally, transport.name());
            }
        }
        exporter
    }

    /// The load model, for the visitor target and stage gauges.
    pub fn with_load(mut self, load: Load) -> Self {
        self.load = Some(load);
        self
    }

    /// The health monitor, for the process and scheduling-lag families.
    pub fn with_health(mut self, health: HealthHandle) -> Self {
        self.health = Some(health);
        self
    }

    /// What the HTTP endpoint serves.
    pub fn scrape(&self) -> Scrape {
        self.scrape.clone()
    }

    /// Pushes one interval's samples and the current gauges into the registry.
    pub(crate) fn publish(&mut self, interval: &Shard, elapsed: Duration, visitors_live: i64) {
        for (metric, histogram) in Metric::ALL.iter().zip(&interval.histograms) {
            record_micros(&self.latency[metric.index()], histogram);
        }
        for (family, histogram) in self.service.iter().zip(&interval.service) {
            record_micros(family, histogram);
        }
        for (counter, delta) in self.counters.iter().zip(interval.counters) {
            counter.increment(delta);
        }
        for (kind, n) in &interval.errors {
            self.error(kind).increment(*n);
        }
        for (counter, delta) in self.checks.iter().zip(interval.checks) {
            counter.increment(delta);
        }
        for ((tally, label), n) in &interval.tallies {
            self.tally(*tally, label).increment(*n);
        }
        self.visitors_live.set(visitors_live as f64);
        self.elapsed.set(elapsed.as_secs_f64());
        if let Some(load) = &self.load {
            let (target, stage) = target_and_stage(load, elapsed);
            self.visitors_target.set(f64::from(target));
            self.stage.set(stage as f64);
        }
        if let Some(health) = &self.health {
            let process = health.process();
            self.scrape.cpu_micros.store((process.cpu_seconds * 1e6) as u64, Ordering::Relaxed);
            self.rss.set(process.rss_bytes as f64);
            self.open_fds.set(process.open_fds as f64);
            if let Some(machine) = health.machine() {
                self.machine_busy.set(machine.busy);
                self.machine_steal.set(machine.steal);
            }
            let lag = health.take_lag_interval();
            record_micros(&self.lag, &lag);
            self.lag_max.set(if lag.is_empty() { 0.0 } else { lag.max() as f64 / 1e6 });
        }
        self.scrape.handle.run_upkeep();
    }

    fn error(&mut self, kind: &'static str) -> &metrics::Counter {
        let recorder = &self.recorder;
        self.errors.entry(kind).or_insert_with(|| {
            recorder.register_counter(&Key::from_static_parts(names::ERRORS, labels("kind", kind)), &METADATA)
        })
    }

    fn tally(&mut self, tally: Tally, label: &'static str) -> &metrics::Counter {
        let recorder = &self.recorder;
        self.tallies.entry((tally, label)).or_insert_with(|| {
            let (family, label_name) = match tally {
                Tally::DrillEvent => (names::DRILL_EVENTS, "kind"),
                Tally::MessageSent => (names::MESSAGES_SENT_BY_TYPE, "type"),
                Tally::MessageReceived => (names::MESSAGES_RECEIVED_BY_TYPE, "type"),
                Tally::SessionOpened => (names::SESSIONS_OPENED_BY_SERVER, "server"),
                Tally::SessionLost => (names::SESSIONS_LOST_BY_SERVER, "server"),
                Tally::ReconnectAttempt => (names::RECONNECT_ATTEMPTS, "outcome"),
                Tally::TransportVisitor => (names::VISITORS_BY_TRANSPORT, "transport"),
                Tally::TransportSession => (names::SESSIONS_OPENED_BY_TRANSPORT, "transport"),
                Tally::TransportError => (names::ERRORS_BY_TRANSPORT, "transport"),
            };
            recorder.register_counter(&Key::from_static_parts(family, labels(label_name, label)), &METADATA)
        })
    }
}

/// One histogram of `family` per metric, labelled with its name.
fn per_metric(recorder: &PrometheusRecorder, family: &'static str, metrics: &[Metric]) -> Vec<metrics::Histogram> {
    let key = |metric: &Metric| Key::from_static_parts(family, labels("metric", metric.name()));
    metrics.iter().map(|metric| recorder.register_histogram(&key(metric), &METADATA)).collect()
}

fn labels(name: &'static str, value: &'static str) -> &'static [Label] {
    // Registration happens once per label value (a handful per run), so leaking the one-element
    // slice that `Key::from_static_parts` wants costs a few bytes per family, once.
    Box::leak(Box::new([Label::from_static_parts(name, value)]))
}

/// Adds an HdrHistogram of microseconds to a Prometheus histogram in seconds.
fn record_micros(into: &metrics::Histogram, histogram: &Histogram<u64>) {
    for value in histogram.iter_recorded() {
        let count = usize::try_from(value.count_at_value()).unwrap_or(usize::MAX);
        into.record_many(value.value_iterated_to() as f64 / 1e6, count);
    }
}

/// Visitors the load model asks for `elapsed` into the run, and the index of its stage.
pub fn target_and_stage(load: &Load, elapsed: Duration) -> (u32, usize) {
    (load.target_at(elapsed).unwrap_or_else(|| load.peak_visitors()), load.stage_at(elapsed))
}

/// Serves `GET /metrics` on `addr` (port 0 picks a free one) until `stop`; answers the
/// bound address and the server task to await after cancelling, which ends within
/// `bounds.grace` whatever the scrapers do.
pub async fn serve(
    scrape: Scrape,
    addr: SocketAddr,
    stop: CancellationToken,
    bounds: Bounds,
) -> Result<(SocketAddr, JoinHandle<()>), ExportError> {
    let listener = TcpListener::bind(addr).await.map_err(|source| ExportError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ExportError::Bind { addr, source })?;
    let router = Router::new().route(
        "/metrics",
        get(move || {
            let scrape = scrape.clone();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], scrape.render()) }
        }),
    );
    let task = tokio::spawn(http_server::serve(listener, router, stop, bounds));
    Ok((bound, task))
}

/// The export is one of the collector's outputs.
impl IntervalObserver for Exporter {
    fn observe<'a>(&'a mut self, snapshot: &'a Snapshot<'_>) -> Observed<'a> {
        self.publish(snapshot.interval, snapshot.elapsed, snapshot.visitors_live);
        done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Recorder;
    use crate::scenario::Stage;

    #[test]
    fn a_shard_labels_every_series_with_its_index() {
        let mut exporter = Exporter::for_shard(Some(2));
        let recorder = Recorder::new();
        recorder.latency(Metric::PresenceAck, Duration::from_millis(3));
        let interval = recorder.drain();
        exporter.publish(&interval, Duration::from_secs(1), 1);
        let text = exporter.scrape().render();
        let samples: Vec<&str> = text.lines().filter(|line| !line.starts_with('#') && !line.is_empty()).collect();
        assert!(samples.iter().any(|line| line.starts_with(names::LATENCY)), "{text}");
        assert!(samples.iter().all(|line| line.contains("shard=\"2\"")), "{text}");
    }

    #[test]
    fn an_interval_becomes_buckets_counters_and_labelled_series() {
        let mut exporter = Exporter::new();
        let recorder = Recorder::new();
        for ms in [1, 3, 40] {
            recorder.latency(Metric::PresenceAck, Duration::from_millis(ms));
        }
        recorder.count(Counter::MessagesSent, 7);
        recorder.error(crate::measure::ErrorKind::ReplyTimeout);
        recorder.violation(Check::SignalsLost);
        let interval = recorder.drain();
        exporter.publish(&interval, Duration::from_secs(2), 5);
        let text = exporter.scrape().render();
        let series = |prefix: &str| text.lines().find(|line| line.starts_with(prefix)).map(str::to_owned);
        assert_eq!(
            series("presence_bench_messages_sent_total ").as_deref(),
            Some("presence_bench_messages_sent_total 7")
        );
        assert!(series("presence_bench_errors_total{kind=\"reply_timeout\"} 1").is_some(), "{text}");
        assert!(series("presence_bench_check_violations_total{check=\"signals_lost\"} 1").is_some());
        assert!(series("presence_bench_check_violations_total{check=\"blur_misrouted\"} 0").is_some());
        // Buckets 10^(1/26) apart: 2.89 and 3.16 ms are bounds, 5 ms no longer is.
        let le = |bound: &str, n: u32| {
            format!("presence_bench_latency_seconds_bucket{{metric=\"presence_ack\",le=\"{bound}\"}} {n}")
        };
        assert!(series(&le("0.00289", 1)).is_some(), "{text}");
        assert!(series(&le("0.00316", 2)).is_some(), "{text}");
        assert!(series(&le("0.0412", 3)).is_some(), "{text}");
        assert!(series("presence_bench_visitors_live 5").is_some());
    }

    #[tokio::test]
    async fn the_endpoint_stops_within_its_grace_with_a_scraper_stuck_mid_request() {
        use tokio::io::AsyncWriteExt;
        let stop = CancellationToken::new();
        let bounds = Bounds { header_read_timeout: Duration::from_secs(3600), grace: Duration::from_millis(200) };
        let (addr, task) =
            serve(Exporter::new().scrape(), "127.0.0.1:0".parse().unwrap(), stop.clone(), bounds).await.unwrap();
        let mut stuck = tokio::net::TcpStream::connect(addr).await.unwrap();
        stuck.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("the endpoint stops").unwrap();
    }

    #[test]
    fn target_and_stage_follow_the_stages() {
        let load = Load::Stages(vec![
            Stage { from: 0, to: 100, over: Duration::from_secs(10) },
            Stage { from: 100, to: 100, over: Duration::from_secs(10) },
        ]);
        assert_eq!(target_and_stage(&load, Duration::from_secs(5)), (50, 0));
        assert_eq!(target_and_stage(&load, Duration::from_secs(15)), (100, 1));
        assert_eq!(target_and_stage(&load, Duration::from_secs(25)), (100, 1));
    }
}
