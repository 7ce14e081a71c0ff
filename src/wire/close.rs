//! Close codes and reasons used by the server (docs/protocol.md section 1).

/// A `c[code,"reason"]` close frame's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

/// Instance draining or shutting down: reconnect elsewhere.
pub const GO_AWAY: Close = Close {
    code: 3000,
    reason: "Go away!",
};
/// SockJS session id reused while the first session is still open.
pub const SESSION_IN_USE: Close = Close {
    code: 2010,
    reason: "Another connection still open",
};
/// A unique connection that was not extended in time.
pub const UNIQUE_EXPIRED: Close = Close {
    code: 4001,
    reason: "unique connection expired",
};
/// A unique id already held by another live connection.
pub const UNIQUE_IN_USE: Close = Close {
    code: 4002,
    reason: "unique id in use",
};
/// A request the server cannot serve at all.
pub const BAD_REQUEST: Close = Close {
    code: 4003,
    reason: "bad request",
};
/// The same visitor and tab connected again: the old session is replaced.
pub const REPLACED: Close = Close {
    code: 4004,
    reason: "replaced",
};
/// A client frame that is not valid JSON.
pub const BROKEN_FRAMING: Close = Close {
    code: 1002,
    reason: "Broken framing.",
};
/// SockJS HTTP transports: the client cut its receiving request (a network failure, as far
/// as the server can tell); the session closes.
pub const CONNECTION_INTERRUPTED: Close = Close {
    code: 1002,
    reason: "Connection interrupted",
};
/// A client frame over the server's size limit.
pub const MESSAGE_TOO_BIG: Close = Close {
    code: 1009,
    reason: "Message too big",
};

/// Codes after which the client opens a new session, on another instance if need be: the
/// server going away ([`GO_AWAY`], 1001), no status (1005), an abnormal end (1006), a server
/// error (1011), a restart (1012) or "try again later" (1013). Every other close is final.
const RECONNECT_ELSEWHERE: [u16; 7] = [GO_AWAY.code, 1001, 1005, 1006, 1011, 1012, 1013];

/// Whether a close with this code asks the client to come back (elsewhere) rather than stop.
pub fn reconnect_elsewhere(code: u16) -> bool {
    RECONNECT_ELSEWHERE.contains(&code)
}

/// Whether a close with this code announces a drain of the instance (like `draining`).
pub fn is_drain(code: u16) -> bool {
    code == GO_AWAY.code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_away_is_the_drain_and_a_move() {
        assert!(is_drain(GO_AWAY.code) && reconnect_elsewhere(GO_AWAY.code));
        assert!(!is_drain(REPLACED.code) && !is_drain(1006));
    }
}
