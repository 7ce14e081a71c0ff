//! Which instances are in the cluster, and `/locate` over the live, non-draining ones
//! (PROTOCOL.md section 4). Served by every instance and by the directory alike.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::protocol::locate::Located;

use super::instance::{Instance, InstanceInfo};
use super::partition::Part;
use super::ring::Ring;

/// The cluster's instances, oldest first, and the ring over those that accept visitors.
pub struct Membership {
    members: Mutex<Members>,
    /// The groups this cluster serves, when it is one process of a partitioned server.
    part: Option<Part>,
}

#[derive(Default)]
struct Members {
    instances: Vec<Arc<Instance>>,
    /// Live, non-draining instances, in the order `ring` indexes them.
    accepting: Vec<Arc<Instance>>,
    ring: Ring,
}

impl Members {
    /// Called after every change of membership or of an instance's state.
    fn rebuild(&mut self) {
        self.accepting = self.instances.iter().filter(|instance| !instance.is_draining()).cloned().collect();
        self.ring = Ring::new(self.accepting.iter().map(|instance| instance.name.as_str()));
    }
}

impl Membership {
    pub fn new(part: Option<Part>) -> Membership {
        Membership { members: Mutex::default(), part }
    }

    fn lock(&self) -> MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn add(&self, instance: Arc<Instance>) {
        let mut members = self.lock();
        members.instances.push(instance);
        members.rebuild();
    }

    pub fn remove(&self, name: &str) {
        let mut members = self.lock();
        members.instances.retain(|instance| instance.name != name);
        members.rebuild();
    }

    /// An instance began draining: `/locate` stops naming it.
    pub fn refresh(&self) {
        self.lock().rebuild();
    }

    pub fn list(&self) -> Vec<InstanceInfo> {
        self.lock().instances.iter().map(|instance| instance.info()).collect()
    }

    pub fn all(&self) -> Vec<Arc<Instance>> {
        self.lock().instances.clone()
    }

    pub fn find(&self, name: &str) -> Option<Arc<Instance>> {
        self.lock().instances.iter().find(|instance| instance.name == name).cloned()
    }

    pub fn newest_live(&self) -> Option<Arc<Instance>> {
        self.lock().accepting.last().cloned()
    }

    /// The instance `visitor` belongs to, by consistent hashing on the visitor id.
    pub fn locate(&self, visitor: &str) -> Option<Located> {
        let members = self.lock();
        let instance = &members.accepting[members.ring.pick(visitor)?];
        Some(Located { url: instance.url.clone(), server: instance.name.clone() })
    }
}

#[derive(Deserialize)]
pub struct LocateQuery {
    /// Visitor ids hash alike in every group; a process of a partitioned server checks that
    /// the group is its own.
    group: Option<String>,
    visitor: String,
}

/// `GET /locate?group=G&visitor=V`.
pub async fn locate(State(membership): State<Arc<Membership>>, Query(query): Query<LocateQuery>) -> Response {
    if let Some(part) = membership.part.filter(|part| !query.group.as_deref().is_some_and(|group| part.owns(group))) {
        // Answering would place the visitor away from its group's agents, for good.
        let error = format!(
            "group {:?} is not served by server process {} of {}: ask the directory",
            query.group.unwrap_or_default(),
            part.index,
            part.processes
        );
        return (StatusCode::MISDIRECTED_REQUEST, Json(serde_json::json!({ "error": error }))).into_response();
    }
    match membership.locate(&query.visitor) {
        Some(located) => Json(located).into_response(),
        None => {
            let body = serde_json::json!({ "error": "no live instance accepts visitors" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
