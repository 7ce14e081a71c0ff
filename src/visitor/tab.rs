//! One open tab of a simulated visitor, and waiting on all tabs at once.

use std::task::{Context, Poll};
use std::time::Instant;

use crate::client::{ClientError, Connection, Incoming};
use crate::wire::data::Data;
use crate::wire::Page;

/// The body of the last `presence` a tab sent, resent after a reconnect.
#[derive(Debug, Clone, Default)]
pub struct LastPresence {
    pub data: Option<Data>,
    pub page: Option<Page>,
}

/// An open tab: its session and what the visitor knows about it.
pub struct Tab {
    pub id: String,
    pub conn: Connection,
    /// The server's latest word on focus (`connected`, `focused`, `blur`).
    pub focused: bool,
    /// Opened with `connect_unique`: reconnects ask for a new unique id.
    pub unique: bool,
    /// Next `presence` sequence number on this connection.
    pub seq: u64,
    pub last_presence: Option<LastPresence>,
    /// The server announced a drain: the close that follows is a planned move.
    pub draining: bool,
    /// The unique id expired: the close that follows ends the tab.
    pub expired: bool,
    /// When anything (a message or a heartbeat) last arrived, for the heartbeat timeout.
    pub last_heard: Instant,
    /// A heartbeat (`h`, or a WebSocket ping or pong) arrived on this session: the server
    /// keeps it alive on this transport, so a silence past the heartbeat timeout means it is
    /// gone. Until then silence proves nothing: a SockJS server need not send heartbeats on
    /// every transport (sockjs-client keeps no heartbeat timeout at all).
    pub heartbeats: bool,
    /// The server instance serving the session, as a metric label.
    pub server: &'static str,
    /// A `focus` went out on this tab and its `focused` has not come yet: a move of another
    /// tab meanwhile (its reconnect) has no order against it at the server.
    pub focus_unanswered: bool,
    /// Another tab of the visitor ended, and this tab has not answered a request sent since:
    /// the server may meanwhile have given it focus on its own and taken it back (see
    /// `checks::visitor_side::BlurVerdict::Unsettled`). A flag, not an instant: every idle
    /// tab carries it.
    pub unsettled: bool,
}

impl Tab {
    pub fn new(id: String, (conn, server): (Connection, &'static str), unique: bool) -> Self {
        Tab {
            server,
            id,
            conn,
            focused: true,
            unique,
            seq: 0,
            last_presence: None,
            draining: false,
            expired: false,
            last_heard: Instant::now(),
            heartbeats: false,
            focus_unanswered: false,
            unsettled: false,
        }
    }
}

/// Polls every tab; answers the first that has something (or failed). The tab heard from
/// longest ago goes first: polled in a fixed order, a tab with a message ready every time
/// (a backlog of signals) starved the ones after it, and an HTTP tab that is not polled makes
/// no receiving request, so the server forgot its session after the disconnect delay (the
/// next poll opened a new one: `second open frame`, the tab dropped).
pub fn poll_any(
    tabs: &mut [Tab],
    cx: &mut Context<'_>,
) -> Poll<(usize, Result<Incoming, ClientError>)> {
    let first = tabs
        .iter()
        .enumerate()
        .min_by_key(|(_, tab)| tab.last_heard)
        .map_or(0, |(i, _)| i);
    let count = tabs.len();
    for i in (first..count).chain(0..first) {
        if let Poll::Ready(result) = tabs[i].conn.poll_recv(cx) {
            return Poll::Ready((i, result));
        }
    }
    Poll::Pending
}
