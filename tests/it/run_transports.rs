//! Whole runs on a transport mix against the reference cluster: the same steps and checks
//! on every transport, a drain survived by each, a prompt stop, and the report's split.

use std::collections::BTreeMap;

use crate::common::*;
use presence_bench::measure::{Check, Counter, Metric};
use presence_bench::schema::Summary;

const VISITORS: u64 = 40;

/// `VISITORS` visitors, presences every 100 ms, agents signalling.
fn scenario(duration_ms: u64) -> String {
    format!(
        "name: mix\nseed: 5\nduration: {duration_ms}ms\n\
         load: {{ stages: [ {{ to: {VISITORS}, over: 200ms }}, {{ hold: {}ms }} ] }}\n\
         reconnect: {{ base: 50ms, cap: 500ms }}\n\
         behaviors: [ {{ name: b, steps: [connect, presence, \
           {{ repeat: {{ every: 100ms, until: end, steps: [presence] }} }}] }} ]\n\
         agents: {{ count: 2, signals: {{ rate: 40/s }}, grace: 1s }}\n",
        duration_ms - 200
    )
}

/// The scenario aimed at `cluster`, on a four-way transport mix.
fn mixed_plan(
    duration_ms: u64,
    cluster: &presence_bench::server::Cluster,
) -> presence_bench::scenario::Plan {
    let mut plan = plan_for(&scenario(duration_ms), cluster);
    let mix = "{ sockjs: 40%, xhr_streaming: 20%, xhr_polling: 20%, eventsource: 20% }";
    plan.target.transport = serde_yaml::from_str(mix).expect("a valid mix");
    plan
}

/// How many of the run's visitors the plan puts on each transport.
fn expected_split(plan: &presence_bench::scenario::Plan) -> BTreeMap<String, u64> {
    let mut split = BTreeMap::new();
    for index in 0..VISITORS {
        let behavior = presence_bench::visitor::persona(plan, index).behavior;
        *split
            .entry(plan.transport_of(behavior, index).name().to_owned())
            .or_insert(0) += 1;
    }
    split
}

fn no_violations(totals: &presence_bench::measure::Totals) {
    for check in Check::ALL.into_iter().filter(|check| check.fails_run()) {
        assert_eq!(totals.violations(check), 0, "{check:?}");
    }
}

#[tokio::test]
async fn a_transport_mix_runs_clean_and_is_split_by_transport() {
    let cluster = cluster(settings()).await;
    let plan = mixed_plan(1_500, &cluster);
    let expected = expected_split(&plan);
    assert_eq!(
        expected.len(),
        4,
        "every transport has visitors: {expected:?}"
    );
    let result = start_run(plan).finished().await;
    let totals = &result.totals;
    assert!(totals.errors.is_empty(), "{:?}", totals.errors);
    no_violations(totals);
    assert!(totals.counter(Counter::SignalsReceived) > 0);
    let summary = Summary::from_totals("mix", &result.target, totals);
    let visitors: BTreeMap<String, u64> = summary
        .transports
        .iter()
        .map(|(t, s)| (t.clone(), s.visitors))
        .collect();
    assert_eq!(visitors, expected);
    for (transport, split) in &summary.transports {
        assert_eq!(split.errors, 0, "{transport}");
        assert!(split.sessions_opened >= split.visitors, "{transport}");
        assert!(
            split.metrics["presence_ack"].count >= split.visitors,
            "{transport}: {:?}",
            split.metrics
        );
        assert!(
            split.metrics["connect"].count >= split.visitors,
            "{transport}"
        );
    }
    let acks: u64 = summary
        .transports
        .values()
        .map(|split| split.metrics["presence_ack"].count)
        .sum();
    assert_eq!(
        acks,
        totals.histogram(Metric::PresenceAck).len(),
        "every visitor's ack is in one transport"
    );
    assert!(presence_bench::report::table::render(&summary, None, false).contains("xhr_streaming"));
}

#[tokio::test]
async fn every_transport_comes_back_after_a_drain() {
    // An embedded cluster, which the drill drains.
    let target = "target: { embedded: { instances: 2, drain_window: 300ms }, \
                  transport: { sockjs: 40%, xhr_streaming: 20%, xhr_polling: 20%, eventsource: \
                  20% } }";
    let drills =
        "drills: { settle: 300ms, window_cap: 1s, events: [ { at: 800ms, scale_in: 1 } ] }";
    let yaml = format!("{target}\n{}{drills}\n", scenario(2_500));
    let plan =
        presence_bench::scenario::from_str(&yaml, "mix.yaml").unwrap_or_else(|err| panic!("{err}"));
    let result = start_run(plan).finished().await;
    let totals = &result.totals;
    // Losses in the drill's window are planned moves, on every transport alike: no session
    // lost, no close unaccounted for (a presence still open when the run stopped may count
    // as unanswered on a loaded machine; that is the stop's, not the drain's).
    assert!(
        totals.errors.keys().all(|kind| *kind == "unanswered"),
        "{:?}",
        totals.errors
    );
    no_violations(totals);
    assert!(totals.counter(Counter::SessionsLost) > 0);
    assert_eq!(
        totals.counter(Counter::Reconnects),
        totals.counter(Counter::SessionsLost)
    );
    let summary = Summary::from_totals("mix", &result.target, totals);
    let moved: Vec<&String> = summary
        .transports
        .iter()
        .filter(|(_, split)| split.sessions_opened > split.visitors)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        moved.len(),
        4,
        "visitors of every transport were moved: {:?}",
        summary.transports
    );
}

#[tokio::test]
async fn a_stopped_run_ends_promptly_on_every_transport() {
    let cluster = cluster(settings()).await;
    let run = start_run(mixed_plan(20_000, &cluster));
    let mut live = run.live.clone();
    within(
        "every visitor to be live",
        live.wait_for(|live| live.visitors_live == VISITORS as i64),
    )
    .await
    .expect("the run is live");
    let stopped = std::time::Instant::now();
    run.stop.cancel();
    let result = run.finished().await;
    assert!(result.interrupted);
    assert!(
        stopped.elapsed() < WAIT,
        "stopped in {:?}",
        stopped.elapsed()
    );
    // Stopping is not losing: no session lost, and every visitor of every transport ended.
    assert!(
        !result.totals.errors.contains_key("session_lost"),
        "{:?}",
        result.totals.errors
    );
    assert_eq!(result.totals.counter(Counter::SessionsLost), 0);
}
