//! The run's exit codes and outputs, end to end: the binary runs tiny scenarios (2 s each)
//! against the embedded cluster, which listens on 127.0.0.1 port 0.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A 2-second scenario of 20 visitors sending presence every 200ms; `thresholds` is appended.
fn scenario(dir: &Path, name: &str, duration: &str, thresholds: &str) -> PathBuf {
    let text = format!(
        "name: {name}\nduration: {duration}\ntarget: {{ embedded: {{ instances: 1 }} }}\n\
         load: {{ stages: [{{ to: 20, over: 500ms }}] }}\n\
         behaviors:\n  - name: b\n    steps: [connect, presence, {{ repeat: {{ every: 200ms, steps: [presence] }} }}]\n\
         {thresholds}"
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// A fresh directory for one test.
fn workdir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("presence-bench-gate-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_presence-bench")).args(args).output().expect("the binary runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("an exit code")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_passing_gate_exits_0_and_writes_junit_and_json() {
    let dir = workdir("pass");
    let path = scenario(
        &dir,
        "pass",
        "2s",
        "thresholds:\n  presence_ack: [\"p99 < 5s\", \"count > 0\"]\n  errors: [\"count == 0\"]\n",
    );
    let junit = dir.join("out/junit.xml");
    let out = dir.join("out");
    let output = bench(&[
        "run",
        path.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--summary-json",
        "-",
    ]);
    assert_eq!(code(&output), 0, "stderr: {}", text(&output.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is summary.json only");
    assert_eq!(printed["thresholds"][0]["expression"], "p99 < 5s");
    assert_eq!(printed["thresholds"][0]["passed"], true);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("PASS  presence_ack") && stderr.contains("verdict: PASS"), "{stderr}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    let checks = presence_bench::measure::Check::ALL.iter().filter(|check| check.fails_run()).count();
    assert!(xml.contains(&format!("tests=\"{}\" failures=\"0\"", 3 + checks)), "{xml}");

    // The same run as its own baseline: compare passes; a baseline 10x faster fails it.
    let summary = out.join("summary.json");
    let summary = summary.to_str().unwrap();
    assert_eq!(code(&bench(&["compare", summary, summary])), 0);
    let mut faster: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    for stat in ["p50", "p90", "p99", "max"] {
        let value = faster["metrics"]["presence_ack"][stat].as_u64().unwrap();
        faster["metrics"]["presence_ack"][stat] = (value / 10).into();
    }
    let faster_path = dir.join("faster.json");
    std::fs::write(&faster_path, faster.to_string()).unwrap();
    let output = bench(&["compare", faster_path.to_str().unwrap(), summary, "--max-regression", "0%"]);
    assert_eq!(code(&output), 1, "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("REGRESSED"), "{}", text(&output.stdout));
    let output = bench(&["compare", summary, faster_path.to_str().unwrap()]);
    assert_eq!(code(&output), 0, "improvements pass: {}", text(&output.stdout));
    assert!(text(&output.stdout).contains("improved"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_failing_threshold_exits_1() {
    let dir = workdir("fail");
    let path = scenario(&dir, "fail", "2s", "thresholds:\n  presence_ack: [\"p99 < 1us\"]\n");
    let output = bench(&["run", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(code(&output), 1, "stderr: {}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("FAIL  presence_ack             p99 < 1us") && stdout.contains("verdict: FAIL"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_input_exits_2() {
    let dir = workdir("invalid");
    let path = scenario(&dir, "invalid", "2s", "thresholds:\n  presence_ack: [\"p99 < 25\"]\n");
    let output = bench(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("invalid.yaml:9:18: thresholds.presence_ack[0]: expected a duration"), "{stderr}");
    let output = bench(&["validate", path.to_str().unwrap()]);
    assert_eq!(code(&output), 2);
    let output = bench(&["compare", "/nonexistent/a.json", "/nonexistent/b.json"]);
    assert_eq!(code(&output), 2);
    let output = bench(&["run", path.to_str().unwrap(), "--baseline", "/nonexistent/baseline.json"]);
    assert_eq!(code(&output), 2, "a missing baseline is refused before the run");
    let output = bench(&["run", path.to_str().unwrap(), "--max-regression", "ten percent"]);
    assert_eq!(code(&output), 2, "clap errors are invalid input too");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unreachable_target_exits_3() {
    let dir = workdir("unreachable");
    let path = scenario(&dir, "unreachable", "2s", "");
    let output = bench(&["run", path.to_str().unwrap(), "--quiet", "--target", "http://127.0.0.1:1"]);
    assert_eq!(code(&output), 3, "stderr: {}", text(&output.stderr));
    assert!(text(&output.stderr).contains("is the target up?"), "{}", text(&output.stderr));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_abort_on_fail_threshold_stops_the_run_with_3_and_a_report() {
    let dir = workdir("abort");
    let thresholds =
        "thresholds:\n  presence_ack:\n    - { threshold: \"p99 < 1us\", abort_on_fail: true, delay_abort_eval: 1s }\n";
    let path = scenario(&dir, "abort", "60s", thresholds);
    let out = dir.join("out");
    let started = std::time::Instant::now();
    let output = bench(&["run", path.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]);
    assert_eq!(code(&output), 3, "stderr: {}", text(&output.stderr));
    assert!(started.elapsed().as_secs() < 30, "the run stopped early");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let reason = summary["aborted"].as_str().expect("the reason is recorded");
    assert!(reason.contains("threshold presence_ack \"p99 < 1us\" failed"), "{reason}");
    std::fs::remove_dir_all(&dir).unwrap();
}
