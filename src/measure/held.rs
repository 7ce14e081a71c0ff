//! The series of the Prometheus export, as a scraper must first see them.
//!
//! `rate()` and `increase()` count from a series' first sample: a counter whose first scrape
//! already reads 99 shows no increase for those 99, ever (issue 23: "lost on s2" stayed at
//! zero while s2 lost its sessions). So every counter and histogram the exporter registers,
//! at the start or when a new label value turns up (a server the harness has just learned
//! of), is held at zero until one scrape has rendered it; what it counted meanwhile is added
//! after that scrape, and shows one scrape later instead of never.
//!
//! A gauge is the opposite: registered with its first value, so that a scrape never reads a
//! 0 that nothing measured (the resident memory of a process is never 0).

use hdrhistogram::Histogram;
use metrics::{Key, Level, Metadata, Recorder as _};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::recorder::new_histogram;

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// A counter series, and what it holds until a scrape has shown it at zero.
pub(super) struct HeldCounter {
    counter: metrics::Counter,
    /// Scrapes rendered when the series was registered (it is in every later one).
    registered: u64,
    held: u64,
}

impl HeldCounter {
    /// Registers `key` at zero; `shown` is the number of scrapes rendered so far.
    pub(super) fn register(recorder: &PrometheusRecorder, key: &Key, shown: u64) -> HeldCounter {
        HeldCounter {
            counter: recorder.register_counter(key, &METADATA),
            registered: shown,
            held: 0,
        }
    }

    /// Adds `n`, or holds it while no scrape has rendered the series.
    pub(super) fn add(&mut self, n: u64, shown: u64) {
        if shown > self.registered {
            let n = n + std::mem::take(&mut self.held);
            if n > 0 {
                self.counter.increment(n);
            }
        } else {
            self.held += n;
        }
    }
}

/// A histogram series (seconds) fed with HdrHistograms of microseconds, held as a counter is.
pub(super) struct HeldHistogram {
    histogram: metrics::Histogram,
    registered: u64,
    held: Option<Histogram<u64>>,
}

impl HeldHistogram {
    pub(super) fn register(recorder: &PrometheusRecorder, key: &Key, shown: u64) -> HeldHistogram {
        HeldHistogram {
            histogram: recorder.register_histogram(key, &METADATA),
            registered: shown,
            held: None,
        }
    }

    /// Adds `samples`, or holds them while no scrape has rendered the series.
    pub(super) fn add(&mut self, samples: &Histogram<u64>, shown: u64) {
        if shown > self.registered {
            if let Some(held) = self.held.take() {
                record_micros(&self.histogram, &held);
            }
            record_micros(&self.histogram, samples);
        } else if !samples.is_empty() {
            let held = self.held.get_or_insert_with(new_histogram);
            held.add(samples).expect("histograms grow to fit");
        }
    }
}

/// A gauge, exported from the first value it is given.
pub(super) struct LazyGauge {
    name: &'static str,
    gauge: Option<metrics::Gauge>,
}

impl LazyGauge {
    pub(super) fn new(name: &'static str) -> LazyGauge {
        LazyGauge { name, gauge: None }
    }

    pub(super) fn set(&mut self, recorder: &PrometheusRecorder, value: f64) {
        let name = self.name;
        let gauge = self.gauge.get_or_insert_with(|| {
            recorder.register_gauge(&Key::from_static_name(name), &METADATA)
        });
        gauge.set(value);
    }
}

/// Adds an HdrHistogram of microseconds to a Prometheus histogram in seconds.
fn record_micros(into: &metrics::Histogram, histogram: &Histogram<u64>) {
    for value in histogram.iter_recorded() {
        let count = usize::try_from(value.count_at_value()).unwrap_or(usize::MAX);
        into.record_many(value.value_iterated_to() as f64 / 1e6, count);
    }
}
