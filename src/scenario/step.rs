//! Steps: what one visitor does, in order. Written as a bare word (`connect`) or a one-key
//! mapping (`hold: 5s`); the same type is the plan's, there is nothing left to compile.

use std::cell::Cell;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde::Deserialize as DeriveDeserialize;

use super::bounds::MAX_NESTING;
use super::content::{Navigation, PresenceUpdate};
use super::de::{self as typed, first_key, no_second_key, NonEmpty, NonZeroSpan};
use super::template::Template;
use super::think::Think;

/// How long `await_signal` waits when no timeout is given.
pub const DEFAULT_SIGNAL_TIMEOUT: Duration = Duration::from_secs(10);

/// One step of a behavior.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Open the visitor's first tab: `connect` with its visitor id.
    Connect,
    /// Open a unique connection: the server assigns a 6-digit id.
    ConnectUnique,
    /// Push the unique connection's deadline back.
    Extend,
    /// Send `presence` on the focused tab.
    Presence(PresenceUpdate),
    /// Go to a new page: new session, whose first presence carries the page info.
    Navigate(Navigation),
    /// Open another tab of the same visitor; it takes focus.
    OpenTab,
    /// Focus the next open tab.
    SwitchTab,
    /// Close the focused tab.
    CloseTab,
    /// Become another visitor: close, then connect with this id (a fresh one if `None`).
    SetVisitorId(Option<Template>),
    /// Close every tab.
    Disconnect,
    /// Wait.
    Hold(Think),
    Repeat(Repeat),
    /// Wait for a signal or invoke (from an agent) to arrive, at most `timeout`.
    AwaitSignal {
        timeout: Duration,
    },
}

/// Runs `steps` again and again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeat {
    /// When iterations are scheduled to start (each from the previous one's scheduled start),
    /// so the engine can time late iterations from when they should have begun.
    /// `None`: back to back.
    pub every: Option<Think>,
    pub times: Repetitions,
    pub steps: Vec<Step>,
}

/// How often a `repeat` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repetitions {
    Times(u32),
    /// Until the run ends: the steps after such a repeat are never reached.
    UntilEnd,
}

const STEP_NAMES: &[&str] = &[
    "connect",
    "connect_unique",
    "extend",
    "presence",
    "navigate",
    "open_tab",
    "switch_tab",
    "close_tab",
    "set_visitor_id",
    "disconnect",
    "hold",
    "repeat",
    "await_signal",
];

#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
struct RepeatSpec {
    #[serde(default)]
    every: Option<Think>,
    #[serde(default, deserialize_with = "typed::times")]
    times: Option<u32>,
    #[serde(default)]
    until: Option<Until>,
    steps: NonEmpty<Step>,
}

/// `until: end`, the only end a repeat knows; spelled out so a reader sees it is deliberate.
#[derive(DeriveDeserialize)]
#[serde(rename_all = "lowercase")]
enum Until {
    End,
}

#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
struct SetVisitorIdSpec {
    #[serde(default)]
    id: Option<Template>,
}

#[derive(DeriveDeserialize)]
#[serde(deny_unknown_fields)]
struct AwaitSignalSpec {
    #[serde(default)]
    timeout: Option<NonZeroSpan>,
}

struct StepVisitor;

impl StepVisitor {
    fn bare<E: de::Error>(name: &str) -> Result<Step, E> {
        Ok(match name {
            "connect" => Step::Connect,
            "connect_unique" => Step::ConnectUnique,
            "extend" => Step::Extend,
            "presence" => Step::Presence(PresenceUpdate::default()),
            "open_tab" => Step::OpenTab,
            "switch_tab" => Step::SwitchTab,
            "close_tab" => Step::CloseTab,
            "set_visitor_id" => Step::SetVisitorId(None),
            "disconnect" => Step::Disconnect,
            "await_signal" => Step::AwaitSignal {
                timeout: DEFAULT_SIGNAL_TIMEOUT,
            },
            "navigate" | "hold" | "repeat" => {
                return Err(E::custom(format!(
                    "expected `{name}: ...` with a value, found a bare `{name}`"
                )))
            }
            other => return Err(E::unknown_variant(other, STEP_NAMES)),
        })
    }
}

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a step: a word such as connect, or a one-key mapping such as hold: 5s")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Step, E> {
        StepVisitor::bare(name)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
        let name = first_key(&mut map, "a step")?;
        let step = match name.as_str() {
            "presence" => Step::Presence(map.next_value()?),
            "navigate" => Step::Navigate(map.next_value()?),
            "set_visitor_id" => Step::SetVisitorId(map.next_value::<SetVisitorIdSpec>()?.id),
            "hold" => Step::Hold(map.next_value()?),
            "await_signal" => Step::AwaitSignal {
                timeout: map
                    .next_value::<AwaitSignalSpec>()?
                    .timeout
                    .map_or(DEFAULT_SIGNAL_TIMEOUT, |t| t.0),
            },
            "repeat" => {
                let _depth = Nesting::enter()?;
                let spec: RepeatSpec = map.next_value()?;
                let times = match (spec.times, spec.until) {
                    (Some(_), Some(_)) => {
                        return Err(de::Error::custom(
                            "expected either `times` or `until` in a repeat, found both",
                        ))
                    }
                    (Some(times), None) => Repetitions::Times(times),
                    (None, _) => Repetitions::UntilEnd,
                };
                Step::Repeat(Repeat {
                    every: spec.every,
                    times,
                    steps: spec.steps.0,
                })
            }
            // Steps without parameters also accept an empty value (`connect: {}`, `connect:`).
            other => {
                let step = StepVisitor::bare(other)?;
                map.next_value::<Option<de::IgnoredAny>>()?;
                step
            }
        };
        no_second_key(&mut map, &name)?;
        Ok(step)
    }
}

thread_local! {
    /// How many `repeat`s the step being read is inside of, on this thread.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// One level of `repeat` being read; leaving it (by return or error) steps back out. A
/// thread-local rather than a seed threaded through, because steps are read by serde's
/// derived code (`NonEmpty<Step>` in a repeat) that has no way to pass one down.
struct Nesting;

impl Nesting {
    fn enter<E: de::Error>() -> Result<Nesting, E> {
        DEPTH.with(|depth| {
            if depth.get() >= MAX_NESTING {
                return Err(E::custom(format!(
                    "expected repeats nested at most {MAX_NESTING} deep, found one nested deeper"
                )));
            }
            depth.set(depth.get() + 1);
            Ok(Nesting)
        })
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get() - 1));
    }
}

impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StepVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::content::{DataTemplate, PageTemplate};

    fn step(yaml: &str) -> Step {
        serde_yaml::from_str(yaml).unwrap_or_else(|err| panic!("{yaml}: {err}"))
    }

    fn error(yaml: &str) -> String {
        serde_yaml::from_str::<Step>(yaml).unwrap_err().to_string()
    }

    fn steps(yaml: &str) -> Vec<Step> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn parses_bare_steps() {
        let all = steps(
            "[connect, connect_unique, extend, presence, open_tab, switch_tab, close_tab, \
             set_visitor_id, disconnect, await_signal]",
        );
        assert_eq!(
            all,
            vec![
                Step::Connect,
                Step::ConnectUnique,
                Step::Extend,
                Step::Presence(PresenceUpdate::default()),
                Step::OpenTab,
                Step::SwitchTab,
                Step::CloseTab,
                Step::SetVisitorId(None),
                Step::Disconnect,
                Step::AwaitSignal {
                    timeout: DEFAULT_SIGNAL_TIMEOUT
                },
            ]
        );
        assert_eq!(step("connect: {}"), Step::Connect);
    }

    #[test]
    fn parses_presence_and_navigate() {
        let Step::Presence(update) =
            step("presence: { page: { url: 'https://x/{{rand_path}}' }, data: { a: 1 } }")
        else {
            panic!("not a presence")
        };
        assert!(update.page.is_some_and(|page| page.url.is_some()));
        assert_eq!(update.data.0.len(), 1);
        let Step::Navigate(navigation) = step("navigate: { page: { title: Cart } }") else {
            panic!("not a navigate")
        };
        assert_eq!(
            navigation.page.title,
            Some(Template::parse("Cart").unwrap())
        );
        assert_eq!(navigation.data, DataTemplate::default());
        assert_eq!(navigation.page.url, PageTemplate::default().url);
        assert!(error("navigate: { data: { a: 1 } }").contains("missing field `page`"));
    }

    #[test]
    fn parses_parameterised_steps() {
        assert_eq!(
            step("set_visitor_id: { id: 'user-{{index}}' }"),
            Step::SetVisitorId(Some(Template::parse("user-{{index}}").unwrap()))
        );
        assert_eq!(
            step("hold: 5s"),
            Step::Hold(Think::Constant(Duration::from_secs(5)))
        );
        assert_eq!(
            step("await_signal: { timeout: 2s }"),
            Step::AwaitSignal {
                timeout: Duration::from_secs(2)
            }
        );
        let Step::Repeat(repeat) =
            step("repeat: { every: { exponential: 1s }, times: 3, steps: [extend] }")
        else {
            panic!("not a repeat")
        };
        assert_eq!(repeat.times, Repetitions::Times(3));
        assert_eq!(
            repeat.every,
            Some(Think::Exponential {
                mean: Duration::from_secs(1)
            })
        );
        assert_eq!(repeat.steps, vec![Step::Extend]);
        let Step::Repeat(forever) = step("repeat: { until: end, steps: [presence] }") else {
            panic!("not a repeat")
        };
        assert_eq!(
            (forever.times, forever.every),
            (Repetitions::UntilEnd, None)
        );
    }

    #[test]
    fn refuses_bad_steps() {
        assert!(error("conect").contains("unknown variant `conect`, expected one of `connect`"));
        let err = error("hold");
        assert!(err.starts_with("expected `hold: ...` with a value, found a bare `hold`"));
        assert!(error("{ hold: 1s, connect: ~ }").contains("found also `connect`"));
        assert!(error("repeat: { times: 0, steps: [connect] }")
            .contains("expected a number of repetitions"));
        assert!(error("repeat: { times: 2, until: end, steps: [connect] }").contains("found both"));
        assert!(error("repeat: { steps: [] }").contains("expected a list with at least one item"));
        assert!(
            error("repeat: { until: later, steps: [connect] }").contains("unknown variant `later`")
        );
        assert!(error("presence: { pgae: {} }").contains("unknown field `pgae`"));
        assert!(error("await_signal: { timeout: 0s }").contains("expected a duration above zero"));
    }

    /// `repeat: { steps: [ ... ] }` nested `depth` times around a `connect`, in flow style.
    fn nested(depth: usize) -> String {
        format!(
            "{}connect{}",
            "{ repeat: { times: 2, steps: [".repeat(depth),
            "] } }".repeat(depth)
        )
    }

    #[test]
    fn nesting_is_bounded() {
        assert!(matches!(step(&nested(MAX_NESTING)), Step::Repeat(_)));
        let err = error(&nested(MAX_NESTING + 1));
        assert!(
            err.contains("expected repeats nested at most 16 deep, found one nested deeper"),
            "{err}"
        );
        // The depth is back to 0 after an error: the next document reads as before.
        assert!(matches!(step(&nested(MAX_NESTING)), Step::Repeat(_)));
    }
}
