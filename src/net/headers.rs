//! Request headers the harness sends on every request to the target (`target.headers`,
//! `run --header`): a real cluster behind a gateway wants an `Authorization`, an API key, a
//! `Cookie` or an `Origin` on `/locate`, on the WebSocket upgrade and on every SockJS HTTP
//! request alike.
//!
//! Their values are often secrets, so they never show: [`Headers`]' `Debug` prints names
//! only, and every value is marked sensitive, so that `http`'s own `Debug` of a request
//! (anything that logs one) prints `Sensitive` instead. The checks here say what is wrong
//! with a value without quoting it.
//!
//! Headers are shared by every connection of a run (an `Arc`), so a WebSocket visitor does
//! not grow by them: each request reads them from the one copy.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

/// What a header value shows as wherever a header is printed.
pub const REDACTED: &str = "<redacted>";

/// Headers each request's transport sets itself: hop-by-hop headers (RFC 9110 section
/// 7.6.1) and those that describe the request's own framing or upgrade. A second copy
/// from the scenario would contradict the harness's and break the request.
const OWNED: &[&str] = &[
    "host",
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "content-length",
    "content-type",
];

/// A header that cannot be sent; says why without quoting the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("expected a header name (letters, digits and !#$%&'*+-.^_`|~), found {0:?}")]
    Name(String),
    #[error(
        "expected a header the harness does not set itself, found {0:?} (Host, Connection, \
         Upgrade, Keep-Alive, TE, Trailer, Transfer-Encoding, Content-Length, Content-Type and \
         Sec-WebSocket-* belong to each request)"
    )]
    Owned(String),
    #[error(
        "expected a value of visible ASCII characters for {name}, found {found} at character {at}"
    )]
    Value {
        name: String,
        found: &'static str,
        at: usize,
    },
    #[error("expected each header once (names are case-insensitive), found {0} twice")]
    Twice(String),
    #[error("expected `Name: value`, found no `:`")]
    NoColon,
}

/// The request headers of a run, in the order given. Cheap to clone (one shared list).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Arc<[(HeaderName, HeaderValue)]>);

impl Headers {
    /// Headers from checked pairs ([`check_name`], [`check_value`]); a name given twice is
    /// refused.
    pub fn new(pairs: Vec<(HeaderName, HeaderValue)>) -> Result<Headers, HeaderError> {
        for (index, (name, _)) in pairs.iter().enumerate() {
            if pairs[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(HeaderError::Twice(name.to_string()));
            }
        }
        Ok(Headers(pairs.into()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.0.iter().map(|(name, value)| (name, value))
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.iter()
            .find(|(given, _)| *given == name)
            .map(|(_, value)| value)
    }

    /// These headers with `changes` made, in order: each replaces the header of its name,
    /// or, without a value (`--header 'Name:'`, as curl's `-H`), removes it.
    pub fn changed(
        &self,
        changes: Vec<(HeaderName, Option<HeaderValue>)>,
    ) -> Result<Headers, HeaderError> {
        for (index, (name, _)) in changes.iter().enumerate() {
            if changes[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(HeaderError::Twice(name.to_string()));
            }
        }
        let mut pairs: Vec<(HeaderName, HeaderValue)> = self
            .0
            .iter()
            .filter(|(name, _)| !changes.iter().any(|(changed, _)| changed == name))
            .cloned()
            .collect();
        pairs.extend(
            changes
                .into_iter()
                .filter_map(|(name, value)| Some((name, value?))),
        );
        Ok(Headers(pairs.into()))
    }

    /// Adds every header to `map`; `cookie`, when given, stands for the configured `Cookie`
    /// (a session's own cookies merged into it, see `http_session`).
    pub fn add_to(&self, map: &mut HeaderMap, cookie: Option<HeaderValue>) {
        for (name, value) in self.iter() {
            if *name != http::header::COOKIE || cookie.is_none() {
                map.append(name.clone(), value.clone());
            }
        }
        if let Some(cookie) = cookie {
            map.insert(http::header::COOKIE, cookie);
        }
    }

    /// One `Name: value` line per header, as `run --header` reads them back (how `run
    /// --processes` hands them to its shards without writing them to a file).
    pub fn to_lines(&self) -> String {
        let lines: Vec<String> = self
            .iter()
            .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
            .collect();
        lines.join("\n")
    }
}

/// Prints names only: `{"authorization": <redacted>}`.
impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        struct Redacted;
        impl fmt::Debug for Redacted {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }
        f.debug_map()
            .entries(self.iter().map(|(name, _)| (name.as_str(), Redacted)))
            .finish()
    }
}

/// A header name the harness may send.
pub fn check_name(name: &str) -> Result<HeaderName, HeaderError> {
    let parsed =
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| HeaderError::Name(name.to_owned()))?;
    if OWNED.contains(&parsed.as_str()) || parsed.as_str().starts_with("sec-websocket-") {
        return Err(HeaderError::Owned(name.to_owned()));
    }
    Ok(parsed)
}

/// A header value (leading and trailing blanks dropped, as HTTP does), marked sensitive;
/// `None` when it is empty: no header is sent, so `${API_KEY:-}` makes a header optional.
/// The error says which character is wrong and where, never the value.
pub fn check_value(name: &HeaderName, value: &str) -> Result<Option<HeaderValue>, HeaderError> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return Ok(None);
    }
    let bad = value
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_graphic() || *c == ' ' || *c == '\t'));
    if let Some((at, c)) = bad {
        let found = if c.is_ascii() {
            "a control character"
        } else {
            "a character outside ASCII"
        };
        return Err(HeaderError::Value {
            name: name.to_string(),
            found,
            at: at + 1,
        });
    }
    let mut parsed = HeaderValue::from_str(value).map_err(|_| HeaderError::Value {
        name: name.to_string(),
        found: "an invalid character",
        at: 1,
    })?;
    parsed.set_sensitive(true);
    Ok(Some(parsed))
}

/// A `Name: value` line (`run --header`, as curl's `-H`); an empty value removes the header.
pub fn parse_line(line: &str) -> Result<(HeaderName, Option<HeaderValue>), HeaderError> {
    let (name, value) = line.split_once(':').ok_or(HeaderError::NoColon)?;
    let name = check_name(name.trim_matches([' ', '\t']))?;
    let value = check_value(&name, value)?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> Headers {
        let pairs = lines
            .iter()
            .map(|line| parse_line(line).unwrap())
            .map(|(n, v)| (n, v.unwrap()))
            .collect();
        Headers::new(pairs).unwrap()
    }

    #[test]
    fn values_never_show() {
        let headers = headers(&[
            "Authorization: Bearer SECRET123",
            "Origin: https://shop.example",
        ]);
        let shown = format!("{headers:?}");
        assert_eq!(
            shown,
            r#"{"authorization": <redacted>, "origin": <redacted>}"#
        );
        // Nor through `http`'s own Debug of a request carrying them.
        let mut map = HeaderMap::new();
        headers.add_to(&mut map, None);
        assert!(!format!("{map:?}").contains("SECRET123"), "{map:?}");
    }

    #[test]
    fn harness_owned_and_hop_by_hop_headers_are_refused() {
        for name in [
            "Host",
            "connection",
            "Upgrade",
            "Sec-WebSocket-Key",
            "Content-Length",
            "Transfer-Encoding",
        ] {
            let err = check_name(name).unwrap_err();
            assert_eq!(err, HeaderError::Owned(name.to_owned()));
            assert!(err.to_string().contains("does not set itself"), "{err}");
        }
        assert!(matches!(check_name("Bad Name"), Err(HeaderError::Name(_))));
        assert!(matches!(check_name(""), Err(HeaderError::Name(_))));
        assert_eq!(check_name("X-Api-Key").unwrap().as_str(), "x-api-key");
    }

    #[test]
    fn a_bad_value_is_placed_without_being_quoted() {
        let name = check_name("Authorization").unwrap();
        let err = check_value(&name, "Bearer SECRET\u{7}123").unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a value of visible ASCII characters for authorization, found a control \
             character at character 14"
        );
        let err = check_value(&name, "Bearer SECRÉT").unwrap_err();
        assert!(!err.to_string().contains("SECR"), "{err}");
        assert_eq!(check_value(&name, "  "), Ok(None), "blank: no header");
        assert!(check_value(&name, " Bearer x ")
            .unwrap()
            .unwrap()
            .is_sensitive());
    }

    #[test]
    fn command_line_headers_replace_or_remove_the_scenarios() {
        let given = headers(&["Authorization: Bearer a", "Origin: https://a.example"]);
        let changed = given
            .changed(vec![parse_line("authorization: Bearer b").unwrap()])
            .unwrap();
        assert_eq!(
            changed.to_lines(),
            "origin: https://a.example\nauthorization: Bearer b"
        );
        let removed = given.changed(vec![parse_line("Origin:").unwrap()]).unwrap();
        assert_eq!(removed.to_lines(), "authorization: Bearer a");
        let twice = vec![parse_line("X-A: 1").unwrap(), parse_line("x-a: 2").unwrap()];
        assert_eq!(
            given.changed(twice).unwrap_err(),
            HeaderError::Twice("x-a".into())
        );
        assert_eq!(parse_line("Bearer x").unwrap_err(), HeaderError::NoColon);
    }

    #[test]
    fn a_cookie_given_stands_for_the_configured_one() {
        let given = headers(&["Cookie: a=1", "X-A: 1"]);
        let mut map = HeaderMap::new();
        given.add_to(
            &mut map,
            Some(HeaderValue::from_static("a=1; JSESSIONID=s1")),
        );
        assert_eq!(map.get_all(http::header::COOKIE).iter().count(), 1);
        assert_eq!(map[http::header::COOKIE], "a=1; JSESSIONID=s1");
        assert_eq!(map["x-a"], "1");
    }
}
