//! Resolving what a run loads: the embedded reference cluster, a directory (discovery via
//! `/locate`) or one instance.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::client::discovery::Discovery;
use crate::client::host;
use crate::client::{ClientError, Endpoint};
use crate::net::headers::Headers;
use crate::net::tls::TlsError;
use crate::scenario::{BadUrl, Destination};
use crate::server::{Cluster, ServerError};

/// A target ready to be loaded.
pub struct ResolvedTarget {
    pub discovery: Discovery,
    /// The embedded cluster, when the run started one; shut down at the end of the run.
    pub cluster: Option<Cluster>,
    /// For reports: what was loaded.
    pub description: String,
    /// Host clients connect to, to decide whether source addresses can be spread.
    pub host: String,
}

/// Why a target could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("could not start the embedded cluster: {0}")]
    Embedded(#[from] ServerError),
    #[error(transparent)]
    Endpoint(#[from] ClientError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Url(#[from] BadUrl),
    #[error(transparent)]
    Down(#[from] super::preflight::Down),
}

/// Parses a `--target` URL by the scenario's own rule ([`Destination::from_url`]).
pub fn parse_url(url: &str) -> Result<Destination, TargetError> {
    Ok(Destination::from_url(url)?)
}

/// Starts or locates the target; `https://` directories are trusted as `tls` says, and every
/// `/locate` carries `headers`.
pub async fn resolve(
    kind: &Destination,
    http_timeout: Duration,
    tls: Arc<rustls::ClientConfig>,
    headers: &Headers,
) -> Result<ResolvedTarget, TargetError> {
    match kind {
        Destination::Embedded(settings) => {
            let cluster = Cluster::start((**settings).clone()).await?;
            let base = cluster.directory_url();
            Ok(ResolvedTarget {
                discovery: Discovery::directory(&base, http_timeout, tls, headers.clone()),
                description: format!(
                    "embedded ({} instances, directory {base})",
                    settings.instances
                ),
                host: settings.host.to_string(),
                cluster: Some(cluster),
            })
        }
        Destination::Directory { url } => Ok(ResolvedTarget {
            discovery: Discovery::directory(url, http_timeout, tls, headers.clone()),
            description: url.clone(),
            host: host::host_of(url).unwrap_or_default(),
            cluster: None,
        }),
        Destination::Instance { url } => {
            let endpoint = Endpoint::parse(url)?;
            Ok(ResolvedTarget {
                host: endpoint.host.clone(),
                discovery: Discovery::Instance(endpoint),
                description: url.clone(),
                cluster: None,
            })
        }
    }
}

/// Source addresses to spread client sockets over: 127.0.0.2, .3, ... when the target is on
/// loopback and more than one is asked for (each address has its own ephemeral ports).
pub fn source_ips(host: &str, wanted: u8) -> Vec<IpAddr> {
    if !host::is_loopback(host) || wanted <= 1 {
        return Vec::new();
    }
    (0..wanted.min(250))
        .map(|i| IpAddr::from([127, 0, 0, 2 + i]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_discovery_or_one_instance() {
        assert!(matches!(
            parse_url("http://127.0.0.1:1"),
            Ok(Destination::Directory { .. })
        ));
        assert!(matches!(
            parse_url("ws://127.0.0.1:1/presence"),
            Ok(Destination::Instance { .. })
        ));
        assert!(matches!(parse_url("ftp://x"), Err(TargetError::Url(_))));
        assert!(
            matches!(parse_url("http://"), Err(TargetError::Url(_))),
            "no host: refused like in a scenario"
        );
    }

    #[test]
    fn source_addresses_only_on_loopback() {
        assert_eq!(source_ips("127.0.0.1", 3).len(), 3);
        assert_eq!(source_ips("127.0.0.1", 3)[0], IpAddr::from([127, 0, 0, 2]));
        assert!(source_ips("127.0.0.1", 1).is_empty());
        assert!(source_ips("example.com", 8).is_empty());
    }
}
