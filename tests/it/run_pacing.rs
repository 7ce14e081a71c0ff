//! Time the server, not the scenario (issue 11.6): a loop whose own holds outlast its period
//! reports the server's latency, not the holds; lateness the server caused is still charged;
//! and every request's service time is in summary.json beside its latency from intent.

use std::time::Duration;

use crate::common::*;
use presence_bench::engine::Measured;
use presence_bench::measure::{Counter, Metric};
use presence_bench::schema::Summary;
use presence_bench::server::Settings;

/// Visitors that each run `steps` (a YAML flow sequence) once, against a cluster with `ack_delay`.
async fn run(steps: &str, ack_delay: Duration) -> Measured {
    let yaml = format!(
        "name: pacing\nseed: 5\nduration: 20s\n\
         load: {{ arrival_rate: {{ rate: 20/s, max_visitors: 3, for: 150ms }} }}\n\
         behaviors: [ {{ name: b, steps: {steps} }} ]\n"
    );
    let cluster = cluster(Settings {
        ack_delay,
        ..settings()
    })
    .await;
    let result = run_yaml(&yaml, &cluster).await;
    cluster.shutdown().await;
    assert!(
        result.totals.errors.is_empty(),
        "errors: {:?}",
        result.totals.errors
    );
    result
}

fn p50_ms(summary: &serde_json::Value, section: &str) -> f64 {
    let p50 = &summary[section]["presence_ack"]["p50"];
    p50.as_f64()
        .unwrap_or_else(|| panic!("{section}.presence_ack.p50 in {summary}"))
        / 1e3
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loop_whose_holds_outlast_its_period_is_not_charged_for_them() {
    // Each iteration holds 400 ms on a 200 ms schedule: charged to the server, iteration k
    // would read k x 200 ms (p50 about 600 ms); the server answers in well under a millisecond.
    let result = run(
        "[connect, { repeat: { times: 6, every: 200ms, steps: [presence, { hold: 400ms }] } }]",
        Duration::ZERO,
    )
    .await;
    let acks = 6 * result.totals.counter(Counter::VisitorsStarted);
    assert!(acks >= 12, "{acks}");
    assert_eq!(result.totals.histogram(Metric::PresenceAck).len(), acks);
    let summary = serde_json::to_value(Summary::from_totals(
        "pacing",
        &result.target,
        &result.totals,
    ))
    .unwrap();
    let (latency, service) = (p50_ms(&summary, "metrics"), p50_ms(&summary, "service"));
    assert!(
        latency < 10.0,
        "presence_ack p50 {latency} ms: the loop's own holds were charged to the server"
    );
    assert!(
        service <= latency,
        "service p50 {service} ms above the latency from intent {latency} ms"
    );
    assert_eq!(summary["service"]["presence_ack"]["count"], acks);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lateness_the_server_caused_is_still_charged() {
    // A 150 ms reply on a 100 ms schedule: every send is later than the one before by 50 ms,
    // and that is the server's doing. The service time stays at the server's 150 ms.
    let result = run(
        "[connect, { repeat: { times: 6, every: 100ms, steps: [presence] } }]",
        Duration::from_millis(150),
    )
    .await;
    let latency = result.totals.histogram(Metric::PresenceAck);
    let service = result
        .totals
        .service(Metric::PresenceAck)
        .expect("presence_ack is a request");
    let (latency_p90, service_p90) = (
        latency.value_at_quantile(0.9),
        service.value_at_quantile(0.9),
    );
    assert!(
        (145_000..200_000).contains(&service_p90),
        "service p90 {service_p90} us"
    );
    assert!(
        latency_p90 >= service_p90 + 150_000,
        "latency p90 {latency_p90} us: the lateness was forgiven"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_before_the_request_does_not_hide_the_servers_lateness() {
    // Hold 100 ms, then a presence answered in 250 ms, every 200 ms: the holds fit the period,
    // the replies do not, so each send is 150 ms later than the one before, because of the
    // server. The hold first must not make the presence timed from its actual send.
    let steps =
        "[connect, { repeat: { times: 5, every: 200ms, steps: [{ hold: 100ms }, presence] } }]";
    let result = run(steps, Duration::from_millis(250)).await;
    let latency = result.totals.histogram(Metric::PresenceAck);
    let service = result
        .totals
        .service(Metric::PresenceAck)
        .expect("presence_ack is a request");
    let (latency_max, service_max) = (latency.max(), service.max());
    assert!(
        (245_000..320_000).contains(&service_max),
        "service max {service_max} us"
    );
    assert!(
        latency_max >= service_max + 400_000,
        "latency max {latency_max} us: the lateness was forgiven"
    );
}
