//! The `metrics` section: where the run serves live Prometheus metrics.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::de::Span;

/// Live Prometheus export of a run (docs/metrics.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsExport {
    /// Address `/metrics` is served on; port 0 picks a free one (printed at the start).
    pub listen: SocketAddr,
    /// How long `/metrics` stays up after the run, so the last scrape is not lost.
    pub linger: Duration,
}

/// The section as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MetricsSpec {
    #[serde(deserialize_with = "address")]
    listen: SocketAddr,
    #[serde(default)]
    linger: Option<Span>,
}

impl MetricsSpec {
    pub(crate) fn compile(self) -> MetricsExport {
        MetricsExport {
            listen: self.listen,
            linger: self.linger.map_or(Duration::ZERO, |span| span.0),
        }
    }
}

fn address<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.trim().parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "expected an IP address and port such as 127.0.0.1:9464, found {text:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use crate::scenario::{from_str, ScenarioError};

    const BASE: &str = "name: t\nduration: 1s\nload: { stages: [{ hold: 1s }] }\n\
                        behaviors: [{ name: b, steps: [connect] }]\n";

    #[test]
    fn listen_and_linger_are_read() {
        let plan = from_str(
            &format!("{BASE}metrics: {{ listen: 127.0.0.1:0, linger: 30s }}\n"),
            "t.yaml",
        )
        .unwrap();
        let export = plan.metrics.expect("metrics section");
        assert_eq!(export.listen.to_string(), "127.0.0.1:0");
        assert_eq!(export.linger.as_secs(), 30);
        assert!(from_str(BASE, "t.yaml").unwrap().metrics.is_none());
    }

    #[test]
    fn a_bad_address_is_located() {
        let err = from_str(
            &format!("{BASE}metrics: {{ listen: localhost }}\n"),
            "t.yaml",
        )
        .unwrap_err();
        let ScenarioError::Invalid(invalid) = err else {
            panic!("expected a validation error")
        };
        let text = invalid[0].to_string();
        assert!(text.starts_with("t.yaml:5:"), "{text}");
        assert!(text.contains("expected an IP address and port"), "{text}");
        let err = from_str(
            &format!("{BASE}metrics: {{ listen: 127.0.0.1:1, every: 1s }}\n"),
            "t.yaml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("every"), "{err}");
    }
}
