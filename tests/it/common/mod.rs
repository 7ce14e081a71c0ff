//! The one shared helper of the integration tests: a cluster on port 0, clients over either
//! transport, and receiving with a timeout so that no test can hang.

pub mod fault_server;
pub mod gateway;
pub mod sockjs_http;

use std::future::Future;
use std::time::Duration;

use presence_bench::client::{ClientError, ConnectOptions, Connection, Endpoint, Incoming};
use presence_bench::net::http_client::HttpClient;
use presence_bench::server::{Cluster, Settings};
use presence_bench::wire::Transport;
use presence_bench::wire::{ClientMessage, ServerMessage, Status};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use presence_bench::engine::{self, EngineOptions, Measured, StartError};
use presence_bench::measure::observer::LiveFigures;
use presence_bench::measure::Live;
use presence_bench::scenario::{self, Plan};
use presence_bench::shard::Shard;

pub use presence_bench::wire::Transport::{RawWebsocket, Sockjs};

/// Longest wait for anything a test expects; far above what a healthy run needs.
pub const WAIT: Duration = Duration::from_secs(5);

pub const GROUP: &str = "42";

/// Two instances and a short drain window, so drains finish quickly.
pub fn settings() -> Settings {
    Settings {
        instances: 2,
        drain_window: Duration::from_millis(300),
        ..Settings::default()
    }
}

pub async fn cluster(settings: Settings) -> Cluster {
    Cluster::start(settings).await.expect("the cluster starts")
}

/// The `ws://` URL of instance `server`.
pub fn url(cluster: &Cluster, server: &str) -> String {
    let instances = cluster.instances();
    let found = instances.iter().find(|instance| instance.server == server);
    found
        .unwrap_or_else(|| panic!("no instance {server} in {instances:?}"))
        .url
        .clone()
}

/// The `http://` base of instance `server` (for `/locate`, `/healthz`, `/presence/info`).
pub fn http_base(cluster: &Cluster, server: &str) -> String {
    let ws = url(cluster, server).replacen("ws://", "http://", 1);
    ws.trim_end_matches("/presence").to_owned()
}

pub fn http() -> HttpClient {
    HttpClient::new(WAIT)
}

/// Fails the test if `future` takes longer than [`WAIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

pub async fn open(url: &str, transport: Transport) -> Connection {
    let endpoint = Endpoint::parse(url).expect("an instance URL");
    let options = ConnectOptions {
        transport,
        ..ConnectOptions::default()
    };
    let mut rng = SmallRng::from_os_rng();
    within(
        "the session to open",
        Connection::open(&endpoint, &options, &mut rng),
    )
    .await
    .expect("the session opens")
}

pub async fn send(conn: &mut Connection, message: ClientMessage) {
    conn.send(&message).await.expect("the message is sent");
}

/// The next message, skipping heartbeats.
pub async fn recv(conn: &mut Connection) -> ServerMessage {
    within("a message", async {
        loop {
            match conn.recv().await {
                Ok(Incoming::Message(message)) => return message,
                Ok(Incoming::Heartbeat) => continue,
                Err(err) => panic!("expected a message, got {err}"),
            }
        }
    })
    .await
}

/// The first message matching `wanted`, skipping others.
pub async fn recv_until(
    conn: &mut Connection,
    wanted: impl Fn(&ServerMessage) -> bool,
) -> ServerMessage {
    within("a matching message", async {
        loop {
            let message = recv(conn).await;
            if wanted(&message) {
                return message;
            }
        }
    })
    .await
}

/// The close the server sends next; any message before it fails the test.
pub async fn closed(conn: &mut Connection) -> (u16, String) {
    within("the session to close", async {
        loop {
            match conn.recv().await {
                Err(ClientError::Closed { code, reason }) => return (code, reason),
                Ok(Incoming::Heartbeat) => continue,
                Ok(Incoming::Message(message)) => panic!("expected a close, got {message:?}"),
                Err(err) => panic!("expected a close, got {err}"),
            }
        }
    })
    .await
}

/// The session ends without any close frame, as an abrupt stop does.
pub async fn lost(conn: &mut Connection) {
    within("the socket to drop", async {
        loop {
            match conn.recv().await {
                Err(ClientError::Lost(_)) => return,
                Ok(Incoming::Heartbeat) => continue,
                other => panic!("expected the socket to drop without a frame, got {other:?}"),
            }
        }
    })
    .await
}

pub fn connect(visitor: &str, tab: &str) -> ClientMessage {
    ClientMessage::Connect {
        group: GROUP.into(),
        visitor: visitor.into(),
        tab: tab.into(),
    }
}

pub fn presence(seq: u64, data: serde_json::Value) -> ClientMessage {
    ClientMessage::Presence {
        seq,
        data: data.as_object().cloned(),
        page: None,
    }
}

pub fn signal(visitor: &str, id: &str) -> ClientMessage {
    ClientMessage::Signal {
        visitor: visitor.into(),
        id: id.into(),
        data: serde_json::json!({"n": id}),
    }
}

/// A visitor's tab, connected.
pub async fn visitor(url: &str, transport: Transport, visitor: &str, tab: &str) -> Connection {
    let mut conn = open(url, transport).await;
    send(&mut conn, connect(visitor, tab)).await;
    match recv(&mut conn).await {
        ServerMessage::Connected {
            visitor: named,
            focus: true,
            ..
        } if named == visitor => conn,
        other => panic!("expected connected, got {other:?}"),
    }
}

/// An agent, connected.
pub async fn agent(url: &str, transport: Transport, agent: &str) -> Connection {
    let mut conn = open(url, transport).await;
    send(
        &mut conn,
        ClientMessage::AgentConnect {
            group: GROUP.into(),
            agent: agent.into(),
        },
    )
    .await;
    match recv(&mut conn).await {
        ServerMessage::AgentConnected { agent: named, .. } if named == agent => conn,
        other => panic!("expected agent_connected, got {other:?}"),
    }
}

/// Sends a presence and awaits its ack: proof that everything pushed to this session
/// before it was sent has arrived (the server forwards pushes before reading more input).
pub async fn round_trip(conn: &mut Connection, seq: u64) {
    send(conn, presence(seq, serde_json::json!({}))).await;
    assert_eq!(recv(conn).await, ServerMessage::PresenceAck { seq });
}

/// An agent sends a signal and answers the status it got.
pub async fn signal_status(
    agent: &mut Connection,
    visitor: &str,
    id: &str,
) -> (Status, Option<String>) {
    send(agent, signal(visitor, id)).await;
    match recv(agent).await {
        ServerMessage::SignalStatus {
            id: answered,
            status,
            reason,
        } if answered == id => (status, reason),
        other => panic!("expected signal_status for {id}, got {other:?}"),
    }
}

/// The id of a received signal, failing on anything else.
pub async fn signal_id(conn: &mut Connection) -> String {
    match recv(conn).await {
        ServerMessage::Signal { id, .. } => id,
        other => panic!("expected a signal, got {other:?}"),
    }
}

/// A plain HTTP/1.0 GET, for the few tests that look at response headers.
pub async fn raw_get(base: &str, path: &str) -> String {
    let addr = base.trim_start_matches("http://");
    within("an HTTP answer", async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .expect("TCP connect");
        let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("request sent");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .await
            .expect("answer read");
        answer
    })
    .await
}

/// Longest a whole harness run may take in a test.
pub const RUN_WAIT: Duration = Duration::from_secs(30);

/// A scenario from YAML (without a `target`), aimed at `cluster`'s directory and at the
/// tests' group. The target is written into the YAML, so validation sees what the run loads:
/// a server outside the run.
pub fn plan_for(yaml: &str, cluster: &Cluster) -> Plan {
    let yaml = format!(
        "target: {{ url: '{}', group: '{GROUP}' }}\n{yaml}",
        cluster.directory_url()
    );
    scenario::from_str(&yaml, "test.yaml").unwrap_or_else(|err| panic!("{err}"))
}

/// A scenario from YAML, aimed at `url` (a directory or an instance) and at the tests' group.
pub fn plan_at(yaml: &str, url: &str) -> Plan {
    let mut plan = scenario::from_str(yaml, "test.yaml").unwrap_or_else(|err| panic!("{err}"));
    plan.target.destination = engine::target::parse_url(url).expect("a test URL");
    plan.target.group = GROUP.into();
    plan
}

/// A harness run going on in the background.
pub struct Running {
    /// Cancel to stop the run early (as Ctrl-C does).
    pub stop: CancellationToken,
    /// Live figures, once per collector interval.
    pub live: watch::Receiver<Live>,
    run: tokio::task::JoinHandle<Result<Measured, StartError>>,
}

impl Running {
    /// Waits for the run's end (its own, or after `stop`).
    pub async fn finished(self) -> Measured {
        self.ended().await.expect("the target resolves")
    }

    /// Waits for the run's end, or for the target to be found unusable.
    pub async fn ended(self) -> Result<Measured, StartError> {
        tokio::time::timeout(RUN_WAIT, self.run)
            .await
            .expect("the run ends in time")
            .expect("the run does not panic")
    }
}

/// Starts `plan` in the background.
pub fn start_run(plan: Plan) -> Running {
    let stop = CancellationToken::new();
    let (live_tx, live) = watch::channel(Live::default());
    let interval = Duration::from_millis(100);
    let options = EngineOptions {
        observers: vec![Box::new(LiveFigures(live_tx))],
        export: None,
        stop: stop.clone(),
        interval,
        shard: Shard::WHOLE,
        start_at: None,
        steering: None,
        health_rows: None,
        health: None,
        server_feed: None,
    };
    let run = tokio::spawn(engine::run(plan, options));
    Running { stop, live, run }
}

/// Runs `yaml` against `cluster` to its end and answers what was measured.
pub async fn run_yaml(yaml: &str, cluster: &Cluster) -> Measured {
    start_run(plan_for(yaml, cluster)).finished().await
}

/// A fresh, empty directory for one test's files, unique to this test process.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("presence-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory in the temp dir");
    dir
}
