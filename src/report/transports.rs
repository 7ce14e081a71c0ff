//! The run split by transport (`transports` in summary.json, a section of the table): a
//! polling visitor costs a server differently from a WebSocket one, so a mix is judged per
//! transport as well as in total. Recorded by `measure::by_transport`.

use std::collections::BTreeMap;
use std::fmt::Write;

use hdrhistogram::Histogram;

use super::encoded::{self, DecodeError};
use super::table::micros;
use crate::measure::{by_transport, new_histogram, Tally, Totals};
use crate::schema::{LatencySummary, TransportSummary};

/// Counts and histograms of one transport, before they are summarized.
#[derive(Default)]
struct Parts {
    visitors: u64,
    sessions_opened: u64,
    errors: u64,
    histograms: BTreeMap<String, Histogram<u64>>,
}

impl Parts {
    fn summary(&self, seconds: f64) -> TransportSummary {
        let named = || {
            self.histograms
                .iter()
                .map(|(name, histogram)| (name.clone(), histogram))
        };
        TransportSummary {
            visitors: self.visitors,
            sessions_opened: self.sessions_opened,
            errors: self.errors,
            metrics: named()
                .map(|(name, h)| (name, LatencySummary::from_histogram(h, seconds)))
                .collect(),
            histograms: named()
                .map(|(name, h)| (name, encoded::encode(h)))
                .collect(),
        }
    }

    fn add(&mut self, name: &str, histogram: &Histogram<u64>) {
        let total = self
            .histograms
            .entry(name.to_owned())
            .or_insert_with(new_histogram);
        total
            .add(histogram)
            .expect("auto-resizing histograms take any value");
    }
}

/// The split of a run's totals, by transport name; empty when no visitor ran.
pub fn from_totals(totals: &Totals, seconds: f64) -> BTreeMap<String, TransportSummary> {
    let mut parts: BTreeMap<&str, Parts> = BTreeMap::new();
    for (&(tally, transport), &n) in &totals.tallies {
        let part = parts.entry(transport);
        match tally {
            Tally::TransportVisitor => part.or_default().visitors += n,
            Tally::TransportSession => part.or_default().sessions_opened += n,
            Tally::TransportError => part.or_default().errors += n,
            _ => {}
        }
    }
    for ((transport, metric), histogram) in &totals.by_transport {
        debug_assert!(by_transport::SPLIT.contains(metric));
        parts
            .entry(transport)
            .or_default()
            .add(metric.name(), histogram);
    }
    parts
        .iter()
        .map(|(transport, part)| ((*transport).to_owned(), part.summary(seconds)))
        .collect()
}

/// A histogram of a shard's split that could not be read: which shard (its position), and
/// which `transport.metric`.
pub type MergeError = (usize, String, DecodeError);

/// Several shards' splits added up (counts summed, histograms added).
pub fn merge<'a>(
    splits: impl Iterator<Item = &'a BTreeMap<String, TransportSummary>>,
    seconds: f64,
) -> Result<BTreeMap<String, TransportSummary>, MergeError> {
    let mut parts: BTreeMap<String, Parts> = BTreeMap::new();
    for (index, split) in splits.enumerate() {
        for (transport, summary) in split {
            let part = parts.entry(transport.clone()).or_default();
            part.visitors += summary.visitors;
            part.sessions_opened += summary.sessions_opened;
            part.errors += summary.errors;
            for (metric, text) in &summary.histograms {
                let histogram = encoded::decode(text)
                    .map_err(|err| (index, format!("{transport}.{metric}"), err))?;
                part.add(metric, &histogram);
            }
        }
    }
    Ok(parts
        .iter()
        .map(|(transport, part)| (transport.clone(), part.summary(seconds)))
        .collect())
}

/// The latency columns of a transport's row: connect p50 and p99, presence_ack p50 and p99;
/// `-` for a metric it has no samples of. The HTML report shows the same.
pub fn latencies(t: &TransportSummary) -> [String; 4] {
    let at = |metric: &str, p: fn(&LatencySummary) -> u64| {
        t.metrics.get(metric).map_or("-".into(), |m| micros(p(m)))
    };
    [
        at("connect", |m| m.p50),
        at("connect", |m| m.p99),
        at("presence_ack", |m| m.p50),
        at("presence_ack", |m| m.p99),
    ]
}

/// The table's section: one row per transport, shown when a run used more than one.
pub fn render(split: &BTreeMap<String, TransportSummary>) -> String {
    let mut out = String::new();
    if split.len() < 2 {
        return out;
    }
    let _ = writeln!(
        out,
        "{:<14} {:>8} {:>9} {:>7} {:>12} {:>12} {:>12} {:>12}",
        "transport",
        "visitors",
        "sessions",
        "errors",
        "connect p50",
        "connect p99",
        "ack p50",
        "ack p99"
    );
    for (name, t) in split {
        let [connect_p50, connect_p99, ack_p50, ack_p99] = latencies(t);
        let _ = writeln!(
            out,
            "{:<14} {:>8} {:>9} {:>7} {connect_p50:>12} {connect_p99:>12} {ack_p50:>12} \
             {ack_p99:>12}",
            name, t.visitors, t.sessions_opened, t.errors,
        );
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{Metric, Recorder};

    async fn recorded() -> BTreeMap<String, TransportSummary> {
        let recorder = Recorder::new();
        for (transport, ms) in [("xhr_polling", 40), ("sockjs", 2), ("sockjs", 4)] {
            let recorder = recorder.clone();
            crate::measure::attribution::as_visitor(0, transport, async move {
                recorder.count(crate::measure::Counter::VisitorsStarted, 1);
                recorder.latency(Metric::PresenceAck, std::time::Duration::from_millis(ms));
                recorder.latency(Metric::Blur, std::time::Duration::from_millis(ms));
                recorder.error(crate::measure::ErrorKind::ReplyTimeout);
            })
            .await;
        }
        // An agent's sample, outside any visitor: counted in total only.
        recorder.error(crate::measure::ErrorKind::Connect);
        let shard = recorder.drain();
        let totals = crate::measure::collector::totals_of(shard);
        from_totals(&totals, 1.0)
    }

    #[tokio::test]
    async fn visitors_are_split_by_the_transport_they_ran_on() {
        let split = recorded().await;
        assert_eq!(split.keys().collect::<Vec<_>>(), ["sockjs", "xhr_polling"]);
        let (sockjs, polling) = (&split["sockjs"], &split["xhr_polling"]);
        assert_eq!(
            (
                sockjs.visitors,
                sockjs.errors,
                polling.visitors,
                polling.errors
            ),
            (2, 2, 1, 1)
        );
        assert_eq!(sockjs.metrics["presence_ack"].count, 2);
        assert!(polling.metrics["presence_ack"].p50 >= 40_000);
        assert!(
            !sockjs.metrics.contains_key("blur"),
            "only the split metrics"
        );
        let table = render(&split);
        assert!(
            table
                .lines()
                .nth(2)
                .unwrap()
                .starts_with("xhr_polling           1"),
            "{table}"
        );
    }

    #[tokio::test]
    async fn shards_splits_merge_exactly() {
        let split = recorded().await;
        let merged = merge([&split, &split].into_iter(), 1.0).unwrap();
        assert_eq!(merged["sockjs"].visitors, 4);
        assert_eq!(merged["sockjs"].metrics["presence_ack"].count, 4);
        assert_eq!(
            merged["xhr_polling"].metrics["presence_ack"].p50,
            split["xhr_polling"].metrics["presence_ack"].p50
        );
        let mut broken = split.clone();
        broken
            .get_mut("sockjs")
            .unwrap()
            .histograms
            .insert("connect".into(), "not base64!".into());
        let (index, at, _) = merge([&split, &broken].into_iter(), 1.0).unwrap_err();
        assert_eq!((index, at.as_str()), (1, "sockjs.connect"));
    }
}
