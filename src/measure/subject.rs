//! What a threshold may name, decided in one place: a latency [`Metric`], a [`Counter`], a
//! delivery check, or the errors. Scenario validation and the report both ask [`Subject::parse`],
//! so a name the scenario accepts is always one the report can look up.

use super::error_kind::ErrorKind;
use super::metric::{Check, Counter, Metric};

/// Prefix of a threshold on one kind of error (`errors.reply_timeout`).
pub const ERROR_KIND_PREFIX: &str = "errors.";

/// A measured quantity a threshold can bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Metric(Metric),
    Counter(Counter),
    /// A delivery check's violations.
    Check(Check),
    /// All errors together.
    Errors,
    /// Errors of one kind: a misspelt kind is refused rather than counting zero forever.
    ErrorKind(ErrorKind),
    /// The target's resident memory, per process, scraped from its metrics (`server_resources`).
    ServerMemory,
    /// The target's CPU seconds per second, per process, scraped likewise.
    ServerCpu,
}

/// The names of the server's resources, as thresholds write them.
pub const SERVER_MEMORY: &str = "server_memory";
pub const SERVER_CPU: &str = "server_cpu";

impl Subject {
    /// Answers what `name` names, or `None` when it is nothing the harness measures.
    pub fn parse(name: &str) -> Option<Subject> {
        if let Some(metric) = Metric::ALL.into_iter().find(|m| m.name() == name) {
            return Some(Subject::Metric(metric));
        }
        if let Some(counter) = Counter::ALL.into_iter().find(|c| c.name() == name) {
            return Some(Subject::Counter(counter));
        }
        if let Some(check) = Check::ALL.into_iter().find(|c| c.name() == name) {
            return Some(Subject::Check(check));
        }
        match name {
            "errors" => return Some(Subject::Errors),
            SERVER_MEMORY => return Some(Subject::ServerMemory),
            SERVER_CPU => return Some(Subject::ServerCpu),
            _ => {}
        }
        name.strip_prefix(ERROR_KIND_PREFIX)
            .and_then(ErrorKind::parse)
            .map(Subject::ErrorKind)
    }

    /// The valid name closest to `name` (a few letters off at most), for "did you mean".
    pub fn closest(name: &str) -> Option<String> {
        let kinds = ErrorKind::ALL
            .iter()
            .map(|kind| format!("{ERROR_KIND_PREFIX}{kind}"));
        let names = Subject::known_names()
            .map(str::to_owned)
            .chain(["errors".to_owned()])
            .chain(kinds);
        closest(name, names)
    }

    /// Every valid name but error kinds, for messages that list the choices.
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        let metrics = Metric::ALL.into_iter().map(Metric::name);
        let counters = Counter::ALL.into_iter().map(Counter::name);
        let server = [SERVER_MEMORY, SERVER_CPU];
        metrics
            .chain(counters)
            .chain(Check::ALL.into_iter().map(Check::name))
            .chain(server)
    }
}

/// The one of `known` closest to `name`, a few letters off at most, for "did you mean".
pub fn closest<S: AsRef<str>>(name: &str, known: impl IntoIterator<Item = S>) -> Option<S> {
    let allowed = (name.chars().count() / 4).clamp(1, 3);
    known
        .into_iter()
        .map(|known| (edit_distance(name, known.as_ref()), known))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance: insertions, deletions and substitutions of one character.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified() {
        assert_eq!(
            Subject::parse("presence_ack"),
            Some(Subject::Metric(Metric::PresenceAck))
        );
        assert_eq!(
            Subject::parse("sessions_lost"),
            Some(Subject::Counter(Counter::SessionsLost))
        );
        assert_eq!(
            Subject::parse("signals_lost"),
            Some(Subject::Check(Check::SignalsLost))
        );
        assert_eq!(Subject::parse("errors"), Some(Subject::Errors));
        assert_eq!(
            Subject::parse("errors.reply_timeout"),
            Some(Subject::ErrorKind(ErrorKind::ReplyTimeout))
        );
        assert_eq!(Subject::parse("errors."), None);
        assert_eq!(Subject::parse("errors.reply_timout"), None);
        assert_eq!(
            Subject::parse("errors.closed_replaced"),
            Some(Subject::ErrorKind(ErrorKind::ClosedReplaced))
        );
        assert_eq!(Subject::parse("presence_acks"), None);
    }

    #[test]
    fn the_closest_name_is_suggested() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            Subject::closest("errors.reply_timout").as_deref(),
            Some("errors.reply_timeout")
        );
        assert_eq!(
            Subject::closest("presense_ack").as_deref(),
            Some("presence_ack")
        );
        assert_eq!(Subject::closest("erors").as_deref(), Some("errors"));
        assert_eq!(Subject::closest("something_else_entirely"), None);
    }

    #[test]
    fn names_are_unique_across_kinds() {
        let names: Vec<_> = Subject::known_names().collect();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
