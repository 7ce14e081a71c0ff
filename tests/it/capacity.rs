//! `capacity` against a reference server whose acks slow down past a known number of open
//! sessions (`fault_overload_sessions`, `fault_overload_delay`): the search must find that
//! load within its resolution, on a closed and on an open model, and stop at once when a
//! delivery check fails. Small and fast: a hundred visitors, plateaus of two seconds.
//!
//! On a busy 2-core machine a level may honestly be harness-limited; the answer is then
//! "at least", never a capacity: the search is tried again a few times, and if the harness
//! stays the limit, that much is asserted instead.

use std::time::Duration;

use presence_bench::capacity::{self, Settings, Timing};
use presence_bench::run::{Options, RunResult};
use presence_bench::scenario;
use presence_bench::schema::{Answer, CapacitySummary, LevelStatus, ServerCost};
use presence_bench::shutdown::Shutdown;

/// Acks slow by 5 ms per open session past 80: p99 < 50 ms holds up to about 89 sessions.
const FAULT: &str = "fault_overload_sessions: 80, fault_overload_delay: 5ms";
const KNEE_SESSIONS: f64 = 90.0;
/// Every search here ends well within this (about ten levels of three to four seconds).
const SEARCH_WAIT: Duration = Duration::from_secs(120);

fn scenario(load: &str, behavior: &str, extra: &str) -> String {
    format!(
        "name: knee\nseed: 5\nduration: 10s\ntarget:\n  embedded: {{ instances: 1, {FAULT} }}\n\
         load: {load}\n\
         behaviors:\n  - name: b\n    steps: {behavior}\n\
         thresholds:\n  presence_ack: [ \"p99 < 50ms\" ]\n{extra}"
    )
}

fn settings(from: f64, to: f64) -> Settings {
    let timing = Timing {
        warmup: Duration::from_secs(1),
        hold: Duration::from_secs(2),
        confirm: Duration::from_secs(3),
    };
    Settings {
        from: Some(from),
        to: Some(to),
        timing,
        ..Settings::default()
    }
}

/// Searches up to [`ATTEMPTS`] times while the busy machine limits the harness, so that the
/// server's answer is asserted whenever the machine lets one through.
async fn search(yaml: &str, settings: &Settings) -> (RunResult, CapacitySummary) {
    let mut attempt = 1;
    loop {
        let plan = scenario::from_str(yaml, "knee.yaml").unwrap_or_else(|err| panic!("{err}"));
        let searched = capacity::search(plan, settings, Options::default(), Shutdown::new());
        let result = tokio::time::timeout(SEARCH_WAIT, searched).await;
        let result = result
            .expect("the search ends in time")
            .expect("the search is judged");
        let capacity = result.summary.capacity.clone().expect("a capacity section");
        if !matches!(capacity.answer, Answer::AtLeast { .. }) || attempt == ATTEMPTS {
            return (result, capacity);
        }
        attempt += 1;
    }
}

/// Searches tried while the harness is the limit.
const ATTEMPTS: u32 = 3;

/// The answer is the knee within the resolution (in `unit`s), or honestly "at least" when the
/// busy machine limited the harness first. Answers the load that held and the one that broke.
fn found_or_limited(result: &RunResult, capacity: &CapacitySummary) -> Option<(f64, f64)> {
    match &capacity.answer {
        Answer::Capacity {
            load,
            first_broken: Some(broken),
            narrowed: true,
        } => {
            assert_eq!(result.exit_code(), 0, "{:?}", result.verdict);
            assert!(
                broken.load - load <= capacity.resolution * broken.load + 1.0,
                "narrowed to the resolution: {load}..{}",
                broken.load
            );
            assert!(
                broken.reason.contains("presence_ack"),
                "broken by the threshold: {}",
                broken.reason
            );
            Some((*load, broken.load))
        }
        Answer::AtLeast { .. } => {
            assert_eq!(result.exit_code(), 3, "{:?}", result.verdict);
            assert!(capacity
                .levels
                .iter()
                .any(|level| level.status == LevelStatus::HarnessLimited));
            eprintln!(
                "the harness was limited on this busy machine: {}",
                result.verdict.reason
            );
            None
        }
        other => panic!(
            "neither the knee nor a harness limit: {other:?}\n{:#?}",
            capacity.levels
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_closed_model_the_search_finds_the_known_knee_within_its_resolution() {
    let yaml = scenario(
        "{ stages: [ { to: 20, over: 0s } ] }",
        "[connect, { repeat: { every: 500ms, steps: [presence] } }]",
        "",
    );
    let settings = Settings {
        plan_for: Some(1000.0),
        ..settings(25.0, 200.0)
    };
    let (result, capacity) = search(&yaml, &settings).await;
    assert_eq!(capacity.unit, "visitors");
    server_cost_is_plausible(&capacity);
    if let Some((held, broken)) = found_or_limited(&result, &capacity) {
        let steps: Vec<f64> = capacity
            .levels
            .iter()
            .take(3)
            .map(|level| level.load)
            .collect();
        assert_eq!(steps, [25.0, 50.0, 100.0], "a doubling staircase");
        assert!(
            (KNEE_SESSIONS * 0.9..KNEE_SESSIONS).contains(&held),
            "capacity {held} against a knee at 90"
        );
        assert!(
            broken > 80.0,
            "first broken at {broken}, past the fault's threshold"
        );
        let confirm = capacity.levels.last().expect("levels");
        assert_eq!(
            (confirm.phase.as_str(), confirm.load, confirm.status),
            ("confirm", held, LevelStatus::Held)
        );
    }
}

/// The embedded server's process figures (the harness's with it) per level that held, and the
/// search's cost and plan computed from the answer's level alone. With no level held (the
/// busy machine limited the harness from the first), that the cost says so.
fn server_cost_is_plausible(capacity: &CapacitySummary) {
    let held = capacity
        .levels
        .iter()
        .filter(|level| level.status == LevelStatus::Held);
    if held.clone().next().is_none() {
        assert!(
            matches!(capacity.server_cost, ServerCost::NotMeasured { .. }),
            "{:?}",
            capacity.server_cost
        );
        return;
    }
    for level in held {
        let server = level
            .server
            .unwrap_or_else(|| panic!("no server figures at {}: {level:?}", level.load));
        assert_eq!(server.processes, 1, "one embedded process");
        assert!(
            server.memory_bytes > 1 << 20,
            "resident memory at {}: {server:?}",
            level.load
        );
        assert!(
            server.cpu_s_per_s >= 0.0 && server.cpu_s_per_s < 64.0,
            "CPU at {}: {server:?}",
            level.load
        );
    }
    let ServerCost::Measured(cost) = &capacity.server_cost else {
        panic!("{:?}", capacity.server_cost)
    };
    assert!(cost.harness_included, "embedded: the harness's process");
    let level = capacity
        .levels
        .iter()
        .rev()
        .find(|level| level.load == cost.at && level.status == LevelStatus::Held);
    let server = level
        .and_then(|level| level.server)
        .expect("the cost is read at a level that held");
    assert_eq!(server, cost.per_process);
    let per_1000 = |figure: f64| figure / cost.at * 1000.0;
    assert!(
        (cost.memory_bytes - per_1000(server.memory_bytes as f64)).abs() < 1.0,
        "{cost:?}"
    );
    assert!(
        (cost.cpu_s_per_s - per_1000(server.cpu_s_per_s)).abs() < 1e-9,
        "{cost:?}"
    );
    let held = capacity
        .levels
        .iter()
        .filter(|level| level.status == LevelStatus::Held)
        .map(|level| level.load);
    assert_eq!(cost.measured_to, held.clone().fold(0.0, f64::max));
    assert_eq!(cost.measured_from, held.fold(f64::MAX, f64::min));
    let plan = cost
        .plan
        .as_ref()
        .expect("--plan-for 1000 with a level that held");
    assert_eq!(plan.processes, (1000.0 / cost.at).ceil() as u64, "{plan:?}");
    assert!(
        plan.extrapolated,
        "1000 visitors is past the levels run: {plan:?}"
    );
    assert!(
        (plan.memory_bytes - plan.processes as f64 * server.memory_bytes as f64).abs() < 1.0,
        "{plan:?}"
    );
    let text = capacity.render(&["presence_ack".to_owned()]);
    assert!(
        text.contains("server cost (embedded: the harness's own CPU and memory included): "),
        "{text}"
    );
    assert!(text.contains(", extrapolated beyond"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_an_open_model_the_search_finds_the_arrival_rate_of_the_known_knee() {
    // Each arrival stays about 2 s, so the sessions open are about twice the rate.
    let yaml = scenario(
        "{ arrival_rate: { rate: 10/s, max_visitors: 1000, for: 10s } }",
        "[connect, { repeat: { times: 4, every: 500ms, steps: [presence] } }, disconnect]",
        "",
    );
    let (result, capacity) = search(&yaml, &settings(10.0, 160.0)).await;
    assert_eq!(capacity.unit, "arrivals/s");
    if let Some((held, broken)) = found_or_limited(&result, &capacity) {
        let peak = |load: f64| {
            capacity
                .levels
                .iter()
                .find(|level| level.load == load)
                .map(|level| level.visitors_peak)
        };
        let (held_peak, broken_peak) = (peak(held).unwrap(), peak(broken).unwrap());
        assert!(
            held_peak as f64 <= KNEE_SESSIONS + 5.0,
            "held at {held}/s with {held_peak} sessions"
        );
        assert!(
            broken_peak as f64 > 80.0,
            "broke at {broken}/s with {broken_peak} sessions, past the threshold"
        );
        assert!(
            (25.0..=60.0).contains(&held),
            "about 45/s for sessions of about 2 s: {held}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_check_failing_stops_the_climb_at_that_level() {
    let agents = "agents:\n  count: 2\n  signals: { rate: 50/s }\n  grace: 300ms\n";
    let browsing = "[connect, { repeat: { every: 500ms, steps: [presence] } }]";
    let yaml = scenario("{ stages: [ { to: 20, over: 0s } ] }", browsing, agents)
        .replace(FAULT, "fault_drop_signals: 1.0");
    let (result, capacity) = search(&yaml, &settings(10.0, 160.0)).await;
    match &capacity.answer {
        Answer::Below { first_broken } => {
            assert_eq!(
                capacity.levels.len(),
                1,
                "no level after the one that lost signals"
            );
            assert!(
                first_broken.reason.contains("signals_lost"),
                "{}",
                first_broken.reason
            );
            assert_eq!(result.exit_code(), 1, "{:?}", result.verdict);
        }
        Answer::AtLeast { .. } => eprintln!(
            "the harness was limited on this busy machine: {}",
            result.verdict.reason
        ),
        other => panic!("the climb went on: {other:?}\n{:#?}", capacity.levels),
    }
}

/// The command line: settings it cannot run with are invalid input (exit 2, naming the
/// option); a target that is down is no verdict (exit 3), in summary.json and JUnit too.
#[test]
fn the_command_refuses_bad_settings_and_gives_no_verdict_on_a_target_down() {
    let dir = crate::common::scratch_dir("capacity-cli");
    let file = dir.join("knee.yaml");
    let yaml = scenario(
        "{ stages: [ { to: 20, over: 0s } ] }",
        "[connect, { repeat: { every: 500ms, steps: [presence] } }]",
        "",
    );
    std::fs::write(&file, yaml).unwrap();
    let bench = |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_presence-bench"));
        command
            .arg("capacity")
            .arg(&file)
            .args(args)
            .output()
            .expect("the binary runs")
    };
    for (args, named) in [
        (&["--resolution", "60%"][..], "--resolution"),
        (
            &["--from", "100", "--to", "50"],
            "--to (50) must be above --from (100)",
        ),
        (&["--processes", "2"], "an embedded cluster (one per shard)"),
        (
            &[
                "--processes",
                "2",
                "--target",
                "http://127.0.0.1:1",
                "--from",
                "1",
                "--to",
                "1000000",
            ],
            "more than 64",
        ),
        (
            &["--plan-for", "0"],
            "--plan-for must be a load above 0, found 0",
        ),
    ] {
        let output = bench(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
    let (out, junit) = (dir.join("out"), dir.join("junit.xml"));
    let output = bench(&[
        "--target",
        "http://127.0.0.1:1",
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "-q",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("verdict: TARGET DOWN (no verdict: "),
        "{stdout}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["capacity"]["answer"]["kind"], "no_verdict");
    let not_measured = serde_json::json!({ "kind": "not_measured", "reason": "no metrics_url" });
    assert_eq!(
        summary["capacity"]["server_cost"], not_measured,
        "a URL target without metrics_url"
    );
    assert!(
        stdout.contains("server cost: not measured (no metrics_url)"),
        "{stdout}"
    );
    assert_eq!(summary["outcome"]["exit_code"], 3);
    let junit = std::fs::read_to_string(junit).unwrap();
    assert!(
        junit.contains(r#"<testcase classname="capacity" name="capacity">"#)
            && junit.contains("<error"),
        "{junit}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
