//! The `Cluster` handle: starts the directory and the instances, scales in and out, kills,
//! and shuts everything down ("cancel, then await", with a bound on the await).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::directory;
use super::discovery::Membership;
use super::error::ServerError;
use super::instance::{Instance, InstanceInfo};
use super::metrics::{self, ClusterCounters};
use super::partition::Part;
use super::settings::Settings;
use super::state::{self, Shared};
use crate::net::serve;

/// What the instances of one cluster share.
#[derive(Clone)]
pub struct Context {
    pub settings: Arc<Settings>,
    pub state: Arc<Shared>,
    pub membership: Arc<Membership>,
    /// Every task of the cluster: listeners, sessions, drain timers.
    pub tracker: TaskTracker,
    /// Cancelled when the shutdown's grace is over: every task of the cluster still running
    /// ends at once, whatever it waits for (a client that reads nothing, for one).
    pub closing: CancellationToken,
    /// Drains, kills and scale-outs, for `/metrics`.
    pub counters: Arc<ClusterCounters>,
}

impl Context {
    /// `task` as a task of the cluster: tracked, and cut short by `closing`.
    pub fn tracked(&self, task: impl Future<Output = ()>) -> impl Future<Output = ()> {
        let closing = self.closing.clone();
        self.tracker.track_future(async move {
            tokio::select! {
                () = task => {}
                () = closing.cancelled() => {}
            }
        })
    }

    /// Spawns `task` as a task of the cluster (see [`Context::tracked`]).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(self.tracked(task));
    }
}

/// A running reference cluster. Cheap to clone; every clone drives the same cluster.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    context: Context,
    directory_addr: SocketAddr,
    /// Stops the directory.
    shutdown: CancellationToken,
    /// Number of the last instance started: names go on `s1`, `s2`, ... and are never reused.
    started: AtomicU16,
    /// What instance names start with: `s`, or `p1-s` in process 1 of a partitioned server,
    /// so that names stay unique across processes.
    names: String,
}

impl Cluster {
    /// Binds the directory and `settings.instances` instances on `settings.host`.
    pub async fn start(settings: Settings) -> Result<Cluster, ServerError> {
        Cluster::start_part(settings, None).await
    }

    /// As [`Cluster::start`]; with a `part`, as one process of a partitioned server: its
    /// instances are named `p{index}-s1`, ... and its `/locate` refuses other processes' groups.
    pub async fn start_part(
        settings: Settings,
        part: Option<Part>,
    ) -> Result<Cluster, ServerError> {
        settings
            .validate()
            .map_err(|err| ServerError::InvalidSettings(err.to_string()))?;
        let state = Arc::new(Shared::new(&settings));
        let directory_addr = SocketAddr::new(settings.host, settings.directory_port);
        let context = Context {
            settings: Arc::new(settings),
            state,
            membership: Arc::new(Membership::new(part)),
            tracker: TaskTracker::new(),
            closing: CancellationToken::new(),
            counters: Arc::default(),
        };
        let listener =
            TcpListener::bind(directory_addr)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: directory_addr,
                    source,
                })?;
        let directory_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: directory_addr,
            source,
        })?;
        let cluster = Cluster {
            inner: Arc::new(Inner {
                context: context.clone(),
                directory_addr,
                shutdown: CancellationToken::new(),
                started: AtomicU16::new(0),
                names: part.map_or_else(|| "s".to_owned(), |part| part.names()),
            }),
        };
        context.spawn(state::sweep(
            context.state.clone(),
            cluster.inner.shutdown.clone(),
        ));
        let router = directory::router(cluster.clone());
        let bounds = context.settings.http_bounds();
        context.spawn(serve::serve(
            listener,
            router,
            cluster.inner.shutdown.clone(),
            bounds,
        ));
        // The instances of the launch are not scale-outs: `presence_server_scale_outs_total`
        // counts only what a scale-out added to a running cluster.
        for _ in 0..context.settings.instances {
            if let Err(err) = cluster.start_instance().await {
                cluster.clone().shutdown().await;
                return Err(err);
            }
        }
        Ok(cluster)
    }

    /// `http://HOST:PORT` of the directory (`/locate`, `/admin/*`).
    pub fn directory_url(&self) -> String {
        format!("http://{}", self.inner.directory_addr)
    }

    /// Every instance still listening, oldest first.
    pub fn instances(&self) -> Vec<InstanceInfo> {
        self.inner.context.membership.list()
    }

    /// Starts draining `server`, or the newest live instance; answers once the drain has
    /// begun. The instance stops listening at the end of the drain window.
    pub async fn scale_in(&self, server: Option<&str>) -> Result<InstanceInfo, ServerError> {
        let instance = self.pick(server, "scale in")?;
        self.drain(&instance, Ending::AtWindowEnd);
        Ok(instance.info())
    }

    /// Starts one more instance, counted as a scale-out.
    pub async fn scale_out(&self) -> Result<InstanceInfo, ServerError> {
        let info = self.start_instance().await?;
        self.inner
            .context
            .counters
            .scale_outs
            .fetch_add(1, Ordering::Relaxed);
        Ok(info)
    }

    /// Starts an instance and adds it to the membership.
    async fn start_instance(&self) -> Result<InstanceInfo, ServerError> {
        let context = &self.inner.context;
        let number = self.inner.started.fetch_add(1, Ordering::Relaxed) + 1;
        let port = match context.settings.base_port {
            0 => 0,
            base => base.saturating_add(number - 1),
        };
        let instance = Instance::start(
            format!("{}{number}", self.inner.names),
            SocketAddr::new(context.settings.host, port),
            context,
        )
        .await?;
        context.membership.add(instance.clone());
        Ok(instance.info())
    }

    /// Stops `server`, or the newest live instance, abruptly: sockets dropped without a
    /// frame, its visitors offline at once.
    pub async fn kill(&self, server: Option<&str>) -> Result<InstanceInfo, ServerError> {
        let instance = self.pick(server, "kill")?;
        instance.kill();
        self.inner
            .context
            .counters
            .kills
            .fetch_add(1, Ordering::Relaxed);
        self.inner.context.membership.remove(&instance.name);
        Ok(instance.info())
    }

    /// Drains every instance (sessions get `draining` and `c[3000,...]`), then stops the
    /// directory and awaits every task of the cluster: for at most the drain window and the
    /// shutdown grace, after which whatever is left (a session whose client reads nothing,
    /// a connection that never finishes its request) is closed.
    pub async fn shutdown(self) {
        let context = &self.inner.context;
        for instance in context.membership.all() {
            self.drain(&instance, Ending::WhenEmpty);
        }
        self.inner.shutdown.cancel();
        context.tracker.close();
        let bound = context.settings.drain_window + context.settings.shutdown_grace;
        if tokio::time::timeout(bound, context.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                tasks = context.tracker.len(),
                "cluster tasks still running after the shutdown grace; closing them"
            );
            context.closing.cancel();
            context.tracker.wait().await;
        }
    }

    /// The server's metrics in the Prometheus text format (served at `/metrics`).
    pub fn metrics_text(&self) -> String {
        let context = &self.inner.context;
        metrics::render(&context.membership.all(), &context.counters, &context.state)
    }

    pub(super) fn membership(&self) -> Arc<Membership> {
        self.inner.context.membership.clone()
    }

    /// Cancelled when the directory stops: its long-lived answers (the placement feed) end.
    pub(super) fn stopping(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    fn pick(
        &self,
        server: Option<&str>,
        action: &'static str,
    ) -> Result<Arc<Instance>, ServerError> {
        let membership = &self.inner.context.membership;
        match server {
            Some(name) => membership
                .find(name)
                .ok_or_else(|| ServerError::UnknownInstance(name.to_owned())),
            None => membership
                .newest_live()
                .ok_or(ServerError::NoLiveInstance(action)),
        }
    }

    /// Begins `instance`'s drain (once), and stops it when the window is over (or, with
    /// `Ending::WhenEmpty`, as soon as its last session has left).
    fn drain(&self, instance: &Arc<Instance>, ending: Ending) {
        let context = &self.inner.context;
        let window = context.settings.drain_window;
        if !instance.begin_drain(window) {
            return;
        }
        context.counters.drains.fetch_add(1, Ordering::Relaxed);
        context.membership.refresh();
        let instance = instance.clone();
        let membership = context.membership.clone();
        context.spawn(async move {
            let emptied = async {
                match ending {
                    Ending::AtWindowEnd => std::future::pending().await,
                    Ending::WhenEmpty => instance.emptied().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(window) => instance.stop(),
                () = emptied => instance.stop(),
                () = instance.stopped() => {}
            }
            membership.remove(&instance.name);
        });
    }
}

/// When a draining instance stops listening.
#[derive(Clone, Copy)]
enum Ending {
    /// At the end of the drain window, as docs/protocol.md section 4 says for a scale-in: clients
    /// that still come meanwhile are told to go away.
    AtWindowEnd,
    /// As soon as no session is left: the whole cluster shuts down, nobody will come back.
    WhenEmpty,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn shutdown_cuts_a_task_that_never_ends_once_the_grace_is_over() {
        let settings = Settings {
            instances: 1,
            drain_window: Duration::from_millis(50),
            shutdown_grace: Duration::from_millis(100),
            ..Settings::default()
        };
        let cluster = Cluster::start(settings).await.unwrap();
        // As a session stuck writing to a client that reads nothing would be.
        cluster.inner.context.spawn(std::future::pending());
        let shutdown =
            tokio::time::timeout(Duration::from_secs(5), cluster.clone().shutdown()).await;
        assert!(shutdown.is_ok(), "shutdown still waiting after its bound");
        assert!(
            cluster.inner.context.tracker.is_empty(),
            "every task of the cluster has ended"
        );
    }

    #[tokio::test]
    async fn the_instances_of_the_launch_are_not_scale_outs() {
        let cluster = Cluster::start(Settings {
            instances: 2,
            ..Settings::default()
        })
        .await
        .unwrap();
        let scale_outs = |cluster: &Cluster| {
            let text = cluster.metrics_text();
            let line = text
                .lines()
                .find(|line| line.starts_with("presence_server_scale_outs_total "));
            line.map(str::to_owned)
        };
        assert_eq!(
            scale_outs(&cluster).as_deref(),
            Some("presence_server_scale_outs_total 0")
        );
        let added = cluster.scale_out().await.unwrap();
        assert_eq!(added.server, "s3");
        assert_eq!(
            scale_outs(&cluster).as_deref(),
            Some("presence_server_scale_outs_total 1")
        );
        cluster.shutdown().await;
    }
}
