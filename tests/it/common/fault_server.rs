//! A fake Presence server that misbehaves on purpose, so that tests can show the harness
//! catches each way a server can fail or lie (issue 12).
//!
//! It speaks just enough of docs/protocol.md for visitors and agents: `/locate`, SockJS over
//! WebSocket and raw WebSocket, `connect`, `connect_unique`, `agent_connect`, `presence`,
//! `focus`, `extend`, `signal`/`invoke` (always `delivered`, never forwarded). One [`Fault`]
//! switch, chosen at start, says how it breaks. It binds 127.0.0.1:0 and stops when dropped.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use presence_bench::wire::{close, sockjs};
use presence_bench::wire::{ClientMessage, ServerMessage, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

/// How the server breaks. Times are counted from the first session's upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A healthy server: answers everything at once.
    None,
    /// Answers nothing (and forgets what it was asked) from `from` on: a stall from the
    /// start (zero), or a stall at the end of a run.
    Stall { from: Duration },
    /// Acknowledges no `presence` received between `from` and `to`; answers the rest.
    DropPresences { from: Duration, to: Duration },
    /// Resets the TCP connection (RST, no close frame) right after its first reply.
    ResetAfterFirstReply,
    /// Accepts TCP connections and reads the upgrade request, but never answers it; only the
    /// first upgrade (the harness's preflight probe) is served, so the run does start.
    HalfOpen,
    /// Answers `connect`, then sends a text frame that is neither SockJS nor a message.
    Garbage,
    /// Answers `connect`, then sends a text frame whose payload is not valid UTF-8.
    InvalidUtf8,
    /// `/locate` answers 200 and a body that never ends.
    EndlessLocate,
    /// `connected` names another visitor than the one that asked.
    WrongVisitor,
    /// Right after `connected`, sends the tab a `blur` naming another tab.
    WrongTab,
    /// Right after `connected`, pushes a `signal` and an `invoke` that no agent sent.
    UnknownSignals,
    /// Every other session (the 2nd, 4th, ... upgrade) is on an instance that starts to drain
    /// as the visitor connects: `connect` gets `draining`, then `c[3000,"Go away!"]` (SockJS).
    DrainsEveryOther,
    /// Each session drains after its second presence is acknowledged: `draining`, then a
    /// WebSocket close 1000 "Go away!" (aiohttp-sockjs's raw WebSocket closes with 1000
    /// whatever code its app gives).
    DrainsWithNormalClose,
    /// A move that finds statuses owed: no `signal` or `invoke` received between `from` and
    /// `to` gets its status, and at `to` every session open then ends: dropped without a frame
    /// if `kill` (a killed instance), else sent `draining` and `c[3000,"Go away!"]` (a
    /// scale-in). Sessions opened later are served in full.
    MoveOwingStatuses {
        from: Duration,
        to: Duration,
        kill: bool,
    },
}

/// The visitor id a [`Fault::WrongVisitor`] server puts in every `connected`.
pub const SOMEONE_ELSE: &str = "someone-else";

/// A running fault server; dropping it stops it.
pub struct FaultServer {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl FaultServer {
    pub async fn start(fault: Fault) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a bound address");
        let stop = CancellationToken::new();
        let shared = Arc::new(Shared {
            fault,
            addr,
            first_upgrade: OnceLock::new(),
            stop: stop.clone(),
            upgrades: Default::default(),
        });
        tokio::spawn(accept(listener, shared));
        FaultServer { addr, stop }
    }

    /// `http://127.0.0.1:PORT`: a directory (answers `/locate` with itself).
    pub fn directory_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:PORT/presence`: the instance itself.
    pub fn instance_url(&self) -> String {
        format!("ws://{}/presence", self.addr)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

struct Shared {
    fault: Fault,
    addr: SocketAddr,
    /// When the first session was upgraded: the faults' windows count from there, not from
    /// the server's start, so that a harness slow to start on a loaded machine still meets
    /// them (its agent once connected after a window from the start had closed).
    first_upgrade: OnceLock<Instant>,
    stop: CancellationToken,
    /// Upgrades asked for so far.
    upgrades: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// How long since the first upgrade (zero before it): the faults' clock.
    fn clock(&self) -> Duration {
        self.first_upgrade
            .get()
            .map_or(Duration::ZERO, Instant::elapsed)
    }

    /// Whether a message received now gets no answer at all.
    fn stalled(&self) -> bool {
        let Fault::Stall { from } = self.fault else {
            return false;
        };
        self.clock() >= from
    }

    /// Whether a `signal` or `invoke` received now goes without its status.
    fn withholds_status(&self) -> bool {
        let Fault::MoveOwingStatuses { from, to, .. } = self.fault else {
            return false;
        };
        let now = self.clock();
        now >= from && now < to
    }

    fn drops_presence(&self) -> bool {
        let Fault::DropPresences { from, to } = self.fault else {
            return false;
        };
        let now = self.clock();
        now >= from && now < to
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = tokio::select! {
            _ = shared.stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let stop = shared.stop.clone();
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = serve(stream, shared) => {}
            }
        });
    }
}

/// One HTTP request: `/locate`, or an upgrade to either transport.
async fn serve(mut stream: TcpStream, shared: Arc<Shared>) {
    let Some(head) = read_head(&mut stream).await else {
        return;
    };
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    if path.starts_with("/locate") {
        return locate(stream, &shared).await;
    }
    let earlier_upgrades = shared
        .upgrades
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let first_upgrade = *shared.first_upgrade.get_or_init(Instant::now);
    if shared.fault == Fault::HalfOpen && earlier_upgrades > 0 {
        // Hold the socket, never answer: only the server's stop ends it.
        return std::future::pending().await;
    }
    let key = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    });
    let Some(key) = key else { return };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    if stream.write_all(response.as_bytes()).await.is_err() {
        return;
    }
    let sockjs = path != "/presence/websocket";
    let ws = WebSocketStream::from_raw_socket(stream, Role::Server, None).await;
    let drains = shared.fault == Fault::DrainsEveryOther && earlier_upgrades % 2 == 1;
    let drain_at = match shared.fault {
        Fault::MoveOwingStatuses { to, .. } if shared.clock() < to => Some(first_upgrade + to),
        _ => None,
    };
    let session = Session {
        ws,
        sockjs,
        shared: &shared,
        replies: 0,
        tab: String::new(),
        drains,
        drain_at,
    };
    let _ = session.run().await;
}

/// The request head (up to the blank line), at most 8 KiB.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).ok()
}

async fn locate(mut stream: TcpStream, shared: &Shared) {
    if shared.fault == Fault::EndlessLocate {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"url\":\"")
            .await;
        let chunk = [b'x'; 16 * 1024];
        while stream.write_all(&chunk).await.is_ok() {}
        return;
    }
    let body = format!(
        "{{\"url\":\"ws://{}/presence\",\"server\":\"fault\"}}",
        shared.addr
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
}

/// One WebSocket session.
struct Session<'a> {
    ws: WebSocketStream<TcpStream>,
    sockjs: bool,
    shared: &'a Shared,
    /// Replies sent so far.
    replies: u64,
    /// The tab `connect` named, for `focused`.
    tab: String,
    /// This session's instance drains as the visitor connects ([`Fault::DrainsEveryOther`]).
    drains: bool,
    /// When this session is moved ([`Fault::MoveOwingStatuses`]).
    drain_at: Option<Instant>,
}

/// The session ends (the peer left, or the fault ended it).
struct Ended;

impl Session<'_> {
    async fn run(mut self) -> Result<(), Ended> {
        if self.sockjs {
            self.ws
                .send(Message::text(sockjs::OPEN))
                .await
                .map_err(|_| Ended)?;
        }
        loop {
            let drain_at = self
                .drain_at
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            let frame = tokio::select! {
                frame = self.ws.next() => frame,
                () = tokio::time::sleep_until(drain_at.into()), if self.drain_at.is_some() => {
                    if matches!(self.shared.fault, Fault::MoveOwingStatuses { kill: true, .. }) {
                        return Err(Ended);
                    }
                    self.reply(ServerMessage::Draining { retry_after_ms: Some(0) }).await?;
                    let _ = self.send_text(sockjs::encode_close(close::GO_AWAY)).await;
                    return Err(Ended);
                }
            };
            let Some(Ok(frame)) = frame else { break };
            let Message::Text(text) = frame else { continue };
            let items = if self.sockjs {
                sockjs::decode_client_frame(&text).map_err(|_| Ended)?
            } else {
                vec![text.to_string()]
            };
            for item in items {
                let Ok(message) = ClientMessage::decode(&item) else {
                    continue;
                };
                if !self.shared.stalled() {
                    self.answer(message).await?;
                }
            }
        }
        Ok(())
    }

    async fn answer(&mut self, message: ClientMessage) -> Result<(), Ended> {
        match message {
            ClientMessage::Connect { .. } if self.drains => {
                self.reply(ServerMessage::Draining {
                    retry_after_ms: None,
                })
                .await?;
                let _ = self.send_text(sockjs::encode_close(close::GO_AWAY)).await;
                Err(Ended)
            }
            ClientMessage::Connect { visitor, tab, .. } => {
                let visitor = if self.shared.fault == Fault::WrongVisitor {
                    SOMEONE_ELSE.to_owned()
                } else {
                    visitor
                };
                self.tab = tab;
                self.reply(ServerMessage::Connected {
                    visitor,
                    server: "fault".into(),
                    focus: true,
                })
                .await?;
                self.after_connected().await
            }
            ClientMessage::ConnectUnique { .. } => {
                self.reply(ServerMessage::Unique {
                    visitor: "123456".into(),
                    expires_in_ms: 300_000,
                })
                .await
            }
            ClientMessage::AgentConnect { agent, .. } => {
                self.reply(ServerMessage::AgentConnected {
                    agent,
                    server: "fault".into(),
                })
                .await
            }
            // `connected`, the presence a reconnect resends, then one more: the drain.
            ClientMessage::Presence { seq, .. }
                if self.shared.fault == Fault::DrainsWithNormalClose =>
            {
                self.reply(ServerMessage::PresenceAck { seq }).await?;
                if self.replies < 3 {
                    return Ok(());
                }
                self.reply(ServerMessage::Draining {
                    retry_after_ms: None,
                })
                .await?;
                let close = CloseFrame {
                    code: CloseCode::Normal,
                    reason: "Go away!".into(),
                };
                let _ = self.ws.send(Message::Close(Some(close))).await;
                Err(Ended)
            }
            ClientMessage::Presence { seq, .. } if !self.shared.drops_presence() => {
                self.reply(ServerMessage::PresenceAck { seq }).await
            }
            ClientMessage::Focus => {
                self.reply(ServerMessage::Focused {
                    tab: self.tab.clone(),
                })
                .await
            }
            ClientMessage::Extend => {
                self.reply(ServerMessage::Extended {
                    expires_in_ms: 300_000,
                })
                .await
            }
            ClientMessage::Signal { .. } | ClientMessage::Invoke { .. }
                if self.shared.withholds_status() =>
            {
                Ok(())
            }
            ClientMessage::Signal { id, .. } => {
                self.reply(ServerMessage::SignalStatus {
                    id,
                    status: Status::Delivered,
                    reason: None,
                })
                .await
            }
            ClientMessage::Invoke { id, .. } => {
                self.reply(ServerMessage::InvokeStatus {
                    id,
                    status: Status::Delivered,
                    reason: None,
                })
                .await
            }
            _ => Ok(()),
        }
    }

    /// What a faulty server does once a visitor's tab is connected.
    async fn after_connected(&mut self) -> Result<(), Ended> {
        match self.shared.fault {
            Fault::Garbage => {
                self.send_text("this is neither SockJS nor JSON".into())
                    .await
            }
            Fault::InvalidUtf8 => self.send_invalid_utf8().await,
            Fault::WrongTab => {
                self.reply(ServerMessage::Blur {
                    tab: format!("not-{}", self.tab),
                })
                .await
            }
            Fault::UnknownSignals => {
                let data = serde_json::json!({ "from": "nobody" });
                self.reply(ServerMessage::Signal {
                    id: "999999".into(),
                    agent: "agent-0".into(),
                    data,
                })
                .await?;
                let args = serde_json::json!({});
                let invoke = ServerMessage::Invoke {
                    id: "1".into(),
                    agent: "intruder".into(),
                    action: "x".into(),
                    args,
                };
                self.reply(invoke).await
            }
            _ => Ok(()),
        }
    }

    async fn reply(&mut self, message: ServerMessage) -> Result<(), Ended> {
        let encoded = message.encode();
        let frame = if self.sockjs {
            sockjs::encode_messages(&[encoded])
        } else {
            encoded
        };
        self.send_text(frame).await?;
        self.replies += 1;
        if self.shared.fault == Fault::ResetAfterFirstReply && self.replies == 1 {
            // Linger 0: closing sends RST instead of FIN. (Deprecated because a non-zero linger
            // blocks the thread on drop; zero never does.)
            #[allow(deprecated)]
            let _ = self.ws.get_ref().set_linger(Some(Duration::ZERO));
            return Err(Ended);
        }
        Ok(())
    }

    async fn send_text(&mut self, frame: String) -> Result<(), Ended> {
        self.ws.send(Message::text(frame)).await.map_err(|_| Ended)
    }

    /// A text frame (FIN, opcode 1, unmasked) whose payload is not UTF-8, written past the
    /// WebSocket library, which would refuse to send it.
    async fn send_invalid_utf8(&mut self) -> Result<(), Ended> {
        self.ws.flush().await.map_err(|_| Ended)?;
        let payload = [0xC3, 0x28, 0xFF, 0xFE];
        let mut frame = vec![0x81, payload.len() as u8];
        frame.extend_from_slice(&payload);
        self.ws.get_mut().write_all(&frame).await.map_err(|_| Ended)
    }
}
