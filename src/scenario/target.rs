//! The `target` section: which server to load and how to reach it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::de as typed;
use super::headers::HeadersSpec;
use super::locate::{Issue, Segment};
use super::transport::TransportMix;
use crate::net::headers::Headers;
use crate::net::tls;
use crate::server::Settings;

/// Where the load goes and how visitors connect.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub destination: Destination,
    /// The visitors' transports; a behavior may have its own.
    pub transport: TransportMix,
    /// The visitor group (a string of digits); with `groups` above 1, the first of them.
    pub group: String,
    /// How many groups visitors and agents are spread over: `group`, `group`+1, ...
    /// (visitor or agent number `j` is in the `j mod groups`-th), see [`Target::group_of`].
    pub groups: u32,
    /// How many loopback source addresses (127.0.0.2 upwards) client sockets are spread over,
    /// to get past the ~28k ephemeral ports of one address; 1 leaves the choice to the OS.
    pub source_ips: u8,
    /// A SockJS session from which nothing (not even a heartbeat `h`) arrives for this long
    /// is treated as lost and reconnected.
    pub heartbeat_timeout: Duration,
    /// PEM certificates to trust for `wss://` and `https://` besides the public roots (a
    /// staging cluster's private CA).
    pub ca_file: Option<PathBuf>,
    /// How long a request (and each stage of opening a session) waits for its answer before
    /// it counts as `reply_timeout`.
    pub reply_timeout: Duration,
    /// Sent on every request to the target: `/locate`, the WebSocket upgrade, every SockJS
    /// HTTP request. Values are often secrets: its `Debug` shows names only.
    pub headers: Headers,
    /// The target's Prometheus metrics (`http(s)://.../metrics`), scraped during the run for
    /// its CPU and memory (`server_cpu`, `server_memory`); an embedded cluster's are found
    /// without it.
    pub metrics_url: Option<String>,
}

/// Default of `target.heartbeat_timeout`: more than twice the usual 25 s heartbeat.
pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of `target.reply_timeout`.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest `target.reply_timeout`: a request unanswered for minutes is lost, not slow, and
/// a run must not sit that long waiting for it.
pub const MAX_REPLY_TIMEOUT: Duration = Duration::from_secs(300);

/// The server under load.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    /// A reference cluster started in this process with these settings (boxed: they are
    /// many times the size of the other variants).
    Embedded(Box<Settings>),
    /// An `http(s)://` directory: visitors find their instance through `/locate`.
    Directory { url: String },
    /// A `ws(s)://` instance: every visitor connects there, no discovery.
    Instance { url: String },
}

/// A URL that names neither a directory nor an instance.
#[derive(Debug, thiserror::Error)]
#[error(
    "expected a URL starting with http://, https:// (a directory) or ws://, wss:// (an instance), \
     found {0:?}"
)]
pub struct BadUrl(pub String);

impl Destination {
    /// Sorts a URL into directory or instance by its scheme; the one rule for `url:` in a
    /// scenario and `--target` on the command line. A URL without a host is refused here
    /// rather than at the first connect.
    pub fn from_url(text: &str) -> Result<Destination, BadUrl> {
        let bad = || BadUrl(text.to_owned());
        let uri: http::Uri = text.parse().map_err(|_| bad())?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad());
        }
        let url = text.to_owned();
        match uri.scheme_str() {
            Some("http" | "https") => Ok(Destination::Directory { url }),
            Some("ws" | "wss") => Ok(Destination::Instance { url }),
            _ => Err(bad()),
        }
    }

    /// `http(s)://host:port` of a target the harness did not start, against which drill
    /// actions given as a path (`/admin/kill`) are sent; `None` for the embedded cluster.
    pub fn http_origin(&self) -> Option<String> {
        let (Destination::Directory { url } | Destination::Instance { url }) = self else {
            return None;
        };
        let uri: http::Uri = url.parse().ok()?;
        let scheme = match uri.scheme_str()? {
            "ws" => "http",
            "wss" => "https",
            other => other,
        };
        Some(format!("{scheme}://{}", uri.authority()?))
    }
}

/// The section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetSpec {
    #[serde(default)]
    embedded: Option<Settings>,
    #[serde(default)]
    url: Option<UrlDestination>,
    #[serde(default)]
    transport: TransportMix,
    #[serde(default)]
    group: Option<Group>,
    #[serde(default, deserialize_with = "optional_groups")]
    groups: Option<u32>,
    #[serde(default, deserialize_with = "optional_source_ips")]
    source_ips: Option<u8>,
    #[serde(default, deserialize_with = "optional_heartbeat_timeout")]
    heartbeat_timeout: Option<Duration>,
    #[serde(default)]
    ca_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "optional_reply_timeout")]
    reply_timeout: Option<Duration>,
    #[serde(default)]
    headers: HeadersSpec,
    #[serde(default, deserialize_with = "optional_metrics_url")]
    metrics_url: Option<String>,
}

/// An `http(s)://` URL with a host: a metrics endpoint is scraped with plain GETs.
fn optional_metrics_url<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text = String::deserialize(deserializer)?;
    match Destination::from_url(&text) {
        Ok(Destination::Directory { url }) => Ok(Some(url)),
        _ => Err(de::Error::custom(format!(
            "expected an http:// or https:// URL of Prometheus metrics such as \
             http://host:9090/metrics, found {text:?}"
        ))),
    }
}

fn optional_reply_timeout<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    let timeout = typed::non_zero_duration(deserializer)?;
    if timeout > MAX_REPLY_TIMEOUT {
        let found = humantime::format_duration(timeout);
        return Err(de::Error::custom(format!(
            "expected a reply timeout of at most 5m, found {found}"
        )));
    }
    Ok(Some(timeout))
}

fn optional_heartbeat_timeout<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    typed::non_zero_duration(deserializer).map(Some)
}

fn optional_groups<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let groups = u32::deserialize(deserializer)?;
    if groups == 0 {
        return Err(de::Error::custom("expected at least 1 group, found 0"));
    }
    Ok(Some(groups))
}

fn optional_source_ips<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u8>, D::Error> {
    typed::source_ips(deserializer).map(Some)
}

impl TargetSpec {
    /// Whether the run starts its own cluster (no `url`).
    pub(crate) fn is_embedded(&self) -> bool {
        self.url.is_none()
    }

    pub(crate) fn compile(self) -> Result<Target, Issue> {
        let destination =
            match (self.embedded, self.url) {
                (Some(_), Some(_)) => return Err(Issue::here(
                    "expected either `embedded` (start a reference cluster) or `url` (an existing \
                     server), found both",
                )),
                (None, Some(UrlDestination(destination))) => destination,
                (embedded, None) => {
                    let settings = embedded.unwrap_or_default();
                    // The very check the cluster makes when it starts: what validates, runs.
                    settings.validate().map_err(|invalid| {
                        Issue::here(format!(
                            "expected a setting the server can run with: {invalid}"
                        ))
                        .under(Segment::Key(invalid.field))
                        .under(Segment::Key("embedded"))
                    })?;
                    Destination::Embedded(Box::new(settings))
                }
            };
        let group = self.group.map_or_else(|| "1".to_owned(), |group| group.0);
        let groups = self.groups.unwrap_or(1);
        let last = group
            .parse::<u64>()
            .ok()
            .and_then(|first| first.checked_add(u64::from(groups) - 1));
        if groups > 1 && last.is_none() {
            return Err(Issue::here(format!(
                "expected a group below 2^64 - groups to spread {groups} groups from, found \
                 {group:?}"
            ))
            .under(Segment::Key("group")));
        }
        let heartbeat_timeout = self.heartbeat_timeout.unwrap_or(DEFAULT_HEARTBEAT_TIMEOUT);
        if let Destination::Embedded(settings) = &destination {
            if heartbeat_timeout <= settings.heartbeat {
                return Err(Issue::here(format!(
                    "expected a heartbeat_timeout longer than the embedded server's heartbeat \
                     ({}), found {}: every quiet session would be counted lost",
                    humantime::format_duration(settings.heartbeat),
                    humantime::format_duration(heartbeat_timeout)
                ))
                .under(Segment::Key("heartbeat_timeout")));
            }
        }
        if let Some(path) = &self.ca_file {
            // The run reads the file the same way before it starts (relative to the current
            // directory), so a file that is missing or holds no certificate is refused here.
            tls::client_config(Some(path)).map_err(|err| {
                Issue::here(format!("expected a file of PEM certificates, found: {err}"))
                    .under(Segment::Key("ca_file"))
            })?;
        }
        Ok(Target {
            destination,
            transport: self.transport,
            group,
            groups,
            source_ips: self.source_ips.unwrap_or(1),
            heartbeat_timeout,
            ca_file: self.ca_file,
            reply_timeout: self.reply_timeout.unwrap_or(DEFAULT_REPLY_TIMEOUT),
            headers: self.headers.0,
            metrics_url: self.metrics_url,
        })
    }
}

impl Target {
    /// The group of visitor (or agent) number `index`: the `index mod groups`-th from
    /// `group`, so a run spreads evenly, and the same way every time. With one group,
    /// `group` as written (leading zeros kept).
    pub fn group_of(&self, index: u64) -> String {
        match self.group.parse::<u64>() {
            Ok(first) if self.groups > 1 => (first + index % u64::from(self.groups)).to_string(),
            _ => self.group.clone(),
        }
    }
}

/// A `url:` value, already sorted into directory or instance by its scheme.
#[derive(Debug)]
struct UrlDestination(Destination);

impl<'de> Deserialize<'de> for UrlDestination {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UrlVisitor;

        impl Visitor<'_> for UrlVisitor {
            type Value = UrlDestination;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a URL: http(s)://host:port of a directory or ws(s)://host:port/prefix of an \
                     instance",
                )
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<UrlDestination, E> {
                Destination::from_url(text)
                    .map(UrlDestination)
                    .map_err(E::custom)
            }
        }

        deserializer.deserialize_str(UrlVisitor)
    }
}

/// A visitor group: digits only, as the protocol requires. A YAML number is accepted too
/// (quote the value to keep leading zeros).
#[derive(Debug)]
struct Group(String);

impl<'de> Deserialize<'de> for Group {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct GroupVisitor;

        impl Visitor<'_> for GroupVisitor {
            type Value = Group;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a group: a string of digits such as \"100\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Group, E> {
                if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format!(
                        "expected a group made of digits such as \"100\", found {text:?}"
                    )));
                }
                Ok(Group(text.to_owned()))
            }

            fn visit_u64<E: de::Error>(self, number: u64) -> Result<Group, E> {
                Ok(Group(number.to_string()))
            }
        }

        deserializer.deserialize_any(GroupVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Transport;

    fn compile(yaml: &str) -> Result<Target, Issue> {
        serde_yaml::from_str::<TargetSpec>(yaml).unwrap().compile()
    }

    fn error(yaml: &str) -> String {
        serde_yaml::from_str::<TargetSpec>(yaml)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_to_an_embedded_cluster() {
        let target = compile("{}").unwrap();
        assert_eq!(target.destination, Destination::Embedded(Box::default()));
        assert_eq!(
            (target.transport, target.group.as_str(), target.source_ips),
            (TransportMix::default(), "1", 1)
        );
        assert_eq!(target.heartbeat_timeout, DEFAULT_HEARTBEAT_TIMEOUT);
        assert_eq!(target.reply_timeout, DEFAULT_REPLY_TIMEOUT);
    }

    #[test]
    fn urls_choose_discovery_by_scheme() {
        let directory = compile(
            "{ url: 'http://127.0.0.1:8080', group: '007', transport: raw_websocket, source_ips: \
             16 }",
        )
        .unwrap();
        assert_eq!(
            directory.destination,
            Destination::Directory {
                url: "http://127.0.0.1:8080".into()
            }
        );
        assert_eq!(
            (
                directory.transport,
                directory.group.as_str(),
                directory.source_ips
            ),
            (TransportMix::single(Transport::RawWebsocket), "007", 16)
        );
        let instance = compile(
            "{ url: 'ws://h:1/presence', group: 100, heartbeat_timeout: 90s, reply_timeout: \
             250ms }",
        )
        .unwrap();
        assert_eq!(instance.heartbeat_timeout, Duration::from_secs(90));
        assert_eq!(instance.reply_timeout, Duration::from_millis(250));
        assert_eq!(
            instance.destination,
            Destination::Instance {
                url: "ws://h:1/presence".into()
            }
        );
        assert_eq!(instance.group, "100");
        let embedded = compile("{ embedded: { instances: 2, heartbeat: 1s } }").unwrap();
        assert!(matches!(
            &embedded.destination,
            Destination::Embedded(settings) if settings.instances == 2
        ));
    }

    #[test]
    fn visitors_spread_over_groups_by_number() {
        let target = compile("{ group: 100, groups: 3 }").unwrap();
        let groups: Vec<String> = (0..7).map(|index| target.group_of(index)).collect();
        assert_eq!(groups, ["100", "101", "102", "100", "101", "102", "100"]);
        let one = compile("{ group: '007' }").unwrap();
        assert_eq!((one.groups, one.group_of(5).as_str()), (1, "007"));
        assert!(error("{ groups: 0 }").contains("at least 1 group"));
        let issue = compile("{ group: '99999999999999999999', groups: 2 }").unwrap_err();
        assert_eq!(issue.path, vec![Segment::Key("group")]);
    }

    #[test]
    fn refuses_bad_targets() {
        assert!(error("{ url: 'ftp://x' }").contains("expected a URL starting with http://"));
        assert!(error("{ url: 'localhost:80' }").contains("expected a URL starting with http://"));
        assert!(error("{ group: 'a1' }").contains("expected a group made of digits"));
        assert!(error("{ source_ips: 0 }").contains("from 1 to 254"));
        assert!(error("{ source_ips: 255 }").contains("from 1 to 254"));
        assert!(error("{ heartbeat_timeout: 0s }").contains("above zero"));
        assert!(error("{ reply_timeout: 0s }").contains("above zero"));
        assert!(error("{ reply_timeout: 6m }").contains("at most 5m, found 6m"));
        let err = error("{ transport: tcp }");
        assert!(err.contains("expected a transport (sockjs, raw_websocket"));
        assert!(error("{ embedded: { instance: 2 } }").contains("unknown field `instance`"));
        assert!(compile("{ embedded: {}, url: 'http://x' }")
            .unwrap_err()
            .message
            .ends_with("found both"));
        let issue = compile("{ embedded: { instances: 0 } }").unwrap_err();
        assert_eq!(
            issue.path,
            vec![Segment::Key("embedded"), Segment::Key("instances")]
        );
    }

    #[test]
    fn refuses_what_the_run_would_refuse() {
        let issue = compile("{ embedded: { heartbeat: 0s } }").unwrap_err();
        assert_eq!(
            issue.path,
            vec![Segment::Key("embedded"), Segment::Key("heartbeat")]
        );
        assert!(
            issue.message.ends_with("heartbeat must be longer than 0s"),
            "{}",
            issue.message
        );
        let issue = compile("{ embedded: { instances: 4294967295 } }").unwrap_err();
        assert!(
            issue
                .message
                .ends_with("instances must be from 1 to 64, found 4294967295"),
            "{}",
            issue.message
        );
        let issue =
            compile("{ embedded: { heartbeat: 30s }, heartbeat_timeout: 20s }").unwrap_err();
        assert_eq!(issue.path, vec![Segment::Key("heartbeat_timeout")]);
        assert!(issue.message.starts_with(
            "expected a heartbeat_timeout longer than the embedded server's heartbeat (30s), found \
             20s"
        ));
        assert!(compile("{ embedded: { heartbeat: 1s }, heartbeat_timeout: 3s }").is_ok());
        let issue = compile("{ url: 'wss://h:1/p', ca_file: /nonexistent/ca.pem }").unwrap_err();
        assert_eq!(issue.path, vec![Segment::Key("ca_file")]);
        assert!(
            issue.message.contains("/nonexistent/ca.pem"),
            "{}",
            issue.message
        );
    }
}
