//! The `drills` section: scale events on a schedule (or none, to watch what the server does on
//! its own), and for a target the harness did not start, the action that carries out each kind.

use std::fmt;
use std::time::Duration;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::de::{self as typed, NonEmpty, NonZeroSpan, Span};
use super::locate::{Issue, Segment};
use crate::client::host::host_of;

/// A window closes once every affected visitor is back and no session was lost for this long.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(2);
/// A window closes this long after its event at the latest, back or not.
pub const DEFAULT_WINDOW_CAP: Duration = Duration::from_secs(60);
/// Default timeout of an external action.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(10);
/// More events than this is surely an `every` with the wrong unit.
const MAX_EVENTS: usize = 1000;

/// The compiled `drills` section.
#[derive(Debug, Clone, PartialEq)]
pub struct DrillPlan {
    /// In time order; empty in watch mode (`drills: watch`).
    pub events: Vec<DrillEvent>,
    pub actions: DrillActions,
    pub settle: Duration,
    pub window_cap: Duration,
}

/// One scale event, `every` already expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrillEvent {
    /// From the start of the run.
    pub at: Duration,
    pub kind: DrillKind,
    /// How many instances.
    pub count: u32,
}

/// What an event does to the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillKind {
    /// Graceful: the instance drains its sessions (`draining`, then close 3000).
    ScaleIn,
    ScaleOut,
    /// Abrupt: sockets dropped without a frame.
    Kill,
}

impl DrillKind {
    pub const ALL: [DrillKind; 3] = [DrillKind::ScaleIn, DrillKind::ScaleOut, DrillKind::Kill];

    pub fn name(self) -> &'static str {
        match self {
            DrillKind::ScaleIn => "scale_in",
            DrillKind::ScaleOut => "scale_out",
            DrillKind::Kill => "kill",
        }
    }
}

/// Per kind, what to run against a target the harness did not start.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrillActions {
    pub scale_in: Option<Action>,
    pub scale_out: Option<Action>,
    pub kill: Option<Action>,
}

impl DrillActions {
    pub fn get(&self, kind: DrillKind) -> Option<&Action> {
        match kind {
            DrillKind::ScaleIn => self.scale_in.as_ref(),
            DrillKind::ScaleOut => self.scale_out.as_ref(),
            DrillKind::Kill => self.kill.as_ref(),
        }
    }

    /// The actions with each URL given as a path (`/admin/kill`) sent to `origin`
    /// (`http://host:port`, the target's): a scenario whose target is changed with `--target`
    /// or `--set target.url=` then drills the cluster it loads, not the one it was written for.
    pub fn against(&self, origin: &str) -> DrillActions {
        let resolve = |action: &Option<Action>| {
            action.clone().map(|mut action| {
                if let ActionRun::Http { url, .. } = &mut action.run {
                    if url.starts_with('/') {
                        *url = format!("{origin}{url}");
                    }
                }
                action
            })
        };
        DrillActions {
            scale_in: resolve(&self.scale_in),
            scale_out: resolve(&self.scale_out),
            kill: resolve(&self.kill),
        }
    }

    /// The HTTP actions whose absolute URL names another host than `origin`'s: worth a
    /// warning, since a target moved by the command line leaves them where they were.
    pub fn elsewhere(&self, origin: &str) -> Vec<(DrillKind, String)> {
        DrillKind::ALL
            .into_iter()
            .filter_map(|kind| match self.get(kind).map(|action| &action.run) {
                Some(ActionRun::Http { url, .. })
                    if !url.starts_with('/') && host_of(url) != host_of(origin) =>
                {
                    Some((kind, url.clone()))
                }
                _ => None,
            })
            .collect()
    }
}

/// A user-given action and how long it may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub run: ActionRun,
    pub timeout: Duration,
}

/// An HTTP request or a command line.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionRun {
    Http {
        method: String,
        url: String,
        body: Option<String>,
    },
    /// Program and arguments, run without a shell.
    Command(Vec<String>),
}

/// The section as written: `watch`, a list of events, or a mapping with both and settings.
#[derive(Debug)]
pub(crate) struct DrillsSpec {
    /// Whether the events sit under `events:` (the mapping form), for locating errors.
    mapping: bool,
    body: DrillsBody,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DrillsBody {
    #[serde(default)]
    events: Vec<EventSpec>,
    #[serde(default)]
    actions: ActionsSpec,
    #[serde(default)]
    settle: Option<Span>,
    #[serde(default)]
    window_cap: Option<NonZeroSpan>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventSpec {
    #[serde(default)]
    at: Option<Span>,
    #[serde(default)]
    every: Option<NonZeroSpan>,
    #[serde(default)]
    from: Option<Span>,
    #[serde(default)]
    until: Option<Span>,
    #[serde(default, deserialize_with = "typed::instance_count")]
    scale_in: Option<u32>,
    #[serde(default, deserialize_with = "typed::instance_count")]
    scale_out: Option<u32>,
    #[serde(default, deserialize_with = "typed::instance_count")]
    kill: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionsSpec {
    #[serde(default)]
    scale_in: Option<ActionSpec>,
    #[serde(default)]
    scale_out: Option<ActionSpec>,
    #[serde(default)]
    kill: Option<ActionSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionSpec {
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    command: Option<NonEmpty<String>>,
    #[serde(default)]
    timeout: Option<NonZeroSpan>,
}

impl<'de> Deserialize<'de> for DrillsSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DrillsVisitor;

        impl<'de> Visitor<'de> for DrillsVisitor {
            type Value = DrillsSpec;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "`watch`, a list of drill events, or a mapping with `events` and `actions`",
                )
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<DrillsSpec, E> {
                if text != "watch" {
                    return Err(E::custom(format!(
                        "expected `watch`, a list of drill events or a mapping, found {text:?}"
                    )));
                }
                Ok(DrillsSpec {
                    mapping: false,
                    body: DrillsBody::default(),
                })
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<DrillsSpec, A::Error> {
                let events = Vec::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(DrillsSpec {
                    mapping: false,
                    body: DrillsBody {
                        events,
                        ..DrillsBody::default()
                    },
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DrillsSpec, A::Error> {
                Ok(DrillsSpec {
                    mapping: true,
                    body: DrillsBody::deserialize(MapAccessDeserializer::new(map))?,
                })
            }
        }

        deserializer.deserialize_any(DrillsVisitor)
    }
}

impl DrillsSpec {
    /// Checks every event against the run's `duration` and expands `every`.
    pub(crate) fn compile(self, duration: Duration) -> Result<DrillPlan, Issue> {
        let mapping = self.mapping;
        let at_event = move |index: usize, issue: Issue| {
            let issue = issue.under(Segment::Index(index));
            if mapping {
                issue.under(Segment::Key("events"))
            } else {
                issue
            }
        };
        let mut events = Vec::new();
        for (index, spec) in self.body.events.into_iter().enumerate() {
            spec.expand(duration, &mut events)
                .map_err(|issue| at_event(index, issue))?;
            if events.len() > MAX_EVENTS {
                let message =
                    format!("expected at most {MAX_EVENTS} drill events in all, found more");
                return Err(at_event(index, Issue::here(message)));
            }
        }
        events.sort_by_key(|event| event.at);
        let actions = self
            .body
            .actions
            .compile()
            .map_err(|issue| issue.under(Segment::Key("actions")))?;
        Ok(DrillPlan {
            events,
            actions,
            settle: self.body.settle.map_or(DEFAULT_SETTLE, |span| span.0),
            window_cap: self
                .body
                .window_cap
                .map_or(DEFAULT_WINDOW_CAP, |span| span.0),
        })
    }
}

impl EventSpec {
    fn expand(self, duration: Duration, into: &mut Vec<DrillEvent>) -> Result<(), Issue> {
        let (kind, count) = match (self.scale_in, self.scale_out, self.kill) {
            (Some(n), None, None) => (DrillKind::ScaleIn, n),
            (None, Some(n), None) => (DrillKind::ScaleOut, n),
            (None, None, Some(n)) => (DrillKind::Kill, n),
            (None, None, None) => {
                return Err(Issue::here(
                    "expected one action (`scale_in`, `scale_out` or `kill`), found none",
                ))
            }
            _ => {
                return Err(Issue::here(
                    "expected exactly one action (`scale_in`, `scale_out` or `kill`), found \
                     several: make them separate events",
                ))
            }
        };
        let within = |what: &'static str, at: Duration| {
            if at >= duration {
                Err(Issue::here(format!(
                    "expected a time within the run's duration ({}), found {}",
                    humantime::format_duration(duration),
                    humantime::format_duration(at)
                ))
                .under(Segment::Key(what)))
            } else {
                Ok(at)
            }
        };
        match (self.at, self.every) {
            (Some(at), None) => {
                if self.from.is_some() || self.until.is_some() {
                    return Err(Issue::here(
                        "expected `from` and `until` only with `every`, found them with `at`",
                    ));
                }
                into.push(DrillEvent {
                    at: within("at", at.0)?,
                    kind,
                    count,
                });
            }
            (None, Some(every)) => {
                let from = within("from", self.from.map_or(every.0, |span| span.0))?;
                let until = match self.until {
                    Some(until) if until.0 < from => {
                        return Err(Issue::here(format!(
                            "expected `until` at or after `from` ({}), found {}",
                            humantime::format_duration(from),
                            humantime::format_duration(until.0)
                        ))
                        .under(Segment::Key("until")))
                    }
                    Some(until) => until
                        .0
                        .min(duration.saturating_sub(Duration::from_nanos(1))),
                    None => duration.saturating_sub(Duration::from_nanos(1)),
                };
                let mut at = from;
                while at <= until && into.len() <= MAX_EVENTS {
                    into.push(DrillEvent { at, kind, count });
                    at += every.0;
                }
            }
            (Some(_), Some(_)) => {
                return Err(Issue::here("expected either `at` or `every`, found both"))
            }
            (None, None) => {
                return Err(Issue::here(
                    "expected when: `at` (once) or `every` (repeated), found neither",
                ))
            }
        }
        Ok(())
    }
}

impl ActionsSpec {
    fn compile(self) -> Result<DrillActions, Issue> {
        let one = |spec: Option<ActionSpec>, key: &'static str| {
            spec.map(ActionSpec::compile)
                .transpose()
                .map_err(|issue| issue.under(Segment::Key(key)))
        };
        Ok(DrillActions {
            scale_in: one(self.scale_in, "scale_in")?,
            scale_out: one(self.scale_out, "scale_out")?,
            kill: one(self.kill, "kill")?,
        })
    }
}

impl ActionSpec {
    fn compile(self) -> Result<Action, Issue> {
        let timeout = self.timeout.map_or(DEFAULT_ACTION_TIMEOUT, |span| span.0);
        let run = match (self.url, self.command) {
            (Some(url), None) => {
                let method = self
                    .method
                    .unwrap_or_else(|| "POST".to_owned())
                    .to_ascii_uppercase();
                if http::Method::from_bytes(method.as_bytes()).is_err() {
                    return Err(Issue::here(format!(
                        "expected an HTTP method such as POST, found {method:?}"
                    ))
                    .under(Segment::Key("method")));
                }
                let parsed = url.parse::<http::Uri>();
                let absolute = |uri: &http::Uri| {
                    matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
                };
                let path = |uri: &http::Uri| url.starts_with('/') && uri.scheme().is_none();
                if !parsed.is_ok_and(|uri| absolute(&uri) || path(&uri)) {
                    return Err(Issue::here(format!(
                        "expected an http:// or https:// URL, or a path such as /admin/kill \
                         sent to the target, found {url:?}"
                    ))
                    .under(Segment::Key("url")));
                }
                ActionRun::Http {
                    method,
                    url,
                    body: self.body,
                }
            }
            (None, Some(argv)) => {
                if self.method.is_some() || self.body.is_some() {
                    return Err(Issue::here(
                        "expected `method` and `body` only with `url`, found them with `command`",
                    ));
                }
                ActionRun::Command(argv.0)
            }
            (Some(_), Some(_)) => {
                return Err(Issue::here(
                    "expected either `url` or `command`, found both",
                ))
            }
            (None, None) => {
                return Err(Issue::here(
                    "expected `url` (an HTTP request) or `command` (a program and its \
                     arguments)",
                ))
            }
        };
        Ok(Action { run, timeout })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str, duration: Duration) -> Result<DrillPlan, Issue> {
        serde_yaml::from_str::<DrillsSpec>(yaml)
            .unwrap()
            .compile(duration)
    }

    #[test]
    fn every_expands_between_from_and_until() {
        let drills = compile(
            "[{ every: 30s, from: 150s, until: 210s, scale_in: 1 }, { at: 60s, kill: 2 }]",
            Duration::from_secs(300),
        )
        .unwrap();
        let at: Vec<u64> = drills.events.iter().map(|e| e.at.as_secs()).collect();
        assert_eq!(at, [60, 150, 180, 210]);
        assert_eq!(
            (drills.events[0].kind, drills.events[0].count),
            (DrillKind::Kill, 2)
        );
        assert_eq!(drills.settle, DEFAULT_SETTLE);
    }

    #[test]
    fn watch_has_no_events() {
        let drills = compile("watch", Duration::from_secs(10)).unwrap();
        assert!(drills.events.is_empty());
        assert!(serde_yaml::from_str::<DrillsSpec>("watching").is_err());
    }

    #[test]
    fn actions_are_a_url_or_a_command() {
        let yaml = "{ actions: { scale_in: { url: 'http://h:1/x', body: '{}' }, kill: { command: \
                    [kubectl, delete], timeout: 30s } } }";
        let drills = compile(yaml, Duration::from_secs(10)).unwrap();
        let scale_in = drills.actions.get(DrillKind::ScaleIn).unwrap();
        assert_eq!(
            scale_in.run,
            ActionRun::Http {
                method: "POST".into(),
                url: "http://h:1/x".into(),
                body: Some("{}".into())
            }
        );
        let kill = drills.actions.get(DrillKind::Kill).unwrap();
        assert_eq!(
            (kill.timeout, &kill.run),
            (
                Duration::from_secs(30),
                &ActionRun::Command(vec!["kubectl".into(), "delete".into()])
            )
        );
        assert!(drills.actions.get(DrillKind::ScaleOut).is_none());
        let both = compile(
            "{ actions: { kill: { url: 'http://h/', command: [x] } } }",
            Duration::from_secs(1),
        );
        assert_eq!(
            both.unwrap_err().path,
            [Segment::Key("actions"), Segment::Key("kill")]
        );
    }

    #[test]
    fn a_path_action_follows_the_target_and_a_url_elsewhere_is_named() {
        let yaml = "{ actions: { scale_in: { url: /admin/scale-in }, kill: { url: \
                    'http://127.0.0.1:7700/admin/kill' } } }";
        let actions = compile(yaml, Duration::from_secs(10)).unwrap().actions;
        let target =
            crate::scenario::Destination::from_url("wss://presence.example:8443/presence").unwrap();
        let origin = target.http_origin().unwrap();
        assert_eq!(origin, "https://presence.example:8443");
        let url = |actions: &DrillActions, kind| match &actions.get(kind).unwrap().run {
            ActionRun::Http { url, .. } => url.clone(),
            ActionRun::Command(_) => unreachable!("an HTTP action"),
        };
        assert_eq!(
            url(&actions.against(&origin), DrillKind::ScaleIn),
            "https://presence.example:8443/admin/scale-in"
        );
        assert_eq!(
            url(&actions.against(&origin), DrillKind::Kill),
            "http://127.0.0.1:7700/admin/kill"
        );
        assert_eq!(
            actions.elsewhere(&origin),
            [(
                DrillKind::Kill,
                "http://127.0.0.1:7700/admin/kill".to_owned()
            )]
        );
        assert!(actions.elsewhere("http://127.0.0.1:7700").is_empty());
        let relative = compile(
            "{ actions: { kill: { url: 'admin/kill' } } }",
            Duration::from_secs(1),
        );
        assert_eq!(
            relative.unwrap_err().path,
            [
                Segment::Key("actions"),
                Segment::Key("kill"),
                Segment::Key("url")
            ]
        );
    }
}
