//! The cookies of one SockJS HTTP session, kept as a browser keeps them: a sticky load
//! balancer pins a session to its instance with a cookie it sets on the first response
//! (`JSESSIONID`, `AWSALB`, `SERVERID`), and a session that does not send it back has its
//! `xhr_send` land on another instance, which does not know the session (404).
//!
//! Only what that needs: `name=value` pairs from `Set-Cookie` (parsed by the `cookie`
//! crate), replaced by name, deleted by `Max-Age=0` or an `Expires` in the past, sent back
//! on the session's later requests merged into the configured `Cookie` header. Every
//! request of a session goes to one origin, so `Domain` and `Path` are not consulted. The
//! jar lives in the boxed HTTP session only: WebSocket sessions (one request each) hold none.

use std::fmt;

use cookie::time::OffsetDateTime;
use cookie::Cookie;
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};

/// Most cookies kept per session: a server that sets more is not a load balancer, and the
/// harness must not grow with it.
const MAX_COOKIES: usize = 32;

/// One session's cookies, in the order first set.
#[derive(Default)]
pub struct Jar(Vec<(String, String)>);

impl Jar {
    /// Keeps the cookies `Set-Cookie` headers of a response set, and forgets those they
    /// expire. A header that does not parse is ignored, as a browser ignores it.
    pub fn keep(&mut self, headers: &HeaderMap) {
        for set in headers.get_all(SET_COOKIE) {
            let Some(cookie) = set.to_str().ok().and_then(|text| Cookie::parse(text).ok()) else {
                continue;
            };
            let (name, value) = cookie.name_value();
            let expired = match cookie.max_age() {
                Some(age) => !age.is_positive(),
                None => cookie
                    .expires_datetime()
                    .is_some_and(|at| at <= OffsetDateTime::now_utc()),
            };
            let kept = self.0.iter().position(|(kept, _)| kept == name);
            match kept {
                Some(index) if expired => {
                    self.0.remove(index);
                }
                Some(index) => self.0[index].1 = value.to_owned(),
                None if !expired && self.0.len() < MAX_COOKIES => {
                    self.0.push((name.to_owned(), value.to_owned()))
                }
                None => {}
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `Cookie` header of the session's next request: the `configured` one's pairs that
    /// the server did not set itself, then the server's. `None` while the jar is empty (the
    /// configured header then goes as given).
    pub fn header(&self, configured: Option<&HeaderValue>) -> Option<HeaderValue> {
        if self.0.is_empty() {
            return None;
        }
        let mut pairs: Vec<String> = Vec::new();
        if let Some(text) = configured.and_then(|value| value.to_str().ok()) {
            let given = Cookie::split_parse(text).filter_map(Result::ok);
            let not_kept =
                given.filter(|cookie| !self.0.iter().any(|(name, _)| name == cookie.name()));
            pairs.extend(not_kept.map(|cookie| cookie.to_string()));
        }
        pairs.extend(self.0.iter().map(|(name, value)| format!("{name}={value}")));
        let mut header = HeaderValue::from_str(&pairs.join("; ")).ok()?;
        header.set_sensitive(true);
        Some(header)
    }
}

/// Names only: a session cookie is as good as a password to whoever holds it.
impl fmt::Debug for Jar {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(set_cookies: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for set in set_cookies {
            headers.append(SET_COOKIE, HeaderValue::from_str(set).unwrap());
        }
        headers
    }

    fn sent(jar: &Jar, configured: Option<&str>) -> Option<String> {
        let configured = configured.map(|text| HeaderValue::from_str(text).unwrap());
        jar.header(configured.as_ref())
            .map(|value| value.to_str().unwrap().to_owned())
    }

    #[test]
    fn cookies_set_are_sent_back_by_name() {
        let mut jar = Jar::default();
        assert_eq!(
            sent(&jar, Some("a=1")),
            None,
            "nothing kept: the configured header goes as is"
        );
        jar.keep(&response(&["JSESSIONID=s1.abc; Path=/; HttpOnly", "lb=x"]));
        assert_eq!(sent(&jar, None).as_deref(), Some("JSESSIONID=s1.abc; lb=x"));
        jar.keep(&response(&["JSESSIONID=s2.def; Path=/"]));
        assert_eq!(
            sent(&jar, Some("auth=t; lb=mine")).as_deref(),
            Some("auth=t; JSESSIONID=s2.def; lb=x")
        );
        assert_eq!(
            format!("{jar:?}"),
            r#"["JSESSIONID", "lb"]"#,
            "no value shows"
        );
    }

    #[test]
    fn expired_cookies_are_forgotten() {
        let mut jar = Jar::default();
        jar.keep(&response(&["a=1", "b=2", "c=3", "d=4"]));
        jar.keep(&response(&[
            "a=; Max-Age=0",
            "b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            "c=5; Max-Age=60",
            "e=gone; Max-Age=-1",
            "not a cookie",
        ]));
        assert_eq!(sent(&jar, None).as_deref(), Some("c=5; d=4"));
    }

    #[test]
    fn a_session_keeps_a_bounded_number_of_cookies() {
        let mut jar = Jar::default();
        let many: Vec<String> = (0..100).map(|i| format!("c{i}=v")).collect();
        jar.keep(&response(
            &many.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
        assert_eq!(jar.0.len(), MAX_COOKIES);
    }
}
