//! Scenarios parameterised from outside: `${VAR}` substitution and `--set`, through the
//! binary's `validate` (which reads scenarios exactly as `run` does).

use std::path::PathBuf;
use std::process::{Command, Output};

const SCENARIO: &str = "\
name: params
target: { url: \"${PARAMS_TARGET_URL}\" }
duration: ${PARAMS_DURATION:-10s}
load: { stages: [ { to: 5, over: 1s } ] }
behaviors:
  - name: b
    steps: [connect, { hold: 1s }]
";

fn file(test: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "presence-bench-params-{}-{test}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, SCENARIO).unwrap();
    path
}

fn validate(path: &PathBuf, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_presence-bench"));
    command
        .arg("validate")
        .arg(path)
        .args(args)
        .env_remove("PARAMS_TARGET_URL")
        .env_remove("PARAMS_DURATION");
    command
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn variables_come_from_the_environment_with_defaults() {
    let path = file("env");
    let url = [("PARAMS_TARGET_URL", "http://127.0.0.1:7700")];
    let ok = validate(&path, &url, &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(
        stdout(&ok).contains("10s, directory http://127.0.0.1:7700"),
        "{}",
        stdout(&ok)
    );

    let longer = validate(&path, &[url[0], ("PARAMS_DURATION", "1m")], &[]);
    assert!(
        stdout(&longer).contains("1m, directory"),
        "{}",
        stdout(&longer)
    );

    let unset = validate(&path, &[], &[]);
    assert_eq!(unset.status.code(), Some(2));
    assert!(
        stderr(&unset).contains(":2:17: ${PARAMS_TARGET_URL} is not set"),
        "{}",
        stderr(&unset)
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn set_changes_fields_before_validation_and_errors_name_the_field() {
    let path = file("set");
    let url = [("PARAMS_TARGET_URL", "http://127.0.0.1:7700")];
    let set = validate(
        &path,
        &url,
        &[
            "--set",
            "duration=2m",
            "--set",
            "load.stages[0].to=50",
            "--set",
            "target.url=ws://127.0.0.1:1/presence",
        ],
    );
    assert_eq!(set.status.code(), Some(0), "{}", stderr(&set));
    assert!(
        stdout(&set).contains("stages up to 50 visitors, 2m, instance ws://127.0.0.1:1/presence"),
        "{}",
        stdout(&set)
    );

    let bad = validate(&path, &url, &["--set", "duration=2"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("(with --set):")
            && stderr(&bad).contains(": duration: expected a duration"),
        "{}",
        stderr(&bad)
    );

    let nowhere = validate(&path, &url, &["--set", "load.stages[3].to=1"]);
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(
        stderr(&nowhere)
            .contains("--set load.stages[3].to=...: load.stages[3]: the list has 1 items"),
        "{}",
        stderr(&nowhere)
    );

    let unreadable = validate(&path, &url, &["--set", "duration"]);
    assert_eq!(
        unreadable.status.code(),
        Some(2),
        "clap refuses it as a usage error"
    );
    std::fs::remove_file(&path).unwrap();
}
