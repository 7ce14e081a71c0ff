//! Request headers and cookies against a cluster behind a gateway, as real clusters are: a
//! gateway that refuses requests without `Authorization` (on `/locate`, the WebSocket
//! upgrade and the SockJS HTTP requests alike), a sticky load balancer that pins HTTP
//! sessions by a `JSESSIONID` cookie, and a run whose token never reaches a file or a log.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use crate::common::gateway::{address_of, Gateway, Policy};
use crate::common::sockjs_http::HttpSession;
use crate::common::*;
use hyper::StatusCode;
use presence_bench::engine::StartError;
use presence_bench::measure::Metric;
use presence_bench::scenario;
use presence_bench::server::Cluster;
use presence_bench::wire::sockjs::{self, ServerFrame};
use tokio::process::Command;

/// One instance behind a gateway that wants `Authorization: <token>`.
async fn guarded(token: &str) -> (Cluster, Gateway) {
    let cluster = cluster(presence_bench::server::Settings {
        instances: 1,
        ..settings()
    })
    .await;
    let policy = Policy::Authorization {
        token: token.to_owned(),
        directory: address_of(&cluster.directory_url()),
        instance: address_of(&url(&cluster, "s1")),
    };
    (cluster, Gateway::start(policy).await)
}

/// `visitors` visitors on `transport` (a name or a mix) sending presences every 100 ms for
/// a second; `target` is the rest of the `target` section, indented.
fn yaml(url: &str, transport: &str, visitors: u32, target: &str) -> String {
    format!(
        "name: headers\nseed: 3\ntarget:\n  url: {url}\n  group: '{GROUP}'\n  transport: \
         {transport}\n{target}duration: 1200ms\n\
         load: {{ stages: [ {{ to: {visitors}, over: 200ms }}, {{ hold: 1s }} ] }}\n\
         behaviors: [ {{ name: b, steps: [connect, presence, {{ repeat: {{ every: 100ms, steps: \
         [presence] }} }}] }} ]\n"
    )
}

async fn down_with(yaml: &str) -> String {
    let plan = scenario::from_str(yaml, "headers.yaml").unwrap_or_else(|err| panic!("{err}"));
    match start_run(plan).ended().await {
        Err(err @ StartError::Target(_)) => err.to_string(),
        Err(err) => panic!("expected the target down, got {err}"),
        Ok(measured) => panic!(
            "expected the target down, the run went on: {:?}",
            measured.totals.errors
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_header_every_transport_passes_the_gateway_and_without_it_the_target_is_down() {
    let (cluster, gateway) = guarded("Bearer X").await;
    let mix = "{ sockjs: 34%, raw_websocket: 33%, xhr_polling: 33% }";
    let with = yaml(
        &gateway.directory_url(),
        mix,
        9,
        "  headers: { Authorization: Bearer X }\n",
    );
    let totals = start_run(scenario::from_str(&with, "headers.yaml").unwrap())
        .finished()
        .await
        .totals;
    assert!(totals.errors.is_empty(), "{:?}", totals.errors);
    assert_eq!(totals.histogram(Metric::Connect).len(), 9);
    assert!(
        totals.histogram(Metric::PresenceAck).len() >= 9 * 5,
        "{}",
        totals.histogram(Metric::PresenceAck).len()
    );
    assert_eq!(
        gateway.seen.refused.load(Ordering::Relaxed),
        0,
        "every request carried the header"
    );

    // Without it, or with another token: refused wherever the request goes, and named.
    let without = down_with(&yaml(&gateway.directory_url(), "sockjs", 1, "")).await;
    assert!(
        without.starts_with("target down: HTTP 401 Unauthorized on /locate ("),
        "{without}"
    );
    assert!(
        without.ends_with("see target.headers or run --header"),
        "{without}"
    );
    let wrong = "  headers: { Authorization: Bearer Y }\n";
    let upgrade = down_with(&yaml(&gateway.instance_url(), "raw_websocket", 1, wrong)).await;
    assert!(
        upgrade.starts_with("target down: HTTP 401 Unauthorized on the WebSocket upgrade"),
        "{upgrade}"
    );
    let polling = down_with(&yaml(&gateway.instance_url(), "xhr_polling", 1, wrong)).await;
    assert!(
        polling.starts_with("target down: HTTP 401 Unauthorized on a SockJS receive request"),
        "{polling}"
    );
    cluster.shutdown().await;
}

async fn bench(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_presence-bench"));
    command
        .args(args)
        .env_remove("PRESENCE_BENCH_HEADERS")
        .env_remove("API_TOKEN")
        .envs(env.iter().copied());
    command.output().await.expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A pass, or HARNESS-LIMITED on a machine too busy for the harness (2 cores, tests in
/// parallel): then nothing else failed.
fn assert_passed(output: &Output) {
    let stdout = text(&output.stdout);
    match output.status.code() {
        Some(0) => {}
        Some(3) if stdout.contains("verdict: HARNESS-LIMITED (") => {}
        other => panic!("exit {other:?}\n{stdout}\n{}", text(&output.stderr)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_header_sends_the_header_and_its_absence_exits_3_naming_the_401() {
    let (cluster, gateway) = guarded("Bearer X").await;
    let dir = scratch_dir("headers-cli");
    let path = dir.join("headers.yaml");
    std::fs::write(
        &path,
        yaml(&gateway.directory_url(), "xhr_streaming", 3, ""),
    )
    .unwrap();
    let path = path.to_str().unwrap();

    let refused = bench(&["run", path, "--quiet"], &[]).await;
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    let stdout = text(&refused.stdout);
    assert!(
        stdout.contains("verdict: TARGET DOWN (target down: HTTP 401 Unauthorized on /locate"),
        "{stdout}"
    );

    let passed = bench(
        &[
            "run",
            path,
            "--quiet",
            "--header",
            "Authorization: Bearer X",
        ],
        &[],
    )
    .await;
    assert_passed(&passed);
    let from_env = bench(
        &["run", path, "--quiet"],
        &[("PRESENCE_BENCH_HEADERS", "Authorization: Bearer X")],
    )
    .await;
    assert_passed(&from_env);

    let owned = bench(&["run", path, "--header", "Host: example.com"], &[]).await;
    assert_eq!(owned.status.code(), Some(2));
    assert!(
        text(&owned.stderr).contains("--header: expected a header the harness does not set itself")
    );
    let bad = bench(
        &["run", path, "--header", "Authorization: Bearer SECRET\u{1}"],
        &[],
    )
    .await;
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        !text(&bad.stderr).contains("SECRET"),
        "{}",
        text(&bad.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sessions_keep_the_cookie_a_sticky_balancer_pins_them_with() {
    let cluster = cluster(settings()).await;
    let instances = ["s1", "s2"]
        .map(|server| address_of(&url(&cluster, server)))
        .to_vec();
    let gateway = Gateway::start(Policy::Sticky { instances }).await;

    // A client that keeps no cookie: its send goes to the other instance, which does not
    // know the session.
    let forgetful = HttpSession::new(&gateway.instance_url());
    assert_eq!(forgetful.poll().await, ServerFrame::Open);
    let (status, _) = forgetful
        .send_raw(&sockjs::encode_client_frame(&[connect("v", "t").encode()]))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "requests without the cookie go round the instances"
    );

    let mix = "{ xhr_polling: 50%, xhr_streaming: 50% }";
    let plan =
        scenario::from_str(&yaml(&gateway.instance_url(), mix, 8, ""), "sticky.yaml").unwrap();
    let totals = start_run(plan).finished().await.totals;
    assert!(totals.errors.is_empty(), "{:?}", totals.errors);
    assert_eq!(totals.histogram(Metric::Connect).len(), 8);
    assert!(
        totals.histogram(Metric::PresenceAck).len() >= 8 * 5,
        "{}",
        totals.histogram(Metric::PresenceAck).len()
    );
    let (pinned, unpinned) = (
        gateway.seen.pinned.load(Ordering::Relaxed),
        gateway.seen.unpinned.load(Ordering::Relaxed),
    );
    // One request without the cookie per session (8 visitors, the preflight's 2 and the
    // forgetful client's 2), every later one with it.
    assert_eq!(unpinned, 8 + 2 + 2, "{pinned} pinned");
    assert!(pinned >= 8 * 6, "{pinned} pinned");
    cluster.shutdown().await;
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn assert_no_secret(output: &Output, out: &Path) {
    assert!(
        !text(&output.stdout).contains("SECRET123"),
        "stdout: {}",
        text(&output.stdout)
    );
    assert!(
        !text(&output.stderr).contains("SECRET123"),
        "stderr: {}",
        text(&output.stderr)
    );
    let written = files(out);
    assert!(
        written.iter().any(|file| file.ends_with("summary.json")),
        "{written:?}"
    );
    for file in written {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("SECRET123"),
            "{} holds the secret",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_the_environment_reaches_no_file_and_no_log() {
    let (cluster, gateway) = guarded("Bearer SECRET123").await;
    let dir = scratch_dir("headers-secret");
    let path = dir.join("secret.yaml");
    let headers = "  headers:\n    Authorization: \"Bearer ${API_TOKEN}\"\n";
    std::fs::write(
        &path,
        yaml(
            &gateway.directory_url(),
            "{ sockjs: 50%, xhr_polling: 50% }",
            4,
            headers,
        ),
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let env = [("API_TOKEN", "SECRET123"), ("RUST_LOG", "trace")];

    let out = dir.join("single");
    let (html, junit, progress) = (
        out.join("report.html"),
        out.join("junit.xml"),
        out.join("progress.jsonl"),
    );
    // A synchronised start records the scenario in summary.json, as a shard does.
    let start_at =
        humantime::format_rfc3339_millis(SystemTime::now() + Duration::from_secs(2)).to_string();
    let args = [
        "run",
        path,
        "--start-at",
        &start_at,
        "--out",
        out.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--progress",
        "json",
        "--progress-file",
        progress.to_str().unwrap(),
    ];
    let single = bench(&args, &env).await;
    assert_passed(&single);
    assert_no_secret(&single, &out);
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    assert!(
        summary.contains("\"scenario_text\"") && !summary.contains("Authorization"),
        "{summary}"
    );

    // As shards: the parent hands its children the scenario, and the header, without a file.
    let out = dir.join("processes");
    let processes = bench(
        &[
            "run",
            path,
            "--quiet",
            "--processes",
            "2",
            "--out",
            out.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert_passed(&processes);
    assert_no_secret(&processes, &out);
    let handed = std::fs::read_to_string(out.join("scenario.yaml")).unwrap();
    assert!(!handed.contains("Authorization"), "{handed}");
    assert_eq!(
        gateway.seen.refused.load(Ordering::Relaxed),
        0,
        "every shard sent the header"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    cluster.shutdown().await;
}
