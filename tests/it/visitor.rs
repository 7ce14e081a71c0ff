//! Visitor semantics: presence and watchers, tabs, focus and blur, replacement, unique ids.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::common::*;
use presence_bench::client::Incoming;
use presence_bench::server::Settings;
use presence_bench::wire::{ClientMessage, Page, ServerMessage};

fn presence_of(message: ServerMessage) -> (bool, Option<String>, Option<Page>, serde_json::Value) {
    match message {
        ServerMessage::Presence {
            online,
            focus_tab,
            page,
            data,
            at_ms,
            ..
        } => {
            assert!(at_ms > 1_600_000_000_000, "at_ms is since the UNIX epoch");
            (online, focus_tab, page, serde_json::Value::Object(data))
        }
        other => panic!("expected presence, got {other:?}"),
    }
}

#[tokio::test]
async fn presence_replaces_then_merges_and_watchers_follow() {
    let cluster = cluster(settings()).await;
    let mut watcher = agent(&url(&cluster, "s2"), RawWebsocket, "a").await;
    send(
        &mut watcher,
        ClientMessage::Lookup {
            visitor: "v".into(),
        },
    )
    .await;
    assert!(!presence_of(recv(&mut watcher).await).0);

    let mut tab = visitor(&url(&cluster, "s1"), Sockjs, "v", "t1").await;
    assert_eq!(
        presence_of(recv(&mut watcher).await).1.as_deref(),
        Some("t1")
    );
    let page = Page {
        url: Some("https://x/1".into()),
        title: Some("One".into()),
        ..Page::default()
    };
    let first = serde_json::json!({"a": 1, "b": "x"}).as_object().cloned();
    send(
        &mut tab,
        ClientMessage::Presence {
            seq: 7,
            data: first,
            page: Some(page.clone()),
        },
    )
    .await;
    assert_eq!(recv(&mut tab).await, ServerMessage::PresenceAck { seq: 7 });
    let (online, _, seen_page, data) = presence_of(recv(&mut watcher).await);
    assert!(online);
    assert_eq!(seen_page, Some(page.clone()));
    assert_eq!(data, serde_json::json!({"a": 1, "b": "x"}));

    send(
        &mut tab,
        presence(8, serde_json::json!({"b": "y", "c": 2.5})),
    )
    .await;
    assert_eq!(recv(&mut tab).await, ServerMessage::PresenceAck { seq: 8 });
    let (_, _, seen_page, data) = presence_of(recv(&mut watcher).await);
    assert_eq!(seen_page, Some(page), "a presence without page keeps it");
    assert_eq!(data, serde_json::json!({"a": 1, "b": "y", "c": 2.5}));

    // A new connection's first presence replaces page and data.
    tab.close().await;
    assert!(!presence_of(recv(&mut watcher).await).0);
    let mut tab = visitor(&url(&cluster, "s1"), Sockjs, "v", "t2").await;
    recv(&mut watcher).await;
    send(&mut tab, presence(1, serde_json::json!({"z": 0}))).await;
    assert_eq!(recv(&mut tab).await, ServerMessage::PresenceAck { seq: 1 });
    let (_, _, seen_page, data) = presence_of(recv(&mut watcher).await);
    assert_eq!((seen_page, data), (None, serde_json::json!({"z": 0})));

    // After unwatch, changes are no longer reported: the next message is the new lookup.
    send(
        &mut watcher,
        ClientMessage::Unwatch {
            visitor: "v".into(),
        },
    )
    .await;
    round_trip(&mut tab, 2).await;
    send(
        &mut watcher,
        ClientMessage::Lookup {
            visitor: "other".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut watcher).await,
        ServerMessage::Presence { visitor, .. } if visitor == "other"
    ));
}

#[tokio::test]
async fn ack_delay_holds_acks_without_blocking_the_session() {
    let cluster = cluster(Settings {
        ack_delay: Duration::from_millis(150),
        ..settings()
    })
    .await;
    let mut tab = visitor(&url(&cluster, "s1"), Sockjs, "v", "t").await;
    let started = Instant::now();
    send(&mut tab, presence(1, serde_json::json!({}))).await;
    send(&mut tab, ClientMessage::Focus).await;
    assert_eq!(
        recv(&mut tab).await,
        ServerMessage::Focused { tab: "t".into() }
    );
    assert_eq!(recv(&mut tab).await, ServerMessage::PresenceAck { seq: 1 });
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn a_second_tab_blurs_exactly_the_first() {
    let cluster = cluster(settings()).await;
    let mut first = visitor(&url(&cluster, "s1"), Sockjs, "v", "A").await;
    let mut second = visitor(&url(&cluster, "s2"), RawWebsocket, "v", "B").await;
    assert_eq!(
        recv(&mut first).await,
        ServerMessage::Blur { tab: "A".into() }
    );
    round_trip(&mut second, 1).await;
    round_trip(&mut first, 1).await;
}

#[tokio::test]
async fn focus_moves_and_blurs_the_other_tab() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut first = visitor(&url, Sockjs, "v", "A").await;
    let mut second = visitor(&url, Sockjs, "v", "B").await;
    assert_eq!(
        recv(&mut first).await,
        ServerMessage::Blur { tab: "A".into() }
    );
    send(&mut first, ClientMessage::Focus).await;
    assert_eq!(
        recv(&mut first).await,
        ServerMessage::Focused { tab: "A".into() }
    );
    assert_eq!(
        recv(&mut second).await,
        ServerMessage::Blur { tab: "B".into() }
    );
    // Focusing the focused tab blurs nobody.
    send(&mut first, ClientMessage::Focus).await;
    assert_eq!(
        recv(&mut first).await,
        ServerMessage::Focused { tab: "A".into() }
    );
    round_trip(&mut second, 1).await;
}

#[tokio::test]
async fn focus_passes_to_the_newest_other_tab_when_the_focused_one_closes() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut first = visitor(&url, Sockjs, "v", "A").await;
    let mut second = visitor(&url, Sockjs, "v", "B").await;
    let third = visitor(&url, Sockjs, "v", "C").await;
    assert_eq!(
        recv(&mut first).await,
        ServerMessage::Blur { tab: "A".into() }
    );
    assert_eq!(
        recv(&mut second).await,
        ServerMessage::Blur { tab: "B".into() }
    );
    let mut watcher = agent(&url, Sockjs, "a").await;
    send(
        &mut watcher,
        ClientMessage::Lookup {
            visitor: "v".into(),
        },
    )
    .await;
    assert_eq!(
        presence_of(recv(&mut watcher).await).1.as_deref(),
        Some("C")
    );
    third.close().await;
    assert_eq!(
        recv(&mut second).await,
        ServerMessage::Focused { tab: "B".into() }
    );
    assert_eq!(
        presence_of(recv(&mut watcher).await).1.as_deref(),
        Some("B")
    );
    round_trip(&mut first, 1).await;
}

#[tokio::test]
async fn the_same_tab_again_replaces_the_old_session() {
    let cluster = cluster(settings()).await;
    let mut old = visitor(&url(&cluster, "s1"), Sockjs, "v", "A").await;
    let mut new = visitor(&url(&cluster, "s2"), Sockjs, "v", "A").await;
    assert_eq!(closed(&mut old).await, (4004, "replaced".into()));
    round_trip(&mut new, 1).await;
    let mut watcher = agent(&url(&cluster, "s1"), Sockjs, "a").await;
    send(
        &mut watcher,
        ClientMessage::Lookup {
            visitor: "v".into(),
        },
    )
    .await;
    let (online, focus_tab, ..) = presence_of(recv(&mut watcher).await);
    assert_eq!((online, focus_tab.as_deref()), (true, Some("A")));
}

async fn unique(url: &str, tab: &str) -> (presence_bench::client::Connection, String, u64) {
    let mut conn = open(url, Sockjs).await;
    send(
        &mut conn,
        ClientMessage::ConnectUnique {
            group: GROUP.into(),
            tab: tab.into(),
        },
    )
    .await;
    match recv(&mut conn).await {
        ServerMessage::Unique {
            visitor,
            expires_in_ms,
        } => (conn, visitor, expires_in_ms),
        other => panic!("expected unique, got {other:?}"),
    }
}

#[tokio::test]
async fn unique_ids_are_six_digits_and_distinct() {
    let cluster = cluster(settings()).await;
    let urls = [url(&cluster, "s1"), url(&cluster, "s2")];
    let mut held = Vec::new();
    let mut ids = HashSet::new();
    for i in 0..50 {
        let (conn, id, expires_in_ms) = unique(&urls[i % 2], "t").await;
        assert_eq!(expires_in_ms, 300_000);
        assert!(
            id.len() == 6 && id.bytes().all(|b| b.is_ascii_digit()),
            "{id:?}"
        );
        assert!(ids.insert(id.clone()), "{id} handed out twice");
        held.push(conn);
    }
    // An agent reaches a unique visitor by its id.
    let id = ids.iter().next().expect("an id").clone();
    let mut watcher = agent(&urls[0], RawWebsocket, "a").await;
    send(&mut watcher, ClientMessage::Lookup { visitor: id }).await;
    assert!(presence_of(recv(&mut watcher).await).0);
}

#[tokio::test]
async fn unique_connections_expire_unless_extended() {
    let timeout = Duration::from_millis(200);
    let cluster = cluster(Settings {
        unique_timeout: timeout,
        heartbeat: Duration::from_millis(50),
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let started = Instant::now();
    let (mut extended, _, expires_in_ms) = unique(&url, "t").await;
    assert_eq!(expires_in_ms, 200);
    let (mut lapsing, _, _) = unique(&url, "t").await;
    // Heartbeats (every 50 ms) are the clock: each one is answered with an extend, until the
    // connection that never extends has expired.
    loop {
        tokio::select! {
            incoming = extended.recv() => match incoming.expect("still open") {
                Incoming::Heartbeat => send(&mut extended, ClientMessage::Extend).await,
                Incoming::Message(message) => {
                    assert_eq!(message, ServerMessage::Extended { expires_in_ms: 200 })
                }
            },
            message = recv(&mut lapsing) => {
                assert_eq!(message, ServerMessage::Expired {});
                break;
            }
        }
    }
    assert_eq!(
        closed(&mut lapsing).await,
        (4001, "unique connection expired".into())
    );
    assert!(started.elapsed() >= timeout);
    // The extended one outlived it, and expires once extends stop.
    recv_until(&mut extended, |message| {
        *message == ServerMessage::Expired {}
    })
    .await;
    assert_eq!(closed(&mut extended).await.0, 4001);

    let mut plain = visitor(&url, RawWebsocket, "plain", "t").await;
    send(&mut plain, ClientMessage::Extend).await;
    assert!(
        matches!(recv(&mut plain).await, ServerMessage::Error { code, .. } if code == "not_unique")
    );
}
