//! The escaping of SockJS frames inside eventsource `data:` lines, both ways.
//!
//! A Server-Sent Events line ends at `\r` or `\n`, and some browsers cut a line at `\0`, so
//! sockjs-node percent-escapes `%`, `\r`, `\n` and `\0` in each frame it sends on
//! eventsource (and `%` first, so the escape is reversible), and sockjs-client undoes it with
//! JavaScript's `decodeURI`. A JSON frame holds none of the three control characters raw,
//! so in practice a `%` in a visitor id, page URL or signal reaches the client as `%25`.
//! Not every server library escapes: the client decodes as `decodeURI` does, but keeps a
//! `%` it cannot decode as it is instead of failing as `decodeURI` would.

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

/// Characters `decodeURI` leaves escaped: the URI's reserved set and `#`.
fn reserved(byte: u8) -> bool {
    b";/?:@&=+$,#".contains(&byte)
}

/// The byte a `%XY` escape at the start of `bytes` stands for.
fn escape_at(bytes: &[u8]) -> Option<u8> {
    match bytes {
        [b'%', high, low, ..] => {
            let digit = |d: u8| (d as char).to_digit(16);
            Some((digit(*high)? * 16 + digit(*low)?) as u8)
        }
        _ => None,
    }
}

/// How many bytes a UTF-8 sequence starting with `lead` has (`None` for a byte that
/// cannot start one).
fn sequence_len(lead: u8) -> Option<usize> {
    match lead {
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

/// The UTF-8 character that the escapes at the start of `bytes` spell, and its length in
/// escaped bytes (3 per byte).
fn escaped_char(bytes: &[u8]) -> Option<(Vec<u8>, usize)> {
    let lead = escape_at(bytes)?;
    let len = sequence_len(lead)?;
    let decoded: Vec<u8> = (0..len).map(|k| escape_at(bytes.get(3 * k..)?)).collect::<Option<_>>()?;
    std::str::from_utf8(&decoded).ok()?;
    Some((decoded, 3 * len))
}

/// A `data:` line's frame as sockjs-client reads it (`decodeURI`): every `%XY` escape of a
/// character decoded, but those of reserved characters kept as they are; escapes that are
/// not whole or not UTF-8 are kept as they are too.
pub fn unescape(data: &str) -> Cow<'_, str> {
    if !data.contains('%') {
        return Cow::Borrowed(data);
    }
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        match escape_at(rest) {
            Some(byte) if byte.is_ascii() && !reserved(byte) => {
                out.push(byte);
                at += 3;
            }
            Some(byte) if !byte.is_ascii() => match escaped_char(rest) {
                Some((decoded, taken)) => {
                    out.extend_from_slice(&decoded);
                    at += taken;
                }
                None => {
                    out.push(b'%');
                    at += 1;
                }
            },
            _ => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    // Only whole UTF-8 characters were added, and the rest is the input's own bytes.
    Cow::Owned(String::from_utf8(out).expect("decoding keeps UTF-8 whole"))
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
        for frame in ["a[\"50%off-1\"]", "%25 %%% %0D", "é€😀 %E2%82%AC \\u0000", "%", "%2", "%zz", "100%"] {
            assert_eq!(unescape(&escape(frame)), frame, "{frame:?}");
        }
    }

    #[test]
    fn unescaping_is_decode_uri() {
        // Escapes of characters are decoded, multi-byte ones too.
        assert_eq!(unescape("50%25off %20 %e2%82%ac %F0%9F%98%80"), "50%off   € 😀");
        // decodeURI keeps escapes of the reserved characters.
        assert_eq!(unescape("%3B%2F%3F%3A%40%26%3D%2B%24%2C%23"), "%3B%2F%3F%3A%40%26%3D%2B%24%2C%23");
    }

    #[test]
    fn what_decode_uri_would_throw_on_is_kept_as_it_is() {
        // A server that does not escape sends a `%` as it is.
        assert_eq!(unescape("100% sure, 50%"), "100% sure, 50%");
        assert_eq!(unescape("%G1 %4"), "%G1 %4");
        // A lone lead byte, a lone continuation byte, an overlong form.
        assert_eq!(unescape("%E2%82 x %80 %C0%AF"), "%E2%82 x %80 %C0%AF");
        assert!(matches!(unescape("no escapes"), Cow::Borrowed(_)));
    }
}
