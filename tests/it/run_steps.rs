//! Each scenario step kind, run by the harness against the reference cluster: the latencies,
//! counters and errors every step must leave in the totals.

use std::time::Duration;

use crate::common::*;
use presence_bench::measure::{Counter, Metric, Totals};
use presence_bench::scenario::Step;
use presence_bench::visitor;
use presence_bench::wire::Status;

/// Visitors per test: the open model starts exactly 3 (24/s for 125 ms) and runs each once.
const N: u64 = 3;

fn scenario(steps: &str) -> String {
    format!(
        "name: steps\nseed: 5\nduration: 20s\n\
         load: {{ arrival_rate: {{ rate: 24/s, max_visitors: 10, for: 125ms }} }}\n\
         behaviors: [ {{ name: b, steps: {steps} }} ]\n"
    )
}

async fn totals(steps: &str) -> Totals {
    let cluster = cluster(settings()).await;
    let result = run_yaml(&scenario(steps), &cluster).await;
    cluster.shutdown().await;
    assert!(!result.interrupted);
    assert_eq!(result.drive.started, N, "visitors started");
    let totals = result.totals;
    assert_eq!(totals.counter(Counter::VisitorsStarted), N);
    assert_eq!(
        totals.counter(Counter::VisitorsCompleted),
        N,
        "every visitor ran its behavior to the end"
    );
    totals
}

fn count(totals: &Totals, metric: Metric) -> u64 {
    totals.histogram(metric).len()
}

fn no_errors(totals: &Totals) {
    assert!(totals.errors.is_empty(), "errors: {:?}", totals.errors);
}

#[tokio::test]
async fn connect_opens_one_session_per_visitor() {
    let totals = totals("[connect]").await;
    assert_eq!(count(&totals, Metric::Connect), N);
    assert_eq!(totals.counter(Counter::SessionsOpened), N);
    assert_eq!(totals.counter(Counter::SessionsLost), 0);
    // Through a directory over SockJS, every connect has all five phases, none longer than it.
    let connect_max = totals.histogram(Metric::Connect).max();
    for phase in Metric::CONNECT_PHASES {
        assert_eq!(count(&totals, phase), N, "{}", phase.name());
        assert!(
            totals.histogram(phase).max() <= connect_max,
            "{}",
            phase.name()
        );
    }
    no_errors(&totals);
}

#[tokio::test]
async fn connect_unique_and_extend_time_their_answers() {
    let totals = totals("[connect_unique, extend, extend]").await;
    assert_eq!(count(&totals, Metric::UniqueAssign), N);
    assert_eq!(count(&totals, Metric::Connect), 0);
    assert_eq!(count(&totals, Metric::Extend), 2 * N);
    no_errors(&totals);
}

#[tokio::test]
async fn presence_and_navigate_are_acknowledged() {
    let totals = totals(
        "[connect, { presence: { data: { n: '{{rand_int 1 9}}' } } }, \
         { navigate: { page: { url: 'https://x/{{rand_path}}' } } }, presence]",
    )
    .await;
    assert_eq!(count(&totals, Metric::PresenceAck), 3 * N);
    assert_eq!(
        count(&totals, Metric::Connect),
        2 * N,
        "navigate opens a new session"
    );
    assert_eq!(totals.counter(Counter::SessionsOpened), 2 * N);
    // connect, 3 presences, and the second connect, each answered.
    assert_eq!(totals.counter(Counter::MessagesSent), 5 * N);
    assert_eq!(totals.counter(Counter::MessagesReceived), 5 * N);
    no_errors(&totals);
}

#[tokio::test]
async fn tabs_open_switch_and_close() {
    let totals = totals("[connect, open_tab, switch_tab, close_tab, presence, disconnect]").await;
    assert_eq!(
        count(&totals, Metric::Connect),
        2 * N,
        "open_tab is a second session"
    );
    assert_eq!(count(&totals, Metric::Focus), N);
    // The first tab's blur (for open_tab) arrives before its `focused` (for switch_tab).
    assert!(
        count(&totals, Metric::Blur) >= N,
        "blur: {}",
        count(&totals, Metric::Blur)
    );
    assert_eq!(
        count(&totals, Metric::PresenceAck),
        N,
        "the tab left after close_tab still works"
    );
    no_errors(&totals);
}

#[tokio::test]
async fn set_visitor_id_reconnects_as_another_visitor() {
    let totals = totals(
        "[connect, { set_visitor_id: { id: 'user-{{index}}' } }, presence, set_visitor_id, \
         presence]",
    )
    .await;
    assert_eq!(count(&totals, Metric::Connect), 3 * N);
    assert_eq!(count(&totals, Metric::PresenceAck), 2 * N);
    no_errors(&totals);
}

#[tokio::test]
async fn disconnect_leaves_no_session_for_later_steps() {
    // `validate` refuses this sequence; a session can still go missing at run time (a lost
    // tab), so the plan is built past validation to see what the visitor then does.
    let cluster = cluster(settings()).await;
    let mut plan = plan_for(&scenario("[connect, disconnect]"), &cluster);
    plan.behaviors[0]
        .steps
        .push(Step::Presence(Default::default()));
    let totals = start_run(plan).finished().await.totals;
    cluster.shutdown().await;
    assert_eq!(count(&totals, Metric::Connect), N);
    assert_eq!(count(&totals, Metric::PresenceAck), 0);
    assert_eq!(totals.errors.get("step_without_session"), Some(&N));
}

#[tokio::test]
async fn hold_and_repeat_every_take_their_time() {
    let totals = totals(
        "[connect, { hold: 200ms }, { repeat: { times: 3, every: 100ms, steps: [presence] } }]",
    )
    .await;
    assert_eq!(count(&totals, Metric::PresenceAck), 3 * N);
    // 200 ms hold, then three iterations 100 ms apart (the last one waits out its slot).
    assert!(
        totals.elapsed >= Duration::from_millis(500),
        "elapsed {:?}",
        totals.elapsed
    );
    no_errors(&totals);
}

#[tokio::test]
async fn repeat_times_runs_back_to_back_and_nests() {
    let totals = totals(
        "[connect_unique, { repeat: { times: 2, steps: [presence, { repeat: { times: 3, steps: \
         [extend] } }] } }]",
    )
    .await;
    assert_eq!(count(&totals, Metric::PresenceAck), 2 * N);
    assert_eq!(count(&totals, Metric::Extend), 6 * N);
    no_errors(&totals);
}

#[tokio::test]
async fn await_signal_times_out_without_a_signal() {
    let totals = totals("[connect, { await_signal: { timeout: 200ms } }]").await;
    assert_eq!(count(&totals, Metric::SignalWait), 0);
    assert_eq!(totals.errors.get("signal_timeout"), Some(&N));
}

#[tokio::test]
async fn await_signal_receives_a_queued_signal() {
    let cluster = cluster(settings()).await;
    let plan = plan_for(
        &scenario("[connect, { await_signal: { timeout: 5s } }]"),
        &cluster,
    );
    // Signals sent before the visitors exist are queued and delivered on their connect.
    let mut agent = agent(&url(&cluster, "s1"), RawWebsocket, "a").await;
    for index in 0..N {
        let id = visitor::persona(&plan, index).id;
        assert_eq!(
            signal_status(&mut agent, &id, &format!("s{index}")).await.0,
            Status::Queued
        );
    }
    let result = start_run(plan).finished().await;
    cluster.shutdown().await;
    let totals = result.totals;
    assert_eq!(count(&totals, Metric::SignalWait), N);
    assert_eq!(totals.counter(Counter::SignalsReceived), N);
    no_errors(&totals);
}
