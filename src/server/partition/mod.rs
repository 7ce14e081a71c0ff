//! `serve --processes P`: the reference server over P processes, partitioned by visitor
//! group, so that each process has its own open-file budget.
//!
//! Each child process is a full cluster (instances, shared state, all of docs/protocol.md) for
//! the groups it owns: group `G` belongs to process `G mod P` (the group read as a decimal
//! number, of any length). Visitors and agents of one group always meet in one process, so
//! nothing needs to be shared between processes. The parent holds no sessions: it runs
//! the one directory, which answers the admin routes and `/metrics` for every group by
//! forwarding to the owner, and `/locate` itself, from a copy of each owner's placement that
//! a change feed from the owner keeps current ([`front`], [`feed`], [`views`]).
//!
//! Children are this same binary started with a hidden `serve --partition-child SPEC`
//! ([`child`]); they name their instances `p{index}-s1`, `p{index}-s2`, ... so names stay
//! unique, and they shut down when their stdin closes: when the parent drops them, exits
//! or is killed, whatever the way.

pub mod child;
pub(crate) mod feed;
mod front;
mod relabel;
mod views;

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, ChildStdin, Command};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::views::Views;
use super::settings::Settings;
use crate::net::serve;

/// How long a child gets to start and print its directory address.
const CHILD_START: Duration = Duration::from_secs(20);

/// The line a child prints on stdout once it serves: `directory http://HOST:PORT`.
pub const DIRECTORY_LINE: &str = "directory ";

/// The process that owns `group`: `group mod processes`, digit by digit, so groups longer
/// than any integer type still have an owner. `None` for a group that is not digits.
pub fn owner(group: &str, processes: usize) -> Option<usize> {
    if group.is_empty() || processes == 0 {
        return None;
    }
    group.bytes().try_fold(0usize, |rest, digit| {
        digit
            .is_ascii_digit()
            .then(|| (rest * 10 + usize::from(digit - b'0')) % processes)
    })
}

/// Which share of the groups one process serves: those `G` with `G mod processes == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// This process's number, from 0.
    pub index: usize,
    pub processes: usize,
}

impl Part {
    /// Whether `group` is served here.
    pub fn owns(&self, group: &str) -> bool {
        owner(group, self.processes) == Some(self.index)
    }

    /// What this process's instance names start with.
    pub fn names(&self) -> String {
        format!("p{}-s", self.index)
    }
}

/// What a child is told on its command line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildSpec {
    pub part: Part,
    pub settings: Settings,
}

/// Why a partitioned server could not start.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error("--processes must be at least 1")]
    NoProcess,
    #[error("invalid settings: {0}")]
    InvalidSettings(String),
    #[error("cannot start server process {index}: {source}")]
    Spawn {
        index: usize,
        source: std::io::Error,
    },
    #[error("server process {index} did not print its directory address: {reason}")]
    NoAddress { index: usize, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// One child process, as the parent holds it.
struct Process {
    child: Child,
    /// Closing it (dropping) tells the child to shut down.
    stdin: Option<ChildStdin>,
}

/// A running partitioned server: the children and the directory in front of them.
pub struct Partition {
    processes: Vec<Process>,
    directory_addr: SocketAddr,
    stop: CancellationToken,
    directory: tokio::task::JoinHandle<()>,
    /// The placement feeds the directory follows, one per child.
    feeds: TaskTracker,
    /// How long a child may take to shut down: its drain window and grace.
    bound: Duration,
}

impl Partition {
    /// Starts `processes` children of `program` (this binary) and the directory on
    /// `settings.directory_port`. Children that started are stopped if a later one fails.
    pub async fn start(
        program: &std::path::Path,
        settings: Settings,
        processes: usize,
    ) -> Result<Partition, PartitionError> {
        if processes == 0 {
            return Err(PartitionError::NoProcess);
        }
        settings
            .validate()
            .map_err(|err| PartitionError::InvalidSettings(err.to_string()))?;
        let mut started = Vec::with_capacity(processes);
        let mut bases = Vec::with_capacity(processes);
        for index in 0..processes {
            let spec = ChildSpec {
                part: Part { index, processes },
                settings: child_settings(&settings, index),
            };
            let (process, base) = spawn(program, &spec).await?;
            started.push(process);
            bases.push(base);
        }
        let addr = SocketAddr::new(settings.host, settings.directory_port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| PartitionError::Bind { addr, source })?;
        let directory_addr = listener
            .local_addr()
            .map_err(|source| PartitionError::Bind { addr, source })?;
        let stop = CancellationToken::new();
        let views = Arc::new(Views::new(processes));
        let feeds = TaskTracker::new();
        for (index, base) in bases.iter().enumerate() {
            feeds.spawn(feed::follow(
                base.clone(),
                index,
                views.clone(),
                stop.clone(),
            ));
        }
        feeds.close();
        // Until every copy is in, `/locate` is forwarded: right, only slower.
        if !views.ready(CHILD_START).await {
            tracing::warn!(
                "not every server process sent its placement; forwarding /locate for those"
            );
        }
        let router = front::router(Arc::new(front::Children::new(bases, views)));
        let directory = tokio::spawn(serve::serve(
            listener,
            router,
            stop.clone(),
            settings.http_bounds(),
        ));
        let bound = settings.drain_window + settings.shutdown_grace + Duration::from_secs(1);
        Ok(Partition {
            processes: started,
            directory_addr,
            stop,
            directory,
            feeds,
            bound,
        })
    }

    /// `http://HOST:PORT` of the directory (`/locate`, `/admin/*`, `/metrics`).
    pub fn directory_url(&self) -> String {
        format!("http://{}", self.directory_addr)
    }

    /// Process ids of the children, in process order.
    pub fn child_ids(&self) -> Vec<Option<u32>> {
        self.processes
            .iter()
            .map(|process| process.child.id())
            .collect()
    }

    /// Stops the directory, asks every child to drain and exit, and waits for them for at
    /// most their drain window and grace; a child still running then is killed.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        for process in &mut self.processes {
            process.stdin = None;
        }
        for process in &mut self.processes {
            if tokio::time::timeout(self.bound, process.child.wait())
                .await
                .is_err()
            {
                tracing::warn!("a server process did not shut down within its grace; killing it");
                let _ = process.child.kill().await;
            }
        }
        let _ = (&mut self.directory).await;
        self.feeds.wait().await;
    }
}

/// A child's settings: its own directory on a free port, its own instance ports.
fn child_settings(settings: &Settings, index: usize) -> Settings {
    let offset = u16::try_from(index * 100).unwrap_or(u16::MAX);
    let base_port = match settings.base_port {
        0 => 0,
        base => base.saturating_add(offset),
    };
    Settings {
        directory_port: 0,
        base_port,
        ..settings.clone()
    }
}

/// Starts one child and reads the directory address it prints.
async fn spawn(
    program: &std::path::Path,
    spec: &ChildSpec,
) -> Result<(Process, String), PartitionError> {
    let index = spec.part.index;
    let encoded = serde_json::to_string(spec).map_err(|err| PartitionError::Spawn {
        index,
        source: err.into(),
    })?;
    let mut child = Command::new(program)
        .args(["serve", "--partition-child", &encoded])
        .args([
            "--threads",
            &crate::runtime::threads_per_process(spec.part.processes).to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| PartitionError::Spawn { index, source })?;
    let stdin = child.stdin.take();
    let Some(stdout) = child.stdout.take() else {
        return Err(PartitionError::NoAddress {
            index,
            reason: "no stdout".to_owned(),
        });
    };
    let mut lines = BufReader::new(stdout).lines();
    let read = async {
        while let Some(line) = lines.next_line().await? {
            if let Some(base) = line.strip_prefix(DIRECTORY_LINE) {
                return Ok(Some(base.trim().to_owned()));
            }
        }
        Ok::<_, std::io::Error>(None)
    };
    let base = match tokio::time::timeout(CHILD_START, read).await {
        Ok(Ok(Some(base))) => base,
        Ok(Ok(None)) => {
            return Err(PartitionError::NoAddress {
                index,
                reason: "it exited".to_owned(),
            })
        }
        Ok(Err(err)) => {
            return Err(PartitionError::NoAddress {
                index,
                reason: err.to_string(),
            })
        }
        Err(_) => {
            return Err(PartitionError::NoAddress {
                index,
                reason: format!("nothing within {CHILD_START:?}"),
            })
        }
    };
    Ok((Process { child, stdin }, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_always_lands_on_the_same_process() {
        assert_eq!(owner("7", 2), Some(1));
        assert_eq!(owner("8", 2), Some(0));
        assert_eq!(owner("007", 3), owner("7", 3));
        // Longer than u128: still `mod P`, computed digit by digit.
        let long = "123456789012345678901234567890123456789012";
        assert_eq!(owner(long, 7), owner(long, 7));
        assert_eq!(owner(long, 10), Some(2));
        for group in 0..100u32 {
            assert_eq!(owner(&group.to_string(), 4), Some(group as usize % 4));
        }
    }

    #[test]
    fn groups_that_are_not_digits_have_no_owner() {
        assert_eq!(owner("", 2), None);
        assert_eq!(owner("1a", 2), None);
        assert_eq!(owner("-1", 2), None);
        assert_eq!(owner("1", 0), None);
    }

    #[test]
    fn children_get_free_directory_ports_and_their_own_instance_ports() {
        let settings = Settings {
            directory_port: 9000,
            base_port: 9100,
            ..Settings::default()
        };
        let second = child_settings(&settings, 1);
        assert_eq!((second.directory_port, second.base_port), (0, 9200));
        assert_eq!(child_settings(&Settings::default(), 3).base_port, 0);
    }
}
