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

/// The character a sockjs-node escape at the start of `bytes` stands for.
fn escape_at(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [b'%', b'2', b'5', ..] => Some(b'%'),
        [b'%', b'0', b'D' | b'd', ..] => Some(b'\r'),
        [b'%', b'0', b'A' | b'a', ..] => Some(b'\n'),
        [b'%', b'0', b'0', ..] => Some(b'\0'),
        _ => None,
    }
}

/// A `data:` line's frame as it was before the server escaped it. A server that escapes
/// (sockjs-node, the reference server) writes every `%` of a frame as one of the four
/// escapes, so then each is undone: what sockjs-client's `decodeURI` makes of such a line.
/// A frame holding any other `%` comes from a server that does not escape (aiohttp-sockjs)
/// and is read as it is, where `decodeURI` would corrupt it (`%41` read as `A`) or throw (a
/// bare `%`).
pub fn unescape(data: &str) -> Cow<'_, str> {
    let bytes = data.as_bytes();
    let percents = || bytes.iter().enumerate().filter(|(_, &b)| b == b'%').map(|(at, _)| at);
    if percents().next().is_none() || percents().any(|at| escape_at(&bytes[at..]).is_none()) {
        return Cow::Borrowed(data);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match escape_at(&bytes[at..]) {
            Some(byte) => {
                out.push(byte);
                at += 3;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    // Only ASCII bytes were put in place of ASCII escapes: the text stays UTF-8.
    Cow::Owned(String::from_utf8(out).expect("unescaping keeps UTF-8 whole"))
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
        for frame in ["a[\"50%off-1\"]", "%25 %%% %0D \r\n\0", "é€😀 %E2%82%AC \\u0000", "%", "%2", "%zz", "100%"]
        {
            assert_eq!(unescape(&escape(frame)), frame, "{frame:?}");
        }
    }

    #[test]
    fn an_escaping_servers_frames_read_as_decode_uri_reads_them() {
        assert_eq!(unescape("50%25off %2541 %0D%0a%00"), "50%off %41 \r\n\0");
    }

    #[test]
    fn a_frame_from_a_server_that_does_not_escape_is_read_as_it_is() {
        // decodeURI would throw on the bare `%`, and read `%41` as `A`.
        for raw in ["100% sure", "50%25 and 100%", "%41", "%2", "%E2%82%AC", "%G1"] {
            assert_eq!(unescape(raw), raw, "{raw:?}");
            assert!(matches!(unescape(raw), Cow::Borrowed(_)));
        }
        assert!(matches!(unescape("no escapes"), Cow::Borrowed(_)));
    }
}
