//! The escaping of SockJS frames inside eventsource `data:` lines, both ways.
//!
//! A Server-Sent Events line ends at `\r` or `\n`, and some browsers cut a line at `\0`, so
//! sockjs-node percent-escapes `%`, `\r`, `\n` and `\0` in each frame it sends on
//! eventsource (and `%` first, so the escape is reversible), and sockjs-client undoes it with
//! JavaScript's `decodeURI`. A JSON frame holds none of the three control characters raw,
//! so in practice a `%` in a visitor id, page URL or signal reaches the client as `%25`.
//! Not every server library escapes (aiohttp-sockjs does not): [`unescape`] tells the two
//! apart by the frame.

use std::borrow::Cow;

/// What sockjs-node escapes in an eventsource frame.
fn escaped(byte: u8) -> bool {
    matches!(byte, b'%' | b'\r' | b'\n' | b'\0')
}

/// `frame` as it goes into a `data:` line: `%`, `\r`, `\n` and `\0` as `%25`, `%0D`,
/// `%0A` and `%00`, as sockjs-node writes them.
pub fn escape(frame: &str) -> Cow<'_, str> {
    if !frame.bytes().any(escaped) {
        return Cow::Borrowed(frame);
    }
    let mut out = String::with_capacity(frame.len() + 8);
    for c in frame.chars() {
        match u8::try_from(c) {
            Ok(byte) if escaped(byte) => out.push_str(&format!("%{byte:02X}")),
            _ => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `data` may come from a server that escapes: every `%` in it is `%25`. A JSON
/// frame holds no raw `\r`, `\n` or `\0`, so `%25` is the only escape such a server sends.
pub fn may_be_escaped(data: &str) -> bool {
    let bytes = data.as_bytes();
    bytes
        .iter()
        .enumerate()
        .all(|(at, &b)| b != b'%' || bytes[at..].starts_with(b"%25"))
}

/// A `data:` line's frame as it was before the server escaped it. A server that escapes
/// (sockjs-node, the reference server) writes every `%` of a frame as `%25`, which is undone:
/// what sockjs-client's `decodeURI` makes of such a line. A frame holding any other `%`
/// comes from a server that does not escape (aiohttp-sockjs) and is read as it is, where
/// `decodeURI` would corrupt it (`%41` read as `A`) or throw (a bare `%`); so is every later
/// frame of a session whose server was seen not to escape (the caller's `escapes` false).
pub fn unescape(data: &str, escapes: bool) -> Cow<'_, str> {
    if !escapes || !data.contains('%') || !may_be_escaped(data) {
        return Cow::Borrowed(data);
    }
    Cow::Owned(data.replace("%25", "%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_sockjs_node_escapes_is_escaped_and_nothing_else() {
        assert_eq!(escape("a[\"50%off\"]"), "a[\"50%25off\"]");
        assert_eq!(escape("%\r\n\0"), "%25%0D%0A%00");
        assert_eq!(escape("é \\\" ; / # +"), "é \\\" ; / # +");
        assert!(matches!(escape("a[\"plain\"]"), Cow::Borrowed(_)));
    }

    #[test]
    fn unescaping_undoes_escaping() {
        // JSON frames hold no raw `\r`, `\n` or `\0`.
        for frame in [
            "a[\"50%off-1\"]",
            "%25 %%% %0D",
            "é€😀 %E2%82%AC \\u0000",
            "%",
            "%2",
            "%zz",
            "100%",
        ] {
            assert_eq!(unescape(&escape(frame), true), frame, "{frame:?}");
        }
    }

    #[test]
    fn an_escaping_servers_frames_read_as_decode_uri_reads_them() {
        assert_eq!(unescape("50%25off %2541 %250A", true), "50%off %41 %0A");
    }

    #[test]
    fn a_frame_from_a_server_that_does_not_escape_is_read_as_it_is() {
        // decodeURI would throw on the bare `%`, and read `%41` as `A`.
        for raw in [
            "100% sure",
            "50%25 and 100%",
            "%41",
            "%2",
            "%E2%82%AC",
            "%G1",
            "%0A",
        ] {
            assert!(!may_be_escaped(raw), "{raw:?}");
            assert!(
                matches!(unescape(raw, true), Cow::Borrowed(r) if r == raw),
                "{raw:?}"
            );
        }
        // Once a session's server was seen not to escape, a lone `%25` is its own text.
        assert_eq!(unescape("50%25", false), "50%25");
        assert!(matches!(unescape("no escapes", true), Cow::Borrowed(_)));
    }
}
