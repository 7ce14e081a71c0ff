//! Close codes and reasons used by the server (PROTOCOL.md section 1).

/// A `c[code,"reason"]` close frame's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

/// Instance draining or shutting down: reconnect elsewhere.
pub const GO_AWAY: Close = Close { code: 3000, reason: "Go away!" };
/// SockJS session id reused while the first session is still open.
pub const SESSION_IN_USE: Close = Close { code: 2010, reason: "Another connection still open" };
/// A unique connection that was not extended in time.
pub const UNIQUE_EXPIRED: Close = Close { code: 4001, reason: "unique connection expired" };
/// A unique id already held by another live connection.
pub const UNIQUE_IN_USE: Close = Close { code: 4002, reason: "unique id in use" };
/// A request the server cannot serve at all.
pub const BAD_REQUEST: Close = Close { code: 4003, reason: "bad request" };
/// The same visitor and tab connected again: the old session is replaced.
pub const REPLACED: Close = Close { code: 4004, reason: "replaced" };
/// A client frame that is not valid JSON.
pub const BROKEN_FRAMING: Close = Close { code: 1002, reason: "Broken framing." };
/// A client frame over the server's size limit.
pub const MESSAGE_TOO_BIG: Close = Close { code: 1009, reason: "Message too big" };
