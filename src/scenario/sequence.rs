//! Checks on a behavior's steps taken in order, which no single step can see: a step that
//! needs an open session before any was opened, `extend` without a unique connection,
//! `await_signal` with nothing to send it anything, steps after a repeat that never ends.
//! Each is a run that would only count errors; all of a behavior's are reported.

use super::locate::{Issue, Segment};
use super::step::{Repetitions, Step};

/// What the steps are checked against, from outside the behavior.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context {
    /// Whether anything may send signals or invokes, so `await_signal` has something to wait
    /// for: this harness's agents, or (against an external server) anyone else.
    pub signals_expected: bool,
}

/// Every issue of a behavior's `steps`, with paths relative to the list.
pub(crate) fn check_sequence(steps: &[Step], context: Context) -> Vec<Issue> {
    let mut checker = Checker {
        context,
        unique_seen: false,
        issues: Vec::new(),
    };
    checker.check_list(steps, 0);
    checker.issues
}

/// Walks the steps once, keeping the number of tabs open at each step, at its lowest over
/// every way through the repeats.
struct Checker {
    context: Context,
    unique_seen: bool,
    issues: Vec<Issue>,
}

impl Checker {
    /// Checks `steps` entered with at least `tabs` tabs open; answers the least open after them.
    fn check_list(&mut self, steps: &[Step], mut tabs: u32) -> u32 {
        for (index, step) in steps.iter().enumerate() {
            let here = |message: &str| Issue::here(message).under(Segment::Index(index));
            match step {
                Step::Presence(_) | Step::Navigate(_) | Step::Extend if tabs == 0 => {
                    self.issues.push(here(&format!(
                        "expected an open session before `{}` (a `connect`, `connect_unique`, \
                         `open_tab` or `set_visitor_id` earlier, on every way through the \
                         repeats), found none: the visitor would only count `step_without_session` \
                         errors",
                        name(step)
                    )));
                }
                Step::Extend if !self.unique_seen => self.issues.push(here(
                    "expected `connect_unique` before `extend` (only a unique connection can be \
                     extended), found none",
                )),
                Step::AwaitSignal { .. } if !self.context.signals_expected => {
                    self.issues.push(here(
                        "expected an `agents` section with `signals` or `invokes` for \
                         `await_signal` to wait for (nothing else signals the embedded cluster), \
                         found none: every wait would time out",
                    ))
                }
                Step::ConnectUnique => self.unique_seen = true,
                _ => {}
            }
            let Step::Repeat(repeat) = step else {
                tabs = Transfer::of(step).apply(tabs);
                continue;
            };
            let before = self.issues.len();
            self.check_list(
                &repeat.steps,
                lowest_start(Transfer::of_list(&repeat.steps), repeat.times, tabs),
            );
            let nested = self.issues.split_off(before);
            self.issues.extend(nested.into_iter().map(|issue| {
                issue
                    .under(Segment::Key("steps"))
                    .under(Segment::Key("repeat"))
                    .under(Segment::Index(index))
            }));
            tabs = Transfer::of(step).apply(tabs);
            if repeat.times == Repetitions::UntilEnd && index + 1 < steps.len() {
                self.issues.push(
                    Issue::here(
                        "unreachable step: the repeat before it runs until the end of the run \
                         (give the repeat `times: N`, or move this step into it)",
                    )
                    .under(Segment::Index(index + 1)),
                );
            }
        }
        tabs
    }
}

/// What steps do to the number of open tabs `n`: `max(floor, n + shift)`, or `floor` whatever
/// `n` was when `shift` is `None`. Every step has this form, and so has any sequence of them,
/// so a repeat's effect is computed once, not iteration by iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transfer {
    floor: i64,
    shift: Option<i64>,
}

impl Transfer {
    const IDENTITY: Transfer = Transfer {
        floor: 0,
        shift: Some(0),
    };

    fn apply(self, tabs: u32) -> u32 {
        let after = self.shift.map_or(self.floor, |shift| {
            self.floor.max(i64::from(tabs).saturating_add(shift))
        });
        u32::try_from(after.max(0)).unwrap_or(u32::MAX)
    }

    /// `self`, then `next`.
    fn then(self, next: Transfer) -> Transfer {
        match (self.shift, next.shift) {
            (_, None) => next,
            (None, Some(_)) => Transfer {
                floor: i64::from(next.apply(self.apply(0))),
                shift: None,
            },
            (Some(first), Some(second)) => Transfer {
                floor: next.floor.max(self.floor.saturating_add(second)),
                shift: Some(first.saturating_add(second)),
            },
        }
    }

    fn of_list(steps: &[Step]) -> Transfer {
        steps
            .iter()
            .fold(Transfer::IDENTITY, |sum, step| sum.then(Transfer::of(step)))
    }

    fn of(step: &Step) -> Transfer {
        match step {
            Step::Connect | Step::ConnectUnique => Transfer {
                floor: 1,
                shift: Some(0),
            },
            Step::OpenTab => Transfer {
                floor: 1,
                shift: Some(1),
            },
            Step::SetVisitorId(_) => Transfer {
                floor: 1,
                shift: None,
            },
            Step::CloseTab => Transfer {
                floor: 0,
                shift: Some(-1),
            },
            Step::Disconnect => Transfer {
                floor: 0,
                shift: None,
            },
            Step::Repeat(repeat) => {
                let body = Transfer::of_list(&repeat.steps);
                match (repeat.times, body.shift) {
                    // Nothing comes after a repeat that runs to the end.
                    (Repetitions::UntilEnd, _) | (_, None) => body,
                    // n times: max(floor + (n - 1) * shift, start + n * shift) when the body adds
                    // tabs; when it removes them, the floor holds them from falling below it.
                    (Repetitions::Times(times), Some(shift)) => {
                        let times = i64::from(times);
                        let floor = body
                            .floor
                            .saturating_add((times - 1).saturating_mul(shift.max(0)));
                        Transfer {
                            floor,
                            shift: Some(times.saturating_mul(shift)),
                        }
                    }
                }
            }
            _ => Transfer::IDENTITY,
        }
    }
}

/// The fewest tabs open at the start of any iteration of a repeat whose body does `body`,
/// entered with `tabs`: iterations after the first start where the previous one left off.
fn lowest_start(body: Transfer, times: Repetitions, tabs: u32) -> u32 {
    let later = match (times, body.shift) {
        (Repetitions::Times(1), _) => return tabs,
        // Iterations start lower and lower until the body's floor holds them.
        (Repetitions::UntilEnd, Some(shift)) if shift < 0 => body.floor,
        (Repetitions::Times(times), Some(shift)) if shift < 0 => body
            .floor
            .max(i64::from(tabs).saturating_add(i64::from(times - 1).saturating_mul(shift))),
        (_, Some(_)) => return tabs,
        (_, None) => body.floor,
    };
    tabs.min(u32::try_from(later.max(0)).unwrap_or(u32::MAX))
}

fn name(step: &Step) -> &'static str {
    match step {
        Step::Presence(_) => "presence",
        Step::Navigate(_) => "navigate",
        _ => "extend",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Segment::{Index, Key};

    fn issues(yaml: &str, signals_expected: bool) -> Vec<Issue> {
        let steps: Vec<Step> = serde_yaml::from_str(yaml).unwrap();
        check_sequence(&steps, Context { signals_expected })
    }

    fn paths(yaml: &str) -> Vec<Vec<Segment>> {
        issues(yaml, false)
            .into_iter()
            .map(|issue| issue.path)
            .collect()
    }

    #[test]
    fn sequence_checks_point_at_the_offending_step() {
        let unreachable = issues(
            "[connect, { repeat: { steps: [presence] } }, disconnect]",
            false,
        );
        assert_eq!(unreachable.len(), 1);
        assert_eq!(unreachable[0].path, vec![Index(2)]);
        assert!(unreachable[0].message.starts_with("unreachable step"));

        let nested = issues(
            "[connect, { repeat: { times: 2, steps: [{ hold: 1s }, extend] } }]",
            false,
        );
        assert_eq!(
            nested[0].path,
            vec![Index(1), Key("repeat"), Key("steps"), Index(1)]
        );
        assert!(nested[0]
            .message
            .starts_with("expected `connect_unique` before `extend`"));

        assert_eq!(
            paths("[connect_unique, { repeat: { every: 1m, steps: [extend] } }]"),
            Vec::<Vec<Segment>>::new()
        );
    }

    #[test]
    fn steps_that_need_a_session_need_one_open() {
        let before = issues("[presence, connect, presence]", false);
        assert_eq!(before.len(), 1);
        assert_eq!(before[0].path, vec![Index(0)]);
        assert!(
            before[0]
                .message
                .starts_with("expected an open session before `presence`"),
            "{}",
            before[0].message
        );
        // Every one is reported, each where it is.
        assert_eq!(
            paths("[{ navigate: { page: {} } }, connect, disconnect, presence]"),
            vec![vec![Index(0)], vec![Index(3)]]
        );
        // A second iteration starts after the `disconnect` of the first.
        assert_eq!(
            paths("[connect, { repeat: { times: 3, steps: [presence, disconnect] } }]"),
            vec![vec![Index(1), Key("repeat"), Key("steps"), Index(0)]]
        );
        // Tabs opened and closed in turn, sessions opened in other ways: all fine.
        let fine = "[open_tab, presence, open_tab, close_tab, presence, set_visitor_id, { repeat: \
                    { steps: [presence] } }]";
        assert_eq!(paths(fine), Vec::<Vec<Segment>>::new());
        assert_eq!(
            paths("[connect, open_tab, close_tab, close_tab, presence]"),
            vec![vec![Index(4)]]
        );
    }

    #[test]
    fn await_signal_needs_agents_that_send() {
        let without = issues("[connect, await_signal]", false);
        assert_eq!(without[0].path, vec![Index(1)]);
        assert!(
            without[0]
                .message
                .starts_with("expected an `agents` section"),
            "{}",
            without[0].message
        );
        assert!(issues("[connect, await_signal]", true).is_empty());
    }
}
