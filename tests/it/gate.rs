//! The run's exit codes and outputs, end to end: the binary runs tiny scenarios (2 s each)
//! against the embedded cluster, which listens on 127.0.0.1 port 0, or against targets that
//! are down. Every outcome reads the same in the exit code, the table's last line,
//! summary.json's `outcome` and JUnit (docs/ci.md).

use crate::common::scratch_dir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A 2-second scenario of 20 visitors sending presence every 200ms; `thresholds` is appended.
fn scenario(dir: &Path, name: &str, duration: &str, thresholds: &str) -> PathBuf {
    let text = format!(
        "name: {name}\nduration: {duration}\ntarget: {{ embedded: {{ instances: 1 }} }}\n\
         load: {{ stages: [{{ to: 20, over: 500ms }}] }}\n\
         behaviors:\n  - name: b\n    steps: [connect, presence, {{ repeat: {{ every: 200ms, \
         steps: [presence] }} }}]\n\
         {thresholds}"
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("an exit code")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The table's last line (on stderr, the table is followed by what the interval files cost
/// and where the reports went).
fn verdict_line(table: &[u8]) -> String {
    let table = text(table);
    let after =
        |line: &str| line.starts_with("reports written to") || line.starts_with("interval files:");
    let last = table
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty() && !after(line));
    last.unwrap_or_default().to_owned()
}

/// Asserts a pass. A machine this busy (2 cores, tests in parallel) may lag the harness itself:
/// that run is honestly no clean pass but HARNESS-LIMITED (exit 3), and nothing else failed.
fn assert_passed(output: &Output, table: &[u8]) {
    let line = verdict_line(table);
    match code(output) {
        3 => assert!(
            line.starts_with("verdict: HARNESS-LIMITED ("),
            "{line}\n{}",
            text(&output.stderr)
        ),
        code => assert_eq!(
            (code, line.as_str()),
            (0, "verdict: PASS"),
            "{}",
            text(&output.stderr)
        ),
    }
}

/// Runs `scenario` quietly with its reports in `out` (summary.json, latency.hlog, junit.xml),
/// and `extra` arguments.
fn run_into(scenario: &Path, out: &Path, extra: &[&str]) -> Output {
    let (scenario, junit) = (scenario.to_str().unwrap(), out.join("junit.xml"));
    let mut args = vec![
        "run",
        scenario,
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    bench(&args)
}

/// summary.json as written to `path`.
fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_passing_gate_exits_0_and_writes_junit_and_json() {
    let dir = scratch_dir("gate-pass");
    let path = scenario(
        &dir,
        "pass",
        "2s",
        "thresholds:\n  presence_ack: [\"p99 < 5s\", \"count > 0\"]\n  errors: [\"count == 0\"]\n",
    );
    let out = dir.join("out");
    let junit = out.join("junit.xml");
    let output = run_into(&path, &out, &["--summary-json", "-"]);
    assert_passed(&output, &output.stderr);
    let printed: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is summary.json only");
    assert_eq!(printed["thresholds"][0]["expression"], "p99 < 5s");
    assert_eq!(printed["thresholds"][0]["passed"], true);
    assert_eq!(
        printed["outcome"]["exit_code"],
        code(&output),
        "{}",
        printed["outcome"]
    );
    let stderr = text(&output.stderr);
    assert!(stderr.contains("PASS  presence_ack"), "{stderr}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let checks = presence_bench::measure::Check::ALL
        .iter()
        .filter(|check| check.fails_run())
        .count();
    // A harness-limited run has one more case: `run`, erroring.
    let limited = usize::from(code(&output) == 3);
    let counts = format!(
        "tests=\"{}\" failures=\"0\" errors=\"{limited}\"",
        3 + checks + limited
    );
    assert!(xml.contains(&counts), "{xml}");

    // The same run as its own baseline: compare passes; a baseline 10x faster fails it.
    let summary = out.join("summary.json");
    let summary = summary.to_str().unwrap();
    assert_eq!(code(&bench(&["compare", summary, summary])), 0);
    let mut faster: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    for stat in ["p50", "p90", "p99", "max"] {
        let value = faster["metrics"]["presence_ack"][stat].as_u64().unwrap();
        faster["metrics"]["presence_ack"][stat] = (value / 10).into();
    }
    let faster_path = dir.join("faster.json");
    std::fs::write(&faster_path, faster.to_string()).unwrap();
    let output = bench(&[
        "compare",
        faster_path.to_str().unwrap(),
        summary,
        "--max-regression",
        "0%",
    ]);
    assert_eq!(code(&output), 1, "{}", text(&output.stdout));
    assert!(
        text(&output.stdout).contains("REGRESSED"),
        "{}",
        text(&output.stdout)
    );
    // max is not judged by default, and a fast p50 moving by less than 1ms is within the default
    // tolerance: a tolerance of 0% shows the improvement.
    let output = bench(&[
        "compare",
        summary,
        faster_path.to_str().unwrap(),
        "--max-regression",
        "0%",
    ]);
    assert_eq!(
        code(&output),
        0,
        "improvements pass: {}",
        text(&output.stdout)
    );
    assert!(text(&output.stdout).contains("improved"));

    // A run regressing against the faster baseline is red in every output, not only the code.
    let again = dir.join("again");
    let output = run_into(
        &path,
        &again,
        &[
            "--baseline",
            faster_path.to_str().unwrap(),
            "--max-regression",
            "0%",
        ],
    );
    if code(&output) == 3 {
        // On a busy machine (other processes' CPU, or the harness lagging) a regression alone
        // is no verdict (docs/ci.md): the verdict still names what it did not judge.
        let line = verdict_line(&output.stdout);
        assert!(
            line.contains("not judged (presence_ack regressed: p50"),
            "{line}"
        );
        let written = json(&again.join("summary.json"));
        assert_eq!(written["outcome"]["status"], "harness_limited");
    } else {
        assert_eq!(code(&output), 1, "stderr: {}", text(&output.stderr));
        let line = verdict_line(&output.stdout);
        assert!(
            line.starts_with("verdict: FAIL (") && line.contains("presence_ack regressed: p50"),
            "{line}"
        );
        assert!(
            text(&output.stdout).contains("FAIL  presence_ack             (baseline)"),
            "{}",
            text(&output.stdout)
        );
        let written = json(&again.join("summary.json"));
        assert_eq!(
            (
                &written["outcome"]["status"],
                &written["outcome"]["exit_code"]
            ),
            (&"failed".into(), &1.into())
        );
        let xml = std::fs::read_to_string(again.join("junit.xml")).unwrap();
        let case = xml
            .split("<testcase")
            .find(|case| case.contains("name=\"presence_ack: within tolerance"))
            .unwrap();
        assert!(
            case.contains("classname=\"baseline\"")
                && case.contains("<failure message=\"regressed: p50"),
            "{xml}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_threshold_exits_1() {
    let dir = scratch_dir("gate-fail");
    let path = scenario(
        &dir,
        "fail",
        "2s",
        "thresholds:\n  presence_ack: [\"p99 < 1us\"]\n",
    );
    let output = bench(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&output), 1, "stderr: {}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("FAIL  presence_ack             p99 < 1us")
            && stdout.contains("verdict: FAIL"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A history of runs as the baseline: `baseline add` keeps the last N, and a rerun of the same
/// build against it passes, max and all.
#[test]
fn a_baseline_history_is_kept_and_judged_against() {
    let dir = scratch_dir("gate-history");
    let path = scenario(&dir, "history", "2s", "");
    let history = dir.join("baseline");
    let history_arg = history.to_str().unwrap();
    for run in 0..2 {
        let out = dir.join(format!("run{run}"));
        let output = run_into(&path, &out, &[]);
        assert_passed(&output, &output.stdout);
        let summary = out.join("summary.json");
        let mut add = vec![
            "baseline",
            "add",
            summary.to_str().unwrap(),
            "--to",
            history_arg,
            "--keep",
            "1",
        ];
        // A run the busy test machine left harness-limited (exit 3, nothing failed) is refused
        // unless asked for: that refusal is `baseline add`'s own test's, not this one's.
        if code(&output) == 3 {
            add.push("--allow-failed");
        }
        let output = bench(&add);
        assert_eq!(code(&output), 0, "{}", text(&output.stderr));
        assert_eq!(
            std::fs::read_dir(&history).unwrap().count(),
            1,
            "--keep 1 keeps the latest run only"
        );
    }
    let out = dir.join("again");
    let output = run_into(&path, &out, &["--baseline", history_arg]);
    let table = text(&output.stdout);
    assert!(table.contains("not judged (max)"), "{table}");
    assert_passed(&output, &output.stdout);
    let summary = out.join("summary.json");
    let output = bench(&[
        "compare",
        history_arg,
        summary.to_str().unwrap(),
        "--tolerance",
        "presence_ack.p50=off",
    ]);
    assert!(
        text(&output.stdout).contains("presence_ack         p50"),
        "{}",
        text(&output.stdout)
    );
    assert!(
        text(&output.stdout).contains("not judged (off)"),
        "{}",
        text(&output.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_input_exits_2() {
    let dir = scratch_dir("gate-invalid");
    let path = scenario(
        &dir,
        "invalid",
        "2s",
        "thresholds:\n  presence_ack: [\"p99 < 25\"]\n",
    );
    let output = bench(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("invalid.yaml:9:18: thresholds.presence_ack[0]: expected a duration"),
        "{stderr}"
    );
    let output = bench(&["validate", path.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    let output = bench(&["compare", "/nonexistent/a.json", "/nonexistent/b.json"]);
    assert_eq!(code(&output), 2);
    let output = bench(&[
        "run",
        path.to_str().unwrap(),
        "--baseline",
        "/nonexistent/baseline.json",
    ]);
    assert_eq!(
        code(&output),
        2,
        "a missing baseline is refused before the run"
    );
    let output = bench(&[
        "run",
        path.to_str().unwrap(),
        "--max-regression",
        "ten percent",
    ]);
    assert_eq!(code(&output), 2, "clap errors are invalid input too");
    let output = bench(&[
        "run",
        path.to_str().unwrap(),
        "--tolerance",
        "presence_ack.p95=5%",
    ]);
    assert_eq!(code(&output), 2, "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("expected a compared statistic (p50, p90, p99, max)"));
    let tolerances = scenario(
        &dir,
        "tolerances",
        "2s",
        "compare:\n  metrics:\n    presence_ack.max: 5 percent\n",
    );
    let output = bench(&["validate", tolerances.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(
            "tolerances.yaml:10:23: compare.metrics.presence_ack.max: expected a tolerance"
        ),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A target found down stops within seconds of a 20 s run, naming what was found, in the table,
/// summary.json and JUnit.
fn assert_down_fast(test: &str, target: &str, found: &str) {
    let dir = scratch_dir(&format!("gate-{test}"));
    let path = scenario(&dir, test, "20s", "");
    let out = dir.join("out");
    let junit = out.join("junit.xml");
    let started = std::time::Instant::now();
    let output = run_into(&path, &out, &["--target", target]);
    let took = started.elapsed();
    assert_eq!(code(&output), 3, "stderr: {}", text(&output.stderr));
    assert!(
        took.as_secs() < 8,
        "stopped at once, not after the 20 s duration: {took:?}"
    );
    let line = verdict_line(&output.stdout);
    assert!(
        line.starts_with("verdict: TARGET DOWN (target down: ") && line.contains(found),
        "{line}"
    );
    assert!(
        !text(&output.stdout).contains("FAIL  "),
        "nothing else is judged: {}",
        text(&output.stdout)
    );
    let written = json(&out.join("summary.json"));
    assert_eq!(written["outcome"]["status"], "target_down");
    assert!(
        written["outcome"]["reason"]
            .as_str()
            .unwrap()
            .contains(found),
        "{written}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("errors=\"1\"") && xml.contains("<error message=\"verdict: TARGET DOWN"),
        "{xml}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_refused_port_is_a_target_down_within_seconds() {
    // Port 1 on loopback: nothing listens there.
    assert_down_fast("refused", "http://127.0.0.1:1", "Connection refused");
}

/// A SockJS server that speaks another message format (it opens sessions and never answers
/// `connect`): exit 3, and the table, summary.json and JUnit name the layer that failed.
#[test]
fn a_sockjs_server_that_never_answers_connect_is_a_target_down_within_seconds() {
    use crate::common::fault_server::{Fault, FaultServer};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FaultServer::start(Fault::Stall {
        from: std::time::Duration::ZERO,
    }));
    assert_down_fast(
        "never-connected",
        &server.directory_url(),
        "`connect` got no `connected`",
    );
    drop(server);
}

#[test]
fn a_web_server_that_is_not_a_presence_directory_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\n\
                  not found",
            );
        }
    });
    assert_down_fast(
        "not-presence",
        &target,
        "not a Presence server: HTTP 404 on /locate",
    );
    let instance = format!("{}/presence", target.replacen("http://", "ws://", 1));
    assert_down_fast(
        "not-an-instance",
        &instance,
        "not a Presence server: WebSocket upgrade failed",
    );
}

#[test]
fn an_abort_on_fail_threshold_is_a_failed_threshold_exit_1() {
    let dir = scratch_dir("gate-abort");
    let thresholds =
        "thresholds:\n  presence_ack:\n    - { threshold: \"p99 < 1us\", abort_on_fail: true, \
         delay_abort_eval: 1s }\n";
    let path = scenario(&dir, "abort", "60s", thresholds);
    let out = dir.join("out");
    let junit = out.join("junit.xml");
    let started = std::time::Instant::now();
    let output = run_into(&path, &out, &[]);
    assert_eq!(code(&output), 1, "stderr: {}", text(&output.stderr));
    assert!(started.elapsed().as_secs() < 30, "the run stopped early");
    let line = verdict_line(&output.stdout);
    assert!(
        line.starts_with("verdict: ABORTED (aborted at ") && line.contains("presence_ack"),
        "{line}"
    );
    let summary = json(&out.join("summary.json"));
    let reason = summary["aborted"].as_str().expect("the reason is recorded");
    assert!(
        reason.contains("threshold presence_ack \"p99 < 1us\" failed"),
        "{reason}"
    );
    assert_eq!(
        (
            &summary["outcome"]["status"],
            &summary["outcome"]["exit_code"]
        ),
        (&"aborted".into(), &1.into())
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<failure message=\"verdict: ABORTED"), "{xml}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_check_the_scenario_set_up_that_never_ran_fails_as_not_exercised() {
    let dir = scratch_dir("gate-not-exercised");
    // The unique connection comes after a hold longer than the run: it never happens.
    let text_ = "name: idle\nduration: 2s\ntarget: { embedded: { instances: 1 } }\n\
         load: { stages: [{ to: 5, over: 200ms }] }\n\
         behaviors:\n  - name: b\n    steps: [connect, { hold: 1m }, connect_unique]\n";
    let path = dir.join("idle.yaml");
    std::fs::write(&path, text_).unwrap();
    let output = bench(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&output), 1, "stderr: {}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("FAIL  unique_collisions        (check) count == 0   not exercised"),
        "{stdout}"
    );
    assert!(
        stdout.contains("SKIP  signals_lost"),
        "no agents: shown, not failed: {stdout}"
    );
    assert!(
        verdict_line(&output.stdout).starts_with("verdict: FAIL (unique_collisions not exercised"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_fail_a_run_unless_a_threshold_governs_them() {
    let dir = scratch_dir("gate-errors");
    // Agents that send about four signals a second to five visitors: most waits time out, an
    // error of its own kind.
    let scenario_text = |thresholds: &str| {
        format!(
            "name: waits\nduration: 3s\ntarget: {{ embedded: {{ instances: 1 }} }}\n\
             load: {{ stages: [{{ to: 5, over: 200ms }}] }}\n\
             agents: {{ count: 1, signals: {{ rate: 4/s }}, grace: 1s }}\n\
             behaviors:\n  - name: b\n    steps: [connect, {{ repeat: {{ steps: [{{ await_signal: \
             {{ timeout: 100ms }} }}] }} }}]\n\
             {thresholds}"
        )
    };
    let path = dir.join("waits.yaml");
    std::fs::write(&path, scenario_text("")).unwrap();
    let output = bench(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&output), 1, "stderr: {}", text(&output.stderr));
    let line = verdict_line(&output.stdout);
    assert!(
        line.starts_with("verdict: FAIL (") && line.contains("signal_timeout errors"),
        "{line}"
    );
    std::fs::write(
        &path,
        scenario_text("thresholds:\n  errors.signal_timeout: [\"count < 100000\"]\n"),
    )
    .unwrap();
    let output = bench(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_passed(&output, &output.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_output_that_cannot_be_written_is_refused_before_the_run() {
    let dir = scratch_dir("gate-unwritable");
    let path = scenario(&dir, "unwritable", "20s", "");
    // A regular file where a directory is needed: no user, not even root, can write below it.
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let under = file.join("junit.xml");
    for args in [
        ["--junit", under.to_str().unwrap()],
        ["--out", file.to_str().unwrap()],
        ["--summary-json", under.to_str().unwrap()],
    ] {
        let started = std::time::Instant::now();
        let output = bench(&["run", path.to_str().unwrap(), "--quiet", args[0], args[1]]);
        assert_eq!(code(&output), 2, "{args:?}: {}", text(&output.stderr));
        assert!(
            started.elapsed().as_secs() < 8,
            "refused before the 20 s run"
        );
        assert!(
            text(&output.stderr).contains(file.to_str().unwrap()),
            "names the path: {}",
            text(&output.stderr)
        );
        assert!(!text(&output.stdout).contains("verdict:"), "nothing ran");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
