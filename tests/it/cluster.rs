//! Discovery, admin routes, drain, kill and shutdown.

use std::collections::HashSet;
use std::time::Duration;

use crate::common::*;
use hyper::{Method, StatusCode};
use presence_bench::server::{InstanceState, Settings};
use presence_bench::wire::{ClientMessage, ServerMessage, Status};

#[tokio::test]
async fn locate_healthz_and_admin_routes() {
    let cluster = cluster(settings()).await;
    let client = http();
    let directory = cluster.directory_url();
    let located = client
        .locate(&directory, GROUP, "v")
        .await
        .expect("located");
    for server in ["s1", "s2"] {
        assert_eq!(
            client
                .locate(&http_base(&cluster, server), GROUP, "v")
                .await
                .expect("located"),
            located
        );
        let (status, body) = client
            .request(
                Method::GET,
                &format!("{}/healthz", http_base(&cluster, server)),
            )
            .await
            .expect("health");
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"ok"[..]));
    }
    let listed: serde_json::Value = client
        .json(Method::GET, &format!("{directory}/admin/instances"))
        .await
        .expect("list");
    assert_eq!(listed["instances"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed["instances"][0]["state"], "live");

    let added: serde_json::Value = client
        .json(Method::POST, &format!("{directory}/admin/scale-out"))
        .await
        .expect("out");
    assert_eq!(added["server"], "s3");
    let drained: serde_json::Value = client
        .json(
            Method::POST,
            &format!("{directory}/admin/scale-in?server=s3"),
        )
        .await
        .expect("in");
    assert_eq!(
        (&drained["server"], &drained["state"]),
        (&"s3".into(), &"draining".into())
    );
    let (status, body) = client
        .request(
            Method::GET,
            &format!("{}/healthz", http_base(&cluster, "s3")),
        )
        .await
        .expect("health");
    assert_eq!(
        (status, &body[..]),
        (StatusCode::SERVICE_UNAVAILABLE, &b"draining"[..])
    );
    let mut servers = HashSet::new();
    for i in 0..200 {
        servers.insert(
            client
                .locate(&directory, GROUP, &format!("v{i}"))
                .await
                .expect("located")
                .server,
        );
    }
    assert_eq!(servers, HashSet::from(["s1".to_owned(), "s2".to_owned()]));

    let (status, _) = client
        .request(Method::POST, &format!("{directory}/admin/kill?server=nope"))
        .await
        .expect("kill");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let killed: serde_json::Value = client
        .json(Method::POST, &format!("{directory}/admin/kill"))
        .await
        .expect("kill");
    assert_eq!(killed["server"], "s2", "the newest live instance");
    client
        .json::<serde_json::Value>(Method::POST, &format!("{directory}/admin/kill?server=s1"))
        .await
        .expect("kill");
    let (status, _) = client
        .request(
            Method::GET,
            &format!("{directory}/locate?group=1&visitor=v"),
        )
        .await
        .expect("locate");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn drain_says_draining_then_go_away_and_refuses_new_sessions() {
    let cluster = cluster(Settings {
        drain_window: Duration::from_millis(500),
        ..settings()
    })
    .await;
    let url = url(&cluster, "s1");
    let mut sessions = vec![
        visitor(&url, Sockjs, "v1", "t").await,
        visitor(&url, RawWebsocket, "v2", "t").await,
    ];
    let info = cluster.scale_in(Some("s1")).await.expect("drain begins");
    assert_eq!(info.state, InstanceState::Draining);
    let mut late = open(&url, Sockjs).await;
    assert_eq!(closed(&mut late).await, (3000, "Go away!".into()));
    for session in &mut sessions {
        assert!(matches!(
            recv(session).await,
            ServerMessage::Draining { .. }
        ));
        assert_eq!(closed(session).await, (3000, "Go away!".into()));
    }
}

#[tokio::test]
async fn state_survives_a_drain() {
    let cluster = cluster(settings()).await;
    let client = http();
    let located = client
        .locate(&cluster.directory_url(), GROUP, "v")
        .await
        .expect("located");
    let other = if located.server == "s1" { "s2" } else { "s1" };
    let mut sender = agent(&url(&cluster, other), Sockjs, "a").await;
    let mut tab = visitor(&located.url, Sockjs, "v", "t").await;
    send(&mut tab, presence(1, serde_json::json!({"kept": "yes"}))).await;
    recv(&mut tab).await;
    assert_eq!(
        signal_status(&mut sender, "v", "1").await.0,
        Status::Delivered
    );
    assert_eq!(signal_id(&mut tab).await, "1");

    cluster
        .scale_in(Some(&located.server))
        .await
        .expect("drain begins");
    assert!(matches!(
        recv(&mut tab).await,
        ServerMessage::Draining { .. }
    ));
    assert_eq!(closed(&mut tab).await.0, 3000);
    assert_eq!(signal_status(&mut sender, "v", "2").await.0, Status::Queued);

    let relocated = client
        .locate(&cluster.directory_url(), GROUP, "v")
        .await
        .expect("located");
    assert_eq!(relocated.server, other);
    let mut tab = visitor(&relocated.url, RawWebsocket, "v", "t").await;
    assert_eq!(
        signal_id(&mut tab).await,
        "1",
        "never acknowledged, so sent again"
    );
    assert_eq!(signal_id(&mut tab).await, "2");
    send(
        &mut sender,
        ClientMessage::Lookup {
            visitor: "v".into(),
        },
    )
    .await;
    let ServerMessage::Presence {
        online: true, data, ..
    } = recv(&mut sender).await
    else {
        panic!("expected presence")
    };
    assert_eq!(
        serde_json::Value::Object(data),
        serde_json::json!({"kept": "yes"})
    );
}

#[tokio::test]
async fn kill_drops_sockets_without_a_frame_and_counts_visitors_offline() {
    let cluster = cluster(settings()).await;
    let mut tab = visitor(&url(&cluster, "s2"), Sockjs, "v", "t").await;
    let mut raw = visitor(&url(&cluster, "s2"), RawWebsocket, "w", "t").await;
    let mut watcher = agent(&url(&cluster, "s1"), RawWebsocket, "a").await;
    send(
        &mut watcher,
        ClientMessage::Lookup {
            visitor: "v".into(),
        },
    )
    .await;
    assert!(matches!(
        recv(&mut watcher).await,
        ServerMessage::Presence { online: true, .. }
    ));

    let killed = cluster.kill(None).await.expect("killed");
    assert_eq!(killed.server, "s2");
    lost(&mut tab).await;
    lost(&mut raw).await;
    assert!(matches!(
        recv(&mut watcher).await,
        ServerMessage::Presence { online: false, .. }
    ));
    let names: Vec<String> = cluster
        .instances()
        .into_iter()
        .map(|instance| instance.server)
        .collect();
    assert_eq!(names, ["s1"]);
    assert_eq!(cluster.scale_out().await.expect("started").server, "s3");
}

#[tokio::test]
async fn shutdown_drains_every_session_and_returns() {
    let cluster = cluster(Settings {
        drain_window: Duration::from_millis(100),
        ..settings()
    })
    .await;
    let mut tab = visitor(&url(&cluster, "s1"), Sockjs, "v", "t").await;
    let mut watcher = agent(&url(&cluster, "s2"), RawWebsocket, "a").await;
    let shutdown = tokio::spawn(cluster.shutdown());
    for conn in [&mut tab, &mut watcher] {
        assert!(matches!(recv(conn).await, ServerMessage::Draining { .. }));
        assert_eq!(closed(conn).await.0, 3000);
    }
    within("shutdown", shutdown)
        .await
        .expect("shutdown completes");
}
