//! Drills against the reference cluster: each kind of event, watch mode, an external action,
//! and what jitter does to the reconnect storm.

use crate::common::fault_server::{Fault, FaultServer};
use crate::common::*;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use presence_bench::engine::Measured;
use presence_bench::measure::{Check, Counter, Metric};
use presence_bench::scenario;
use presence_bench::schema::EventReport;
use presence_bench::server::{Cluster, Settings};

/// Visitors that keep a presence up for the whole run, against `target`, with `drills`.
fn scenario(target: &str, visitors: u32, reconnect: &str, drills: &str) -> String {
    format!(
        "name: drill\nseed: 5\ntarget:\n{target}\nduration: 4s\nreconnect: {reconnect}\n\
         load:\n  stages:\n    - {{ to: {visitors}, over: 200ms }}\n    - {{ hold: 3500ms }}\n\
         behaviors:\n  - name: stays\n    steps:\n      - connect\n      - presence: {{ data: \
         {{ a: 1 }} }}\n      - {{ hold: 10s }}\n\
         drills:\n{drills}"
    )
}

const EMBEDDED: &str = "  embedded: { instances: 2, drain_window: 200ms }";
const QUICK: &str = "{ base: 50ms, cap: 200ms }";

fn start(yaml: &str) -> Running {
    start_run(scenario::from_str(yaml, "drill.yaml").expect("the test scenario is valid"))
}

async fn run(yaml: &str) -> Measured {
    start(yaml).finished().await
}

/// Asserts that every affected visitor came back, and answers the event.
fn all_back(result: &Measured, index: usize, kind: &str) -> EventReport {
    let event = result
        .drills
        .get(index)
        .unwrap_or_else(|| panic!("event {index} in {:?}", result.drills))
        .clone();
    assert_eq!(event.kind, kind, "{event:?}");
    assert_eq!(event.never_back, 0, "{event:?}");
    assert_eq!(event.back, event.affected, "{event:?}");
    assert!(
        event.back_100_s.is_some() && event.back_99_s <= event.back_100_s,
        "{event:?}"
    );
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_in_drains_sessions_that_all_come_back() {
    let result = run(&scenario(
        EMBEDDED,
        40,
        QUICK,
        "  - { at: 1s, scale_in: 1 }\n",
    ))
    .await;
    let event = all_back(&result, 0, "scale_in");
    assert!(
        event.affected >= 10,
        "about half the visitors were on the drained instance: {event:?}"
    );
    assert_eq!(
        (event.causes.drain, event.causes.kill),
        (event.affected, 0),
        "{event:?}"
    );
    assert_eq!(event.server, "s2", "the newest instance is drained");
    assert!(event.action.as_ref().is_some_and(|a| a.ok));
    assert!(
        event.peak_reconnects_per_s as u64 >= event.affected / 2,
        "{event:?}"
    );
    let totals = &result.totals;
    assert_eq!(
        totals.histogram(Metric::ReconnectDrain).len(),
        event.affected
    );
    assert_eq!(totals.histogram(Metric::Reconnect).len(), event.affected);
    assert_eq!(totals.histogram(Metric::ReconnectKill).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_drops_sessions_without_a_frame() {
    let result = run(&scenario(EMBEDDED, 40, QUICK, "  - { at: 1s, kill: 1 }\n")).await;
    let event = all_back(&result, 0, "kill");
    assert!(event.affected >= 10, "{event:?}");
    assert_eq!(event.causes.kill, event.affected, "{event:?}");
    assert_eq!(
        result.totals.histogram(Metric::ReconnectKill).len(),
        event.affected
    );
}

/// Both tabs of a visitor are on the killed instance, so both are lost at once: the recovery
/// of one runs inside the wait for the other's resent presence, and neither may take the
/// other's reply (the acknowledgement was read as nobody's, and the visitor never came back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_lost_at_once_both_come_back() {
    let yaml = scenario(EMBEDDED, 24, QUICK, "  - { at: 1s, kill: 1 }\n").replace(
        "      - connect\n      - presence: { data: { a: 1 } }\n      - { hold: 10s }\n",
        "      - connect\n      - presence\n      - open_tab\n      - repeat: { every: 100ms, \
         steps: [ switch_tab, presence ] }\n",
    );
    assert!(
        yaml.contains("open_tab"),
        "the two-tab behavior is in: {yaml}"
    );
    let result = run(&yaml).await;
    let event = all_back(&result, 0, "kill");
    assert!(event.affected >= 10, "{event:?}");
    assert!(
        result.totals.errors.is_empty(),
        "{:?}",
        result.totals.errors
    );
}

/// Issue 23: agents signal hard into the visitors while a drill kills an instance. The
/// statuses in flight on the agent sessions of the killed instance can never come: that is the
/// drill's doing, so no error, no `signal_status` sample as long as the run (they stayed
/// awaited until its end, `unanswered`: `FAIL errors.unanswered 4`), and the ledger alone
/// judges those signals. A server that keeps what it confirmed loses none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_in_flight_through_a_kill_are_no_error_and_none_is_lost() {
    let agents = "agents:\n  count: 8\n  signals: { rate: 400/s }\n  grace: 1s\n";
    let yaml = scenario(EMBEDDED, 40, QUICK, "  - { at: 1500ms, kill: 1 }\n") + agents;
    let result = run(&yaml).await;
    let event = all_back(&result, 0, "kill");
    assert!(event.affected >= 10, "{event:?}");
    let totals = &result.totals;
    assert!(totals.errors.is_empty(), "{:?}", totals.errors);
    assert_eq!(totals.violations(Check::SignalsLost), 0);
    assert!(
        totals.counter(Counter::SignalsSent) > 500,
        "{}",
        totals.counter(Counter::SignalsSent)
    );
    let status = totals.histogram(Metric::SignalStatus);
    assert!(
        status.max() < 1_000_000,
        "no status waited out the run: max {} us",
        status.max()
    );
}

/// The same with the statuses in flight made certain: a server that owes every status from
/// 500 ms on drops its sessions without a frame at 800 ms, inside the window of the drill's
/// kill at 500 ms (whose action does nothing: this server is its own killer). Before, the owed
/// statuses were `unanswered` at the end of the run, each a sample as long as the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_owed_by_an_instance_the_drill_kills_are_no_error() {
    let (from, to) = (Duration::from_millis(500), Duration::from_millis(800));
    let server = FaultServer::start(Fault::MoveOwingStatuses {
        from,
        to,
        kill: true,
    })
    .await;
    let target = format!("  url: {}", server.directory_url());
    let drills =
        "  actions:\n    kill: { command: [\"true\"] }\n  events:\n    - { at: 500ms, kill: 1 }\n";
    let agents = "agents:\n  count: 2\n  signals: { rate: 100/s }\n  grace: 200ms\n";
    let result = run(&(scenario(&target, 5, QUICK, drills) + agents)).await;
    let event = all_back(&result, 0, "kill");
    assert_eq!(
        (event.affected, event.causes.kill),
        (5, 5),
        "every visitor was dropped in the window: {event:?}"
    );
    let totals = &result.totals;
    let sent = totals.counter(Counter::SignalsSent);
    let answered = totals.histogram(Metric::SignalStatus).len();
    assert!(
        answered + 10 <= sent,
        "statuses were owed at the kill: {answered} of {sent} answered"
    );
    assert!(totals.errors.is_empty(), "{:?}", totals.errors);
    let max = totals.histogram(Metric::SignalStatus).max();
    assert!(max < 300_000, "no status waited out the run: max {max} us");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_out_starts_an_instance_and_moves_nobody() {
    let result = run(&scenario(
        EMBEDDED,
        20,
        QUICK,
        "  - { at: 1s, scale_out: 2 }\n",
    ))
    .await;
    let event = &result.drills[0];
    assert_eq!(
        (event.kind.as_str(), event.server.as_str(), event.affected),
        ("scale_out", "s3,s4", 0),
        "{event:?}"
    );
    assert_eq!(result.totals.histogram(Metric::Reconnect).len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_repeats_from_until() {
    let target = "  embedded: { instances: 4, drain_window: 100ms }";
    let drills = "  settle: 200ms\n  events:\n    - { every: 1s, from: 800ms, until: 2900ms, \
                  scale_in: 1 }\n";
    let result = run(&scenario(target, 30, QUICK, drills)).await;
    let starts: Vec<f64> = result.drills.iter().map(|e| e.at_s).collect();
    assert_eq!(starts.len(), 3, "{:?}", result.drills);
    for (start, planned) in starts.iter().zip([0.8, 1.8, 2.8]) {
        assert!((start - planned).abs() < 0.2, "{starts:?}");
    }
    let servers: Vec<&str> = result.drills.iter().map(|e| e.server.as_str()).collect();
    assert_eq!(
        servers,
        ["s4", "s3", "s2"],
        "each drains the newest live instance"
    );
    for index in 0..3 {
        all_back(&result, index, "scale_in");
    }
}

/// Starts a cluster for a test that acts on it from outside the run.
async fn outside_cluster() -> (Cluster, String) {
    let cluster = cluster(Settings {
        instances: 2,
        drain_window: Duration::from_millis(200),
        ..Settings::default()
    })
    .await;
    let target = format!("  url: {}", cluster.directory_url());
    (cluster, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_mode_measures_what_the_server_does_on_its_own() {
    let (cluster, target) = outside_cluster().await;
    let mut run = start(&scenario(&target, 40, QUICK, "  watch\n"));
    within(
        "the visitors to be up",
        run.live
            .wait_for(|live| live.visitors_live >= 40 && live.elapsed > Duration::from_secs(1)),
    )
    .await
    .expect("the run is going");
    cluster.scale_in(None).await.expect("an instance drains");
    let result = run.finished().await;
    let event = all_back(&result, 0, "observed");
    assert!(
        event.affected >= 10 && event.causes.drain == event.affected,
        "{event:?}"
    );
    assert!(event.action.is_none());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_actions_are_called_and_failures_reported() {
    let (cluster, target) = outside_cluster().await;
    let calls = Arc::new(AtomicU32::new(0));
    let app = {
        let (cluster, calls) = (cluster.clone(), calls.clone());
        axum::Router::new().route(
            "/drain",
            axum::routing::post(move |body: String| async move {
                assert_eq!(body, "please");
                calls.fetch_add(1, Ordering::SeqCst);
                let info = cluster.scale_in(None).await.expect("an instance drains");
                axum::Json(serde_json::json!({ "server": info.server }))
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let drills = format!(
        "  actions:\n    scale_in: {{ url: 'http://127.0.0.1:{port}/drain', body: please, timeout: \
         2s }}\n    kill: {{ command: [sh, -c, 'exit 7'] }}\n  events:\n    - {{ at: 1s, scale_in: \
         1 }}\n    - {{ at: 1500ms, kill: 1 }}\n    - {{ at: 2s, scale_out: 1 }}\n"
    );
    let result = run(&scenario(&target, 40, QUICK, &drills)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let drained = all_back(&result, 0, "scale_in");
    let action = drained.action.as_ref().expect("an outcome");
    assert_eq!(
        (action.ok, action.detail.as_str(), drained.server.as_str()),
        (true, "HTTP 200", "s2")
    );
    assert!(drained.affected >= 10, "{drained:?}");
    let kill = result.drills[1].action.as_ref().expect("an outcome");
    assert_eq!((kill.ok, kill.detail.as_str()), (false, "sh: exit 7: "));
    let scale_out = result.drills[2].action.as_ref().expect("an outcome");
    assert!(
        !scale_out.ok && scale_out.detail.contains("no `scale_out` action"),
        "{scale_out:?}"
    );
    assert_eq!(
        cluster.instances().len(),
        1,
        "the drained instance left; the failed actions did nothing"
    );
    cluster.shutdown().await;
}

/// The comeback spread of a kill with the given jitter: everyone is lost at the same instant,
/// so the spread is the backoff's doing.
async fn kill_spread(jitter: &str) -> f64 {
    let reconnect = format!("{{ base: 800ms, cap: 800ms, jitter: {jitter} }}");
    let result = run(&scenario(
        EMBEDDED,
        60,
        &reconnect,
        "  - { at: 1s, kill: 1 }\n",
    ))
    .await;
    let event = all_back(&result, 0, "kill");
    assert!(event.affected >= 15, "{event:?}");
    event.spread_ms
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_jitter_the_storm_is_sharper_than_with_full_jitter() {
    let none = kill_spread("none").await;
    let full = kill_spread("full").await;
    // Full jitter spreads first tries uniformly over 0..800ms: p10..p90 is about 640ms.
    assert!(full > 300.0, "full jitter spread {full}ms");
    assert!(
        none < 100.0 && none * 4.0 < full,
        "no jitter {none}ms against full {full}ms"
    );
}

/// A drill whose action failed did not test what the scenario asked for: the run is not a pass
/// (exit 3, `DRILL FAILED`), whatever the visitors measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_drill_action_is_not_a_pass() {
    let cluster = cluster(settings()).await;
    let dir = scratch_dir("drill-failed");
    let path = dir.join("drill.yaml");
    let target = format!("  url: {}\n  group: '{GROUP}'", cluster.directory_url());
    let drills =
        "  actions:\n    kill: { command: [\"false\"] }\n  events:\n    - { at: 500ms, kill: 1 }\n";
    std::fs::write(&path, scenario(&target, 5, QUICK, drills)).expect("scenario written");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_presence-bench"))
            .args(["run", "--quiet"])
            .arg(&path)
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("the runner does not panic");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("FAILED false: exit 1"),
        "the drill table says so: {stdout}"
    );
    let last = stdout
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default();
    assert!(
        last.starts_with("verdict: DRILL FAILED (drill action failed: kill at 0.5s: false: exit 1"),
        "{last}"
    );
    cluster.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
