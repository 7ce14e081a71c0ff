//! The load driver: keeps the number of live visitors on the closed model's stages, or
//! starts visitors at the open model's arrival rate, until the run's end.
//!
//! The closed model always runs for the whole `duration` (the run's length, as the progress
//! line and the report show it): after the last stage its level holds until the end, even
//! when that level is 0 (validation refuses stages that end at 0 before `duration`). Only the
//! open model may end early: once arrivals are over and every visitor has left.
//!
//! In the closed model a visitor that finishes its behavior is replaced by a new one (the
//! slot starts another iteration, as k6's ramping VUs do); ramping down cancels the newest
//! visitors first. In the open model every arrival runs its behavior once.
//!
//! A shard (see `engine::shard`) keeps its stripe of the global figures: its share of the
//! level and of the arrivals, numbered with global visitor indices.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::shard::Shard;
use crate::scenario::Load;

/// How often the driver adjusts the visitor count.
const TICK: Duration = Duration::from_millis(10);

/// What the driver did, for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DriveStats {
    /// Visitors started.
    pub started: u64,
    /// Open model: arrivals not started because `max_visitors` were alive.
    pub arrivals_dropped: u64,
}

/// Runs visitors as `load` says until `until`, `stop`, or (open model) arrivals are over and
/// every visitor has left; then cancels the rest and waits up to `grace` for them to close,
/// so a run lasts `until` plus the time its visitors take to close (at most `grace`).
/// `spawn_visitor` gets global visitor indices: those of `shard`'s stripe.
pub async fn drive<F, Fut>(
    load: &Load,
    shard: Shard,
    until: Duration,
    grace: Duration,
    stop: &CancellationToken,
    spawn_visitor: F,
) -> DriveStats
where
    F: Fn(u64, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let mut tasks: JoinSet<u64> = JoinSet::new();
    // Live visitors that were not asked to stop, by index (newest last).
    let mut live: BTreeMap<u64, CancellationToken> = BTreeMap::new();
    let mut stats = DriveStats::default();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let elapsed = start.elapsed();
        if elapsed >= until {
            break;
        }
        while let Some(done) = tasks.try_join_next() {
            if let Ok(index) = done {
                live.remove(&index);
            }
        }
        let wanted = match load {
            Load::Stages(_) => visitors_wanted(load, elapsed, shard),
            Load::ArrivalRate { per_second, max_visitors, for_ } => {
                let due = arrivals_due(*per_second, *for_, elapsed, shard);
                let new = due.saturating_sub(stats.started + stats.arrivals_dropped);
                let cap = shard.share(u64::from(*max_visitors)) as usize;
                let room = cap.saturating_sub(live.len()) as u64;
                stats.arrivals_dropped += new.saturating_sub(room);
                live.len() + new.min(room) as usize
            }
        };
        while live.len() > wanted {
            if let Some((_, token)) = live.pop_last() {
                token.cancel();
            }
        }
        if wanted == 0 && tasks.is_empty() && arrivals_over(load, elapsed) {
            break;
        }
        while live.len() < wanted {
            let index = shard.global(stats.started);
            stats.started += 1;
            let token = stop.child_token();
            // Boxed before it is wrapped: an async block that awaits a captured future keeps
            // room for it twice (the capture and the pinned awaitee), doubling every task.
            let visitor = Box::pin(spawn_visitor(index, token.clone()));
            tasks.spawn(async move {
                visitor.await;
                index
            });
            live.insert(index, token);
        }
    }
    for token in live.values() {
        token.cancel();
    }
    if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!(remaining = tasks.len(), "visitors did not close within the grace period; aborting them");
        tasks.shutdown().await;
    }
    stats
}

/// Closed model: how many visitors `shard` keeps alive `elapsed` into the run.
pub(crate) fn visitors_wanted(load: &Load, elapsed: Duration, shard: Shard) -> usize {
    shard.share(u64::from(load.target_at(elapsed).unwrap_or(0))) as usize
}

/// Open model: how many of `shard`'s arrivals are due `elapsed` into the run. Arrival `i` of
/// the one global sequence is due at `i / per_second`, whichever shard runs it.
pub(crate) fn arrivals_due(per_second: f64, for_: Duration, elapsed: Duration, shard: Shard) -> u64 {
    let arrival_time = elapsed.min(for_).as_secs_f64();
    shard.share((arrival_time * per_second) as u64)
}

/// True when the open model starts no more visitors from `elapsed` on; the run then ends
/// early, once its visitors left. Never for the closed model, which runs to the end.
fn arrivals_over(load: &Load, elapsed: Duration) -> bool {
    matches!(load, Load::ArrivalRate { for_, .. } if elapsed >= *for_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Stage;

    /// A visitor that stays until it is told to leave.
    async fn stay(cancel: CancellationToken) {
        cancel.cancelled().await;
    }

    #[tokio::test]
    async fn the_closed_model_runs_until_the_end_even_after_its_stages() {
        let ms = Duration::from_millis;
        // Up to 2 visitors and back to 0 within 100 ms, in a run of 400 ms.
        let load = Load::Stages(vec![Stage { from: 0, to: 2, over: ms(50) }, Stage { from: 2, to: 0, over: ms(50) }]);
        let start = Instant::now();
        let stats =
            drive(&load, Shard::WHOLE, ms(400), ms(100), &CancellationToken::new(), |_, cancel| stay(cancel)).await;
        assert!(start.elapsed() >= ms(400), "the run ended after {:?}", start.elapsed());
        assert!(stats.started >= 1, "{stats:?}");
    }

    #[tokio::test]
    async fn the_open_model_ends_once_arrivals_are_over_and_visitors_left() {
        let ms = Duration::from_millis;
        let load = Load::ArrivalRate { per_second: 100.0, max_visitors: 10, for_: ms(50) };
        let start = Instant::now();
        let stats =
            drive(&load, Shard::WHOLE, Duration::from_secs(30), ms(100), &CancellationToken::new(), |_, _| async {})
                .await;
        assert!(start.elapsed() < Duration::from_secs(10), "the run lasted {:?}", start.elapsed());
        assert!(stats.started >= 1, "{stats:?}");
    }
}
