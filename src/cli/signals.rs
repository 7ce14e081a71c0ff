//! Ctrl-C and SIGTERM, in order: the first asks a command to stop cleanly, the second to
//! stop at once. Both are listened to from the moment [`Stops::listen`] is called and for
//! as long as the listener lives, so a second signal that comes while the first is being
//! handled is not lost (once listened to, a signal no longer ends the process by itself).

use std::io;

/// The stop signals of the process.
pub struct Stops {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stops {
    /// Starts listening to Ctrl-C, and to SIGTERM where there is one (how containers and CI
    /// stop us).
    pub fn listen() -> io::Result<Stops> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Stops { interrupt: signal(SignalKind::interrupt())?, terminate: signal(SignalKind::terminate())? })
        }
        #[cfg(not(unix))]
        Ok(Stops {})
    }

    /// Completes on the next signal.
    pub async fn next(&mut self) {
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
