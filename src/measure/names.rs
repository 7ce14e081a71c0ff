//! Every Prometheus metric the harness exports, defined once. The exporter registers from
//! this table, docs/metrics.md documents it, and the tests check that the live `/metrics`,
//! the docs and every dashboard expression agree with it.
//!
//! Delivery checks are exported from `measure::Check` (all of them, at 0 before their first
//! violation), as `presence_bench_check_violations_total{check=...}`.

use super::error_kind::ErrorKind;
use super::metric::Counter;

/// A Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// The word the Prometheus text format uses in `# TYPE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One metric family: name, type, label names and meaning.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const fn family(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Family {
    Family {
        name,
        kind,
        labels,
        help,
    }
}

pub const LATENCY: &str = "presence_bench_latency_seconds";
pub const SERVICE: &str = "presence_bench_service_seconds";
/// The label every series of a split run's shard carries (docs/distributed.md).
pub const SHARD_LABEL: &str = "shard";
/// The label every series of a run carries: the run's id (`run::run_id`), one per run, so
/// that dashboards can tell two runs scraped by one Prometheus apart.
pub const RUN_LABEL: &str = "run";
pub const VISITORS_LIVE: &str = "presence_bench_visitors_live";
pub const VISITORS_TARGET: &str = "presence_bench_visitors_target";
pub const STAGE: &str = "presence_bench_stage";
pub const ELAPSED: &str = "presence_bench_elapsed_seconds";
pub const ERRORS: &str = "presence_bench_errors_total";
pub const CHECK_VIOLATIONS: &str = "presence_bench_check_violations_total";
pub const DRILL_EVENTS: &str = "presence_bench_drill_events_total";
pub const MESSAGES_SENT_BY_TYPE: &str = "presence_bench_messages_sent_by_type_total";
pub const MESSAGES_RECEIVED_BY_TYPE: &str = "presence_bench_messages_received_by_type_total";
pub const SESSIONS_OPENED_BY_SERVER: &str = "presence_bench_server_sessions_opened_total";
pub const SESSIONS_LOST_BY_SERVER: &str = "presence_bench_server_sessions_lost_total";
pub const RECONNECT_ATTEMPTS: &str = "presence_bench_reconnect_attempts_total";
pub const VISITORS_BY_TRANSPORT: &str = "presence_bench_transport_visitors_started_total";
pub const SESSIONS_OPENED_BY_TRANSPORT: &str = "presence_bench_transport_sessions_opened_total";
pub const ERRORS_BY_TRANSPORT: &str = "presence_bench_transport_errors_total";
pub const CPU: &str = "presence_bench_process_cpu_seconds_total";
pub const RSS: &str = "presence_bench_process_resident_memory_bytes";
pub const OPEN_FDS: &str = "presence_bench_process_open_fds";
pub const LAG: &str = "presence_bench_scheduling_lag_seconds";
pub const LAG_MAX: &str = "presence_bench_scheduling_lag_max_seconds";
pub const MACHINE_BUSY: &str = "presence_bench_machine_cpu_busy_ratio";
pub const MACHINE_STEAL: &str = "presence_bench_machine_cpu_steal_ratio";

/// Error kinds pre-registered at zero: the ones dashboards and the harness verdict watch.
pub const ERROR_KINDS: &[ErrorKind] = &[
    ErrorKind::Connect,
    ErrorKind::OpenFileLimit,
    ErrorKind::EphemeralPorts,
    ErrorKind::Handshake,
    ErrorKind::Lost,
    ErrorKind::ReplyTimeout,
    ErrorKind::Unanswered,
    ErrorKind::SessionLost,
    ErrorKind::Protocol,
];
/// Reconnect attempt outcomes, pre-registered at zero.
pub const RECONNECT_OUTCOMES: &[&str] = &["ok", "failed"];
/// Drill event kinds, pre-registered at zero.
pub const DRILL_KINDS: &[&str] = &["scale_in", "scale_out", "kill", "observed"];

/// The family a [`Counter`] is exported as. Exhaustive: a new counter needs a name here
/// and a row in [`HARNESS`] (a unit test checks the row exists).
pub fn counter_family(counter: Counter) -> &'static str {
    match counter {
        Counter::VisitorsStarted => "presence_bench_visitors_started_total",
        Counter::VisitorsCompleted => "presence_bench_visitors_completed_total",
        Counter::SessionsOpened => "presence_bench_sessions_opened_total",
        Counter::SessionsLost => "presence_bench_sessions_lost_total",
        Counter::Reconnects => "presence_bench_reconnects_total",
        Counter::MessagesSent => "presence_bench_messages_sent_total",
        Counter::MessagesReceived => "presence_bench_messages_received_total",
        Counter::SignalsReceived => "presence_bench_signals_received_total",
        Counter::SignalsSent => "presence_bench_signals_sent_total",
        Counter::SignalsRejected => "presence_bench_signals_rejected_total",
        Counter::SignalsUndeliverable => "presence_bench_signals_undeliverable_total",
    }
}

use Kind::{Counter as C, Gauge as G, Histogram as H};

/// Every family the harness exports (`run --metrics-addr`).
pub const HARNESS: &[Family] = &[
    family(
        LATENCY,
        H,
        &["metric"],
        "Latency of each measured exchange (the report's metrics), from intent.",
    ),
    family(
        SERVICE,
        H,
        &["metric"],
        "Service time of each request (presence_ack, extend, focus, signal_status), from the \
         actual send.",
    ),
    family(VISITORS_LIVE, G, &[], "Visitor tasks alive now."),
    family(
        VISITORS_TARGET,
        G,
        &[],
        "Visitors the load model asks for now (open model: max_visitors).",
    ),
    family(
        STAGE,
        G,
        &[],
        "Index of the current load stage, from 0 (open model: 0).",
    ),
    family(ELAPSED, G, &[], "Seconds since the run started."),
    family(
        "presence_bench_visitors_started_total",
        C,
        &[],
        "Visitor tasks started.",
    ),
    family(
        "presence_bench_visitors_completed_total",
        C,
        &[],
        "Visitor tasks that ran their behavior to the end.",
    ),
    family(
        "presence_bench_sessions_opened_total",
        C,
        &[],
        "Sessions (tabs) opened.",
    ),
    family(
        "presence_bench_sessions_lost_total",
        C,
        &[],
        "Sessions lost to the server (close, reset, EOF).",
    ),
    family(
        "presence_bench_reconnects_total",
        C,
        &[],
        "Lost sessions that were reconnected.",
    ),
    family(
        "presence_bench_messages_sent_total",
        C,
        &[],
        "Protocol messages sent to the server.",
    ),
    family(
        "presence_bench_messages_received_total",
        C,
        &[],
        "Protocol messages received (no heartbeats).",
    ),
    family(
        "presence_bench_signals_received_total",
        C,
        &[],
        "Signals and invokes received by visitors.",
    ),
    family(
        "presence_bench_signals_sent_total",
        C,
        &[],
        "Signals and invokes sent by agents.",
    ),
    family(
        "presence_bench_signals_rejected_total",
        C,
        &[],
        "Signals and invokes the server rejected (queue_full).",
    ),
    family(
        "presence_bench_signals_undeliverable_total",
        C,
        &[],
        "Signals kept for visitors that never came back: neither delivered nor lost.",
    ),
    family(
        ERRORS,
        C,
        &["kind"],
        "Errors by kind (docs/reports.md lists the kinds).",
    ),
    family(
        CHECK_VIOLATIONS,
        C,
        &["check"],
        "Delivery-guarantee violations by check.",
    ),
    family(
        DRILL_EVENTS,
        C,
        &["kind"],
        "Drill events carried out (scale_in, scale_out, kill).",
    ),
    family(
        MESSAGES_SENT_BY_TYPE,
        C,
        &["type"],
        "Protocol messages sent, by message type.",
    ),
    family(
        MESSAGES_RECEIVED_BY_TYPE,
        C,
        &["type"],
        "Protocol messages received, by message type.",
    ),
    family(
        SESSIONS_OPENED_BY_SERVER,
        C,
        &["server"],
        "Visitor sessions opened, by the server instance that took them.",
    ),
    family(
        SESSIONS_LOST_BY_SERVER,
        C,
        &["server"],
        "Visitor sessions lost, by the server instance that had them.",
    ),
    family(
        RECONNECT_ATTEMPTS,
        C,
        &["outcome"],
        "Tries to bring a lost session back, by outcome (ok, failed).",
    ),
    family(
        VISITORS_BY_TRANSPORT,
        C,
        &["transport"],
        "Visitors started, by the transport they connect with.",
    ),
    family(
        SESSIONS_OPENED_BY_TRANSPORT,
        C,
        &["transport"],
        "Visitor sessions opened, by transport.",
    ),
    family(
        ERRORS_BY_TRANSPORT,
        C,
        &["transport"],
        "Errors of visitors, by the transport they connect with.",
    ),
    family(
        CPU,
        C,
        &[],
        "CPU time (user + system) the harness process used.",
    ),
    family(RSS, G, &[], "Resident memory of the harness process."),
    family(
        OPEN_FDS,
        G,
        &[],
        "File descriptors the harness process holds open.",
    ),
    family(
        LAG,
        H,
        &[],
        "How late a 10 ms timer task of the harness wakes up.",
    ),
    family(
        LAG_MAX,
        G,
        &[],
        "Largest scheduling lag in the last interval.",
    ),
    family(
        MACHINE_BUSY,
        G,
        &[],
        "Share of the whole machine's CPU running anything in the last second (all processes, all \
         cores).",
    ),
    family(
        MACHINE_STEAL,
        G,
        &[],
        "Share of the machine's CPU its host kept for itself (steal) in the last second.",
    ),
];

/// Latency buckets per decade: upper bounds 10^(1/26) = 1.093 apart (at most 1.1 once
/// rounded to 3 digits), so that `histogram_quantile`, which interpolates inside a bucket, is
/// within 10% of the exact value wherever it lands between [`LATENCY_FINE_FROM`] and
/// [`LATENCY_FINE_TO`].
pub const LATENCY_BUCKETS_PER_DECADE: u32 = 26;
/// Where the fine latency buckets begin and end (seconds): presence exchanges on loopback
/// take 0.1 to 5 ms, across regions 20 to 200 ms, connects a few ms, reconnects with backoff
/// 10 ms to seconds.
pub const LATENCY_FINE_FROM: f64 = 0.0001;
pub const LATENCY_FINE_TO: f64 = 10.0;
/// Beyond the fine range, a few coarse bounds up to a minute (a reconnect after a long outage).
const LATENCY_COARSE: &[f64] = &[20.0, 30.0, 60.0];

/// Bucket upper bounds (seconds) of [`LATENCY`] and [`SERVICE`]: log-spaced,
/// [`LATENCY_BUCKETS_PER_DECADE`] a decade from [`LATENCY_FINE_FROM`] to [`LATENCY_FINE_TO`]
/// (rounded to 3 significant digits), then [`LATENCY_COARSE`]: 134 bounds, 137 series per
/// histogram with `+Inf`, `_sum` and `_count` (docs/metrics.md counts them).
pub fn latency_buckets() -> Vec<f64> {
    let decades = (LATENCY_FINE_TO / LATENCY_FINE_FROM).log10();
    let steps = (decades * f64::from(LATENCY_BUCKETS_PER_DECADE)).round() as i32;
    let fine = (0..=steps).map(|k| {
        let bound =
            LATENCY_FINE_FROM * 10f64.powf(f64::from(k) / f64::from(LATENCY_BUCKETS_PER_DECADE));
        round_to_3_digits(bound)
    });
    fine.chain(LATENCY_COARSE.iter().copied()).collect()
}

/// `value` (positive, below 1000) with 3 significant digits, the nearest double to the decimal.
fn round_to_3_digits(value: f64) -> f64 {
    let scale = 10f64.powi(2 - value.log10().floor() as i32);
    (value * scale).round() / scale
}

/// Bucket upper bounds (seconds) of [`LAG`]: a healthy runtime wakes within 1 ms.
pub const LAG_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// The family named `name`, if the harness exports it.
pub fn harness_family(name: &str) -> Option<&'static Family> {
    HARNESS.iter().find(|family| family.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_has_a_documented_family() {
        for counter in Counter::ALL {
            let family =
                harness_family(counter_family(counter)).expect("counter family in HARNESS");
            assert_eq!(family.kind, Kind::Counter);
        }
    }

    #[test]
    fn names_follow_the_conventions() {
        let mut seen = std::collections::HashSet::new();
        for family in HARNESS {
            assert!(
                family.name.starts_with("presence_bench_"),
                "{}",
                family.name
            );
            assert!(seen.insert(family.name), "{} twice", family.name);
            assert_eq!(
                family.kind == Kind::Counter,
                family.name.ends_with("_total"),
                "{}",
                family.name
            );
        }
        assert!(latency_buckets().windows(2).all(|w| w[0] < w[1]));
        assert!(LAG_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn latency_buckets_are_10_percent_apart_over_the_fine_range() {
        let buckets = latency_buckets();
        assert_eq!(
            buckets.len(),
            134,
            "docs/metrics.md counts the series from this"
        );
        assert_eq!(
            (buckets[0], buckets[130], buckets[133]),
            (0.0001, 10.0, 60.0)
        );
        let fine = &buckets[..=130];
        let widest = fine.windows(2).map(|w| w[1] / w[0]).fold(0.0, f64::max);
        assert!(widest <= 1.1 + 1e-9, "widest step {widest}");
        // 3 significant digits, so that `le` labels stay short ("0.00251", not
        // "0.0025118864315095794").
        let digits = |b: &f64| {
            b.to_string()
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        };
        assert!(
            fine.iter()
                .all(|b| digits(b).trim_start_matches('0').len() <= 3),
            "{fine:?}"
        );
    }
}
