//! Requests waiting for their answer right now, and how long the oldest has waited: the live
//! figure that tells a stalled server (many waiting, growing age) from an idle one (no
//! samples because nothing was asked). `msgs/s 0  p99 0us` alone reads the same for both.
//!
//! Counting must stay cheap on the hot path, so there is no set of waiting requests: each
//! start adds one to the slot of its start time (100 ms slots in a ring of 128 per lane),
//! and its end takes it off the same slot of the same lane (whichever thread it ends on), so
//! a slot's count is never negative and its start is renewed whenever it empties. The
//! collector reads the oldest slot that is not empty. A slot reused while a request 12.8 s
//! older still waits in it keeps the older start until it empties, so the age shown is never
//! younger than the truth by more than one slot.

use std::time::{Duration, Instant};

use super::recorder::Recorder;

/// Width of a slot: the precision of the oldest request's age.
const SLOT: Duration = Duration::from_millis(100);
/// Slots per ring: 12.8 s of distinct starts before slots are shared.
const SLOTS: usize = 128;

/// One lane's waiting requests, by start slot.
#[derive(Clone)]
pub(crate) struct WaitingRing {
    /// (start slot number since the recorder's epoch, requests from it still waiting).
    slots: Box<[(u64, i64); SLOTS]>,
}

impl Default for WaitingRing {
    fn default() -> Self {
        WaitingRing {
            slots: Box::new([(0, 0); SLOTS]),
        }
    }
}

impl WaitingRing {
    fn start(&mut self, slot: u64) {
        let (start, count) = &mut self.slots[slot as usize % SLOTS];
        if *count == 0 {
            *start = slot;
        }
        *count += 1;
    }

    fn end(&mut self, slot: u64) {
        self.slots[slot as usize % SLOTS].1 -= 1;
    }
}

/// Requests waiting now, over all lanes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitingNow {
    pub requests: u64,
    /// How long the oldest has waited at least (zero when none waits).
    pub oldest: Duration,
}

/// Sums `rings` (one per lane) at `now`, with slots counted from `epoch`.
pub(crate) fn sum<'a>(
    rings: impl Iterator<Item = &'a WaitingRing>,
    epoch: Instant,
    now: Instant,
) -> WaitingNow {
    let mut requests = 0;
    let mut oldest_slot: Option<u64> = None;
    for (start, count) in rings
        .flat_map(|ring| ring.slots.iter())
        .filter(|(_, count)| *count > 0)
    {
        requests += *count as u64;
        oldest_slot = Some(oldest_slot.map_or(*start, |oldest| oldest.min(*start)));
    }
    let oldest = oldest_slot.map_or(Duration::ZERO, |slot| {
        // The slot's end: the request started at most then, so it waited at least this long.
        let started = epoch + SLOT * (slot as u32 + 1);
        now.saturating_duration_since(started)
    });
    WaitingNow { requests, oldest }
}

/// A request waiting for its answer; dropping it (answered, timed out, lost, cancelled)
/// takes it off the count.
pub struct Waiting {
    recorder: Recorder,
    lane: usize,
    slot: u64,
}

impl Waiting {
    /// Counts a request starting now in lane `lane`.
    pub(crate) fn new(recorder: &Recorder, lane: usize, epoch: Instant) -> Waiting {
        let slot = (epoch.elapsed().as_millis() / SLOT.as_millis()) as u64;
        recorder.with_waiting(lane, |ring| ring.start(slot));
        Waiting {
            recorder: recorder.clone(),
            lane,
            slot,
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let slot = self.slot;
        self.recorder.with_waiting(self.lane, |ring| ring.end(slot));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_waiting_request_is_found_across_slots_and_lanes() {
        let epoch = Instant::now();
        let mut a = WaitingRing::default();
        let mut b = WaitingRing::default();
        a.start(3);
        a.start(40);
        b.start(40);
        let now = epoch + Duration::from_secs(5);
        let waiting = sum([&a, &b].into_iter(), epoch, now);
        assert_eq!(waiting.requests, 3);
        assert_eq!(
            waiting.oldest,
            Duration::from_millis(5000 - 400),
            "slot 3 ended at 400 ms"
        );
        a.end(3);
        let waiting = sum([&a, &b].into_iter(), epoch, now);
        assert_eq!(waiting.requests, 2);
        assert_eq!(waiting.oldest, Duration::from_millis(5000 - 4100));
        a.end(40);
        b.end(40);
        assert_eq!(sum([&a, &b].into_iter(), epoch, now), WaitingNow::default());
    }

    #[test]
    fn an_emptied_slot_starts_afresh_when_the_ring_comes_round() {
        let epoch = Instant::now();
        let mut ring = WaitingRing::default();
        ring.start(2);
        ring.end(2);
        ring.start(2 + SLOTS as u64);
        let now = epoch + Duration::from_millis(100 * (3 + SLOTS as u64));
        assert_eq!(
            sum(std::iter::once(&ring), epoch, now).oldest,
            Duration::ZERO,
            "not the earlier start"
        );
    }

    #[test]
    fn a_request_ended_on_another_thread_leaves_nothing_waiting() {
        let recorder = Recorder::new();
        let waiting = std::thread::scope(|scope| {
            scope.spawn(|| recorder.waiting()).join().expect("no panic")
        });
        assert_eq!(recorder.waiting_now().requests, 1);
        drop(waiting);
        assert_eq!(recorder.waiting_now(), WaitingNow::default());
    }

    #[test]
    fn a_reused_slot_keeps_its_older_start() {
        let epoch = Instant::now();
        let mut ring = WaitingRing::default();
        ring.start(1);
        ring.start(1 + SLOTS as u64);
        let now = epoch + Duration::from_secs(20);
        assert_eq!(
            sum(std::iter::once(&ring), epoch, now).oldest,
            Duration::from_millis(20_000 - 200)
        );
    }
}
