//! What a threshold may name, decided in one place: a latency [`Metric`], a [`Counter`], a
//! delivery check, or the errors. Scenario validation and the report both ask [`Subject::parse`],
//! so a name the scenario accepts is always one the report can look up.

use super::metric::{Check, Counter, Metric};

/// Prefix of a threshold on one kind of error (`errors.reply_timeout`).
const ERROR_KIND_PREFIX: &str = "errors.";

/// A measured quantity a threshold can bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Metric(Metric),
    Counter(Counter),
    /// A delivery check's violations.
    Check(Check),
    /// All errors together.
    Errors,
    /// Errors of one kind. Kinds are open-ended (`closed_*` carries a close reason), so any
    /// non-empty kind is accepted; a kind that never occurs counts zero.
    ErrorKind(String),
}

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
        if name == "errors" {
            return Some(Subject::Errors);
        }
        match name.strip_prefix(ERROR_KIND_PREFIX) {
            Some(kind) if !kind.trim().is_empty() => Some(Subject::ErrorKind(kind.to_owned())),
            _ => None,
        }
    }

    /// Every valid name but error kinds, for messages that list the choices.
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        let metrics = Metric::ALL.into_iter().map(Metric::name);
        let counters = Counter::ALL.into_iter().map(Counter::name);
        metrics.chain(counters).chain(Check::ALL.into_iter().map(Check::name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified() {
        assert_eq!(Subject::parse("presence_ack"), Some(Subject::Metric(Metric::PresenceAck)));
        assert_eq!(Subject::parse("sessions_lost"), Some(Subject::Counter(Counter::SessionsLost)));
        assert_eq!(Subject::parse("signals_lost"), Some(Subject::Check(Check::SignalsLost)));
        assert_eq!(Subject::parse("errors"), Some(Subject::Errors));
        assert_eq!(Subject::parse("errors.reply_timeout"), Some(Subject::ErrorKind("reply_timeout".into())));
        assert_eq!(Subject::parse("errors."), None);
        assert_eq!(Subject::parse("presence_acks"), None);
    }

    #[test]
    fn names_are_unique_across_kinds() {
        let names: Vec<_> = Subject::known_names().collect();
        let unique: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
    }
}
