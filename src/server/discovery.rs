//! Which instances are in the cluster, and `/locate` over the live, non-draining ones
//! (docs/protocol.md section 4). Served by every instance and by the directory alike.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use tokio::sync::watch;

use crate::wire::locate::Located;

use super::instance::{Instance, InstanceInfo};
use super::partition::Part;
use super::placement::{Placement, Snapshot};

/// The cluster's instances, oldest first, and the placement `/locate` answers from.
pub struct Membership {
    instances: Mutex<Vec<Arc<Instance>>>,
    /// Replaced (under the `instances` lock, so versions only grow) whenever the accepting
    /// instances change; a partitioned server's directory follows it (`/admin/placement`).
    placement: watch::Sender<Arc<Placement>>,
    /// The groups this cluster serves, when it is one process of a partitioned server.
    part: Option<Part>,
}

impl Membership {
    pub fn new(part: Option<Part>) -> Membership {
        Membership {
            instances: Mutex::default(),
            placement: watch::Sender::new(Arc::default()),
            part,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Instance>>> {
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Called after every change of membership or of an instance's state: a new placement
    /// when the accepting instances are not those of the current one.
    fn rebuild(&self, instances: &[Arc<Instance>]) {
        let accepting: Vec<Located> = instances
            .iter()
            .filter(|instance| !instance.is_draining())
            .map(|instance| Located {
                url: instance.url.clone(),
                server: instance.name.clone(),
            })
            .collect();
        self.placement.send_if_modified(|placement| {
            if placement.snapshot().instances == accepting {
                return false;
            }
            let version = placement.version() + 1;
            *placement = Arc::new(Placement::new(Snapshot {
                version,
                instances: accepting,
            }));
            true
        });
    }

    pub fn add(&self, instance: Arc<Instance>) {
        let mut instances = self.lock();
        instances.push(instance);
        self.rebuild(&instances);
    }

    pub fn remove(&self, name: &str) {
        let mut instances = self.lock();
        instances.retain(|instance| instance.name != name);
        self.rebuild(&instances);
    }

    /// An instance began draining: `/locate` stops naming it.
    pub fn refresh(&self) {
        self.rebuild(&self.lock());
    }

    pub fn list(&self) -> Vec<InstanceInfo> {
        self.lock().iter().map(|instance| instance.info()).collect()
    }

    pub fn all(&self) -> Vec<Arc<Instance>> {
        self.lock().clone()
    }

    pub fn find(&self, name: &str) -> Option<Arc<Instance>> {
        self.lock()
            .iter()
            .find(|instance| instance.name == name)
            .cloned()
    }

    pub fn newest_live(&self) -> Option<Arc<Instance>> {
        self.lock()
            .iter()
            .rev()
            .find(|instance| !instance.is_draining())
            .cloned()
    }

    /// The placement `/locate` answers from now.
    pub fn placement(&self) -> Arc<Placement> {
        self.placement.borrow().clone()
    }

    /// Sees every new placement from now on (the current one counts as seen).
    pub fn subscribe(&self) -> watch::Receiver<Arc<Placement>> {
        self.placement.subscribe()
    }
}

/// `/locate`'s answer from `placement`: the instance, or 503 when none accepts visitors.
/// The partitioned server's directory answers with this very function.
pub fn answer(placement: &Placement, visitor: &str) -> Response {
    match placement.locate(visitor) {
        Some(located) => Json(located).into_response(),
        None => {
            let body = serde_json::json!({ "error": "no live instance accepts visitors" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// The query of `/locate`.
#[derive(Deserialize)]
pub struct LocateQuery {
    /// Visitor ids hash alike in every group; a process of a partitioned server checks that
    /// the group is its own.
    group: Option<String>,
    visitor: String,
}

/// `GET /locate?group=G&visitor=V`.
pub async fn locate(
    State(membership): State<Arc<Membership>>,
    Query(query): Query<LocateQuery>,
) -> Response {
    if let Some(part) = membership
        .part
        .filter(|part| !query.group.as_deref().is_some_and(|group| part.owns(group)))
    {
        // Answering would place the visitor away from its group's agents, for good.
        let error = format!(
            "group {:?} is not served by server process {} of {}: ask the directory",
            query.group.unwrap_or_default(),
            part.index,
            part.processes
        );
        return (
            StatusCode::MISDIRECTED_REQUEST,
            Json(serde_json::json!({ "error": error })),
        )
            .into_response();
    }
    answer(&membership.placement.borrow(), &query.visitor)
}
