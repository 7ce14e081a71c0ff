//! `/locate` on `serve --processes 2`, answered by the directory from its copy of each
//! process's placement: the same answer as the owner's own `/locate`, never an instance the
//! owner stopped naming (after a forwarded admin action, a dead process), and drills over
//! the partitioned server still bring every visitor back.

use std::time::Duration;

use crate::common::*;
use crate::partition::{served, Served};
use hyper::{Method, StatusCode};
use presence_bench::server::partition::owner;
use presence_bench::wire::locate::Located;

/// Many visitor ids, some that only survive the query string if both sides decode alike.
fn visitor_ids() -> Vec<String> {
    let odd = ["a b", "x&y=z", "100%", "ü-ñ", "+plus+", "v/1?"].map(str::to_owned);
    (0..150)
        .map(|i| format!("visitor-{i}"))
        .chain(odd)
        .collect()
}

/// `http://HOST:PORT` of an instance of process `process` still listed, whose own `/locate`
/// answers from that process's placement.
async fn owner_base(served: &Served, process: usize) -> String {
    let instances = served.instances().await;
    let prefix = format!("p{process}-");
    let instance = instances.iter().find(|instance| {
        instance["server"]
            .as_str()
            .is_some_and(|s| s.starts_with(&prefix))
    });
    let url = instance
        .and_then(|instance| instance["url"].as_str())
        .expect("an instance of the process");
    url.replacen("ws://", "http://", 1)
        .trim_end_matches("/presence")
        .to_owned()
}

/// Every visitor of `group` located through the directory, each answer checked against the
/// owning process's own `/locate` asked right after.
async fn located_as_the_owner_does(served: &Served, group: &str) -> Vec<Located> {
    let base = owner_base(served, owner(group, 2).expect("digits")).await;
    let mut answers = Vec::new();
    for visitor in visitor_ids() {
        let answer = http()
            .locate(&served.directory, group, &visitor)
            .await
            .expect("the directory locates");
        let own = http()
            .locate(&base, group, &visitor)
            .await
            .expect("the owner locates");
        assert_eq!(answer, own, "visitor {visitor:?} of group {group}");
        answers.push(answer);
    }
    answers
}

fn share(answers: &[Located], server: &str) -> usize {
    answers
        .iter()
        .filter(|answer| answer.server == server)
        .count()
}

/// `/locate` requests the directory answered (from its copy, forwarded), from its `/metrics`.
async fn directory_locates(served: &Served) -> (u64, u64) {
    let (status, body) = http()
        .request(Method::GET, &format!("{}/metrics", served.directory))
        .await
        .expect("metrics");
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8_lossy(&body);
    let count = |answer: &str| {
        let prefix = format!("presence_server_directory_locates_total{{answer=\"{answer}\"}} ");
        let line = text.lines().find_map(|line| line.strip_prefix(&prefix));
        line.and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
    };
    (count("view"), count("forwarded"))
}

#[tokio::test]
async fn the_directory_answers_locate_as_the_owner_does_without_asking_it() {
    let served = served().await;
    for group in ["3", "4"] {
        let answers = located_as_the_owner_does(&served, group).await;
        let process = owner(group, 2).expect("digits");
        for server in [format!("p{process}-s1"), format!("p{process}-s2")] {
            assert!(
                share(&answers, &server) > answers.len() / 5,
                "{server} got {} of {}",
                share(&answers, &server),
                answers.len()
            );
        }
    }
    let asked = 2 * visitor_ids().len() as u64;
    assert_eq!(
        directory_locates(&served).await,
        (asked, 0),
        "answered from the copy, none forwarded"
    );
}

#[tokio::test]
async fn after_a_forwarded_scale_in_kill_or_scale_out_the_next_locate_knows() {
    let served = served().await;
    // Group 3 lives in process 1, group 4 in process 0.
    assert!(share(&located_as_the_owner_does(&served, "3").await, "p1-s2") > 0);
    let (status, _) = served.admin("scale-in?server=p1-s2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        share(&located_as_the_owner_does(&served, "3").await, "p1-s2"),
        0,
        "the draining p1-s2 was named"
    );

    assert!(share(&located_as_the_owner_does(&served, "4").await, "p0-s1") > 0);
    let (status, _) = served.admin("kill?server=p0-s1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        share(&located_as_the_owner_does(&served, "4").await, "p0-s1"),
        0,
        "the killed p0-s1 was named"
    );

    // Process 1 still lists its draining p1-s2 (300 ms), so process 0 has the fewest.
    let (status, added) = served.admin("scale-out").await;
    assert_eq!(
        (status, added["server"].as_str()),
        (StatusCode::OK, Some("p0-s3"))
    );
    let answers = located_as_the_owner_does(&served, "4").await;
    assert!(
        share(&answers, "p0-s3") > answers.len() / 4,
        "p0-s3 got {} of {}",
        share(&answers, "p0-s3"),
        answers.len()
    );
    let (_, forwarded) = directory_locates(&served).await;
    assert_eq!(
        forwarded, 0,
        "every /locate was answered from an up-to-date copy"
    );
}

#[tokio::test]
async fn a_dead_server_process_is_not_located_from_the_copy_of_its_placement() {
    let served = served().await;
    let pid = libc::pid_t::try_from(served.children[1]).expect("a pid");
    // SAFETY: a plain kill(2) of a process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let url = format!("{}/locate?group=3&visitor=v", served.directory);
    // Until its feed breaks the directory may still answer from the copy; then it forwards
    // to the dead process and says so.
    within(
        "the directory to stop answering for the dead process",
        async {
            loop {
                let (status, body) = http().request(Method::GET, &url).await.expect("an answer");
                if status == StatusCode::BAD_GATEWAY {
                    break;
                }
                assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        },
    )
    .await;
    let located = http()
        .locate(&served.directory, "4", "v")
        .await
        .expect("process 0 still answers");
    assert!(located.server.starts_with("p0-"), "{}", located.server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_over_two_processes_brings_every_visitor_back() {
    let served = served().await;
    let directory = &served.directory;
    let yaml = format!(
        "name: partition-drill\nseed: 5\ntarget: {{ url: '{directory}', group: 10, groups: 2 }}\n\
         duration: 3500ms\n\
         reconnect: {{ base: 50ms, cap: 200ms }}\n\
         load:\n  stages:\n    - {{ to: 40, over: 200ms }}\n    - {{ hold: 3300ms }}\n\
         behaviors:\n  - name: stays\n    steps: [ connect, {{ presence: {{ data: {{ a: \
         1 }} }} }}, {{ hold: 10s }} ]\n\
         drills:\n  settle: 500ms\n  actions:\n\
         \x20   scale_out: {{ url: '{directory}/admin/scale-out' }}\n\
         \x20   scale_in: {{ url: '{directory}/admin/scale-in?server=p1-s2' }}\n\
         \x20   kill: {{ url: '{directory}/admin/kill?server=p0-s2' }}\n\
         \x20 events:\n    - {{ at: 800ms, scale_out: 1 }}\n    - {{ at: 1200ms, scale_in: \
         1 }}\n    - {{ at: 2s, kill: 1 }}\n"
    );
    let plan = presence_bench::scenario::from_str(&yaml, "partition-drill.yaml")
        .unwrap_or_else(|err| panic!("{err}"));
    let result = start_run(plan).finished().await;
    let kinds: Vec<&str> = result
        .drills
        .iter()
        .map(|event| event.kind.as_str())
        .collect();
    assert_eq!(kinds, ["scale_out", "scale_in", "kill"]);
    for event in &result.drills {
        assert!(
            event.action.as_ref().is_some_and(|action| action.ok),
            "{event:?}"
        );
        assert_eq!(
            (event.never_back, event.back),
            (0, event.affected),
            "{event:?}"
        );
    }
    assert!(
        result.drills[1].affected >= 3 && result.drills[2].affected >= 3,
        "{:?}",
        result.drills
    );
    let failing: Vec<_> = presence_bench::measure::Check::ALL
        .into_iter()
        .filter(|check| check.fails_run() && result.totals.violations(*check) > 0)
        .map(|check| check.name())
        .collect();
    assert_eq!(failing, Vec::<&str>::new());
}
