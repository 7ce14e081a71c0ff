//! A set of latency figures as summary.json carries them (`schema::LatencySet`), built from
//! histograms: percentiles by metric, the service times of the requests, and both as encoded
//! histograms so that shards merge exactly. The run's overall figures are one such set, and
//! each behavior's (`behaviors` in summary.json) another, built and merged by the same code.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::encoded;
use crate::measure::{Latencies, Metric};
use crate::schema::{LatencySet, LatencySummary};

impl LatencySet {
    /// The figures of `latencies` and `service` (by metric name) over a run of `seconds`;
    /// empty histograms are left out.
    pub fn new<'a>(
        latencies: impl IntoIterator<Item = (&'a str, &'a Histogram<u64>)>,
        service: impl IntoIterator<Item = (&'a str, &'a Histogram<u64>)>,
        seconds: f64,
    ) -> LatencySet {
        let (metrics, histograms) = summarize(latencies, seconds);
        let (service, service_histograms) = summarize(service, seconds);
        LatencySet {
            metrics,
            service,
            histograms,
            service_histograms,
        }
    }

    /// The figures of one behavior's recorded latencies.
    pub fn of(set: &Latencies, seconds: f64) -> LatencySet {
        let latencies = Metric::ALL
            .iter()
            .filter_map(|metric| Some((metric.name(), set.histogram(*metric)?)));
        let service = Metric::REQUESTS
            .iter()
            .filter_map(|metric| Some((metric.name(), set.service(*metric)?)));
        LatencySet::new(latencies, service, seconds)
    }
}

type Figures = (BTreeMap<String, LatencySummary>, BTreeMap<String, String>);

fn summarize<'a>(
    histograms: impl IntoIterator<Item = (&'a str, &'a Histogram<u64>)>,
    seconds: f64,
) -> Figures {
    histograms
        .into_iter()
        .filter(|(_, histogram)| !histogram.is_empty())
        .map(|(name, histogram)| {
            let summary = LatencySummary::from_histogram(histogram, seconds);
            (
                (name.to_owned(), summary),
                (name.to_owned(), encoded::encode(histogram)),
            )
        })
        .unzip()
}
