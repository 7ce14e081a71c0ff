//! The reference server's own metrics, served at `/metrics` on the directory address.
//!
//! The server shares its process with the harness when embedded, and the `metrics` crate
//! has one global recorder per process, so the server keeps plain atomics and renders the
//! Prometheus text format itself: it never depends on (or pollutes) the harness's export.
//! Counters are bumped once per frame or batch, not per byte, with relaxed atomics.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use super::instance::Instance;
use super::state::Shared;
use crate::wire::Transport;

/// One metric family the server exports: name, Prometheus type, labels, meaning.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub kind: &'static str,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

const SESSIONS: Family = Family {
    name: "presence_server_sessions",
    kind: "gauge",
    labels: &["server", "transport"],
    help: "Open sessions, by the transport they were opened on.",
};
const SESSIONS_OPENED: Family = Family {
    name: "presence_server_sessions_opened_total",
    kind: "counter",
    labels: &["server", "transport"],
    help: "Sessions opened (WebSocket upgraded, or HTTP session begun), by transport.",
};
const RECEIVED: Family = Family {
    name: "presence_server_messages_received_total",
    kind: "counter",
    labels: &["server"],
    help: "Protocol messages received from clients.",
};
const SENT: Family = Family {
    name: "presence_server_messages_sent_total",
    kind: "counter",
    labels: &["server"],
    help: "Protocol messages sent to clients (no heartbeats).",
};
const INSTANCES: Family = Family {
    name: "presence_server_instances",
    kind: "gauge",
    labels: &["state"],
    help: "Instances still listening, by state (live, draining).",
};
const QUEUE_DEPTH: Family = Family {
    name: "presence_server_queue_depth",
    kind: "gauge",
    labels: &[],
    help: "Messages waiting in the outboxes of visitor sessions.",
};
const QUEUE_DEPTH_MAX: Family = Family {
    name: "presence_server_queue_depth_max",
    kind: "gauge",
    labels: &[],
    help: "Longest outbox of a visitor session now.",
};
const DRAINS: Family = Family {
    name: "presence_server_drains_total",
    kind: "counter",
    labels: &[],
    help: "Instance drains begun.",
};
const KILLS: Family = Family {
    name: "presence_server_kills_total",
    kind: "counter",
    labels: &[],
    help: "Instances killed abruptly.",
};
const SCALE_OUTS: Family = Family {
    name: "presence_server_scale_outs_total",
    kind: "counter",
    labels: &[],
    help: "Instances started by a scale-out (the instances of the launch are not counted).",
};

const VISITORS_HELD: Family = Family {
    name: "presence_server_visitors_held",
    kind: "gauge",
    labels: &[],
    help: "Visitors the server remembers, online or within visitor_retention of leaving.",
};
const HEAP_TRIMS: Family = Family {
    name: "presence_server_heap_trims_total",
    kind: "counter",
    labels: &[],
    help: "Times the server handed its free heap back to the system: after every 1,000 visitors \
           forgotten, and when it became idle.",
};
/// The process's own figures, under the names Prometheus client libraries give them, so that a
/// harness reads any server's memory and CPU alike (`crate::procfs`). Shared with whatever
/// else runs in the process: the harness, for an embedded cluster.
const PROCESS_CPU: Family = Family {
    name: "process_cpu_seconds_total",
    kind: "counter",
    labels: &[],
    help: "User and system CPU time of the server process, in seconds.",
};
const PROCESS_RSS: Family = Family {
    name: "process_resident_memory_bytes",
    kind: "gauge",
    labels: &[],
    help: "Resident memory of the server process, in bytes.",
};

/// Every family the server exports.
pub const SERVER: &[Family] = &[
    SESSIONS,
    SESSIONS_OPENED,
    RECEIVED,
    SENT,
    INSTANCES,
    QUEUE_DEPTH,
    QUEUE_DEPTH_MAX,
    DRAINS,
    KILLS,
    SCALE_OUTS,
    VISITORS_HELD,
    HEAP_TRIMS,
    PROCESS_CPU,
    PROCESS_RSS,
];

const DIRECTORY_LOCATES: Family = Family {
    name: "presence_server_directory_locates_total",
    kind: "counter",
    labels: &["answer"],
    help: "/locate requests the directory of a partitioned server answered from its copy of the \
           owner's placement (view) or by forwarding them to the owner (forwarded).",
};

/// The families only the directory of a partitioned server exports, beside its children's.
pub const DIRECTORY: &[Family] = &[DIRECTORY_LOCATES];

/// Per-instance counts; sessions per transport, in the order of [`Transport::ALL`].
#[derive(Default)]
pub struct InstanceCounters {
    sessions: [AtomicI64; Transport::ALL.len()],
    opened: [AtomicU64; Transport::ALL.len()],
    received: AtomicU64,
    sent: AtomicU64,
}

impl InstanceCounters {
    /// Counts a session on `transport` as open until the guard is dropped.
    pub fn session(self: &Arc<Self>, transport: Transport) -> SessionGuard {
        let index = transport as usize;
        self.sessions[index].fetch_add(1, Ordering::Relaxed);
        self.opened[index].fetch_add(1, Ordering::Relaxed);
        SessionGuard(self.clone(), index)
    }

    pub fn received(&self, n: usize) {
        self.received.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// An open session, counted until dropped.
pub struct SessionGuard(Arc<InstanceCounters>, usize);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.sessions[self.1].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Cluster-wide counts.
#[derive(Default)]
pub struct ClusterCounters {
    pub drains: AtomicU64,
    pub kills: AtomicU64,
    pub scale_outs: AtomicU64,
    /// Sessions open on any instance: what the overload fault switch slows acks by.
    sessions: AtomicI64,
}

impl ClusterCounters {
    /// Counts a session as open in the cluster until the guard is dropped.
    pub fn session(self: &Arc<Self>) -> ClusterSessionGuard {
        self.sessions.fetch_add(1, Ordering::Relaxed);
        ClusterSessionGuard(self.clone())
    }

    /// Sessions open in the cluster now.
    pub fn sessions_open(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed).max(0) as u64
    }
}

/// An open session, counted in the cluster until dropped.
pub struct ClusterSessionGuard(Arc<ClusterCounters>);

impl Drop for ClusterSessionGuard {
    fn drop(&mut self) {
        self.0.sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Renders every family in the Prometheus text format.
pub fn render(instances: &[Arc<Instance>], cluster: &ClusterCounters, state: &Shared) -> String {
    let mut out = String::new();
    let per_instance =
        |out: &mut String, family: &Family, value: &dyn Fn(&InstanceCounters) -> String| {
            header(out, family);
            for instance in instances {
                let _ = writeln!(
                    out,
                    "{}{{server=\"{}\"}} {}",
                    family.name,
                    instance.name,
                    value(&instance.counters)
                );
            }
        };
    let per_transport =
        |out: &mut String, family: &Family, value: &dyn Fn(&InstanceCounters, usize) -> String| {
            header(out, family);
            for instance in instances {
                for transport in Transport::ALL {
                    let (server, label) = (&instance.name, transport.name());
                    let value = value(&instance.counters, transport as usize);
                    let _ = writeln!(
                        out,
                        "{}{{server=\"{server}\",transport=\"{label}\"}} {value}",
                        family.name
                    );
                }
            }
        };
    per_transport(&mut out, &SESSIONS, &|c, i| {
        c.sessions[i].load(Ordering::Relaxed).max(0).to_string()
    });
    per_transport(&mut out, &SESSIONS_OPENED, &|c, i| {
        c.opened[i].load(Ordering::Relaxed).to_string()
    });
    per_instance(&mut out, &RECEIVED, &|c| {
        c.received.load(Ordering::Relaxed).to_string()
    });
    per_instance(&mut out, &SENT, &|c| {
        c.sent.load(Ordering::Relaxed).to_string()
    });
    header(&mut out, &INSTANCES);
    let draining = instances
        .iter()
        .filter(|instance| instance.is_draining())
        .count();
    let _ = writeln!(
        out,
        "{}{{state=\"live\"}} {}",
        INSTANCES.name,
        instances.len() - draining
    );
    let _ = writeln!(out, "{}{{state=\"draining\"}} {}", INSTANCES.name, draining);
    let (depth, depth_max) = state.outbox_depth();
    for (family, value) in [(&QUEUE_DEPTH, depth), (&QUEUE_DEPTH_MAX, depth_max)] {
        header(&mut out, family);
        let _ = writeln!(out, "{} {value}", family.name);
    }
    for (family, counter) in [
        (&DRAINS, &cluster.drains),
        (&KILLS, &cluster.kills),
        (&SCALE_OUTS, &cluster.scale_outs),
    ] {
        header(&mut out, family);
        let _ = writeln!(out, "{} {}", family.name, counter.load(Ordering::Relaxed));
    }
    let usage = crate::procfs::usage();
    for (family, value) in [
        (&VISITORS_HELD, state.visitors_held().to_string()),
        (&HEAP_TRIMS, state.heap_trims().to_string()),
        (&PROCESS_CPU, usage.cpu_seconds.to_string()),
        (&PROCESS_RSS, usage.rss_bytes.to_string()),
    ] {
        header(&mut out, family);
        let _ = writeln!(out, "{} {value}", family.name);
    }
    out
}

/// Renders the directory's own families (see [`DIRECTORY`]).
pub fn render_directory(from_view: u64, forwarded: u64) -> String {
    let mut out = String::new();
    header(&mut out, &DIRECTORY_LOCATES);
    let _ = writeln!(
        out,
        "{}{{answer=\"view\"}} {from_view}",
        DIRECTORY_LOCATES.name
    );
    let _ = writeln!(
        out,
        "{}{{answer=\"forwarded\"}} {forwarded}",
        DIRECTORY_LOCATES.name
    );
    out
}

fn header(out: &mut String, family: &Family) {
    let _ = writeln!(
        out,
        "# HELP {} {}\n# TYPE {} {}",
        family.name, family.help, family.name, family.kind
    );
}
