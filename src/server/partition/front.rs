//! The directory of a partitioned server: `/locate`, the admin routes and `/metrics` for
//! every group, answered by forwarding to the child processes.
//!
//! - `/locate?group=G&...` goes to the owner of `G` ([`super::owner`]).
//! - `/admin/scale-in` and `/admin/kill` with `?server=p{i}-s{n}` go to process `i`; without
//!   a name, to the last process that has a live instance (its newest one is taken).
//! - `/admin/scale-out` goes to the process with the fewest instances (the lowest on ties).
//! - `/admin/instances` and `/metrics` gather every process; metrics get a `process` label.
//!
//! Answers are read through the harness's bounded HTTP client (`MAX_BODY`, a timeout), so a
//! stuck child costs a 502, never a hung directory.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, RawQuery, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;

use super::{owner, relabel};
use crate::protocol::locate::{HttpClient, HttpError};

/// How long the directory waits on a child.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// The children's directories, by process index.
pub struct Children {
    bases: Vec<String>,
    client: HttpClient,
}

impl Children {
    pub fn new(bases: Vec<String>) -> Children {
        Children { bases, client: HttpClient::new(FORWARD_TIMEOUT) }
    }

    async fn forward(
        &self,
        index: usize,
        method: Method,
        path_and_query: &str,
    ) -> Result<(StatusCode, Bytes), Response> {
        let url = format!("{}{path_and_query}", self.bases[index]);
        self.client.request(method, &url).await.map_err(bad_gateway)
    }

    /// Every process's `/admin/instances` list, by process index.
    async fn listings(&self) -> Result<Vec<Vec<Value>>, Response> {
        let mut all = Vec::with_capacity(self.bases.len());
        for base in &self.bases {
            let url = format!("{base}/admin/instances");
            let listing: Listing = self.client.json(Method::GET, &url).await.map_err(bad_gateway)?;
            all.push(listing.instances);
        }
        Ok(all)
    }
}

#[derive(Deserialize)]
struct Listing {
    instances: Vec<Value>,
}

#[derive(Deserialize)]
struct LocateQuery {
    group: Option<String>,
}

#[derive(Deserialize)]
struct Target {
    server: Option<String>,
}

pub fn router(children: Arc<Children>) -> Router {
    Router::new()
        .route("/locate", get(locate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/admin/instances", get(instances))
        .route("/admin/scale-in", post(|state, query| aimed(state, query, "/admin/scale-in")))
        .route("/admin/kill", post(|state, query| aimed(state, query, "/admin/kill")))
        .route("/admin/scale-out", post(scale_out))
        .with_state(children)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

fn bad_gateway(err: HttpError) -> Response {
    error(StatusCode::BAD_GATEWAY, format!("a server process did not answer: {err}"))
}

/// A child's answer, passed on as it came.
fn relay(status: StatusCode, body: Bytes, content_type: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn locate(State(children): State<Arc<Children>>, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    let group = serde_urlencoded::from_str::<LocateQuery>(&raw).ok().and_then(|query| query.group);
    let Some(index) = group.as_deref().and_then(|group| owner(group, children.bases.len())) else {
        return error(StatusCode::BAD_REQUEST, "expected a group made of digits: ?group=G&visitor=V".to_owned());
    };
    match children.forward(index, Method::GET, &format!("/locate?{raw}")).await {
        Ok((status, body)) => relay(status, body, "application/json"),
        Err(response) => response,
    }
}

async fn instances(State(children): State<Arc<Children>>) -> Response {
    match children.listings().await {
        Ok(listings) => Json(serde_json::json!({ "instances": listings.concat() })).into_response(),
        Err(response) => response,
    }
}

/// The process whose instance is named `p{i}-...`.
fn process_of(name: &str, processes: usize) -> Option<usize> {
    let (index, _) = name.strip_prefix('p')?.split_once('-')?;
    index.parse().ok().filter(|&index| index < processes)
}

fn is_live(instance: &Value) -> bool {
    instance.get("state").and_then(Value::as_str) == Some("live")
}

/// Scale-in or kill: of the named instance, or of the newest live one of the last process
/// that has one.
async fn aimed(State(children): State<Arc<Children>>, Query(target): Query<Target>, path: &str) -> Response {
    let (index, query) = match target.server {
        Some(name) => match process_of(&name, children.bases.len()) {
            Some(index) => {
                let query = serde_urlencoded::to_string([("server", name.as_str())]).unwrap_or_default();
                (index, format!("?{query}"))
            }
            None => return error(StatusCode::NOT_FOUND, format!("no instance named {name:?}")),
        },
        None => {
            let listings = match children.listings().await {
                Ok(listings) => listings,
                Err(response) => return response,
            };
            match listings.iter().rposition(|listing| listing.iter().any(is_live)) {
                Some(index) => (index, String::new()),
                None => return error(StatusCode::CONFLICT, "no live instance left".to_owned()),
            }
        }
    };
    match children.forward(index, Method::POST, &format!("{path}{query}")).await {
        Ok((status, body)) => relay(status, body, "application/json"),
        Err(response) => response,
    }
}

async fn scale_out(State(children): State<Arc<Children>>) -> Response {
    let listings = match children.listings().await {
        Ok(listings) => listings,
        Err(response) => return response,
    };
    let index = (0..listings.len()).min_by_key(|&index| listings[index].len()).unwrap_or(0);
    match children.forward(index, Method::POST, "/admin/scale-out").await {
        Ok((status, body)) => relay(status, body, "application/json"),
        Err(response) => response,
    }
}

async fn metrics(State(children): State<Arc<Children>>) -> Response {
    let mut texts = Vec::with_capacity(children.bases.len());
    for index in 0..children.bases.len() {
        match children.forward(index, Method::GET, "/metrics").await {
            Ok((StatusCode::OK, body)) => texts.push(String::from_utf8_lossy(&body).into_owned()),
            Ok((status, _)) => {
                return error(
                    StatusCode::BAD_GATEWAY,
                    format!("server process {index} answered /metrics with {status}"),
                )
            }
            Err(response) => return response,
        }
    }
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    relay(StatusCode::OK, Bytes::from(relabel::merge(&texts)), content_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_say_their_process() {
        assert_eq!(process_of("p1-s2", 2), Some(1));
        assert_eq!(process_of("p0-s10", 2), Some(0));
        assert_eq!(process_of("p2-s1", 2), None);
        assert_eq!(process_of("s1", 2), None);
        assert_eq!(process_of("px-s1", 2), None);
    }
}
