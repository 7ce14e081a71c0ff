//! Cutting the body of a SockJS HTTP response into frames, as its bytes arrive.
//!
//! `xhr_streaming` and `xhr` (polling) bodies are frames each ended by `\n`; a streaming body
//! starts with a prelude of 2048 `h` (so that proxies pass the stream on at once), which is
//! no frame. `eventsource` bodies are Server-Sent Events: each frame is a `data: <frame>`
//! line, events are separated by blank lines, and lines end in `\r\n`. A SockJS frame never
//! holds a raw newline (its JSON escapes them), so one line is one frame on both; an
//! eventsource frame comes percent-escaped as sockjs-node sends it ([`event_data`]).
//!
//! Bodies arrive in pieces cut anywhere, so the reader keeps the unfinished line. That line
//! is bounded: a server that sends an endless line (or no newline at all) ends in
//! [`FrameError::TooLarge`], not in a harness holding gigabytes.

use std::collections::VecDeque;

use super::event_data;

/// Length of the `h` prelude an `xhr_streaming` response starts with.
pub const PRELUDE_LEN: usize = 2048;

/// How a response body separates its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `xhr_streaming` and `xhr`: one frame per `\n`-ended line, after an optional prelude.
    Lines,
    /// `eventsource`: `data: <frame>` lines of Server-Sent Events.
    EventSource,
}

/// A body that does not hold SockJS frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a frame grew over the {limit}-byte limit without ending")]
    TooLarge { limit: usize },
    #[error("a frame is not UTF-8")]
    NotUtf8,
    #[error("not a Server-Sent Events line: {0:?}")]
    NotAnEvent(String),
    #[error("the response ended inside a frame")]
    Unfinished,
}

/// Reads the frames of one response body after another (a stream is reopened when the
/// server ends it): [`FrameReader::start`] before each body.
#[derive(Debug)]
pub struct FrameReader {
    framing: Framing,
    /// Longest frame accepted, in bytes (the prelude is always accepted).
    limit: usize,
    /// The line begun and not ended yet.
    line: Vec<u8>,
    /// No line of the current body has ended yet: a prelude may come.
    at_start: bool,
    /// Eventsource: the server may escape `%` as sockjs-node does; false for good once a
    /// frame showed it does not (`event_data::unescape`).
    escapes: bool,
}

impl FrameReader {
    pub fn new(framing: Framing, limit: usize) -> Self {
        FrameReader {
            framing,
            limit,
            line: Vec::new(),
            at_start: true,
            escapes: true,
        }
    }

    /// Gets ready for the next response body.
    pub fn start(&mut self) {
        self.line = Vec::new();
        self.at_start = true;
    }

    /// Takes the next piece of the body, adding every frame it completes to `out`.
    pub fn feed(&mut self, mut bytes: &[u8], out: &mut VecDeque<String>) -> Result<(), FrameError> {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.keep(&bytes[..end])?;
            let line = std::mem::take(&mut self.line);
            let first = std::mem::replace(&mut self.at_start, false);
            if let Some(frame) = self.frame_of(line, first)? {
                out.push_back(frame);
            }
            bytes = &bytes[end + 1..];
        }
        self.keep(bytes)
    }

    /// The body ended: what is left must be nothing (or an event's closing blank line).
    pub fn finish(&mut self) -> Result<(), FrameError> {
        let unfinished = std::mem::take(&mut self.line);
        if unfinished.is_empty() || unfinished == b"\r" {
            Ok(())
        } else {
            Err(FrameError::Unfinished)
        }
    }

    /// Adds part of a line, within the limit.
    fn keep(&mut self, part: &[u8]) -> Result<(), FrameError> {
        let limit = self.limit.max(PRELUDE_LEN);
        if self.line.len() + part.len() > limit {
            return Err(FrameError::TooLarge { limit: self.limit });
        }
        self.line.extend_from_slice(part);
        Ok(())
    }

    /// The frame a whole line (without its `\n`) holds, if any.
    fn frame_of(&mut self, mut line: Vec<u8>, first: bool) -> Result<Option<String>, FrameError> {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        match self.framing {
            Framing::Lines => {
                let prelude = first && line.len() > 1 && line.iter().all(|&b| b == b'h');
                if prelude {
                    return Ok(None);
                }
                if line.len() > self.limit {
                    return Err(FrameError::TooLarge { limit: self.limit });
                }
                String::from_utf8(line)
                    .map(Some)
                    .map_err(|_| FrameError::NotUtf8)
            }
            Framing::EventSource => {
                let text = String::from_utf8(line).map_err(|_| FrameError::NotUtf8)?;
                if let Some(data) = text.strip_prefix("data:") {
                    let frame = data.strip_prefix(' ').unwrap_or(data);
                    if frame.len() > self.limit {
                        return Err(FrameError::TooLarge { limit: self.limit });
                    }
                    if frame.contains('%') && !event_data::may_be_escaped(frame) {
                        self.escapes = false;
                    }
                    return Ok(Some(event_data::unescape(frame, self.escapes).into_owned()));
                }
                // Blank lines end events; comments and the other SSE fields carry no frame.
                let field = text.split(':').next().unwrap_or_default();
                if text.is_empty()
                    || text.starts_with(':')
                    || matches!(field, "event" | "id" | "retry")
                {
                    return Ok(None);
                }
                Err(FrameError::NotAnEvent(text.chars().take(40).collect()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(framing: Framing, limit: usize, pieces: &[&[u8]]) -> Result<Vec<String>, FrameError> {
        let mut reader = FrameReader::new(framing, limit);
        let mut out = VecDeque::new();
        for piece in pieces {
            reader.feed(piece, &mut out)?;
        }
        reader.finish()?;
        Ok(out.into())
    }

    #[test]
    fn a_streaming_body_skips_its_prelude_and_keeps_heartbeats() {
        let body = format!("{}\no\nh\na[\"x\"]\n", "h".repeat(PRELUDE_LEN));
        assert_eq!(
            read(Framing::Lines, 1024, &[body.as_bytes()]).unwrap(),
            ["o", "h", r#"a["x"]"#]
        );
        // A reopened stream has its own prelude.
        let mut reader = FrameReader::new(Framing::Lines, 1024);
        let mut out = VecDeque::new();
        reader.feed(body.as_bytes(), &mut out).unwrap();
        reader.start();
        reader
            .feed(
                format!("{}\nh\n", "h".repeat(PRELUDE_LEN)).as_bytes(),
                &mut out,
            )
            .unwrap();
        assert_eq!(out.len(), 4);
        assert_eq!(out[3], "h");
    }

    #[test]
    fn frames_cut_anywhere_come_out_whole() {
        let body = b"o\na[\"\\u00e9t\\u00e9\",\"b\"]\nc[3000,\"Go away!\"]\n";
        for cut in 0..body.len() {
            let (a, b) = body.split_at(cut);
            let frames = read(Framing::Lines, 1024, &[a, b]).unwrap();
            assert_eq!(
                frames,
                ["o", r#"a["\u00e9t\u00e9","b"]"#, r#"c[3000,"Go away!"]"#],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn event_source_frames_are_data_lines() {
        let body =
            b"\r\ndata: o\r\n\r\ndata: h\r\n\r\n: comment\r\nevent: x\r\ndata: a[\"m\"]\r\n\r\n";
        assert_eq!(
            read(Framing::EventSource, 1024, &[body]).unwrap(),
            ["o", "h", r#"a["m"]"#]
        );
        let err = read(Framing::EventSource, 1024, &[b"garbage\r\n"]).unwrap_err();
        assert_eq!(err, FrameError::NotAnEvent("garbage".into()));
    }

    /// sockjs-node sends a `%` as `%25` on eventsource, and sockjs-client decodes it; a
    /// server that does not escape is read leniently. Line frames are never unescaped.
    #[test]
    fn event_source_frames_are_unescaped_as_sockjs_client_does() {
        let body =
            b"data: a[\"{\\\"visitor\\\":\\\"50%25off-1\\\"}\"]\r\n\r\ndata: a[\"100%\"]\r\n\r\n";
        let frames = read(Framing::EventSource, 1024, &[body]).unwrap();
        assert_eq!(
            frames,
            [r#"a["{\"visitor\":\"50%off-1\"}"]"#, r#"a["100%"]"#]
        );
        // A server seen not to escape: its later `%25` is its own text.
        let body = b"data: a[\"100%\"]\r\n\r\ndata: a[\"50%25\"]\r\n\r\n";
        assert_eq!(
            read(Framing::EventSource, 1024, &[body]).unwrap(),
            [r#"a["100%"]"#, r#"a["50%25"]"#]
        );
        assert_eq!(
            read(Framing::Lines, 1024, &[b"a[\"50%25\"]\n"]).unwrap(),
            [r#"a["50%25"]"#]
        );
    }

    #[test]
    fn an_endless_line_is_refused_at_the_limit() {
        let endless = vec![b'a'; PRELUDE_LEN + 1];
        let err = read(Framing::Lines, 16, &[&endless]).unwrap_err();
        assert_eq!(err, FrameError::TooLarge { limit: 16 });
        // A whole line over the limit is refused too, and a long prelude only at the start.
        let err = read(Framing::Lines, 16, &[b"o\na[\"0123456789abcdef\"]\n"]).unwrap_err();
        assert_eq!(err, FrameError::TooLarge { limit: 16 });
        let late_prelude = format!("o\n{}\n", "h".repeat(100));
        assert!(read(Framing::Lines, 16, &[late_prelude.as_bytes()]).is_err());
        let event = format!("data: a[\"{}\"]\r\n", "x".repeat(100));
        assert_eq!(
            read(Framing::EventSource, 16, &[event.as_bytes()]),
            Err(FrameError::TooLarge { limit: 16 })
        );
    }

    #[test]
    fn broken_bodies_are_errors() {
        assert_eq!(
            read(Framing::Lines, 64, &[b"o\na[\"x"]),
            Err(FrameError::Unfinished)
        );
        assert_eq!(
            read(Framing::Lines, 64, &[b"\xff\n"]),
            Err(FrameError::NotUtf8)
        );
        assert_eq!(
            read(Framing::EventSource, 64, &[b"data: \xff\r\n"]),
            Err(FrameError::NotUtf8)
        );
    }
}
