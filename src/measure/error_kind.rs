//! Every kind of error the harness records, in one closed list: a threshold on
//! `errors.KIND` must name one of them, so a misspelt kind is refused before the run instead
//! of counting zero and passing forever. docs/scenarios.md lists them with their meaning.
//! The kinds that several places record are named once here as constants.

/// A request that was never answered: still open when its visitor or agent stopped (after a
/// short last chance), or lost with a session that was not a planned move.
pub const UNANSWERED: &str = "unanswered";

/// A session lost (reset, closed without a frame, silent past the heartbeat timeout, closed
/// with a code that asks to reconnect) outside a drill window and without a drain announced.
pub const SESSION_LOST: &str = "session_lost";

/// A request not answered within `target.reply_timeout`.
pub const REPLY_TIMEOUT: &str = "reply_timeout";

/// Each kind and what it counts, in the order docs/scenarios.md shows them.
pub const ERROR_KINDS: &[(&str, &str)] = &[
    ("connect", "a socket could not be connected (refused, unreachable, reset)"),
    (crate::protocol::client::OPEN_FILE_LIMIT, "the harness ran out of file descriptors"),
    (crate::protocol::client::EPHEMERAL_PORTS, "the harness ran out of local ports"),
    ("invalid_url", "an endpoint URL could not be used"),
    ("tls", "the TLS handshake failed"),
    ("handshake", "the WebSocket or SockJS handshake failed"),
    ("locate", "`/locate` failed or answered an error"),
    ("locate_url", "`/locate` answered an unusable URL"),
    (crate::protocol::locate::BODY_TOO_LARGE, "an HTTP answer (`/locate`, an admin action) was over its size limit"),
    (crate::protocol::client::FRAME_TOO_LARGE, "a message or frame from the server was over its size limit"),
    ("timeout", "no answer to `connect`, `connect_unique` or `agent_connect` in time"),
    ("unexpected_reply", "a request was answered with the wrong message"),
    (REPLY_TIMEOUT, "no answer to `presence`, `extend` or `focus` within `target.reply_timeout`"),
    ("signal_timeout", "`await_signal` saw nothing before its timeout"),
    ("step_without_session", "a step needed an open session and there was none"),
    ("server_error", "the server sent an `error` message"),
    ("closed", "the server closed a session for no reason the protocol names"),
    ("closed_broken_framing", "closed with 1002: the server saw broken framing"),
    ("closed_too_big", "closed with 1009: a frame was too big"),
    ("closed_session_in_use", "closed with 2010: the SockJS session was in use"),
    ("closed_unique_expired", "closed with 4001: the unique id expired"),
    ("closed_unique_in_use", "closed with 4002: the unique id was in use"),
    ("closed_bad_request", "closed with 4003: the server refused a request"),
    ("closed_replaced", "closed with 4004: another session replaced this one"),
    ("lost", "a session ended without a close frame"),
    (SESSION_LOST, "a session was lost outside a drill window, without a drain announced"),
    ("protocol", "the server broke the protocol (bad frame, invalid UTF-8, ...)"),
    (
        crate::protocol::client::HTTP_STATUS,
        "an HTTP transport's request was answered with a status other than 200 (204 for `xhr_send`)",
    ),
    (UNANSWERED, "a request still waiting when its visitor stopped, or lost with its session"),
];

/// Whether the harness ever records errors of `kind`.
pub fn is_error_kind(kind: &str) -> bool {
    ERROR_KINDS.iter().any(|(known, _)| *known == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every literal kind recorded in the source (`.error("...")`) is in the list, so the list
    /// cannot fall behind the code unnoticed.
    #[test]
    fn every_recorded_literal_is_listed() {
        let mut files = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        let mut checked = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") || path.ends_with("error_kind.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("recorder.error(\"") {
                let rest = &text[at + "recorder.error(\"".len()..];
                let kind = &rest[..rest.find('"').unwrap()];
                assert!(is_error_kind(kind), "{}: `{kind}` is recorded but not in ERROR_KINDS", path.display());
                checked += 1;
            }
        }
        assert!(checked >= 5, "only {checked} recorded kinds found");
    }

    #[test]
    fn kinds_are_unique() {
        let unique: std::collections::HashSet<_> = ERROR_KINDS.iter().map(|(kind, _)| kind).collect();
        assert_eq!(unique.len(), ERROR_KINDS.len());
    }
}
