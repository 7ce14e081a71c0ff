//! One behavior's latencies: a histogram per metric and per request's service time, each
//! made on its first sample. Every recording lane keeps one such set per behavior of the
//! scenario (see `attribution`); made up front, a set would cost 16 KiB per metric, lane and
//! behavior whether the behavior ever records the metric or not.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::metric::Metric;
use super::recorder::{new_histogram, record_duration};

/// Latencies first (index = `Metric::index`), then service times (`Metric::service_index`).
const SLOTS: usize = Metric::COUNT + Metric::REQUESTS.len();

/// A set of latency histograms, each allocated when it gets its first sample.
#[derive(Clone)]
pub struct Latencies {
    slots: Vec<Option<Histogram<u64>>>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }
}

impl Latencies {
    /// `metric`'s latencies, when it has samples.
    pub fn histogram(&self, metric: Metric) -> Option<&Histogram<u64>> {
        self.get(metric.index())
    }

    /// The service times of a request metric, when it has samples.
    pub fn service(&self, metric: Metric) -> Option<&Histogram<u64>> {
        self.get(Metric::COUNT + metric.service_index()?)
    }

    fn get(&self, slot: usize) -> Option<&Histogram<u64>> {
        self.slots[slot]
            .as_ref()
            .filter(|histogram| !histogram.is_empty())
    }

    pub(crate) fn record(&mut self, metric: Metric, elapsed: Duration) {
        record_duration(
            self.slots[metric.index()].get_or_insert_with(new_histogram),
            elapsed,
        );
    }

    /// Records a request's service time; other metrics have none.
    pub(crate) fn record_service(&mut self, metric: Metric, elapsed: Duration) {
        if let Some(i) = metric.service_index() {
            record_duration(
                self.slots[Metric::COUNT + i].get_or_insert_with(new_histogram),
                elapsed,
            );
        }
    }

    /// Adds every sample of `other`.
    pub(crate) fn add(&mut self, other: &Latencies) {
        for (total, part) in self.slots.iter_mut().zip(&other.slots) {
            if let Some(part) = part.as_ref().filter(|part| !part.is_empty()) {
                total
                    .get_or_insert_with(new_histogram)
                    .add(part)
                    .expect("histograms grow to fit");
            }
        }
    }

    /// Moves every sample into `into`, keeping the histograms (emptied) for the next ones.
    pub(crate) fn drain_into(&mut self, into: &mut Latencies) {
        into.add(self);
        for histogram in self
            .slots
            .iter_mut()
            .flatten()
            .filter(|histogram| !histogram.is_empty())
        {
            histogram.reset();
        }
    }

    /// Adds every sample to the overall histograms (`histograms` by `Metric::index`, `service`
    /// by `Metric::service_index`).
    pub(crate) fn add_to(&self, histograms: &mut [Histogram<u64>], service: &mut [Histogram<u64>]) {
        for (total, part) in histograms
            .iter_mut()
            .chain(service.iter_mut())
            .zip(&self.slots)
        {
            if let Some(part) = part.as_ref().filter(|part| !part.is_empty()) {
                total.add(part).expect("histograms grow to fit");
            }
        }
    }
}

/// Where one sample is recorded: a behavior's set, or (a sample of no behavior) the lane's
/// overall histograms, by `Metric::index` and `Metric::service_index`.
pub(crate) enum Target<'a> {
    Behavior(&'a mut Latencies),
    Overall {
        histograms: &'a mut [Histogram<u64>],
        service: &'a mut [Histogram<u64>],
    },
}

impl Target<'_> {
    pub(crate) fn record(&mut self, metric: Metric, elapsed: Duration) {
        match self {
            Target::Behavior(set) => set.record(metric, elapsed),
            Target::Overall { histograms, .. } => {
                record_duration(&mut histograms[metric.index()], elapsed)
            }
        }
    }

    pub(crate) fn record_service(&mut self, metric: Metric, elapsed: Duration) {
        match self {
            Target::Behavior(set) => set.record_service(metric, elapsed),
            Target::Overall { service, .. } => {
                if let Some(i) = metric.service_index() {
                    record_duration(&mut service[i], elapsed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_made_on_their_first_sample_and_drain_whole() {
        let mut set = Latencies::default();
        assert!(
            set.slots.iter().all(Option::is_none),
            "nothing allocated up front"
        );
        set.record(Metric::PresenceAck, Duration::from_millis(2));
        set.record_service(Metric::PresenceAck, Duration::from_millis(1));
        set.record_service(Metric::Connect, Duration::from_millis(1));
        assert_eq!(
            set.slots.iter().flatten().count(),
            2,
            "connect has no service time"
        );
        let mut into = Latencies::default();
        set.drain_into(&mut into);
        assert!(set.histogram(Metric::PresenceAck).is_none(), "drained");
        assert_eq!(
            into.histogram(Metric::PresenceAck).map(Histogram::len),
            Some(1)
        );
        assert_eq!(
            into.service(Metric::PresenceAck).map(Histogram::len),
            Some(1)
        );
        let mut overall: Vec<_> = Metric::ALL.iter().map(|_| new_histogram()).collect();
        let mut service: Vec<_> = Metric::REQUESTS.iter().map(|_| new_histogram()).collect();
        into.add_to(&mut overall, &mut service);
        assert_eq!(overall[Metric::PresenceAck.index()].len(), 1);
        assert_eq!(
            service[Metric::PresenceAck.service_index().unwrap()].len(),
            1
        );
    }
}
