//! Prometheus export, off the hot path. Visitors keep recording through `Recorder` only;
//! once per interval the collector hands what it drained to the [`Exporter`] (one of its
//! observers), which pushes counter deltas, gauge values and each latency histogram (bucketed from
//! the interval's HdrHistogram with `record_many`) into a `metrics` recorder from
//! metrics-exporter-prometheus. That recorder is private to the run, not the process-wide
//! global one, so runs in one process (tests, the embedded server) never mix.
//!
//! `run::export` serves the rendered text ([`Scrape::render`]) as `GET /metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use metrics::{Key, Label, Recorder as _};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::health::HealthHandle;
use super::held::{HeldCounter, HeldHistogram, LazyGauge};
use super::metric::{Check, Counter, Metric, Tally};
use super::names::{self, Kind};
use super::observer::{done, IntervalObserver, Observed, Snapshot};
use super::recorder::Recorded;
use crate::wire::{ClientMessage, ServerMessage};

/// The run's Prometheus registry and the handles `publish` updates.
///
/// Every counter and histogram is registered at zero before anything is counted, for every
/// label value known in advance (metrics, error kinds, checks, message types, drill kinds,
/// outcomes, transports); a server's pair of session counters as soon as the harness learns
/// of the server (the embedded cluster's instances, a scale-out's answer, the first session
/// opened there). See `held` for why each is first shown at zero.
pub struct Exporter {
    recorder: PrometheusRecorder,
    scrape: Scrape,
    latency: Vec<HeldHistogram>,
    /// Service times of the requests (index = `Metric::service_index`).
    service: Vec<HeldHistogram>,
    counters: Vec<HeldCounter>,
    errors: BTreeMap<&'static str, HeldCounter>,
    tallies: BTreeMap<(Tally, &'static str), HeldCounter>,
    /// One series per delivery check (index = `Check::index`).
    checks: Vec<HeldCounter>,
    visitors_live: LazyGauge,
    visitors_target: LazyGauge,
    stage: LazyGauge,
    elapsed: LazyGauge,
    rss: LazyGauge,
    open_fds: LazyGauge,
    machine_busy: LazyGauge,
    machine_steal: LazyGauge,
    lag: HeldHistogram,
    lag_max: LazyGauge,
    /// The load asked for at a time into the run.
    target: Option<Box<TargetAt>>,
    health: Option<HealthHandle>,
}

/// The visitors the run asks for at one time into it, and the index of its stage (the
/// `visitors_target` and `stage` gauges).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetNow {
    pub visitors: f64,
    pub stage: usize,
}

/// Where the exporter reads the target at each time into the run.
type TargetAt = dyn Fn(Duration) -> TargetNow + Send;

/// What the HTTP endpoint renders: the registry, plus the process CPU counter, which is
/// fractional seconds and so beyond the `metrics` crate's integer counters.
#[derive(Clone)]
pub struct Scrape {
    handle: PrometheusHandle,
    cpu_micros: Arc<AtomicU64>,
    /// The run's labels (`{run="...",shard="K"}`), which the registry adds to its own series.
    labels: String,
    /// Scrapes rendered so far. Locked for a whole render and a whole publish, so that a
    /// scrape never sees half an interval and a series registered during a publish is in
    /// every scrape counted after it (`held`).
    shown: Arc<Mutex<u64>>,
}

impl Scrape {
    /// The Prometheus text format of everything exported so far.
    pub fn render(&self) -> String {
        let mut shown = lock(&self.shown);
        let mut text = self.handle.render();
        let cpu = self.cpu_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let help = names::harness_family(names::CPU).map_or("", |family| family.help);
        text.push_str(&format!(
            "# HELP {0} {help}\n# TYPE {0} counter\n{0}{1} {cpu}\n",
            names::CPU,
            self.labels
        ));
        *shown += 1;
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
        Exporter::labelled(None, None)
    }

    /// As [`Exporter::new`], with the run's labels on every series: `run="ID"` tells runs apart
    /// on one Prometheus, and shard K of a split run adds `shard="K"`, so that dashboards sum
    /// the shards (histogram buckets summed, never quantiles averaged).
    pub fn labelled(run: Option<&str>, shard: Option<u32>) -> Exporter {
        let mut builder = PrometheusBuilder::new();
        let mut global = Vec::new();
        if let Some(run) = run {
            builder = builder.add_global_label(names::RUN_LABEL, run);
            global.push((names::RUN_LABEL, run.to_owned()));
        }
        if let Some(index) = shard {
            builder = builder.add_global_label(names::SHARD_LABEL, index.to_string());
            global.push((names::SHARD_LABEL, index.to_string()));
        }
        let labels = if global.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = global
                .iter()
                .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
                .collect();
            format!("{{{}}}", pairs.join(","))
        };
        let latency_buckets = names::latency_buckets();
        let recorder = builder
            .set_buckets_for_metric(Matcher::Full(names::LATENCY.into()), &latency_buckets)
            .and_then(|builder| {
                builder
                    .set_buckets_for_metric(Matcher::Full(names::SERVICE.into()), &latency_buckets)
            })
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Full(names::LAG.into()), names::LAG_BUCKETS)
            })
            .expect("constant bucket lists are not empty")
            .build_recorder();
        for family in names::HARNESS
            .iter()
            .filter(|family| family.name != names::CPU)
        {
            let (name, help) = (family.name.into(), family.help.into());
            match family.kind {
                Kind::Counter => recorder.describe_counter(name, None, help),
                Kind::Gauge => recorder.describe_gauge(name, None, help),
                Kind::Histogram => recorder.describe_histogram(name, None, help),
            }
        }
        let scrape = Scrape {
            handle: recorder.handle(),
            cpu_micros: Arc::default(),
            labels,
            shown: Arc::new(Mutex::new(0)),
        };
        // Nothing has been scraped yet: every series below is registered before the first scrape.
        let counter = |key: &Key| HeldCounter::register(&recorder, key, 0);
        let mut exporter = Exporter {
            latency: per_metric(&recorder, names::LATENCY, &Metric::ALL),
            service: per_metric(&recorder, names::SERVICE, &Metric::REQUESTS),
            counters: Counter::ALL
                .iter()
                .map(|c| counter(&Key::from_static_name(names::counter_family(*c))))
                .collect(),
            checks: Check::ALL
                .iter()
                .map(|check| {
                    counter(&Key::from_static_parts(
                        names::CHECK_VIOLATIONS,
                        labels_of("check", check.name()),
                    ))
                })
                .collect(),
            errors: BTreeMap::new(),
            tallies: BTreeMap::new(),
            visitors_live: LazyGauge::new(names::VISITORS_LIVE),
            visitors_target: LazyGauge::new(names::VISITORS_TARGET),
            stage: LazyGauge::new(names::STAGE),
            elapsed: LazyGauge::new(names::ELAPSED),
            rss: LazyGauge::new(names::RSS),
            open_fds: LazyGauge::new(names::OPEN_FDS),
            machine_busy: LazyGauge::new(names::MACHINE_BUSY),
            machine_steal: LazyGauge::new(names::MACHINE_STEAL),
            lag: HeldHistogram::register(&recorder, &Key::from_static_name(names::LAG), 0),
            lag_max: LazyGauge::new(names::LAG_MAX),
            recorder,
            scrape,
            target: None,
            health: None,
        };
        for kind in crate::measure::ErrorKind::ALL {
            exporter.error(kind.as_str(), 0);
        }
        for kind in names::DRILL_KINDS {
            exporter.tally(Tally::DrillEvent, kind, 0);
        }
        for outcome in names::RECONNECT_OUTCOMES {
            exporter.tally(Tally::ReconnectAttempt, outcome, 0);
        }
        for kind in ClientMessage::TYPES {
            exporter.tally(Tally::MessageSent, kind, 0);
        }
        for kind in ServerMessage::TYPES {
            exporter.tally(Tally::MessageReceived, kind, 0);
        }
        exporter
    }

    /// The transports a run may use (the `transport` label's values): their counters are
    /// exported at zero from now on.
    pub fn with_transports(mut self, transports: impl IntoIterator<Item = &'static str>) -> Self {
        let shown = self.scrape.shown.clone();
        let shown = *lock(&shown);
        for transport in transports {
            for tally in [
                Tally::TransportVisitor,
                Tally::TransportSession,
                Tally::TransportError,
            ] {
                self.tally(tally, transport, shown);
            }
        }
        self
    }

    /// The visitor target and the index of the stage at each time into the run, for the
    /// target and stage gauges (the engine's: the load model, or a capacity search's level).
    pub fn with_target(mut self, target: impl Fn(Duration) -> TargetNow + Send + 'static) -> Self {
        self.target = Some(Box::new(target));
        self
    }

    /// The health monitor, for the process and scheduling-lag families.
    pub fn with_health(mut self, health: HealthHandle) -> Self {
        self.health = Some(health);
        self
    }

    /// Servers known before any session opens (the embedded cluster's instances): their
    /// session counters are exported at zero from now on.
    pub fn with_servers<'a>(mut self, servers: impl IntoIterator<Item = &'a str>) -> Self {
        let shown = self.scrape.shown.clone();
        let shown = *lock(&shown);
        for server in servers {
            self.server(super::label::intern(server), shown);
        }
        self
    }

    /// What the HTTP endpoint serves.
    pub fn scrape(&self) -> Scrape {
        self.scrape.clone()
    }

    /// Pushes one interval's samples and the current gauges into the registry.
    pub(crate) fn publish(&mut self, interval: &Recorded, elapsed: Duration, visitors_live: i64) {
        let shown = self.scrape.shown.clone();
        let shown = lock(&shown);
        let seen = *shown;
        for (metric, histogram) in Metric::ALL.iter().zip(&interval.histograms) {
            self.latency[metric.index()].add(histogram, seen);
        }
        for (family, histogram) in self.service.iter_mut().zip(&interval.service) {
            family.add(histogram, seen);
        }
        for (counter, delta) in self.counters.iter_mut().zip(interval.counters) {
            counter.add(delta, seen);
        }
        for (kind, n) in &interval.errors {
            self.error(kind, seen).add(*n, seen);
        }
        for (counter, delta) in self.checks.iter_mut().zip(interval.checks) {
            counter.add(delta, seen);
        }
        for (&(tally, label), &n) in &interval.tallies {
            match tally {
                Tally::ServerSeen => self.server(label, seen),
                Tally::SessionOpened | Tally::SessionLost => {
                    self.server(label, seen);
                    self.tally(tally, label, seen).add(n, seen);
                }
                _ => self.tally(tally, label, seen).add(n, seen),
            }
        }
        // What a labelled series held before its first scrape goes out even in an interval
        // that counted nothing more for it.
        for counter in self.errors.values_mut().chain(self.tallies.values_mut()) {
            counter.add(0, seen);
        }
        let recorder = &self.recorder;
        self.visitors_live.set(recorder, visitors_live as f64);
        self.elapsed.set(recorder, elapsed.as_secs_f64());
        if let Some(target) = &self.target {
            let now = target(elapsed);
            self.visitors_target.set(recorder, now.visitors);
            self.stage.set(recorder, now.stage as f64);
        }
        if let Some(health) = &self.health {
            let process = health.process();
            // Held as the other counters are: the first scrape reads 0 and the next the total.
            if seen > 0 {
                self.scrape
                    .cpu_micros
                    .store((process.cpu_seconds * 1e6) as u64, Ordering::Relaxed);
            }
            // 0 is "not read" (no /proc), never a measured figure.
            if process.rss_bytes > 0 {
                self.rss.set(recorder, process.rss_bytes as f64);
            }
            if process.open_fds > 0 {
                self.open_fds.set(recorder, process.open_fds as f64);
            }
            if let Some(machine) = health.machine() {
                self.machine_busy.set(recorder, machine.busy);
                self.machine_steal.set(recorder, machine.steal);
            }
            let lag = health.take_lag_interval();
            self.lag.add(&lag, seen);
            if !lag.is_empty() {
                self.lag_max.set(recorder, lag.max() as f64 / 1e6);
            }
        }
        self.scrape.handle.run_upkeep();
        drop(shown);
    }

    fn error(&mut self, kind: &'static str, shown: u64) -> &mut HeldCounter {
        let recorder = &self.recorder;
        self.errors.entry(kind).or_insert_with(|| {
            HeldCounter::register(
                recorder,
                &Key::from_static_parts(names::ERRORS, labels_of("kind", kind)),
                shown,
            )
        })
    }

    /// Both session counters of `server`, registered together: the lost one must read zero
    /// from the moment the server is known, or the first losses there never show in `rate()`.
    fn server(&mut self, server: &'static str, shown: u64) {
        self.tally(Tally::SessionOpened, server, shown);
        self.tally(Tally::SessionLost, server, shown);
    }

    fn tally(&mut self, tally: Tally, label: &'static str, shown: u64) -> &mut HeldCounter {
        let recorder = &self.recorder;
        self.tallies.entry((tally, label)).or_insert_with(|| {
            let (family, label_name) = match tally {
                Tally::DrillEvent => (names::DRILL_EVENTS, "kind"),
                Tally::MessageSent => (names::MESSAGES_SENT_BY_TYPE, "type"),
                Tally::MessageReceived => (names::MESSAGES_RECEIVED_BY_TYPE, "type"),
                // A server seen has no series of its own: `server` registers its pair.
                Tally::SessionOpened | Tally::ServerSeen => {
                    (names::SESSIONS_OPENED_BY_SERVER, "server")
                }
                Tally::SessionLost => (names::SESSIONS_LOST_BY_SERVER, "server"),
                Tally::ReconnectAttempt => (names::RECONNECT_ATTEMPTS, "outcome"),
                Tally::TransportVisitor => (names::VISITORS_BY_TRANSPORT, "transport"),
                Tally::TransportSession => (names::SESSIONS_OPENED_BY_TRANSPORT, "transport"),
                Tally::TransportError => (names::ERRORS_BY_TRANSPORT, "transport"),
            };
            HeldCounter::register(
                recorder,
                &Key::from_static_parts(family, labels_of(label_name, label)),
                shown,
            )
        })
    }
}

/// One histogram of `family` per metric, labelled with its name.
fn per_metric(
    recorder: &PrometheusRecorder,
    family: &'static str,
    metrics: &[Metric],
) -> Vec<HeldHistogram> {
    let key = |metric: &Metric| Key::from_static_parts(family, labels_of("metric", metric.name()));
    metrics
        .iter()
        .map(|metric| HeldHistogram::register(recorder, &key(metric), 0))
        .collect()
}

fn labels_of(name: &'static str, value: &'static str) -> &'static [Label] {
    // Registration happens once per label value (a handful per run), so leaking the one-element
    // slice that `Key::from_static_parts` wants costs a few bytes per family, once.
    Box::leak(Box::new([Label::from_static_parts(name, value)]))
}

/// A label value as the text format writes it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A render and a publish never run at once; a panic in either leaves a count still good.
fn lock(shown: &Mutex<u64>) -> MutexGuard<'_, u64> {
    shown.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// The sample lines of a scrape (no comments).
    fn samples(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .collect()
    }

    fn has(text: &str, line: &str) -> bool {
        text.lines().any(|l| l == line)
    }

    #[test]
    fn every_series_carries_the_run_and_the_shard() {
        let mut exporter = Exporter::labelled(Some("drill@2026-12-01T17:00:00Z"), Some(2));
        let recorder = Recorder::new();
        recorder.latency(Metric::PresenceAck, Duration::from_millis(3));
        exporter.publish(&recorder.drain(), Duration::from_secs(1), 1);
        let text = exporter.scrape().render();
        let samples = samples(&text);
        assert!(
            samples.iter().any(|line| line.starts_with(names::LATENCY)),
            "{text}"
        );
        assert!(
            samples.iter().any(|line| line.starts_with(names::CPU)),
            "{text}"
        );
        for line in samples {
            assert!(
                line.contains("shard=\"2\"") && line.contains("run=\"drill@2026-12-01T17:00:00Z\""),
                "{line}"
            );
        }
    }

    #[test]
    fn an_interval_becomes_buckets_counters_and_labelled_series() {
        let mut exporter = Exporter::new();
        exporter.scrape().render();
        let recorder = Recorder::new();
        for ms in [1, 3, 40] {
            recorder.latency(Metric::PresenceAck, Duration::from_millis(ms));
        }
        recorder.count(Counter::MessagesSent, 7);
        recorder.error(crate::measure::ErrorKind::ReplyTimeout);
        recorder.violation(Check::SignalsLost);
        exporter.publish(&recorder.drain(), Duration::from_secs(2), 5);
        let text = exporter.scrape().render();
        assert!(has(&text, "presence_bench_messages_sent_total 7"), "{text}");
        assert!(
            has(
                &text,
                "presence_bench_errors_total{kind=\"reply_timeout\"} 1"
            ),
            "{text}"
        );
        assert!(has(
            &text,
            "presence_bench_check_violations_total{check=\"signals_lost\"} 1"
        ));
        assert!(has(
            &text,
            "presence_bench_check_violations_total{check=\"blur_misrouted\"} 0"
        ));
        // Buckets 10^(1/26) apart: 2.89 and 3.16 ms are bounds, 5 ms no longer is.
        let le = |bound: &str, n: u32| {
            format!(
                "presence_bench_latency_seconds_bucket{{metric=\"presence_ack\",le=\"{bound}\"}} \
                 {n}"
            )
        };
        assert!(has(&text, &le("0.00289", 1)), "{text}");
        assert!(has(&text, &le("0.00316", 2)), "{text}");
        assert!(has(&text, &le("0.0412", 3)), "{text}");
        assert!(has(&text, "presence_bench_visitors_live 5"));
    }

    #[test]
    fn a_series_reads_zero_in_one_scrape_before_its_first_counts() {
        let mut exporter = Exporter::new();
        let recorder = Recorder::new();
        recorder.count(Counter::SessionsLost, 3);
        recorder.latency(Metric::Reconnect, Duration::from_millis(250));
        // Counted before anything scraped the endpoint: held.
        exporter.publish(&recorder.drain(), Duration::from_secs(1), 1);
        let first = exporter.scrape().render();
        assert!(
            has(&first, "presence_bench_sessions_lost_total 0"),
            "{first}"
        );
        assert!(
            has(
                &first,
                "presence_bench_latency_seconds_count{metric=\"reconnect\"} 0"
            ),
            "{first}"
        );
        assert!(
            has(&first, "presence_bench_process_cpu_seconds_total 0"),
            "{first}"
        );
        exporter.publish(&recorder.drain(), Duration::from_secs(2), 1);
        let second = exporter.scrape().render();
        assert!(
            has(&second, "presence_bench_sessions_lost_total 3"),
            "{second}"
        );
        assert!(
            has(
                &second,
                "presence_bench_latency_seconds_count{metric=\"reconnect\"} 1"
            ),
            "{second}"
        );
    }

    #[test]
    fn a_server_is_exported_at_zero_from_the_moment_it_is_known() {
        let opened = |server: &str, n: u32| {
            format!(
                "{}{{server=\"{server}\"}} {n}",
                names::SESSIONS_OPENED_BY_SERVER
            )
        };
        let lost = |server: &str, n: u32| {
            format!(
                "{}{{server=\"{server}\"}} {n}",
                names::SESSIONS_LOST_BY_SERVER
            )
        };
        let mut exporter = Exporter::new().with_servers(["e1"]);
        let text = exporter.scrape().render();
        assert!(
            has(&text, &opened("e1", 0)) && has(&text, &lost("e1", 0)),
            "{text}"
        );
        let recorder = Recorder::new();
        // A server learned mid-run (a scale-out's answer), and one first heard of in `connected`.
        recorder.tally(Tally::ServerSeen, "e2");
        recorder.tally(Tally::SessionOpened, "e3");
        recorder.tally(Tally::SessionLost, "e1");
        exporter.publish(&recorder.drain(), Duration::from_secs(1), 1);
        let text = exporter.scrape().render();
        assert!(has(&text, &lost("e1", 1)), "{text}");
        assert!(
            has(&text, &opened("e2", 0)) && has(&text, &lost("e2", 0)),
            "{text}"
        );
        // e3's first session waits until a scrape has shown its series at zero.
        assert!(
            has(&text, &opened("e3", 0)) && has(&text, &lost("e3", 0)),
            "{text}"
        );
        exporter.publish(&recorder.drain(), Duration::from_secs(2), 1);
        let text = exporter.scrape().render();
        assert!(has(&text, &opened("e3", 1)), "{text}");
    }

    #[test]
    fn every_known_label_is_exported_at_zero_and_gauges_only_once_set() {
        let mut exporter = Exporter::new();
        let text = exporter.scrape().render();
        for kind in crate::measure::ErrorKind::ALL {
            assert!(
                has(
                    &text,
                    &format!("{}{{kind=\"{}\"}} 0", names::ERRORS, kind.as_str())
                ),
                "{kind:?}"
            );
        }
        for kind in ClientMessage::TYPES {
            assert!(
                has(
                    &text,
                    &format!("{}{{type=\"{kind}\"}} 0", names::MESSAGES_SENT_BY_TYPE)
                ),
                "{kind}"
            );
        }
        for kind in ServerMessage::TYPES {
            assert!(
                has(
                    &text,
                    &format!("{}{{type=\"{kind}\"}} 0", names::MESSAGES_RECEIVED_BY_TYPE)
                ),
                "{kind}"
            );
        }
        let gauges = [
            names::VISITORS_LIVE,
            names::ELAPSED,
            names::RSS,
            names::MACHINE_BUSY,
            names::LAG_MAX,
        ];
        for gauge in gauges {
            assert!(
                !text.lines().any(|line| line.starts_with(gauge)),
                "{gauge} before it has a value: {text}"
            );
        }
        exporter.publish(&Recorder::new().drain(), Duration::from_secs(1), 4);
        let text = exporter.scrape().render();
        assert!(
            has(&text, "presence_bench_visitors_live 4")
                && has(&text, "presence_bench_elapsed_seconds 1")
        );
    }
}
