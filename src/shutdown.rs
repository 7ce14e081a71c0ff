//! The one way a command is asked to stop: Ctrl-C and SIGTERM become a [`Shutdown`], two
//! tokens in order: the first signal cancels `stop` (stop cleanly: the report is still
//! written, the servers drain), a later one cancels `force` (stop waiting at once). `run`,
//! `serve` and `run --processes` all hold one, and a test or another program makes its own
//! and cancels it by hand, as mini-redis's `server::run` takes `ctrl_c()`.
//!
//! A signal repeated within [`REPEAT_WINDOW`] of the first counts once: GNU `timeout`
//! without `--foreground` sends its SIGTERM to us twice, and a terminal sends SIGINT to the
//! whole process group (a parent that forwards it, the child that gets it directly); neither
//! is a person asking twice.

use std::io;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// How long after the first signal a second one is taken for the same request.
pub const REPEAT_WINDOW: Duration = Duration::from_millis(300);

/// Stop, then force: what a command watches to know how far to wind down.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Cancelled by the first signal: stop the load, write what was measured.
    pub stop: CancellationToken,
    /// Cancelled by a later signal: stop waiting for anything (servers closing, lingering).
    pub force: CancellationToken,
}

impl Shutdown {
    /// A shutdown that only its holder triggers (tests, programs with their own signals).
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// A shutdown driven by this process's Ctrl-C and SIGTERM, listened to from now on (so a
    /// signal right after a "running" line counts); `say` prints what each one does.
    pub fn on_signals(say: Messages) -> io::Result<Shutdown> {
        let shutdown = Shutdown::new();
        tokio::spawn(shutdown.clone().follow(Stops::listen()?, say));
        Ok(shutdown)
    }

    /// Cancels `stop` on the first signal of `signals`, then `force` on the first one at
    /// least [`REPEAT_WINDOW`] after it.
    pub async fn follow(self, mut signals: impl Signals, say: Messages) {
        signals.next().await;
        let first = tokio::time::Instant::now();
        if let Some(line) = say.stop {
            eprintln!("{line}");
        }
        self.stop.cancel();
        loop {
            signals.next().await;
            if first.elapsed() >= REPEAT_WINDOW {
                break;
            }
        }
        if let Some(line) = say.force {
            eprintln!("{line}");
        }
        self.force.cancel();
    }
}

/// What a command says on stderr when it starts stopping, and when it is forced.
#[derive(Debug, Clone, Copy, Default)]
pub struct Messages {
    pub stop: Option<&'static str>,
    pub force: Option<&'static str>,
}

/// A source of stop requests, one per `next`: the process's signals, or a test's channel.
pub trait Signals: Send + 'static {
    /// Completes on the next request; never, once there can be none.
    fn next(&mut self) -> impl std::future::Future<Output = ()> + Send;
}

/// The stop signals of the process: Ctrl-C, and SIGTERM where there is one (how containers
/// and CI stop us). Listened to from [`Stops::listen`] on and for as long as they live, so a
/// second signal that comes while the first is being handled is not lost (once listened to,
/// a signal no longer ends the process by itself).
pub struct Stops {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stops {
    pub fn listen() -> io::Result<Stops> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Stops {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Stops {})
    }
}

impl Signals for Stops {
    async fn next(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// A test's signals: one per message sent; none once every sender is gone.
impl Signals for tokio::sync::mpsc::Receiver<()> {
    async fn next(&mut self) {
        if self.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    /// Lets the follower task take what was sent (paused time: no wall-clock wait).
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_signal_stops_and_a_later_one_forces() {
        let (signal, signals) = mpsc::channel(4);
        let shutdown = Shutdown::new();
        tokio::spawn(shutdown.clone().follow(signals, Messages::default()));
        settle().await;
        assert!(!shutdown.stop.is_cancelled());
        signal.send(()).await.unwrap();
        settle().await;
        assert!(shutdown.stop.is_cancelled() && !shutdown.force.is_cancelled());
        tokio::time::sleep(Duration::from_secs(2)).await;
        signal.send(()).await.unwrap();
        settle().await;
        assert!(shutdown.force.is_cancelled());
    }

    /// `timeout` without `--foreground`, or a terminal signalling the process group: the
    /// same request twice in a few milliseconds is one stop, not a forced one.
    #[tokio::test(start_paused = true)]
    async fn a_signal_repeated_within_the_window_counts_once() {
        let (signal, signals) = mpsc::channel(4);
        let shutdown = Shutdown::new();
        tokio::spawn(shutdown.clone().follow(signals, Messages::default()));
        signal.send(()).await.unwrap();
        signal.send(()).await.unwrap();
        settle().await;
        tokio::time::sleep(REPEAT_WINDOW - Duration::from_millis(10)).await;
        signal.send(()).await.unwrap();
        settle().await;
        assert!(shutdown.stop.is_cancelled());
        assert!(
            !shutdown.force.is_cancelled(),
            "repeats within the window are the first signal again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        signal.send(()).await.unwrap();
        settle().await;
        assert!(
            shutdown.force.is_cancelled(),
            "a signal after the window forces"
        );
    }
}
