//! The directory of a partitioned server: `/locate`, the admin routes and `/metrics` for
//! every group, for the child processes.
//!
//! - `/locate?group=G&visitor=V` is answered here, from the directory's copy of the placement
//!   of `G`'s owner ([`super::owner`], [`Views`]), with the owner's own code
//!   ([`discovery::answer`]): no HTTP hop per visitor. While that copy cannot be trusted (its
//!   feed broke, or the request is one the owner must judge: no visitor), it is forwarded.
//! - `/admin/scale-in` and `/admin/kill` with `?server=p{i}-s{n}` go to process `i`; without
//!   a name, to the last process that has a live instance (its newest one is taken).
//! - `/admin/scale-out` goes to the process with the fewest instances (the lowest on ties).
//! - After every forwarded scale-in, kill or scale-out, the owner's placement is read again
//!   before the answer is passed on: the next `/locate` already knows.
//! - `/admin/instances` and `/metrics` gather every process; metrics get a `process` label,
//!   and the directory adds how it answered `/locate`.
//!
//! Answers are read through the shared bounded HTTP client (`net/http_client.rs`: `MAX_BODY`,
//! a timeout), so a stuck child costs a 502, never a hung directory.

use std::sync::atomic::{AtomicU64, Ordering};
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

use super::views::Views;
use super::{owner, relabel};
use crate::net::http_client::{HttpClient, HttpError};
use crate::server::discovery;
use crate::server::metrics;
use crate::server::placement::Snapshot;

/// How long the directory waits on a child.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// The children's directories, by process index, and the directory's copies of their
/// placements.
pub struct Children {
    bases: Vec<String>,
    views: Arc<Views>,
    client: HttpClient,
    /// `/locate` answered from a view, and forwarded, for `/metrics`.
    from_view: AtomicU64,
    forwarded: AtomicU64,
}

impl Children {
    pub fn new(bases: Vec<String>, views: Arc<Views>) -> Children {
        let client = HttpClient::new(FORWARD_TIMEOUT);
        Children {
            bases,
            views,
            client,
            from_view: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
        }
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
            let listing: Listing = self
                .client
                .json(Method::GET, &url)
                .await
                .map_err(bad_gateway)?;
            all.push(listing.instances);
        }
        Ok(all)
    }

    /// Forwards an admin action to child `index`, then reads its placement again so that the
    /// action shows in `/locate` by the time its answer is passed on. If the placement cannot
    /// be read, the copy is dropped (forwarding until the feed sends one again); a copy already
    /// dropped stays so until the feed is back.
    async fn act(&self, index: usize, path_and_query: &str) -> Response {
        let answered = self.forward(index, Method::POST, path_and_query).await;
        let url = format!("{}/admin/placement", self.bases[index]);
        match self.client.json::<Snapshot>(Method::GET, &url).await {
            Ok(snapshot) => self.views.refresh(index, snapshot),
            Err(err) => {
                tracing::warn!(
                    process = index,
                    %err,
                    "cannot read the placement after an admin action"
                );
                self.views.distrust(index);
            }
        }
        match answered {
            Ok((status, body)) => relay(status, body, "application/json"),
            Err(response) => response,
        }
    }
}

#[derive(Deserialize)]
struct Listing {
    instances: Vec<Value>,
}

/// A `/locate` query as the directory reads it: the group picks the owner; with a visitor the
/// directory answers from its copy, and without one the owner answers (its own 400).
#[derive(Deserialize)]
struct FrontQuery {
    group: Option<String>,
    visitor: Option<String>,
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
        .route(
            "/admin/scale-in",
            post(|state, query| aimed(state, query, "/admin/scale-in")),
        )
        .route(
            "/admin/kill",
            post(|state, query| aimed(state, query, "/admin/kill")),
        )
        .route("/admin/scale-out", post(scale_out))
        .with_state(children)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(serde_json::json!({ "error": message }))).into_response()
}

fn bad_gateway(err: HttpError) -> Response {
    error(
        StatusCode::BAD_GATEWAY,
        format!("a server process did not answer: {err}"),
    )
}

/// A child's answer, passed on as it came.
fn relay(status: StatusCode, body: Bytes, content_type: &'static str) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn locate(State(children): State<Arc<Children>>, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    // axum's `Query`, which the owner reads it with, is this same deserializer.
    let query = serde_urlencoded::from_str::<FrontQuery>(&raw).ok();
    let group = query.as_ref().and_then(|query| query.group.as_deref());
    let Some(index) = group.and_then(|group| owner(group, children.bases.len())) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected a group made of digits: ?group=G&visitor=V".to_owned(),
        );
    };
    let visitor = query.as_ref().and_then(|query| query.visitor.as_deref());
    if let (Some(visitor), Some(placement)) = (visitor, children.views.get(index)) {
        children.from_view.fetch_add(1, Ordering::Relaxed);
        return discovery::answer(&placement, visitor);
    }
    children.forwarded.fetch_add(1, Ordering::Relaxed);
    match children
        .forward(index, Method::GET, &format!("/locate?{raw}"))
        .await
    {
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
async fn aimed(
    State(children): State<Arc<Children>>,
    Query(target): Query<Target>,
    path: &str,
) -> Response {
    let (index, query) = match target.server {
        Some(name) => match process_of(&name, children.bases.len()) {
            Some(index) => {
                let query =
                    serde_urlencoded::to_string([("server", name.as_str())]).unwrap_or_default();
                (index, format!("?{query}"))
            }
            None => return error(StatusCode::NOT_FOUND, format!("no instance named {name:?}")),
        },
        None => {
            let listings = match children.listings().await {
                Ok(listings) => listings,
                Err(response) => return response,
            };
            match listings
                .iter()
                .rposition(|listing| listing.iter().any(is_live))
            {
                Some(index) => (index, String::new()),
                None => return error(StatusCode::CONFLICT, "no live instance left".to_owned()),
            }
        }
    };
    children.act(index, &format!("{path}{query}")).await
}

async fn scale_out(State(children): State<Arc<Children>>) -> Response {
    let listings = match children.listings().await {
        Ok(listings) => listings,
        Err(response) => return response,
    };
    let index = (0..listings.len())
        .min_by_key(|&index| listings[index].len())
        .unwrap_or(0);
    children.act(index, "/admin/scale-out").await
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
    let mut text = relabel::merge(&texts);
    let (from_view, forwarded) = (
        children.from_view.load(Ordering::Relaxed),
        children.forwarded.load(Ordering::Relaxed),
    );
    text.push_str(&metrics::render_directory(from_view, forwarded));
    relay(StatusCode::OK, Bytes::from(text), content_type)
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::net::serve;
    use crate::server::partition::Part;
    use crate::server::{Cluster, Settings};

    /// Where the directory at `base` places 100 visitors of group 1.
    async fn placed(client: &HttpClient, base: &str) -> Vec<String> {
        let mut servers = Vec::new();
        for i in 0..100 {
            servers.push(
                client
                    .locate(base, "1", &format!("v{i}"))
                    .await
                    .expect("located")
                    .server,
            );
        }
        servers
    }

    #[tokio::test]
    async fn a_forwarded_admin_action_shows_in_the_next_locate_without_waiting_for_the_feed() {
        let settings = Settings {
            instances: 3,
            drain_window: Duration::from_millis(100),
            ..Settings::default()
        };
        let cluster = Cluster::start_part(
            settings,
            Some(Part {
                index: 0,
                processes: 1,
            }),
        )
        .await
        .unwrap();
        // No feed: the copy changes only through what the directory itself does.
        let views = Arc::new(Views::new(1));
        views.install(0, cluster.membership().placement().snapshot().clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, children) = (
            CancellationToken::new(),
            Arc::new(Children::new(vec![cluster.directory_url()], views)),
        );
        let serving = tokio::spawn(serve::serve(
            listener,
            router(children.clone()),
            stop.clone(),
            Default::default(),
        ));
        let client = HttpClient::new(FORWARD_TIMEOUT);

        assert!(placed(&client, &base).await.contains(&"p0-s3".to_owned()));
        let (status, _) = client
            .request(Method::POST, &format!("{base}/admin/scale-in?server=p0-s3"))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(
            !placed(&client, &base).await.contains(&"p0-s3".to_owned()),
            "the draining p0-s3 was named"
        );
        assert!(placed(&client, &base).await.contains(&"p0-s2".to_owned()));
        let (status, _) = client
            .request(Method::POST, &format!("{base}/admin/kill?server=p0-s2"))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(
            !placed(&client, &base).await.contains(&"p0-s2".to_owned()),
            "the killed p0-s2 was named"
        );
        let (status, _) = client
            .request(Method::POST, &format!("{base}/admin/scale-out"))
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(
            placed(&client, &base).await.contains(&"p0-s4".to_owned()),
            "the new p0-s4 got no visitor"
        );
        assert_eq!(
            children.forwarded.load(Ordering::Relaxed),
            0,
            "every /locate answered from the copy"
        );

        stop.cancel();
        serving.await.unwrap();
        cluster.shutdown().await;
    }

    #[test]
    fn instance_names_say_their_process() {
        assert_eq!(process_of("p1-s2", 2), Some(1));
        assert_eq!(process_of("p0-s10", 2), Some(0));
        assert_eq!(process_of("p2-s1", 2), None);
        assert_eq!(process_of("s1", 2), None);
        assert_eq!(process_of("px-s1", 2), None);
    }
}
