//! One instance: its listener and routes, and the switches that drain or kill it.
//!
//! An instance owns sockets only; everything a visitor would miss lives in the shared
//! state, so an instance can leave (gracefully or not) without losing anything else.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use tokio::net::{TcpListener, TcpSocket};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;

use super::cluster::Context;
use super::error::ServerError;
use super::metrics::InstanceCounters;
use super::routes;
use super::sockjs::Registry;
use crate::net::serve;

/// Whether an instance accepts visitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    Live,
    Draining,
}

/// An instance as `/admin/instances` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceInfo {
    /// `s1`, `s2`, ...
    pub server: String,
    /// `ws://HOST:PORT/presence`
    pub url: String,
    pub state: InstanceState,
}

pub struct Instance {
    pub name: String,
    pub url: String,
    /// Cancelled when the drain begins; sessions then pick their moment to leave.
    drain: CancellationToken,
    /// When the drain window ends; set before `drain` is cancelled.
    drain_deadline: OnceLock<Instant>,
    /// Cancelled by `kill`: sessions drop their sockets without a frame.
    kill: CancellationToken,
    /// Cancelled to stop listening.
    stop: CancellationToken,
    /// SockJS session ids open on this instance, and the HTTP sessions behind them.
    registry: Arc<Registry>,
    /// This instance's session tasks; closed when the drain begins.
    sessions: TaskTracker,
    /// Sessions and messages, for `/metrics`.
    pub counters: Arc<InstanceCounters>,
}

/// Connections an instance's listener queues before the kernel drops their SYNs. tokio's
/// `bind` asks for 1,024; a connect storm of thousands at once overflowed that, and a client
/// retries a dropped SYN only after 1 s (`connect_tcp` p50 0.96 s in BENCHMARKS.md's storm).
/// The kernel caps it at `net.core.somaxconn` (4,096 on this machine).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds and listens on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as `bind` sets).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

impl Instance {
    /// Binds `addr` and serves the instance's routes until it is stopped.
    pub async fn start(
        name: String,
        addr: SocketAddr,
        context: &Context,
    ) -> Result<Arc<Instance>, ServerError> {
        let listener = listen(addr).map_err(|source| ServerError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        let prefix = routes::normalize_prefix(&context.settings.prefix);
        let instance = Arc::new(Instance {
            name,
            url: format!("ws://{local}{prefix}"),
            drain: CancellationToken::new(),
            drain_deadline: OnceLock::new(),
            kill: CancellationToken::new(),
            stop: CancellationToken::new(),
            registry: Arc::default(),
            sessions: TaskTracker::new(),
            counters: Arc::default(),
        });
        let router = routes::router(instance.clone(), context.clone());
        let bounds = context.settings.http_bounds();
        context.spawn(serve::serve(
            listener,
            router,
            instance.stop.clone(),
            bounds,
        ));
        Ok(instance)
    }

    pub fn info(&self) -> InstanceInfo {
        let state = if self.is_draining() {
            InstanceState::Draining
        } else {
            InstanceState::Live
        };
        InstanceInfo {
            server: self.name.clone(),
            url: self.url.clone(),
            state,
        }
    }

    pub fn is_draining(&self) -> bool {
        self.drain.is_cancelled()
    }

    /// Starts the drain: sessions leave spread over `window`. False if it had begun already.
    pub fn begin_drain(&self, window: Duration) -> bool {
        if self.drain_deadline.set(Instant::now() + window).is_err() {
            return false;
        }
        self.sessions.close();
        self.drain.cancel();
        true
    }

    /// The tracker of this instance's session tasks.
    pub fn sessions(&self) -> &TaskTracker {
        &self.sessions
    }

    /// Completes once the drain has begun and every session has left.
    pub async fn emptied(&self) {
        self.sessions.wait().await
    }

    /// Completes once the drain has begun.
    pub fn draining(&self) -> WaitForCancellationFuture<'_> {
        self.drain.cancelled()
    }

    /// When the drain window ends, once it has begun.
    pub fn drain_deadline(&self) -> Option<Instant> {
        self.drain_deadline.get().copied()
    }

    /// Abrupt end: every socket dropped without a frame, listener closed.
    pub fn kill(&self) {
        self.kill.cancel();
        self.stop.cancel();
    }

    pub fn killed(&self) -> WaitForCancellationFuture<'_> {
        self.kill.cancelled()
    }

    pub fn stop(&self) {
        self.stop.cancel();
    }

    pub fn stopped(&self) -> WaitForCancellationFuture<'_> {
        self.stop.cancelled()
    }

    /// Cancelled once the instance stops listening (a clone of the switch).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// The SockJS session ids of the presence service on this instance.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }
}
