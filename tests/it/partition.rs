//! `serve --processes 2`, started as the real binary: groups land on their process, the
//! protocol holds across the instances of a process, the directory forwards admin actions
//! and gathers metrics, and the children end with their parent.

use std::process::Stdio;

use crate::common::*;
use hyper::{Method, StatusCode};
use presence_bench::server::partition::{owner, DIRECTORY_LINE};
use presence_bench::wire::Status;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A partitioned server started from the test; killed (and its children with it) on drop.
pub(crate) struct Served {
    parent: Child,
    pub(crate) directory: String,
    /// Process ids of the server processes, in process order.
    pub(crate) children: Vec<u32>,
    /// Kept open: what the server prints after its directory must not hit a closed pipe.
    _stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

/// Starts `serve --processes 2 --instances 2` on free ports and reads what it prints.
pub(crate) async fn served() -> Served {
    let mut parent = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .args([
            "serve",
            "--processes",
            "2",
            "--instances",
            "2",
            "--drain-window",
            "300ms",
            "--shutdown-grace",
            "300ms",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(parent.stdout.take().expect("stdout")).lines();
    let mut children = Vec::new();
    let directory = within("the directory address", async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("stdout readable")
                .expect("serve prints its directory");
            if let Some(pid) = line
                .strip_prefix("process ")
                .and_then(|rest| rest.split(" pid ").nth(1))
            {
                children.push(pid.parse().expect("a pid"));
            }
            if let Some(base) = line.strip_prefix(DIRECTORY_LINE) {
                return base.to_owned();
            }
        }
    })
    .await;
    Served {
        parent,
        directory,
        children,
        _stdout: lines,
    }
}

impl Served {
    pub(crate) async fn instances(&self) -> Vec<Value> {
        let listed: Value = http()
            .json(Method::GET, &format!("{}/admin/instances", self.directory))
            .await
            .expect("list");
        listed["instances"]
            .as_array()
            .cloned()
            .expect("an instance list")
    }

    /// The `ws://` URL of instance `server`.
    async fn url(&self, server: &str) -> String {
        let instances = self.instances().await;
        let found = instances
            .iter()
            .find(|instance| instance["server"] == server);
        found
            .and_then(|instance| instance["url"].as_str())
            .unwrap_or_else(|| panic!("no {server}"))
            .to_owned()
    }

    pub(crate) async fn admin(&self, action: &str) -> (StatusCode, Value) {
        let (status, body) = http()
            .request(Method::POST, &format!("{}/admin/{action}", self.directory))
            .await
            .expect("an answer");
        (
            status,
            serde_json::from_slice(&body).expect("a JSON answer"),
        )
    }
}

#[tokio::test]
async fn a_group_always_lands_on_its_process() {
    let served = served().await;
    let client = http();
    for group in ["3", "4", "42", "1001"] {
        let process = owner(group, 2).expect("digits");
        for visitor in ["a", "b", "c", "d"] {
            let located = client
                .locate(&served.directory, group, visitor)
                .await
                .expect("located");
            assert!(
                located.server.starts_with(&format!("p{process}-")),
                "group {group} went to {}",
                located.server
            );
            let again = client
                .locate(&served.directory, group, visitor)
                .await
                .expect("located");
            assert_eq!(again, located);
        }
    }
    let (status, _) = client
        .request(
            Method::GET,
            &format!("{}/locate?group=x1&visitor=a", served.directory),
        )
        .await
        .expect("locate");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // No visitor: the owner of the group judges the query, as a single server would.
    let (status, body) = client
        .request(Method::GET, &format!("{}/locate?group=3", served.directory))
        .await
        .expect("locate");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        String::from_utf8_lossy(&body).contains("visitor"),
        "the owner's answer: {body:?}"
    );
}

#[tokio::test]
async fn an_instance_locates_only_the_groups_of_its_process() {
    let served = served().await;
    let instance = served.url("p0-s1").await.replacen("ws://", "http://", 1);
    let base = instance.trim_end_matches("/presence");
    let own = http()
        .locate(base, "4", "a")
        .await
        .expect("its own group is located");
    assert!(own.server.starts_with("p0-"), "{}", own.server);
    let (status, body) = http()
        .request(Method::GET, &format!("{base}/locate?group=3&visitor=a"))
        .await
        .expect("an answer");
    assert_eq!(
        status,
        StatusCode::MISDIRECTED_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, _) = http()
        .request(Method::GET, &format!("{base}/locate?visitor=a"))
        .await
        .expect("an answer");
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn the_protocol_holds_across_the_instances_of_a_process() {
    let served = served().await;
    let process = owner(GROUP, 2).expect("digits");
    let (first, second) = (
        served.url(&format!("p{process}-s1")).await,
        served.url(&format!("p{process}-s2")).await,
    );
    let mut tab = visitor(&first, Sockjs, "v1", "t1").await;
    round_trip(&mut tab, 1).await;
    let mut desk = agent(&second, RawWebsocket, "a1").await;
    assert_eq!(
        signal_status(&mut desk, "v1", "1").await.0,
        Status::Delivered
    );
    assert_eq!(signal_id(&mut tab).await, "1");
}

#[tokio::test]
async fn the_directory_forwards_admin_actions_to_the_owning_process() {
    let served = served().await;
    let (status, drained) = served.admin("scale-in?server=p1-s2").await;
    assert_eq!(
        (status, &drained["server"], &drained["state"]),
        (StatusCode::OK, &"p1-s2".into(), &"draining".into())
    );
    let (status, killed) = served.admin("kill?server=p0-s1").await;
    assert_eq!(
        (status, &killed["server"]),
        (StatusCode::OK, &"p0-s1".into())
    );
    let names: Vec<Value> = served
        .instances()
        .await
        .iter()
        .map(|instance| instance["server"].clone())
        .collect();
    assert!(
        !names.contains(&"p0-s1".into()),
        "killed p0-s1 still listed: {names:?}"
    );
    // Process 0 now has the fewest instances: the new one starts there.
    let (status, added) = served.admin("scale-out").await;
    assert_eq!(
        (status, &added["server"]),
        (StatusCode::OK, &"p0-s3".into())
    );
    let (status, _) = served.admin("kill?server=p7-s1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = served.admin("scale-in?server=p1-s9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, metrics) = http()
        .request(Method::GET, &format!("{}/metrics", served.directory))
        .await
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains("presence_server_kills_total{process=\"0\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("presence_server_kills_total{process=\"1\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "presence_server_sessions{process=\"1\",server=\"p1-s1\",transport=\"sockjs\"}"
        ),
        "{metrics}"
    );
    assert_eq!(
        metrics
            .matches("# TYPE presence_server_sessions gauge")
            .count(),
        1
    );
}

#[tokio::test]
async fn the_server_processes_end_with_their_parent_however_it_ends() {
    let mut served = served().await;
    assert_eq!(served.children.len(), 2);
    // SIGKILL: the parent cannot clean up; its children see their stdin close.
    served.parent.kill().await.expect("killed");
    within("the server processes to exit", async {
        while served
            .children
            .iter()
            .any(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists() && !zombie(*pid))
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// An exited child of a dead parent waits to be reaped as a zombie; it serves nothing.
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

/// Sessions opened, summed over the instances of process `process`.
fn sessions_opened(metrics: &str, process: usize) -> u64 {
    let prefix = format!("presence_server_sessions_opened_total{{process=\"{process}\",");
    metrics
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_over_two_groups_loads_both_processes_and_every_check_holds() {
    let served = served().await;
    let yaml = format!(
        "name: groups\nseed: 5\ntarget: {{ url: '{}', group: 10, groups: 2 }}\nduration: 2600ms\n\
         load:\n  stages:\n    - {{ to: 20, over: 300ms }}\n    - {{ hold: 2s }}\n    - {{ to: 0, \
         over: 300ms }}\n\
         behaviors:\n\
         \x20 - name: browsing\n    steps: [ connect, {{ presence: {{ data: {{ a: 1 }} }} }}, \
         {{ repeat: {{ every: 200ms, steps: [ {{ presence: {{ data: {{ b: 2 }} }} }} ] }} }} ]\n\
         \x20 - name: codes\n    steps: [ connect_unique, {{ hold: 3s }} ]\n\
         agents:\n  count: 2\n  watch: 100%\n  signals: {{ rate: 100/s }}\n  grace: 500ms\n",
        served.directory
    );
    let plan = presence_bench::scenario::from_str(&yaml, "groups.yaml")
        .unwrap_or_else(|err| panic!("{err}"));
    let totals = start_run(plan).finished().await.totals;
    let failing: Vec<_> = presence_bench::measure::Check::ALL
        .into_iter()
        .filter(|check| check.fails_run() && totals.violations(*check) > 0)
        .map(|check| check.name())
        .collect();
    assert_eq!(failing, Vec::<&str>::new());
    assert!(
        totals.counter(presence_bench::measure::Counter::SignalsReceived) > 20,
        "signals were exercised"
    );
    let (_, metrics) = http()
        .request(Method::GET, &format!("{}/metrics", served.directory))
        .await
        .expect("metrics");
    let metrics = String::from_utf8_lossy(&metrics);
    let (first, second) = (sessions_opened(&metrics, 0), sessions_opened(&metrics, 1));
    assert!(
        first >= 10 && second >= 10,
        "sessions by process: {first} and {second}"
    );
}
