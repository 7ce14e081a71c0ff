//! Signals and invokes: delivery across instances, keeping until acked, queue bound.

use std::time::Duration;

use crate::common::*;
use presence_bench::server::Settings;
use presence_bench::wire::Transport::XhrPolling;
use presence_bench::wire::{ClientMessage, ServerMessage, Status};

#[tokio::test]
async fn signals_and_invokes_cross_instances() {
    let cluster = cluster(settings()).await;
    let mut tab = visitor(&url(&cluster, "s1"), Sockjs, "v", "t").await;
    let mut sender = agent(&url(&cluster, "s2"), RawWebsocket, "a").await;
    assert_eq!(
        signal_status(&mut sender, "v", "1").await,
        (Status::Delivered, None)
    );
    assert_eq!(
        recv(&mut tab).await,
        ServerMessage::Signal {
            id: "1".into(),
            agent: "a".into(),
            data: serde_json::json!({"n": "1"})
        }
    );
    let args = serde_json::json!({"x": 1});
    let invoke = ClientMessage::Invoke {
        visitor: "v".into(),
        id: "2".into(),
        action: "go".into(),
        args: args.clone(),
    };
    send(&mut sender, invoke).await;
    assert_eq!(
        recv(&mut sender).await,
        ServerMessage::InvokeStatus {
            id: "2".into(),
            status: Status::Delivered,
            reason: None
        }
    );
    assert_eq!(
        recv(&mut tab).await,
        ServerMessage::Invoke {
            id: "2".into(),
            agent: "a".into(),
            action: "go".into(),
            args
        }
    );
}

#[tokio::test]
async fn kept_signals_are_resent_until_acked_oldest_first() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut sender = agent(&url, Sockjs, "a").await;
    for id in ["1", "2", "3"] {
        assert_eq!(
            signal_status(&mut sender, "v", id).await,
            (Status::Queued, None)
        );
    }
    let mut tab = visitor(&url, Sockjs, "v", "t").await;
    for id in ["1", "2", "3"] {
        assert_eq!(signal_id(&mut tab).await, id);
    }
    // Only "2" is acknowledged; the others come again on the next connect.
    send(
        &mut tab,
        ClientMessage::SignalAck {
            id: "2".into(),
            agent: "a".into(),
        },
    )
    .await;
    round_trip(&mut tab, 1).await;
    tab.close().await;
    let mut tab = visitor(&url, RawWebsocket, "v", "t").await;
    assert_eq!(signal_id(&mut tab).await, "1");
    assert_eq!(signal_id(&mut tab).await, "3");
    round_trip(&mut tab, 1).await;
    for id in ["1", "3"] {
        send(
            &mut tab,
            ClientMessage::SignalAck {
                id: id.into(),
                agent: "a".into(),
            },
        )
        .await;
    }
    round_trip(&mut tab, 2).await;
    tab.close().await;
    let mut tab = visitor(&url, Sockjs, "v", "t").await;
    round_trip(&mut tab, 1).await;
}

/// Issue 23: the tab a signal went to goes away without acknowledging it while the visitor's
/// other tab stays open. No `connect` comes that would replay it, so the server sends it to the
/// tab that takes focus, right after its `focused`. Here the HTTP tab is abandoned as a client
/// that stops polling leaves it (SockJS has no close from the client): the server notices
/// after its disconnect delay, and until then the tab keeps focus. A WebSocket tab closes at
/// once, with the same outcome.
#[tokio::test]
async fn a_signal_a_closed_tab_left_unacknowledged_goes_to_the_tab_that_takes_focus() {
    let settings = Settings {
        disconnect_delay: Duration::from_millis(200),
        ..settings()
    };
    let cluster = cluster(settings).await;
    let url = url(&cluster, "s1");
    let mut sender = agent(&url, RawWebsocket, "a").await;
    for (transport, visitor_id) in [(XhrPolling, "v"), (RawWebsocket, "w")] {
        let mut first = visitor(&url, transport, visitor_id, "t1").await;
        let mut second = visitor(&url, transport, visitor_id, "t2").await;
        assert_eq!(
            recv(&mut first).await,
            ServerMessage::Blur { tab: "t1".into() },
            "{transport:?}"
        );
        assert_eq!(
            signal_status(&mut sender, visitor_id, "1").await,
            (Status::Delivered, None)
        );
        assert_eq!(
            signal_id(&mut second).await,
            "1",
            "{transport:?}: the focused tab got it"
        );
        second.close().await;
        assert_eq!(
            recv(&mut first).await,
            ServerMessage::Focused { tab: "t1".into() },
            "{transport:?}"
        );
        assert_eq!(
            signal_id(&mut first).await,
            "1",
            "{transport:?}: sent again to the tab with focus"
        );
        send(
            &mut first,
            ClientMessage::SignalAck {
                id: "1".into(),
                agent: "a".into(),
            },
        )
        .await;
        round_trip(&mut first, 1).await;
    }
}

#[tokio::test]
async fn a_full_queue_rejects_and_keeps_nothing() {
    let cluster = cluster(Settings {
        queue_bound: 2,
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let mut sender = agent(&url, Sockjs, "a").await;
    assert_eq!(signal_status(&mut sender, "v", "1").await.0, Status::Queued);
    assert_eq!(signal_status(&mut sender, "v", "2").await.0, Status::Queued);
    assert_eq!(
        signal_status(&mut sender, "v", "3").await,
        (Status::Rejected, Some("queue_full".into()))
    );
    let mut tab = visitor(&url, Sockjs, "v", "t").await;
    assert_eq!(signal_id(&mut tab).await, "1");
    assert_eq!(signal_id(&mut tab).await, "2");
    round_trip(&mut tab, 1).await;
    // Acknowledging frees room.
    send(
        &mut tab,
        ClientMessage::SignalAck {
            id: "1".into(),
            agent: "a".into(),
        },
    )
    .await;
    round_trip(&mut tab, 2).await;
    assert_eq!(
        signal_status(&mut sender, "v", "4").await.0,
        Status::Delivered
    );
}

#[tokio::test]
async fn agents_reach_only_their_own_group() {
    let cluster = cluster(settings()).await;
    let url = url(&cluster, "s1");
    let mut tab = visitor(&url, Sockjs, "v", "t").await;
    let mut other = open(&url, Sockjs).await;
    send(
        &mut other,
        ClientMessage::AgentConnect {
            group: "7".into(),
            agent: "a".into(),
        },
    )
    .await;
    recv(&mut other).await;
    send(&mut other, signal("v", "1")).await;
    assert!(matches!(
        recv(&mut other).await,
        ServerMessage::SignalStatus {
            status: Status::Queued,
            ..
        }
    ));
    round_trip(&mut tab, 1).await;
}

/// Issue 28: a server keeps what it holds for a visitor with no open tab for
/// `visitor_retention`, then forgets it. A signal queued for a visitor reaches it on a connect
/// within that time; after it, a visitor that comes back starts afresh, and an agent watching
/// it is told (the event this test awaits, rather than sleeping past the retention).
#[tokio::test]
async fn a_departed_visitor_s_kept_signals_last_the_retention_then_go() {
    let cluster = cluster(Settings {
        visitor_retention: Duration::from_secs(2),
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let mut sender = agent(&url, RawWebsocket, "a").await;
    send(
        &mut sender,
        ClientMessage::Lookup {
            visitor: "late".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut sender).await,
        ServerMessage::Presence { online: false, .. }
    ));
    assert_eq!(
        signal_status(&mut sender, "soon", "1").await,
        (Status::Queued, None)
    );
    assert_eq!(
        signal_status(&mut sender, "late", "2").await,
        (Status::Queued, None)
    );
    let mut soon = visitor(&url, RawWebsocket, "soon", "t").await;
    assert_eq!(
        signal_id(&mut soon).await,
        "1",
        "delivered within the retention"
    );
    match recv(&mut sender).await {
        ServerMessage::Presence {
            visitor,
            online: false,
            page: None,
            ..
        } if visitor == "late" => {}
        other => panic!("expected the forgotten visitor's presence, got {other:?}"),
    }
    let mut late = visitor(&url, RawWebsocket, "late", "t").await;
    // The first thing after `connected` is the ack: no replay of the forgotten signal.
    round_trip(&mut late, 1).await;
}
