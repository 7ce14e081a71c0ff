//! Where a client connects: through a directory's `/locate` (docs/protocol.md section 4) or
//! always to one fixed instance.

use std::sync::Arc;
use std::time::Duration;

use super::endpoint::Endpoint;
use super::error::ClientError;
use crate::net::headers::Headers;
use crate::net::http_client::{HttpClient, HttpError};

/// How clients find their instance.
#[derive(Clone)]
pub enum Discovery {
    /// Ask `GET {base}/locate` before every connect (`base` is `http://HOST:PORT`).
    Directory { base: String, http: HttpClient },
    /// Always connect to this instance.
    Instance(Endpoint),
}

/// Why no endpoint could be found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("locate failed: {0}")]
    Locate(#[from] HttpError),
    #[error("locate answered an unusable URL: {0}")]
    Endpoint(#[from] ClientError),
}

impl Discovery {
    /// Discovery through the directory at `base`, with a timeout per request and `headers`
    /// on every `/locate`; `https://` directories are trusted as `tls` says.
    pub fn directory(
        base: &str,
        timeout: Duration,
        tls: Arc<rustls::ClientConfig>,
        headers: Headers,
    ) -> Self {
        let http = HttpClient::with_tls(timeout, tls).with_headers(headers);
        Discovery::Directory {
            base: base.trim_end_matches('/').to_owned(),
            http,
        }
    }

    /// The endpoint `visitor` of `group` should connect to now.
    pub async fn endpoint(&self, group: &str, visitor: &str) -> Result<Endpoint, DiscoveryError> {
        match self {
            Discovery::Instance(endpoint) => Ok(endpoint.clone()),
            Discovery::Directory { base, http } => {
                let located = http.locate(base, group, visitor).await?;
                Ok(Endpoint::parse(&located.url)?)
            }
        }
    }
}
