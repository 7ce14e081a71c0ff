//! The directory address: `/locate` for the whole cluster, and the admin routes drills
//! use to scale and kill instances (docs/protocol.md section 4), and the placement `/locate`
//! answers from, for a partitioned server's directory to answer alike (`/admin/placement`,
//! once or as a feed of changes).

use axum::extract::{FromRef, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

use super::cluster::Cluster;
use super::discovery::{self, Membership};
use super::error::ServerError;
use super::instance::InstanceInfo;
use super::partition::feed;

impl FromRef<Cluster> for Arc<Membership> {
    fn from_ref(cluster: &Cluster) -> Self {
        cluster.membership()
    }
}

pub fn router(cluster: Cluster) -> Router {
    Router::new()
        .route("/locate", get(discovery::locate))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/admin/instances", get(instances))
        .route("/admin/scale-in", post(scale_in))
        .route("/admin/scale-out", post(scale_out))
        .route("/admin/kill", post(kill))
        .route("/admin/placement", get(placement))
        .route(feed::PATH, get(placement_feed))
        .with_state(cluster)
}

#[derive(Deserialize)]
struct Target {
    server: Option<String>,
}

fn answer(result: Result<InstanceInfo, ServerError>) -> Response {
    match result {
        Ok(info) => Json(info).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn metrics(State(cluster): State<Cluster>) -> Response {
    let content_type = [(
        axum::http::header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    )];
    (content_type, cluster.metrics_text()).into_response()
}

async fn instances(State(cluster): State<Cluster>) -> Response {
    Json(serde_json::json!({ "instances": cluster.instances() })).into_response()
}

async fn scale_in(State(cluster): State<Cluster>, Query(target): Query<Target>) -> Response {
    answer(cluster.scale_in(target.server.as_deref()).await)
}

async fn scale_out(State(cluster): State<Cluster>) -> Response {
    answer(cluster.scale_out().await)
}

async fn kill(State(cluster): State<Cluster>, Query(target): Query<Target>) -> Response {
    answer(cluster.kill(target.server.as_deref()).await)
}

async fn placement(State(cluster): State<Cluster>) -> Response {
    Json(cluster.membership().placement().snapshot()).into_response()
}

async fn placement_feed(State(cluster): State<Cluster>) -> Response {
    let content_type = [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")];
    (
        content_type,
        feed::body(cluster.membership().subscribe(), cluster.stopping()),
    )
        .into_response()
}
