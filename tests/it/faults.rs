//! Each fault switch really changes behaviour, so the harness's checks can be shown to
//! catch it.

use crate::common::*;
use presence_bench::server::Settings;
use presence_bench::wire::{ClientMessage, ServerMessage, Status};

#[tokio::test]
async fn drop_signals_reports_success_but_delivers_nothing() {
    let cluster = cluster(Settings {
        fault_drop_signals: 1.0,
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let mut sender = agent(&url, Sockjs, "a").await;
    assert_eq!(
        signal_status(&mut sender, "off", "1").await.0,
        Status::Queued
    );
    let mut tab = visitor(&url, Sockjs, "v", "t").await;
    assert_eq!(
        signal_status(&mut sender, "v", "2").await.0,
        Status::Delivered
    );
    round_trip(&mut tab, 1).await;
    let mut offline_one = visitor(&url, Sockjs, "off", "t").await;
    round_trip(&mut offline_one, 1).await;
}

#[tokio::test]
async fn blur_focused_blurs_the_tab_that_takes_focus() {
    let cluster = cluster(Settings {
        fault_blur_focused: true,
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let mut first = visitor(&url, Sockjs, "v", "A").await;
    let mut second = visitor(&url, RawWebsocket, "v", "B").await;
    assert_eq!(
        recv(&mut second).await,
        ServerMessage::Blur { tab: "B".into() }
    );
    round_trip(&mut first, 1).await;
}

#[tokio::test]
async fn duplicate_unique_hands_out_a_held_id() {
    let cluster = cluster(Settings {
        fault_duplicate_unique: true,
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let mut ids = Vec::new();
    let mut held = Vec::new();
    for tab in ["A", "B"] {
        let mut conn = open(&url, Sockjs).await;
        send(
            &mut conn,
            ClientMessage::ConnectUnique {
                group: GROUP.into(),
                tab: tab.into(),
            },
        )
        .await;
        let ServerMessage::Unique { visitor, .. } = recv(&mut conn).await else {
            panic!("expected unique")
        };
        ids.push(visitor);
        held.push(conn);
    }
    assert_eq!(ids[0], ids[1]);
}

#[tokio::test]
async fn reorder_signals_replays_newest_first() {
    let cluster = cluster(Settings {
        fault_reorder_signals: true,
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let mut sender = agent(&url, Sockjs, "a").await;
    for id in ["1", "2", "3"] {
        signal_status(&mut sender, "v", id).await;
    }
    let mut tab = visitor(&url, Sockjs, "v", "t").await;
    for id in ["3", "2", "1"] {
        assert_eq!(signal_id(&mut tab).await, id);
    }
}
