//! Reconnects as docs/protocol.md section 4 asks, seen from both sides: the harness's totals and
//! an agent that watches the very visitor ids the harness derives from its seed.

use std::collections::{HashMap, HashSet};

use crate::common::*;
use presence_bench::client::Connection;
use presence_bench::measure::ErrorKind;
use presence_bench::measure::{Counter, Metric};
use presence_bench::server::Cluster;
use presence_bench::visitor;
use presence_bench::wire::{ClientMessage, ServerMessage};

/// Visitors per test: the open model starts exactly 16 (128/s for 125 ms).
const N: u64 = 16;

const SCENARIO: &str = "name: reconnect\nseed: 11\nduration: 25s\n\
    load: { arrival_rate: { rate: 128/s, max_visitors: 100, for: 125ms } }\n\
    behaviors: [ { name: b, steps: [connect, { presence: { data: { n: '{{index}}' } } }, \
    { await_signal: { timeout: 20s } }, presence] } ]\n";

/// Online state of the watched visitors, as the agent last heard it.
struct Watcher {
    conn: Connection,
    online: HashMap<String, bool>,
}

impl Watcher {
    async fn new(cluster: &Cluster, ids: &[String]) -> Watcher {
        let mut conn = agent(&url(cluster, "s1"), RawWebsocket, "watcher").await;
        let mut online = HashMap::new();
        for id in ids {
            send(
                &mut conn,
                ClientMessage::Lookup {
                    visitor: id.clone(),
                },
            )
            .await;
            online.insert(id.clone(), false);
        }
        let mut watcher = Watcher { conn, online };
        for _ in ids {
            watcher.next().await;
        }
        watcher
    }

    /// The next presence event: which visitor, and whether it carries our data.
    async fn next(&mut self) -> (String, bool, bool) {
        match recv(&mut self.conn).await {
            ServerMessage::Presence {
                visitor,
                online,
                data,
                ..
            } => {
                self.online.insert(visitor.clone(), online);
                (visitor, online, data.contains_key("n"))
            }
            other => panic!("expected presence, got {other:?}"),
        }
    }
}

/// Kills or drains s2 once every visitor is connected, then checks that each of its
/// visitors came back with the same id, and that nothing else broke.
/// Moves the visitors of s2 with `drop_s2`; `announced`: the server said so (a drain), else
/// the losses, outside any drill window, are `session_lost` errors.
async fn reconnect_after(announced: bool, drop_s2: impl AsyncFnOnce(&Cluster)) {
    let cluster = cluster(settings()).await;
    let plan = plan_for(SCENARIO, &cluster);
    let ids: Vec<String> = (0..N)
        .map(|index| visitor::persona(&plan, index).id)
        .collect();
    let client = http();
    let mut on_s2 = HashSet::new();
    for id in &ids {
        if client
            .locate(&cluster.directory_url(), GROUP, id)
            .await
            .expect("located")
            .server
            == "s2"
        {
            on_s2.insert(id.clone());
        }
    }
    assert!(
        !on_s2.is_empty() && on_s2.len() < ids.len(),
        "the ring spreads visitors: {on_s2:?}"
    );
    let mut watcher = Watcher::new(&cluster, &ids).await;
    let run = start_run(plan);

    // Every visitor online with its first presence stored: the server saw the predicted ids.
    let mut settled = HashSet::new();
    while settled.len() < ids.len() {
        let (visitor, online, has_data) = watcher.next().await;
        if online && has_data {
            settled.insert(visitor);
        }
    }
    drop_s2(&cluster).await;
    // Each visitor of s2: connect again (online) and resend its presence (online again).
    let mut back: HashMap<String, u32> = HashMap::new();
    while on_s2
        .iter()
        .any(|id| back.get(id).copied().unwrap_or(0) < 2)
    {
        let (visitor, online, has_data) = watcher.next().await;
        assert!(
            on_s2.contains(&visitor),
            "{visitor} was not on s2 but changed"
        );
        if online {
            assert!(has_data, "the presence data survives the move");
            *back.entry(visitor).or_insert(0) += 1;
        }
    }
    assert!(
        watcher.online.values().all(|online| *online),
        "everyone is back online"
    );
    // The resent presence was handled before this signal, so each visitor reads its ack first.
    for (i, id) in ids.iter().enumerate() {
        send(&mut watcher.conn, signal(id, &format!("end{i}"))).await;
    }

    let result = run.finished().await;
    cluster.shutdown().await;
    let totals = result.totals;
    let moved = on_s2.len() as u64;
    assert_eq!(totals.counter(Counter::SessionsLost), moved);
    assert_eq!(totals.counter(Counter::Reconnects), moved);
    assert_eq!(totals.histogram(Metric::Reconnect).len(), moved);
    assert_eq!(totals.histogram(Metric::Connect).len(), N + moved);
    assert_eq!(
        totals.histogram(Metric::SignalWait).len(),
        N,
        "every visitor finished on its signal"
    );
    assert_eq!(totals.histogram(Metric::PresenceAck).len(), 2 * N);
    assert_eq!(totals.counter(Counter::VisitorsCompleted), N);
    if announced {
        assert!(totals.errors.is_empty(), "errors: {:?}", totals.errors);
    } else {
        let lost = totals.errors.get(ErrorKind::SessionLost.as_str()).copied();
        assert_eq!(
            (totals.errors.len(), lost),
            (1, Some(moved)),
            "errors: {:?}",
            totals.errors
        );
    }
}

#[tokio::test]
async fn visitors_follow_a_scale_in() {
    reconnect_after(true, async |cluster: &Cluster| {
        cluster.scale_in(Some("s2")).await.expect("s2 drains");
    })
    .await;
}

#[tokio::test]
async fn visitors_survive_a_kill() {
    reconnect_after(false, async |cluster: &Cluster| {
        cluster.kill(Some("s2")).await.expect("s2 is killed");
    })
    .await;
}

#[test]
fn the_same_seed_gives_the_same_visitors() {
    let yaml = |seed: u64| {
        format!(
            "name: d\nseed: {seed}\nduration: 1s\nload: {{ stages: [{{ hold: 1s }}] }}\n\
             behaviors: [ {{ name: a, weight: 3, steps: [connect, {{ hold: {{ uniform: [1s, \
             9s] }} }}] }}, {{ name: b, steps: [connect, {{ hold: {{ exponential: 5s }} }}] }} ]\n"
        )
    };
    let draw = |seed: u64| -> Vec<(usize, String, Vec<std::time::Duration>)> {
        let plan = presence_bench::scenario::from_str(&yaml(seed), "d.yaml").expect("valid");
        (0..50)
            .map(|index| {
                let mut who = visitor::persona(&plan, index);
                let think = match &plan.behaviors[who.behavior].steps[1] {
                    presence_bench::scenario::Step::Hold(think) => *think,
                    other => panic!("expected hold, got {other:?}"),
                };
                let pauses = (0..4).map(|_| think.sample(&mut who.rng)).collect();
                (who.behavior, who.id, pauses)
            })
            .collect()
    };
    let first = draw(42);
    assert_eq!(
        first,
        draw(42),
        "same seed: same behaviors, ids and think times"
    );
    assert_ne!(first, draw(43));
    let behaviors: HashSet<usize> = first.iter().map(|(b, _, _)| *b).collect();
    assert_eq!(behaviors.len(), 2, "both behaviors are picked");
    let ids: HashSet<&String> = first.iter().map(|(_, id, _)| id).collect();
    assert_eq!(ids.len(), 50, "ids are distinct");
}
