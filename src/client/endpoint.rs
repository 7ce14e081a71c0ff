//! The instance a connection goes to (`ws://host:port/prefix`), and the path each transport
//! asks for below it.

use std::sync::OnceLock;

use rand::Rng;

use super::error::ClientError;
use crate::wire::Transport;

/// A parsed `ws://host:port/prefix` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    /// Path prefix without a trailing slash, e.g. `/presence`.
    pub prefix: String,
    /// `wss://`: the session runs over TLS.
    pub tls: bool,
}

impl Endpoint {
    /// Parses a `ws://` or `wss://` URL.
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: http::Uri = url
            .parse()
            .map_err(|err: http::uri::InvalidUri| invalid(&err.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("ws") => false,
            Some("wss") => true,
            _ => return Err(invalid("expected a ws:// or wss:// URL")),
        };
        let host = uri
            .host()
            .ok_or_else(|| invalid("no host"))?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Endpoint {
            host,
            port,
            prefix,
            tls,
        })
    }

    /// The endpoint as a URL, `ws://host:port/prefix`.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}{}", self.port, self.prefix)
    }

    pub(super) fn path_for(&self, transport: Transport, rng: &mut impl Rng) -> String {
        match transport {
            Transport::RawWebsocket => format!("{}/websocket", self.prefix),
            _ => format!("{}/websocket", self.session_base(rng)),
        }
    }

    /// A new SockJS session's path, `{prefix}/{server}/{session}`, which each transport's
    /// path ends. The session id is salted per process: an HTTP session outlives its requests
    /// on the server (its disconnect delay), so the same id drawn again by a rerun with the
    /// same seed, or by another shard, would land on a session still held (2010, 1002).
    pub(super) fn session_base(&self, rng: &mut impl Rng) -> String {
        static SALT: OnceLock<u64> = OnceLock::new();
        let salt = *SALT.get_or_init(|| rand::rng().random());
        let server: u16 = rng.random_range(0..1000);
        let session: u64 = rng.random::<u64>() ^ salt;
        format!("{}/{server:03}/{session:016x}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::sockjs;

    #[test]
    fn endpoints_parse_host_port_and_prefix() {
        let endpoint = Endpoint::parse("ws://127.0.0.1:8080/presence/").unwrap();
        assert_eq!(
            endpoint,
            Endpoint {
                host: "127.0.0.1".into(),
                port: 8080,
                prefix: "/presence".into(),
                tls: false
            }
        );
        assert!(matches!(
            Endpoint::parse("http://x/presence"),
            Err(ClientError::InvalidUrl { .. })
        ));
        let secure = Endpoint::parse("wss://x/presence").unwrap();
        assert!(secure.tls && secure.port == 443);
        assert_eq!(secure.url(), "wss://x:443/presence");
        assert_eq!(
            Endpoint::parse("ws://[::1]:9/p").unwrap().url(),
            "ws://[::1]:9/p"
        );
    }

    #[test]
    fn sockjs_paths_are_valid() {
        let endpoint = Endpoint::parse("ws://h:1/presence").unwrap();
        let mut rng = rand::rng();
        let path = endpoint.path_for(Transport::Sockjs, &mut rng);
        let parts: Vec<&str> = path.split('/').collect();
        assert_eq!(parts[1], "presence");
        assert!(sockjs::is_valid_server_id(parts[2]) && sockjs::is_valid_session_id(parts[3]));
        assert_eq!(parts[4], "websocket");
        assert_eq!(
            endpoint.path_for(Transport::RawWebsocket, &mut rng),
            "/presence/websocket"
        );
    }
}
