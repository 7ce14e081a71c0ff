//! Prometheus export: a real run scraped while it runs, the server's own `/metrics`, and the
//! one names table checked against docs/metrics.md and every dashboard expression.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::sockjs_http::HttpSession;
use crate::common::*;
use hyper::{Method, StatusCode};
use presence_bench::measure::names;
use presence_bench::server::metrics::{DIRECTORY, SERVER};
use presence_bench::wire::sockjs::ServerFrame;
use prometheus_parse::{Scrape, Value};

const SCENARIO: &str = "name: metrics-test
seed: 7
target: { embedded: { instances: 2, drain_window: 200ms } }
duration: 6s
load: { stages: [ { to: 20, over: 1s }, { hold: 5s } ] }
behaviors:
  - name: browser
    steps:
      - connect
      - repeat: { every: 200ms, steps: [ presence ] }
drills: [ { at: 1500ms, scale_in: 1 } ]
";

/// Every metric name the harness or the server exports, with its Prometheus type.
fn exported() -> BTreeMap<&'static str, &'static str> {
    let harness = names::HARNESS
        .iter()
        .map(|family| (family.name, family.kind.as_str()));
    let server = SERVER
        .iter()
        .chain(DIRECTORY)
        .map(|family| (family.name, family.kind));
    harness.chain(server).collect()
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Counter(_) => "counter",
        Value::Gauge(_) => "gauge",
        Value::Histogram(_) => "histogram",
        Value::Summary(_) => "summary",
        Value::Untyped(_) => "untyped",
    }
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("valid Prometheus text")
}

/// The type each family's samples were scraped with (prometheus-parse reads `# TYPE`).
fn scraped_types(scrape: &Scrape) -> BTreeMap<String, &'static str> {
    scrape
        .samples
        .iter()
        .map(|sample| (sample.metric.clone(), kind_of(&sample.value)))
        .collect()
}

/// `GET url` over HTTP/1.0: the status line and the body. A scrape is hundreds of KiB, past
/// what the harness's own HTTP client reads (`net::http_client::MAX_BODY`).
async fn scrape_text(url: &str) -> std::io::Result<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest.split_once('/').expect("a path");
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream
        .write_all(format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    Ok((
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    ))
}

/// The value of every sample line, by series (`name{labels}`).
fn values(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// Whether `series` (`name{labels}`) counts: a counter, or a histogram's bucket, sum or count.
fn counts(series: &str) -> bool {
    let name = series.split('{').next().unwrap_or(series);
    let histogram = ["_bucket", "_sum", "_count"].iter().any(|suffix| {
        name.strip_suffix(suffix)
            .and_then(names::harness_family)
            .is_some_and(|f| f.kind == names::Kind::Histogram)
    });
    histogram
        || names::harness_family(name).is_some_and(|family| family.kind == names::Kind::Counter)
}

/// Issue 23: a run scraped from its start to its end. Every counter and histogram series is
/// first scraped at zero (so `rate()` sees each event), a server's lost sessions among them;
/// gauges are never scraped before they have a value; every documented family is exported with
/// its type, with the run's label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_exports_every_series_from_zero_and_every_documented_metric_with_its_type() {
    let dir = scratch_dir("metrics");
    let scenario = dir.join("metrics.yaml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args([
            "run",
            "--quiet",
            "--metrics-addr",
            "127.0.0.1:0",
            "--metrics-linger",
            "1s",
            "--out",
        ])
        .arg(&dir)
        .arg(&scenario)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (found, address) = tokio::sync::oneshot::channel();
    // Reads stderr to its end (a closed pipe would fail the run's own printing) and hands
    // over the bound address as soon as it is printed.
    let reader = std::thread::spawn(move || {
        let mut found = Some(found);
        for line in stderr.lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("metrics: serving ") {
                if let Some(found) = found.take() {
                    let _ = found.send(url.to_owned());
                }
            }
        }
    });
    let url = address.await.expect("the bound metrics address is printed");
    // Scraped from the moment the endpoint is up until it closes, as Prometheus would.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut first: BTreeMap<String, f64> = BTreeMap::new();
    let mut last = String::new();
    while let Ok((status, text)) = scrape_text(&url).await {
        // The endpoint closing may accept a connection and answer nothing.
        if status.is_empty() {
            break;
        }
        assert!(status.contains(" 200 "), "{status}");
        for (series, value) in values(&text) {
            first.entry(series).or_insert(value);
        }
        last = text;
        assert!(
            Instant::now() < deadline,
            "the endpoint still serves after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = child.wait().expect("the run ends").code();
    reader.join().unwrap();
    let counted: Vec<_> = first.iter().filter(|(series, _)| counts(series)).collect();
    assert!(counted.len() > 1000, "{} counting series", counted.len());
    for (series, value) in counted {
        assert_eq!(*value, 0.0, "{series} first scraped at {value}, not 0");
    }
    for gauge in [names::RSS, names::OPEN_FDS] {
        let scraped = first
            .iter()
            .filter(|(series, _)| series.split('{').next() == Some(gauge));
        assert!(
            scraped.clone().count() > 0 && scraped.clone().all(|(_, v)| *v > 0.0),
            "{gauge}: never 0"
        );
    }
    let scrape = parse(&last);
    let types = scraped_types(&scrape);
    for family in names::HARNESS {
        assert_eq!(
            types.get(family.name).copied(),
            Some(family.kind.as_str()),
            "{} in the scrape",
            family.name
        );
    }
    assert!(scrape.samples.iter().all(|s| s
        .labels
        .get("run")
        .is_some_and(|run| run.starts_with("metrics-test@"))));
    // The drill's scale-in moved sessions off one instance: its lost counter, scraped at 0
    // first, has counted them.
    let lost = scrape
        .samples
        .iter()
        .filter(|s| s.metric == names::SESSIONS_LOST_BY_SERVER);
    assert!(
        lost.clone()
            .any(|s| matches!(s.value, Value::Counter(n) if n > 0.0)),
        "{last}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["harness"]["verdict"].is_string(),
        "summary.json has a harness verdict"
    );
    // The run ends well; on a busy machine it may honestly be harness-limited (exit 3).
    let status = summary["outcome"]["status"].as_str();
    assert!(
        matches!(status, Some("passed" | "harness_limited")),
        "{}",
        summary["outcome"]
    );
    assert_eq!(
        code.map(i64::from),
        summary["outcome"]["exit_code"].as_i64(),
        "the exit code is the outcome's"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_server_exports_its_own_metrics_on_the_directory() {
    let cluster = cluster(settings()).await;
    // Answered by `connected`: the session is counted and its messages too.
    let mut session = visitor(&url(&cluster, "s1"), Sockjs, "v1", "t1").await;
    round_trip(&mut session, 1).await;
    // And one session on an HTTP transport, counted under its own label.
    let http_session = HttpSession::new(&url(&cluster, "s1"));
    assert_eq!(http_session.poll().await, ServerFrame::Open);
    let (status, body) = http()
        .request(Method::GET, &format!("{}/metrics", cluster.directory_url()))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let scrape = parse(std::str::from_utf8(&body).unwrap());
    let types = scraped_types(&scrape);
    for family in SERVER {
        assert_eq!(
            types.get(family.name).copied(),
            Some(family.kind),
            "{} in the scrape",
            family.name
        );
    }
    for (transport, open) in [("sockjs", 1.0), ("xhr_polling", 1.0), ("eventsource", 0.0)] {
        let sessions = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "presence_server_sessions"
                    && s.labels.get("server") == Some("s1")
                    && s.labels.get("transport") == Some(transport)
            })
            .unwrap_or_else(|| panic!("{transport} sessions of s1"));
        assert!(
            matches!(sessions.value, Value::Gauge(n) if n == open),
            "{transport}: {:?}",
            sessions.value
        );
    }
    cluster.shutdown().await;
}

#[test]
fn docs_list_every_metric_with_its_type() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md")).unwrap();
    let documented: BTreeMap<&str, &str> = docs
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `")?.split('|');
            let name = cells.next()?.trim().trim_end_matches('`');
            let ours = name.starts_with("presence_") || name.starts_with("process_");
            ours.then(|| (name, cells.next().unwrap_or("").trim()))
        })
        .collect();
    assert_eq!(
        documented,
        exported(),
        "docs/metrics.md and the names tables differ"
    );
}

/// Metric names an expression uses: identifiers with the project's prefixes.
fn names_in(expr: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // A label value (`metric=~"connect|presence_ack"`) names no metric.
        if bytes[i] == b'"' {
            let close = (i + 1..bytes.len()).find(|&j| bytes[j] == b'"' && bytes[j - 1] != b'\\');
            i = close.map_or(bytes.len(), |j| j + 1);
            continue;
        }
        let word = bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_';
        let start_of_word =
            word && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
        if start_of_word {
            let end = (i..bytes.len())
                .find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_'))
                .unwrap_or(bytes.len());
            let token = &expr[i..end];
            if token.starts_with("presence_") {
                found.insert(token.to_owned());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

fn exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => exprs(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| exprs(item, out)),
        _ => {}
    }
}

#[test]
fn every_dashboard_expression_uses_exported_metrics() {
    let exported = exported();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut found = Vec::new();
        exprs(&json, &mut found);
        assert!(!found.is_empty(), "{} has no expressions", path.display());
        for expr in found {
            let used = names_in(&expr);
            assert!(
                !used.is_empty(),
                "{}: {expr:?} uses no presence metric",
                path.display()
            );
            for name in used {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| {
                        let base = name.strip_suffix(suffix)?;
                        (exported.get(base) == Some(&"histogram")).then_some(base)
                    })
                    .unwrap_or(&name);
                assert!(
                    exported.contains_key(base),
                    "{}: {expr:?} uses {name}, which nothing exports",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} dashboard expressions");
    assert!(names_in("rate(presence_bench_x_total[1m])").contains("presence_bench_x_total"));
    assert_eq!(
        names_in(r#"presence_bench_x{metric=~"presence_ack|a\"b"} + presence_bench_y"#).len(),
        2
    );
}

/// The selector right after each metric name of `expr` (`""` when it has none).
fn selectors(expr: &str) -> Vec<(String, String)> {
    names_in(expr)
        .into_iter()
        .flat_map(|name| {
            let mut found = Vec::new();
            for (at, _) in expr.match_indices(name.as_str()) {
                let rest = &expr[at + name.len()..];
                if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    continue; // a longer name
                }
                let selector = rest
                    .strip_prefix('{')
                    .and_then(|r| r.split_once('}'))
                    .map_or("", |(s, _)| s);
                found.push((name.clone(), selector.to_owned()));
            }
            found
        })
        .collect()
}

/// Issue 23: the dashboard selects one run, shard or job. Every harness selector of every
/// panel and annotation filters by `$job`, `$run` and `$shard`, every server selector by
/// `$server_job`, and each variable takes its values from an exported series.
#[test]
fn every_dashboard_selector_filters_by_the_template_variables() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboards/presence-bench.json"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut found = Vec::new();
    exprs(&json["panels"], &mut found);
    exprs(&json["annotations"], &mut found);
    let mut checked = 0;
    for expr in &found {
        for (name, selector) in selectors(expr) {
            let wanted: &[&str] = if name.starts_with("presence_bench_") {
                &["job=~\"$job\"", "run=~\"$run\"", "shard=~\"$shard\""]
            } else {
                &["job=~\"$server_job\""]
            };
            for matcher in wanted {
                assert!(
                    selector.contains(matcher),
                    "{name} in {expr:?} without {matcher}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} selectors");
    let variables = json["templating"]["list"].as_array().unwrap();
    let exported = exported();
    for wanted in ["job", "run", "shard", "server_job"] {
        let variable = variables
            .iter()
            .find(|v| v["name"] == wanted)
            .unwrap_or_else(|| panic!("no ${wanted}"));
        let query = variable["definition"].as_str().unwrap();
        assert!(
            query.starts_with("label_values(") && variable["allValue"] == ".*",
            "{variable}"
        );
        assert!(
            names_in(query)
                .iter()
                .all(|name| exported.contains_key(name.as_str())),
            "{query}"
        );
    }
}
