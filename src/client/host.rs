//! The host a URL names, and whether it is this machine: the target's host decides whether
//! client sockets are spread over 127.0.0.2, .3, ...; a drill action's, whether it follows the
//! target; a metrics URL's, whether the server's CPU is a neighbour of the harness's.

use std::net::IpAddr;

/// The host of `url` (`[::1]` without its brackets); `None` when it has none.
pub fn host_of(url: &str) -> Option<String> {
    let uri = url.parse::<http::Uri>().ok()?;
    Some(uri.host()?.trim_matches(['[', ']']).to_owned())
}

/// `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_loopback() {
        assert_eq!(
            host_of("http://127.0.0.1:7300/metrics").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host_of("http://[::1]:80/").as_deref(), Some("::1"));
        assert_eq!(host_of("/admin/kill"), None);
        assert!(is_loopback("localhost") && is_loopback("127.0.0.9") && is_loopback("::1"));
        assert!(!is_loopback("10.0.0.7") && !is_loopback("example.com") && !is_loopback(""));
    }
}
