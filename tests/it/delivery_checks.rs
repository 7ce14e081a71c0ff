//! The harness's delivery checks against the reference server: all zero on a healthy
//! server, and each one counting violations when the matching fault switch is on. A check
//! that cannot fail would be a defect.

use crate::common;
use crate::common::scratch_dir;

use presence_bench::measure::{Check, Counter, Metric, Totals};
use presence_bench::scenario;

/// A short run: visitors of the given behaviors, agents that watch and signal them.
fn scenario(fault: &str, behaviors: &str, agents: &str) -> String {
    scenario_holding(fault, behaviors, agents, 2)
}

/// The same with a hold of `hold_s` seconds between the ramps.
fn scenario_holding(fault: &str, behaviors: &str, agents: &str, hold_s: u32) -> String {
    let duration_ms = hold_s * 1000 + 600;
    format!(
        "name: checks\nseed: 3\ntarget:\n  embedded: {{ instances: 2, drain_window: \
         200ms{fault} }}\nduration: {duration_ms}ms\n\
         load:\n  stages:\n    - {{ to: 30, over: 300ms }}\n    - {{ hold: {hold_s}s }}\n    - \
         {{ to: 0, over: 300ms }}\n\
         behaviors:\n{behaviors}agents:\n{agents}"
    )
}

const BROWSING: &str =
    "  - name: browsing\n    steps:\n      - connect\n      - presence: { data: { a: 1 } }\n      \
     - repeat:\n          every: 200ms\n          steps: [ { presence: { data: { b: \"{{rand_int 0 \
     9}}\" } } } ]\n";
const TWO_TABS: &str = "  - name: tabs\n    steps: [ connect, open_tab, { hold: 300ms }, \
                        switch_tab, { hold: 300ms }, switch_tab, { hold: 2s } ]\n";
/// A blur that comes after the grace: each move is followed by a step boundary past the grace
/// (500 ms) and before the blur, which the server sends 800 ms late; then a switch back, and
/// a hold past the run's end (a visitor that finished would be replaced by one the ramp-down
/// stops between its moves).
const SLOW_BLUR_TABS: &str = "  - name: tabs\n    steps: [ connect, open_tab, { hold: 650ms }, \
                              { hold: 400ms }, switch_tab, { hold: 650ms }, { hold: 5s } ]\n";
const UNIQUE: &str = "  - name: codes\n    steps: [ connect_unique, { hold: 3s } ]\n";
const COMES_AND_GOES: &str = "  - name: goes\n    steps: [ connect, { hold: 200ms }, disconnect, \
                              { hold: 700ms }, connect, { hold: 700ms }, disconnect, { hold: \
                              700ms }, connect, { hold: 1s } ]\n";
const SIGNALING: &str =
    "  count: 2\n  watch: 100%\n  signals: { rate: 100/s }\n  invokes: { rate: 10/s }\n  grace: \
     500ms\n";

async fn run(yaml: &str) -> Totals {
    let plan = scenario::from_str(yaml, "checks.yaml").expect("the test scenario is valid");
    common::start_run(plan).finished().await.totals
}

fn failing(totals: &Totals) -> Vec<(&'static str, u64)> {
    Check::ALL
        .into_iter()
        .filter(|check| check.fails_run())
        .map(|check| (check.name(), totals.violations(check)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_server_passes_every_check() {
    let behaviors = [BROWSING, TWO_TABS, UNIQUE, COMES_AND_GOES].concat();
    let totals = run(&scenario("", &behaviors, SIGNALING)).await;
    assert_eq!(failing(&totals), vec![]);
    assert!(
        totals.counter(Counter::SignalsReceived) > 50,
        "signals were exercised"
    );
    assert!(
        totals.histogram(Metric::PresencePropagation).len() > 20,
        "watching was exercised"
    );
}

/// Issue 23: visitors on xhr polling open a second tab and close it while agents signal them
/// (`signals_lost` 11 and 4 in 2 of 3 runs of such a scenario). Closed right after its
/// presence is acknowledged, the tab has no receiving request out (the harness polls again
/// only when it next reads that tab), so the server learns of the close only at its disconnect
/// delay: until then the closed tab keeps focus and is sent the visitor's signals. A server
/// that sends what the closed tab left unacknowledged to the tab taking focus (after its
/// `focused`, from which on the ledger expects it) loses none; each close is followed by a
/// hold past the delay and the grace, before a `connect` would replay them anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_polling_tab_while_agents_signal_loses_nothing() {
    let yaml = r#"
name: close-tab
seed: 3
target:
  embedded: { instances: 1, disconnect_delay: 1s }
  transport: xhr_polling
duration: 4s
load:
  stages:
    - { to: 20, over: 100ms }
    - { hold: 3900ms }
behaviors:
  - name: tabs
    steps:
      - connect
      - presence
      - repeat: { times: 2, steps: [ open_tab, presence, close_tab, { hold: 1500ms } ] }
      - { hold: 10s }
agents:
  count: 2
  signals: { rate: 100/s }
  grace: 500ms
"#;
    let totals = run(yaml).await;
    assert_eq!(failing(&totals), vec![]);
    assert!(totals.errors.is_empty(), "{:?}", totals.errors);
    assert!(
        totals.counter(Counter::SignalsReceived) > 200,
        "{}",
        totals.counter(Counter::SignalsReceived)
    );
    // The signals the closed tabs kept came after the disconnect delay.
    assert!(
        totals.histogram(Metric::SignalDelivery).max() > 1_000_000,
        "the closes were not noticed at once"
    );
}

async fn violations(fault: &str, behaviors: &str, agents: &str, check: Check) -> u64 {
    let totals = run(&scenario(&format!(", {fault}"), behaviors, agents)).await;
    totals.violations(check)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_signals_are_lost() {
    assert!(
        violations(
            "fault_drop_signals: 0.5",
            BROWSING,
            SIGNALING,
            Check::SignalsLost
        )
        .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blur_to_the_focused_tab_is_misrouted() {
    assert!(
        violations(
            "fault_blur_focused: true",
            TWO_TABS,
            SIGNALING,
            Check::BlurMisrouted
        )
        .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blur_that_comes_after_the_grace_is_a_latency_not_a_violation() {
    // The last move's blur comes about 2.2 s in: a 3 s hold leaves it 1 s on a busy machine
    // before the ramp-down stops its visitor (which would rightly count it missing).
    let totals = run(&scenario_holding(
        ", fault_blur_delay: 800ms",
        SLOW_BLUR_TABS,
        SIGNALING,
        3,
    ))
    .await;
    assert_eq!(failing(&totals), vec![], "late, but to the right tab");
    let blur = totals.histogram(Metric::Blur);
    assert!(
        blur.len() >= 30,
        "the late blurs were timed: {}",
        blur.len()
    );
    assert!(
        blur.max() >= 800_000,
        "from the move: max {} us",
        blur.max()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blur_that_never_comes_is_missing_not_misrouted() {
    let totals = run(&scenario(", fault_blur_delay: 1h", TWO_TABS, SIGNALING)).await;
    assert!(totals.violations(Check::BlurMissing) > 0);
    assert_eq!(
        totals.violations(Check::BlurMisrouted),
        0,
        "no blur reached a wrong tab"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_ids_handed_out_twice_collide() {
    assert!(
        violations(
            "fault_duplicate_unique: true",
            UNIQUE,
            SIGNALING,
            Check::UniqueCollisions
        )
        .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_digit_unique_ids_are_malformed() {
    assert!(
        violations(
            "fault_malformed_unique: true",
            UNIQUE,
            SIGNALING,
            Check::UniqueMalformed
        )
        .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_newest_first_breaks_the_order() {
    let one_agent_offline =
        "  count: 1\n  signals: { rate: 100/s }\n  offline_signals: 100%\n  grace: 500ms\n";
    assert!(
        violations(
            "fault_reorder_signals: true",
            COMES_AND_GOES,
            one_agent_offline,
            Check::SignalsOutOfOrder
        )
        .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_to_a_tab_without_focus_are_counted() {
    assert!(
        violations(
            "fault_signal_unfocused: true",
            TWO_TABS,
            SIGNALING,
            Check::SignalsUnfocused
        )
        .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_events_without_data_are_missed_and_stale() {
    let totals = run(&scenario(
        ", fault_stale_presence: true",
        BROWSING,
        SIGNALING,
    ))
    .await;
    assert!(totals.violations(Check::PresenceMissed) > 0);
    assert!(totals.violations(Check::PresenceStale) > 0);
}

#[test]
fn a_violation_fails_the_run_with_exit_code_1() {
    let dir = scratch_dir("checks");
    let path = dir.join("lossy.yaml");
    std::fs::write(
        &path,
        scenario(", fault_drop_signals: 1.0", BROWSING, SIGNALING),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args(["run", "--quiet"])
        .arg(&path)
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  signals_lost"), "{stdout}");
    std::fs::remove_dir_all(&dir).unwrap();
}
