//! The machine's pace: how long one fixed piece of work takes on this machine while the run
//! goes, so that a comparison of runs made minutes apart can tell a slower server from a
//! slower machine.
//!
//! Why: a virtual machine does not run at one speed. Its host's other guests, and the host's
//! clock, make the same code faster or slower from one minute to the next. On this project's
//! 2-core machine, with nothing else running, ten reruns of one build spent 1.8 to 3.2 CPU
//! seconds on the same 14,490 messages, and `presence_ack`'s p50 followed (166 to 315 us):
//! a latency gate that judges a run against a baseline made minutes before reads that drift as
//! a regression. `compare` scales each run's latencies to one pace by the cold wakeup
//! (`report::pace` says why that part).
//!
//! One thread of its own, off the runtime: every [`PROBE_EVERY`] it times the work once. A
//! probe the scheduler interrupts only takes longer, never shorter, so each second's fastest
//! probe is that second's pace, and the run's pace is the median second's (each second goes
//! into a histogram per part, so a run of a day keeps no more than a minute's). The work has three
//! parts, timed apart since a machine can slow down in one and not the others: a walk over a
//! buffer the size of a core's cache share (arithmetic, branches and memory), datagrams
//! through a socket pair (system calls), and messages to a sleeping thread and back (waking
//! a thread, which a virtual machine does through its host). About 0.5 ms, ten times a
//! second: half a percent of one core.

use std::hint::black_box;
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::schema::Pace;

/// How often the work is timed.
pub const PROBE_EVERY: Duration = Duration::from_millis(100);
/// Steps of the walk over the buffer.
const WALK_STEPS: usize = 150_000;
/// The buffer walked: 256 KiB of `u64`, a power of two so a step's index is a mask.
const BUFFER_WORDS: usize = 32 * 1024;
/// Datagrams sent to the probe's own socket and read back, one system call each way.
const DATAGRAMS: usize = 40;
/// Messages to the partner thread and back, each timed.
const ROUND_TRIPS: usize = 9;

/// The running probe; [`PaceProbe::stop`] ends it and answers the run's pace.
pub struct PaceProbe {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Option<Seconds>>,
}

/// Each part's pace of every whole second so far, in [`UNITS_PER_US`]ths of a microsecond.
/// Counts of `u32` hold 136 years of seconds; the four stay under 128 KiB where `u64` counts
/// of nanoseconds took 575 KiB (heaptrack, BENCHMARKS.md).
struct Seconds([Histogram<u32>; 4]);

/// The histograms' resolution: 10 ns, exact below 20 us (a warm wakeup takes about 4 us), and
/// 3 significant digits above.
const UNITS_PER_US: f64 = 100.0;

impl Seconds {
    fn new() -> Option<Seconds> {
        let part = || Histogram::new(3).ok();
        Some(Seconds([part()?, part()?, part()?, part()?]))
    }

    fn add(&mut self, second: &Pace) {
        let parts = [
            second.compute_us,
            second.syscalls_us,
            second.wakeup_us,
            second.cold_wakeup_us,
        ];
        for (histogram, us) in self.0.iter_mut().zip(parts) {
            // Resizes itself: no value is out of its range.
            let _ = histogram.record((us * UNITS_PER_US).round().max(1.0) as u64);
        }
    }

    /// The median second of each part; `None` before a whole second was timed.
    fn median(&self) -> Option<Pace> {
        let [compute, syscalls, wakeup, cold] = &self.0;
        if compute.is_empty() {
            return None;
        }
        let us = |part: &Histogram<u32>| part.value_at_quantile(0.5) as f64 / UNITS_PER_US;
        Some(Pace {
            compute_us: us(compute),
            syscalls_us: us(syscalls),
            wakeup_us: us(wakeup),
            cold_wakeup_us: us(cold),
        })
    }
}

impl PaceProbe {
    /// Starts the probe's thread; `None` when the machine will not give it one (the run goes on
    /// without a pace, and is compared without scaling).
    pub fn start() -> Option<PaceProbe> {
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pace-probe".into())
            .spawn(move || probe(&stopped))
            .ok()?;
        Some(PaceProbe { stop, thread })
    }

    /// Ends the probe: the median second of each part; `None` before a whole second was
    /// timed.
    pub fn stop(self) -> Option<Pace> {
        // A send fails only if the thread already ended; either way it ends now.
        let _ = self.stop.send(());
        self.thread.join().ok()??.median()
    }
}

/// Times the work every [`PROBE_EVERY`] until told to stop: each whole second's fastest of
/// each part.
fn probe(stopped: &mpsc::Receiver<()>) -> Option<Seconds> {
    let mut work = Work::new()?;
    let mut seconds = Seconds::new()?;
    let mut fastest: Option<Pace> = None;
    let mut second = Instant::now();
    loop {
        let Some(timed) = work.run() else {
            return Some(seconds);
        };
        fastest = Some(fastest.map_or(timed, |f| Pace {
            compute_us: f.compute_us.min(timed.compute_us),
            syscalls_us: f.syscalls_us.min(timed.syscalls_us),
            wakeup_us: f.wakeup_us.min(timed.wakeup_us),
            cold_wakeup_us: f.cold_wakeup_us.min(timed.cold_wakeup_us),
        }));
        if second.elapsed() >= Duration::from_secs(1) {
            if let Some(fastest) = fastest.take() {
                seconds.add(&fastest);
            }
            second = Instant::now();
        }
        match stopped.recv_timeout(PROBE_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return Some(seconds),
        }
    }
}

/// The median of `values` (the upper middle one of an even count); `None` when empty.
fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

/// The fixed work, with what it keeps between probes.
struct Work {
    buffer: Vec<u64>,
    sockets: (UnixDatagram, UnixDatagram),
    /// The partner thread: it answers each message on `ping` with one on `pong`, and ends when
    /// `ping` closes (the work is dropped).
    ping: mpsc::Sender<()>,
    pong: mpsc::Receiver<()>,
}

impl Work {
    fn new() -> Option<Work> {
        let (ping, pinged) = mpsc::channel::<()>();
        let (ponged, pong) = mpsc::channel();
        std::thread::Builder::new()
            .name("pace-partner".into())
            .spawn(
                move || {
                    while pinged.recv().is_ok() && ponged.send(()).is_ok() {}
                },
            )
            .ok()?;
        Some(Work {
            buffer: vec![1; BUFFER_WORDS],
            sockets: UnixDatagram::pair().ok()?,
            ping,
            pong,
        })
    }

    /// Times each part once; `None` when the partner thread is gone.
    fn run(&mut self) -> Option<Pace> {
        let started = Instant::now();
        black_box(walk(black_box(&mut self.buffer)));
        let walked = Instant::now();
        let (to, from) = &self.sockets;
        let mut read = [0u8; 64];
        for i in 0..DATAGRAMS {
            // Both ends are this thread's: a datagram sent is there to read, no waiting. A
            // failed call costs its system call all the same, which is what is timed.
            let _ = to.send(&i.to_le_bytes());
            let _ = from.recv(&mut read);
        }
        let sent = Instant::now();
        let mut trips = [0.0; ROUND_TRIPS];
        for trip in &mut trips {
            let asked = Instant::now();
            self.ping.send(()).ok()?;
            self.pong.recv().ok()?;
            *trip = asked.elapsed().as_secs_f64() * 1e6;
        }
        let micros = |from: Instant, to: Instant| (to - from).as_secs_f64() * 1e6;
        let cold_wakeup_us = trips[0];
        Some(Pace {
            compute_us: micros(started, walked),
            syscalls_us: micros(walked, sent),
            wakeup_us: median(&mut trips)?,
            cold_wakeup_us,
        })
    }
}

/// A xorshift walk over `buffer`, adding into it and branching on what it finds.
fn walk(buffer: &mut [u64]) -> u64 {
    let mask = buffer.len() - 1;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut sum = 0u64;
    for _ in 0..WALK_STEPS {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let word = &mut buffer[(x as usize) & mask];
        *word = word.wrapping_add(x);
        if *word & 1 == 0 {
            sum = sum.wrapping_add(*word);
        } else {
            sum ^= x;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_nine_round_trips_is_their_wakeup() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(3.0));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn the_median_second_is_the_pace_and_an_hour_keeps_no_more_than_a_minute() {
        let pace = |s: f64| Pace {
            compute_us: 150.0 + s,
            syscalls_us: 40.0 + s / 10.0,
            wakeup_us: 20.0,
            cold_wakeup_us: 60.0 - s / 100.0,
        };
        let mut seconds = Seconds::new().unwrap();
        assert_eq!(seconds.median(), None, "no whole second yet");
        // The middle second of five, whatever their order.
        for s in [4.0, 0.0, 3.0, 1.0, 2.0] {
            seconds.add(&pace(s));
        }
        let median = seconds.median().unwrap();
        assert!((median.compute_us - 152.0).abs() < 0.2, "{median:?}");
        assert!((median.syscalls_us - 40.2).abs() < 0.05, "{median:?}");
        assert!((median.wakeup_us - 20.0).abs() < 0.02, "{median:?}");
        assert!((median.cold_wakeup_us - 59.98).abs() < 0.06, "{median:?}");
        let size =
            |seconds: &Seconds| -> usize { seconds.0.iter().map(Histogram::distinct_values).sum() };
        let after_a_minute = size(&seconds);
        for s in 0..3_600 {
            seconds.add(&pace(f64::from(s % 5)));
        }
        assert_eq!(size(&seconds), after_a_minute, "the same buckets, counted");
        // This machine's pace (BENCHMARKS.md), with a cold wakeup of 10 ms besides: the four
        // hold well under the 575 KiB that u64 counts of nanoseconds took.
        seconds.add(&Pace {
            compute_us: 451.0,
            syscalls_us: 55.7,
            wakeup_us: 4.3,
            cold_wakeup_us: 10_000.0,
        });
        let bytes = size(&seconds) * std::mem::size_of::<u32>();
        assert!(bytes < 128 * 1024, "{bytes} bytes");
    }

    #[test]
    fn a_probe_stopped_before_a_second_has_no_pace() {
        let probe = PaceProbe::start().expect("a thread");
        assert_eq!(probe.stop(), None);
    }

    #[test]
    fn the_work_does_the_same_each_time() {
        // The same walk from the same buffer gives the same answer: the work is fixed, so its
        // time can only be the machine's.
        let (mut a, mut b) = (vec![1; BUFFER_WORDS], vec![1; BUFFER_WORDS]);
        assert_eq!(walk(&mut a), walk(&mut b));
        assert_eq!(a, b);
        let mut work = Work::new().expect("a socket pair");
        let pace = work.run().expect("the partner answers");
        assert!(pace.compute_us > 0.0 && pace.syscalls_us > 0.0 && pace.wakeup_us > 0.0);
        let mut left = [0u8; 8];
        work.sockets.1.set_nonblocking(true).unwrap();
        assert!(
            work.sockets.1.recv(&mut left).is_err(),
            "every datagram sent was read back"
        );
    }
}
