//! SockJS framing over WebSocket, both directions (docs/protocol.md section 1).
//!
//! Server to client: `o` (open), `h` (heartbeat), `a[...]` (messages, each a JSON string
//! holding one message object), `c[code,"reason"]` (close). Client to server: a JSON array
//! of strings, or a single JSON string; an empty frame carries nothing.

use std::fmt::Write;

use super::close::Close;

/// A frame the server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    Open,
    Heartbeat,
    /// Each element is one encoded message object.
    Messages(Vec<String>),
    Close {
        code: u16,
        reason: String,
    },
}

/// A frame that does not follow SockJS framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("broken SockJS framing: {0}")]
pub struct FramingError(pub String);

/// The open frame.
pub const OPEN: &str = "o";
/// The heartbeat frame.
pub const HEARTBEAT: &str = "h";

/// Encodes a message frame: `a` followed by a JSON array of the encoded messages as strings.
pub fn encode_messages<S: AsRef<str>>(messages: &[S]) -> String {
    let mut frame =
        String::with_capacity(2 + messages.iter().map(|m| m.as_ref().len() + 8).sum::<usize>());
    frame.push('a');
    push_string_array(&mut frame, messages);
    frame
}

/// Encodes a close frame, `c[code,"reason"]`.
pub fn encode_close(close: Close) -> String {
    format!(
        "c[{},{}]",
        close.code,
        serde_json::Value::from(close.reason)
    )
}

/// Encodes what a client sends: a JSON array of the encoded messages as strings.
pub fn encode_client_frame<S: AsRef<str>>(messages: &[S]) -> String {
    let mut frame = String::new();
    push_string_array(&mut frame, messages);
    frame
}

fn push_string_array<S: AsRef<str>>(out: &mut String, items: &[S]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Writing JSON into a String cannot fail.
        let quoted = serde_json::to_string(item.as_ref()).expect("a string always serializes");
        push_escaped(out, &quoted);
    }
    out.push(']');
}

/// Characters that browsers or proxies mangle on the way (zero-width and direction marks,
/// line and paragraph separators, invisible operators, specials), which SockJS sends
/// escaped as `\uXXXX` although JSON would allow them raw.
fn escaped_by_sockjs(c: char) -> bool {
    matches!(
        c,
        '\u{200c}'..='\u{200f}'
            | '\u{2028}'..='\u{202f}'
            | '\u{2060}'..='\u{206f}'
            | '\u{fff0}'..='\u{ffff}'
    )
}

/// Appends JSON text, escaping what [`escaped_by_sockjs`] names. Every such character
/// encodes in UTF-8 starting with byte 0xE2 or 0xEF, so text without those bytes (all
/// ASCII text, for one) is copied as it is.
fn push_escaped(out: &mut String, json: &str) {
    if !json.bytes().any(|b| b == 0xE2 || b == 0xEF) {
        out.push_str(json);
        return;
    }
    for c in json.chars() {
        if escaped_by_sockjs(c) {
            // Writing into a String cannot fail.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

/// Decodes a client frame into the messages it carries; an empty frame carries none.
pub fn decode_client_frame(text: &str) -> Result<Vec<String>, FramingError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    if trimmed.starts_with('"') {
        return serde_json::from_str::<String>(trimmed)
            .map(|one| vec![one])
            .map_err(|err| FramingError(err.to_string()));
    }
    serde_json::from_str::<Vec<String>>(trimmed).map_err(|err| FramingError(err.to_string()))
}

/// Decodes a frame the server sent.
pub fn decode_server_frame(text: &str) -> Result<ServerFrame, FramingError> {
    // The frame type is one ASCII letter. Looked at as a byte: a frame that starts with a
    // multi-byte character cannot be split after its first byte, and is no frame anyway.
    let rest = text.get(1..).unwrap_or_default();
    match text.as_bytes().first() {
        Some(b'o') if rest.is_empty() => Ok(ServerFrame::Open),
        Some(b'h') if rest.is_empty() => Ok(ServerFrame::Heartbeat),
        Some(b'a') => serde_json::from_str::<Vec<String>>(rest)
            .map(ServerFrame::Messages)
            .map_err(|err| FramingError(format!("message frame: {err}"))),
        Some(b'c') => serde_json::from_str::<(u16, String)>(rest)
            .map(|(code, reason)| ServerFrame::Close { code, reason })
            .map_err(|err| FramingError(format!("close frame: {err}"))),
        _ => Err(FramingError(format!(
            "unknown frame {:?}",
            truncate(text, 40)
        ))),
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Longest session id accepted (a UUID is 36): ids are kept while a session lives.
const MAX_ID_BYTES: usize = 64;

/// Which server and session ids a service's session URLs accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdRule {
    /// docs/protocol.md's: a server id of 1 to 3 digits, a session id of 1 to 64 of
    /// `[A-Za-z0-9_-]`.
    Presence,
    /// SockJS protocol 0.3.3's: any value of at most 64 bytes but an empty one or one with a
    /// dot (the protocol suite's test services, which try `/a/a` and `/_/_`).
    Sockjs,
}

impl IdRule {
    /// True when `server` and `session` form a valid session URL under this rule.
    pub fn accepts(self, server: &str, session: &str) -> bool {
        match self {
            IdRule::Presence => is_valid_server_id(server) && is_valid_session_id(session),
            IdRule::Sockjs => [server, session]
                .iter()
                .all(|id| (1..=MAX_ID_BYTES).contains(&id.len()) && !id.contains(['.', '/'])),
        }
    }
}

/// True when `server` is a valid server id under docs/protocol.md: 1 to 3 digits.
pub fn is_valid_server_id(server: &str) -> bool {
    (1..=3).contains(&server.len()) && server.bytes().all(|b| b.is_ascii_digit())
}

/// True when `session` is a valid session id under docs/protocol.md: 1 to 64 of `[A-Za-z0-9_-]`.
pub fn is_valid_session_id(session: &str) -> bool {
    (1..=MAX_ID_BYTES).contains(&session.len())
        && session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::close;

    #[test]
    fn message_frames_hold_json_strings() {
        let frame = encode_messages(&[r#"{"type":"extend"}"#, "x"]);
        assert_eq!(frame, r#"a["{\"type\":\"extend\"}","x"]"#);
        assert_eq!(
            decode_server_frame(&frame),
            Ok(ServerFrame::Messages(vec![
                r#"{"type":"extend"}"#.into(),
                "x".into()
            ]))
        );
    }

    #[test]
    fn control_frames_round_trip() {
        assert_eq!(decode_server_frame(OPEN), Ok(ServerFrame::Open));
        assert_eq!(decode_server_frame(HEARTBEAT), Ok(ServerFrame::Heartbeat));
        assert_eq!(encode_close(close::GO_AWAY), r#"c[3000,"Go away!"]"#);
        assert_eq!(
            decode_server_frame(&encode_close(close::BROKEN_FRAMING)),
            Ok(ServerFrame::Close {
                code: 1002,
                reason: "Broken framing.".into()
            })
        );
        assert!(decode_server_frame("ox").is_err());
        assert!(decode_server_frame("").is_err());
        // Found by the fuzz test (tests/it/fuzz.rs): a frame starting with a multi-byte
        // character used to panic the visitor's task.
        assert!(decode_server_frame("é[]").is_err());
    }

    #[test]
    fn client_frames_accept_array_string_and_empty() {
        assert_eq!(
            decode_client_frame(r#"["a","b"]"#),
            Ok(vec!["a".into(), "b".into()])
        );
        assert_eq!(decode_client_frame(r#""a""#), Ok(vec!["a".into()]));
        assert_eq!(decode_client_frame(""), Ok(vec![]));
        assert!(decode_client_frame("[1]").is_err());
        assert!(decode_client_frame("{not json").is_err());
        assert_eq!(encode_client_frame(&["{}"]), r#"["{}"]"#);
    }

    #[test]
    fn session_path_parts_are_checked() {
        assert!(is_valid_server_id("0") && is_valid_server_id("123"));
        assert!(!is_valid_server_id("1234") && !is_valid_server_id("") && !is_valid_server_id("a"));
        assert!(is_valid_session_id("abc_DEF-09"));
        assert!(
            !is_valid_session_id("")
                && !is_valid_session_id("a.b")
                && !is_valid_session_id(&"x".repeat(65))
        );
        assert!(IdRule::Presence.accepts("123", "abc") && !IdRule::Presence.accepts("a", "a"));
        assert!(IdRule::Sockjs.accepts("a", "a") && IdRule::Sockjs.accepts("abcdefgh_i-j ", "_"));
        assert!(
            !IdRule::Sockjs.accepts("", "a")
                && !IdRule::Sockjs.accepts("a.", "a")
                && !IdRule::Sockjs.accepts("a", ".")
        );
    }

    #[test]
    fn characters_browsers_mangle_are_sent_escaped() {
        let frame = encode_messages(&["a\u{2028}b\u{200c}\u{ffff}é\u{2027}"]);
        assert_eq!(frame, "a[\"a\\u2028b\\u200c\\uffffé\u{2027}\"]");
        assert_eq!(
            decode_server_frame(&frame),
            Ok(ServerFrame::Messages(vec![
                "a\u{2028}b\u{200c}\u{ffff}é\u{2027}".into()
            ]))
        );
        assert_eq!(encode_messages(&["plain"]), r#"a["plain"]"#);
    }
}
