//! A run split over child processes of this machine (`run --processes P`, `capacity
//! --processes P`): one run past one process's open-file limit. The caller prepares each
//! child's command line (the harness's own binary, shard K/P, one start, its own output
//! directory); here the children are started, their stderr relayed whole line by line,
//! this process's stop and force forwarded to them, and once every one has ended, their
//! summaries merged (`merge`) into the run's report, judged and written as a run in one
//! process is. A library call beside [`run`](super::run), so that the binary only turns
//! its command line into the children's.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;

use tokio::process::{Child, Command};

use super::merge::{self, Merge};
use super::{RunError, RunResult};
use crate::shutdown::Shutdown;

/// What is shown of the children while they run (the binary's live progress of the shards).
pub trait Progress {
    /// Shows the progress as it comes; never ends on its own (it is dropped once every child
    /// has ended).
    fn follow(&mut self) -> Pin<Box<dyn Future<Output = Infallible> + '_>>;
    /// Shows the last of it, once every child has ended and before the merged table.
    fn finish(self: Box<Self>);
}

/// Runs `commands`, one child each (shard K at index K, writing to `merge.dirs[K]`), shows
/// `progress` until all have ended, then merges them. `shutdown.stop` and `shutdown.force`
/// are forwarded to the children, each as a SIGTERM: they stop as `run` does on a signal.
/// A child that fails leaves its shard missing, which the merge reports; only a child that
/// cannot be started at all ends the run unjudged.
pub async fn run(
    commands: Vec<std::process::Command>,
    mut progress: Option<Box<dyn Progress + '_>>,
    merge: &Merge<'_>,
    shutdown: Shutdown,
) -> Result<RunResult, RunError> {
    let supervised = match &mut progress {
        None => supervise(commands, &shutdown).await,
        // The progress goes on until every child has ended.
        Some(progress) => tokio::select! {
            supervised = supervise(commands, &shutdown) => supervised,
            never = progress.follow() => match never {},
        },
    };
    if let Some(progress) = progress {
        progress.finish();
    }
    supervised?;
    merge::merge(merge)
}

/// Starts every child, forwards `shutdown` to them, and waits for all of them.
async fn supervise(
    commands: Vec<std::process::Command>,
    shutdown: &Shutdown,
) -> Result<(), RunError> {
    let mut children: Vec<Child> = Vec::new();
    let mut relays = Vec::new();
    for command in commands {
        let mut command = Command::from(command);
        // The shards' own tables would interleave; the merged one is printed at the end.
        // Their stderr is relayed line by line (`relay_lines`), whole and labelled.
        command
            .stdout(Stdio::null())
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        match command.spawn() {
            Ok(mut child) => {
                if let Some(stderr) = child.stderr.take() {
                    relays.push(tokio::spawn(relay_lines(stderr, children.len())));
                }
                children.push(child);
            }
            Err(err) => {
                let pids: Vec<u32> = children.iter().filter_map(Child::id).collect();
                forward_stop(&pids);
                return Err(RunError::Spawn(format!(
                    "cannot start shard {} of the run: {err}",
                    children.len()
                )));
            }
        }
    }
    let pids: Vec<u32> = children.iter().filter_map(Child::id).collect();
    let waiting = async {
        for child in &mut children {
            let _ = child.wait().await;
        }
        // A child's last lines (its reason for stopping) are printed before the merge.
        for relay in relays {
            let _ = relay.await;
        }
    };
    tokio::pin!(waiting);
    // Each of our two stops (the first, then a later one) is forwarded once.
    for stopped in [&shutdown.stop, &shutdown.force] {
        tokio::select! {
            () = &mut waiting => return Ok(()),
            () = stopped.cancelled() => {
                eprintln!("stopping: forwarding the signal to every shard");
                forward_stop(&pids);
            }
        }
    }
    waiting.await;
    Ok(())
}

/// Copies a shard's stderr to ours one whole line at a time, labelled with the shard. Written
/// straight to a shared terminal, the shards' lines could interleave mid-line: the unbuffered
/// stderr of each process writes a line in several pieces.
async fn relay_lines(stderr: tokio::process::ChildStderr, index: usize) {
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(stderr);
    let mut line = Vec::new();
    // Bytes, not `lines()`: a line that is not UTF-8 must not stop the relay (the shard would
    // then block on a full pipe).
    while matches!(reader.read_until(b'\n', &mut line).await, Ok(n) if n > 0) {
        eprintln!(
            "[shard {index}] {}",
            String::from_utf8_lossy(&line).trim_end()
        );
        line.clear();
    }
}

/// SIGTERM to every child: each stops as `run` does on a signal (the first stops the load and
/// writes the report, the second stops waiting for its servers).
fn forward_stop(pids: &[u32]) {
    for &pid in pids {
        #[cfg(unix)]
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: kill(2) with a child's pid and a valid signal number has no memory effects.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }
}
