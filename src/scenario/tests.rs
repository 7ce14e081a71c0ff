//! Whole-document tests: every validation error names the right line, column and path.

use std::time::Duration;

use super::*;

const VALID: &str = "\
name: t
duration: 1m
load:
  stages:
    - { to: 10, over: 10s }
    - { hold: 20s }
reconnect: { base: 100ms, cap: 10s }
behaviors:
  - name: a
    weight: 3
    steps:
      - connect
      - hold: 10s
  - name: b
    steps: [connect_unique, extend]
";

/// Replaces the first occurrence of `from` in the valid document with `to`.
fn variant(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from:?} is not in the document");
    VALID.replacen(from, to, 1)
}

/// Compiles `text`, expecting an error; returns (line, column, path, message).
fn invalid(text: &str) -> (usize, usize, String, String) {
    match from_str(text, "x.yaml") {
        Err(ScenarioError::Invalid(mut all)) => {
            let err = all.remove(0);
            (err.line, err.column, err.path, err.message)
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn a_valid_document_compiles() {
    let plan = from_str(VALID, "x.yaml").unwrap();
    assert_eq!(plan.name, "t");
    assert_eq!(plan.seed, 1);
    assert_eq!(plan.duration, Duration::from_secs(60));
    assert_eq!(plan.behaviors[1].weight, 1);
    assert_eq!(
        plan.target.destination,
        Destination::Embedded(Box::default())
    );
}

#[test]
fn errors_display_file_line_column_path() {
    let text = variant("- hold: 10s", "- hold: 10");
    let err = from_str(&text, "scenarios/x.yaml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "scenarios/x.yaml:13:15: behaviors[0].steps[1].hold: expected a duration with a unit such \
         as 500ms or 10s, found \"10\""
    );
}

#[test]
fn unknown_fields_are_refused_where_they_are() {
    let (line, column, path, message) = invalid(&variant("    weight: 3", "    wieght: 3"));
    assert_eq!((line, column, path.as_str()), (10, 5, "behaviors[0]"));
    assert!(
        message.starts_with(
            "unknown field `wieght`, expected one of `name`, `weight`, `transport`, `steps`"
        ),
        "{message}"
    );

    let (line, column, path, message) = invalid(&format!("{VALID}colour: red\n"));
    assert_eq!((line, column, path.as_str()), (16, 1, ""));
    assert!(message.starts_with("unknown field `colour`"), "{message}");
}

#[test]
fn durations_need_units() {
    let (line, column, path, message) = invalid(&variant("duration: 1m", "duration: 60"));
    assert_eq!((line, column, path.as_str()), (2, 11, "duration"));
    assert_eq!(
        message,
        "expected a duration with a unit such as 500ms or 10s, found \"60\""
    );
    let (line, column, path, _) = invalid(&variant("cap: 10s", "cap: 10"));
    assert_eq!((line, column, path.as_str()), (7, 32, "reconnect.cap"));
}

#[test]
fn weights_must_be_positive_whole_numbers() {
    let (line, column, path, message) = invalid(&variant("weight: 3", "weight: 0"));
    assert_eq!(
        (line, column, path.as_str()),
        (10, 13, "behaviors[0].weight")
    );
    assert_eq!(
        message,
        "expected a weight (a whole number, 1 or more), found \"0\""
    );
    let (_, _, _, message) = invalid(&variant("weight: 3", "weight: 2.5"));
    assert_eq!(
        message,
        "expected a weight (a whole number, 1 or more), found \"2.5\""
    );
}

#[test]
fn behaviors_and_steps_must_not_be_empty() {
    let behaviors = VALID.find("behaviors:").unwrap();
    let (line, column, path, message) = invalid(&format!("{}behaviors: []\n", &VALID[..behaviors]));
    assert_eq!((line, column, path.as_str()), (8, 12, "behaviors"));
    assert_eq!(
        message,
        "expected a list with at least one item, found an empty list"
    );

    let (line, _, _, message) = invalid(&VALID[..behaviors]);
    assert_eq!(line, 1);
    assert_eq!(message, "missing field `behaviors`");

    let (line, column, path, _) = invalid(&variant("steps: [connect_unique, extend]", "steps: []"));
    assert_eq!(
        (line, column, path.as_str()),
        (15, 12, "behaviors[1].steps")
    );
}

#[test]
fn duplicate_behavior_names_are_refused() {
    let (line, column, path, message) = invalid(&variant("name: b", "name: a"));
    assert_eq!((line, column, path.as_str()), (14, 11, "behaviors[1].name"));
    assert!(message.contains("found \"a\" twice"), "{message}");
}

#[test]
fn stage_errors_point_at_the_stage() {
    let (line, column, path, message) = invalid(&variant("to: 10,", "to: -5,"));
    assert_eq!((line, column, path.as_str()), (5, 13, "load.stages[0].to"));
    assert_eq!(
        message,
        "expected a number of visitors (a whole number, from 0 to 10000000), found \"-5\""
    );

    let (line, column, path, message) = invalid(&variant("hold: 20s }", "hold: 2m }"));
    assert_eq!((line, column, path.as_str()), (6, 7, "load.stages[1]"));
    assert!(
        message.starts_with("expected the stages to fit in the run's duration (1m), found 2m 10s"),
        "{message}"
    );

    let (line, column, path, _) = invalid(&variant("{ hold: 20s }", "{ to: 3 }"));
    assert_eq!((line, column, path.as_str()), (6, 7, "load.stages[1]"));

    let (line, column, path, _) = invalid(&variant(
        "  stages:\n    - { to: 10, over: 10s }\n    - { hold: 20s }",
        "  stages: []",
    ));
    assert_eq!((line, column, path.as_str()), (4, 11, "load.stages"));
}

#[test]
fn load_must_be_exactly_one_model() {
    let (line, column, path, message) = invalid(&variant(
        "load:\n",
        "load:\n  arrival_rate: { rate: 5/s, max_visitors: 9 }\n",
    ));
    assert_eq!((line, column, path.as_str()), (4, 3, "load"));
    assert!(message.ends_with("found both"), "{message}");
}

#[test]
fn arrival_rates_must_be_positive_and_fit() {
    let stages = "  stages:\n    - { to: 10, over: 10s }\n    - { hold: 20s }";
    let plan = from_str(
        &variant(stages, "  arrival_rate: { rate: 12000/m, max_visitors: 9 }"),
        "x.yaml",
    )
    .unwrap();
    assert_eq!(
        plan.load,
        Load::ArrivalRate {
            per_second: 200.0,
            max_visitors: 9,
            for_: Duration::from_secs(60)
        }
    );

    let (line, column, path, message) = invalid(&variant(
        stages,
        "  arrival_rate: { rate: 0/s, max_visitors: 9 }",
    ));
    assert_eq!(
        (line, column, path.as_str()),
        (4, 25, "load.arrival_rate.rate")
    );
    assert_eq!(message, "expected a rate above zero, found \"0/s\"");

    let (line, column, path, _) = invalid(&variant(
        stages,
        "  arrival_rate: { rate: 1/s, max_visitors: 9, for: 2m }",
    ));
    assert_eq!(
        (line, column, path.as_str()),
        (4, 52, "load.arrival_rate.for")
    );
}

#[test]
fn target_errors_point_into_the_target() {
    let (line, column, path, message) = invalid(&variant(
        "duration: 1m\n",
        "duration: 1m\ntarget: { url: 'tcp://x' }\n",
    ));
    assert_eq!((line, column, path.as_str()), (3, 16, "target.url"));
    assert!(
        message.starts_with("expected a URL starting with http://"),
        "{message}"
    );

    let both = "duration: 1m\ntarget:\n  embedded: { instances: 2 }\n  url: http://x:1\n";
    let (line, column, path, message) = invalid(&variant("duration: 1m\n", both));
    assert_eq!((line, column, path.as_str()), (4, 3, "target"));
    assert!(message.ends_with("found both"), "{message}");
}

#[test]
fn reconnect_cap_must_cover_the_base() {
    let (line, column, path, message) = invalid(&variant("base: 100ms", "base: 1m"));
    assert_eq!((line, column, path.as_str()), (7, 29, "reconnect.cap"));
    assert_eq!(
        message,
        "expected a cap at least as long as the base (1m), found 10s"
    );
}

#[test]
fn sequence_errors_point_at_the_step() {
    let (line, column, path, message) =
        invalid(&variant("[connect_unique, extend]", "[connect, extend]"));
    assert_eq!(
        (line, column, path.as_str()),
        (15, 22, "behaviors[1].steps[1]")
    );
    assert!(
        message.starts_with("expected `connect_unique` before `extend`"),
        "{message}"
    );

    let (line, column, path, message) = invalid(&variant(
        "      - hold: 10s\n",
        "      - repeat: { steps: [presence] }\n      - disconnect\n",
    ));
    assert_eq!(
        (line, column, path.as_str()),
        (14, 9, "behaviors[0].steps[2]")
    );
    assert!(message.starts_with("unreachable step"), "{message}");
}

#[test]
fn template_errors_point_at_the_string() {
    let step = "      - presence: { data: { a: 'x{{rand_int 5}}' } }\n";
    let (line, column, path, message) = invalid(&variant("      - hold: 10s\n", step));
    assert_eq!(
        (line, column, path.as_str()),
        (13, 32, "behaviors[0].steps[1].presence.data.a")
    );
    assert_eq!(
        message,
        "in template \"x{{rand_int 5}}\": expected `rand_int` with two integers A <= B, found \
         `rand_int 5`"
    );
}

#[test]
fn syntax_errors_have_a_location() {
    let (line, column, path, message) = invalid("name: t\nduration: '1m\n");
    assert_eq!((line, column, path.as_str()), (3, 1, ""));
    assert!(
        message.starts_with("found unexpected end of stream"),
        "{message}"
    );
    let (line, column, _, message) = invalid("");
    assert_eq!((line, column), (1, 1));
    assert!(!message.is_empty());
}

#[test]
fn every_example_scenario_validates() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "yaml") {
            load(&path).unwrap_or_else(|err| panic!("{err}"));
            count += 1;
        }
    }
    assert!(count >= 3, "only {count} scenarios in {dir}");
}

#[test]
fn reading_a_missing_file_is_a_read_error() {
    let err = load(std::path::Path::new("/nonexistent/x.yaml")).unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert!(err
        .to_string()
        .starts_with("/nonexistent/x.yaml: cannot read the scenario:"));
}

#[test]
fn drill_errors_are_located() {
    let with = |drills: &str| format!("{VALID}drills:\n{drills}");
    let (line, column, path, message) = invalid(&with(
        "  - { at: 30s, scale_in: 1 }\n  - { at: 2m, kill: 1 }\n",
    ));
    assert_eq!((line, column, path.as_str()), (18, 11, "drills[1].at"));
    assert!(
        message.starts_with("expected a time within the run's duration (1m), found 2m"),
        "{message}"
    );

    let (line, column, path, message) = invalid(&with("  - { at: 30s, scale_in: 1, kill: 1 }\n"));
    assert_eq!((line, column, path.as_str()), (17, 5, "drills[0]"));
    assert!(
        message.starts_with("expected exactly one action"),
        "{message}"
    );

    let (line, _, path, message) = invalid(&with(
        "  events:\n    - { every: 10s, from: 40s, until: 20s, kill: 1 }\n",
    ));
    assert_eq!((line, path.as_str()), (18, "drills.events[0].until"));
    assert!(
        message.starts_with("expected `until` at or after `from` (40s), found 20s"),
        "{message}"
    );

    let (line, column, path, message) = invalid(&with("  - { at: 30s, scale_in: 0 }\n"));
    assert_eq!(
        (line, column, path.as_str()),
        (17, 26, "drills[0].scale_in")
    );
    assert!(
        message.starts_with("expected a number of instances"),
        "{message}"
    );

    let (_, _, path, message) = invalid(&with("  { evnets: [] }\n"));
    assert_eq!(path, "drills");
    assert!(message.starts_with("unknown field `evnets`"), "{message}");

    let plan = from_str(&with("  watch\n"), "x.yaml").unwrap();
    assert!(plan.drills.is_some_and(|drills| drills.events.is_empty()));
}

/// Every error of `text`, as `line:column path: message`.
fn every_error(text: &str) -> Vec<String> {
    match from_str(text, "x.yaml") {
        Err(ScenarioError::Invalid(all)) => all
            .iter()
            .map(|e| format!("{}:{} {}: {}", e.line, e.column, e.path, e.message))
            .collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn every_mistake_in_a_file_is_reported_in_order() {
    let text = VALID
        .replace("duration: 1m", "duration: 60")
        .replace(
            "reconnect: { base: 100ms, cap: 10s }",
            "reconnect: { base: 100ms, cap: 10s, jiter: full }",
        )
        .replace("    weight: 3", "    weight: 0")
        .replace("      - hold: 10s", "      - hold: 10\n      - conect")
        .replace(
            "[connect_unique, extend]",
            "[connect_unique, { hold: -1s }]",
        )
        + "thresholds:\n  errors.reply_timout: [\"count == 0\"]\n  connect: [\"p99 < 1\"]\n\
           colour: red\n";
    let errors = every_error(&text);
    let places: Vec<&str> = errors
        .iter()
        .map(|e| e.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        places,
        ["2:11", "7:37", "10:13", "13:15", "14:9", "16:37", "18:3", "19:13", "20:1"],
        "{errors:#?}"
    );
    assert!(
        errors[0].starts_with("2:11 duration: expected a duration with a unit"),
        "{}",
        errors[0]
    );
    assert!(
        errors[3].starts_with("13:15 behaviors[0].steps[1].hold: expected a duration"),
        "{}",
        errors[3]
    );
    assert!(
        errors[4].contains("unknown variant `conect`"),
        "{}",
        errors[4]
    );
    assert!(
        errors[6].ends_with("did you mean errors.reply_timeout?"),
        "{}",
        errors[6]
    );
    assert!(
        errors[8].starts_with("20:1 : unknown field `colour`"),
        "{}",
        errors[8]
    );
}

#[test]
fn every_mistake_across_sections_is_reported() {
    let text = VALID
        .replace(
            "duration: 1m\n",
            "duration: 1m\ntarget: { embedded: { heartbeat: 30s }, heartbeat_timeout: 10s }\n",
        )
        .replace(
            "      - connect\n      - hold: 10s",
            "      - presence\n      - connect\n      - await_signal",
        )
        .replace("base: 100ms", "base: 1m");
    let errors = every_error(&text);
    let places: Vec<&str> = errors
        .iter()
        .map(|e| e.split(' ').next().unwrap())
        .collect();
    assert_eq!(places, ["3:60", "8:29", "13:9", "15:9"], "{errors:#?}");
    assert!(
        errors[0].contains("heartbeat_timeout longer than the embedded server's heartbeat (30s)"),
        "{}",
        errors[0]
    );
    assert!(
        errors[2].contains("an open session before `presence`"),
        "{}",
        errors[2]
    );
    assert!(errors[3].contains("an `agents` section"), "{}", errors[3]);
}

#[test]
fn embedded_settings_are_refused_as_the_cluster_refuses_them() {
    let text = variant(
        "duration: 1m\n",
        "duration: 1m\ntarget: { embedded: { heartbeat: 0s } }\n",
    );
    let errors = every_error(&text);
    let cluster_says = crate::server::Settings {
        heartbeat: Duration::ZERO,
        ..Default::default()
    }
    .validate();
    let cluster_says = cluster_says.unwrap_err().to_string();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("3:34 target.embedded.heartbeat: "),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].ends_with(&cluster_says),
        "{} / {cluster_says}",
        errors[0]
    );
}

#[test]
fn counts_past_their_bounds_are_refused() {
    let huge = |from: &str, to: &str| every_error(&variant(from, to)).join("\n");
    let err = huge(
        "duration: 1m\n",
        "duration: 1m\ntarget: { embedded: { instances: 4294967295 } }\n",
    );
    assert!(
        err.contains(
            "target.embedded.instances: expected a setting the server can run with: instances must \
             be from 1 to 64"
        ),
        "{err}"
    );
    let err = huge("behaviors:", "agents: { count: 4294967295 }\nbehaviors:");
    assert!(
        err.contains(
            "agents.count: expected a number of agents (a whole number, from 1 to 100000)"
        ),
        "{err}"
    );
    let err = huge("to: 10,", "to: 4294967295,");
    assert!(
        err.contains(
            "load.stages[0].to: expected a number of visitors (a whole number, from 0 to 10000000)"
        ),
        "{err}"
    );
}

#[test]
fn deep_nesting_is_refused_with_a_location() {
    let nested = |depth: usize| {
        let text = format!(
            "{}presence{}",
            "{ repeat: { times: 2, steps: [".repeat(depth),
            "] } }".repeat(depth)
        );
        every_error(&variant(
            "      - hold: 10s",
            &format!("      - connect\n      - {text}"),
        ))
    };
    // 17 repeats: the step reader stops at the 17th.
    let errors = nested(MAX_NESTING + 1);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("14:"), "{}", errors[0]);
    assert!(
        errors[0].ends_with("expected repeats nested at most 16 deep, found one nested deeper"),
        "{}",
        errors[0]
    );
    // 20,000 repeats: refused before the YAML is parsed at all, which would take n² time.
    let errors = nested(20_000);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("14:"), "{}", errors[0]);
    assert!(
        errors[0].contains("expected lists and mappings nested at most 96 deep"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_ca_file_that_does_not_exist_is_refused() {
    let text = variant(
        "duration: 1m\n",
        "duration: 1m\ntarget: { url: 'wss://h:1/p', ca_file: /nonexistent/ca.pem }\n",
    );
    let errors = every_error(&text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("3:40 target.ca_file: expected a file of PEM certificates"),
        "{}",
        errors[0]
    );
}

#[test]
fn transport_mistakes_name_their_line_field_and_a_suggestion() {
    let text = variant(
        "    weight: 3\n",
        "    weight: 3\n    transport: { sockjs: 50%, xhr-polling: 50% }\n",
    );
    let (line, _, path, message) = invalid(&text);
    assert_eq!((line, path.as_str()), (11, "behaviors[0].transport"));
    assert!(
        message.ends_with("found \"xhr-polling\": did you mean xhr_polling?"),
        "{message}"
    );
    let text = variant(
        "reconnect:",
        "target: { transport: { sockjs: 90%, eventsource: 5% } }\nreconnect:",
    );
    let (line, _, path, message) = invalid(&text);
    assert_eq!((line, path.as_str()), (7, "target.transport"));
    assert!(
        message.contains("adding up to 100%, found 95%"),
        "{message}"
    );
}

#[test]
fn a_behavior_transport_overrides_the_target_mix() {
    let text = variant("  - name: b\n", "  - name: b\n    transport: eventsource\n").replace(
        "reconnect:",
        "target: { transport: xhr_streaming }\nreconnect:",
    );
    let plan = from_str(&text, "x.yaml").unwrap();
    use crate::wire::Transport;
    assert_eq!(plan.transport_of(0, 7), Transport::XhrStreaming);
    assert_eq!(plan.transport_of(1, 7), Transport::Eventsource);
    assert_eq!(
        plan.transports(),
        [Transport::XhrStreaming, Transport::Eventsource]
    );
}

#[test]
fn a_file_larger_than_any_scenario_is_refused_before_it_is_read() {
    let path =
        std::env::temp_dir().join(format!("presence-bench-large-{}.yaml", std::process::id()));
    // A valid scenario followed by a comment that takes it past the bound.
    let mut text = variant("", "").into_bytes();
    text.extend_from_slice(b"\n# ");
    text.resize(MAX_FILE_BYTES as usize + 1, b'x');
    std::fs::write(&path, &text).unwrap();
    let refused = load(&path);
    std::fs::remove_file(&path).unwrap();
    let err = refused.expect_err("over the bound");
    assert!(
        matches!(err, ScenarioError::TooLarge { bytes, .. } if bytes == MAX_FILE_BYTES + 1),
        "{err}"
    );
    assert!(
        err.to_string().ends_with(&format!(
            "is {} bytes, over the 4 MiB a scenario file may be",
            MAX_FILE_BYTES + 1
        )),
        "{err}"
    );
}
