//! An instance's HTTP surface: SockJS info and welcome, the two WebSocket transports,
//! `/locate` and `/healthz` (PROTOCOL.md sections 1 and 4).

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRef, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::protocol::sockjs;

use super::cluster::Context;
use super::discovery::{self, Membership};
use super::instance::Instance;
use super::session::{self, Framing};

/// Initial read and write buffers per socket: presence messages are small, and 20 000 idle
/// sessions at tungstenite's 128 KiB defaults would need gigabytes. A bigger frame grows the
/// buffer as needed; 1 KiB instead of 4 KiB took an idle session from 10.0 to 7.0 KiB.
const SOCKET_BUFFER: usize = 1024;

/// What every route of one instance can reach.
#[derive(Clone)]
struct Routes {
    instance: Arc<Instance>,
    context: Context,
}

impl FromRef<Routes> for Arc<Membership> {
    fn from_ref(routes: &Routes) -> Self {
        routes.context.membership.clone()
    }
}

/// `/presence/` and `/presence` alike become `/presence`; `/` becomes the empty prefix.
pub fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

pub fn router(instance: Arc<Instance>, context: Context) -> Router {
    let prefix = normalize_prefix(&context.settings.prefix);
    let mut router = Router::new()
        .route(&format!("{prefix}/info"), get(info).options(info_options))
        .route(&format!("{prefix}/websocket"), get(raw_websocket))
        .route(&format!("{prefix}/{{server}}/{{session}}/websocket"), get(sockjs_websocket))
        .route(&format!("{prefix}/"), get(welcome))
        .route("/locate", get(discovery::locate))
        .route("/healthz", get(healthz));
    if !prefix.is_empty() {
        router = router.route(&prefix, get(welcome));
    }
    router.with_state(Routes { instance, context })
}

/// Limits sit above `max_frame_bytes`, so an oversized frame still arrives whole and the
/// session can answer it with `c[1009,...]` instead of a bare socket error.
fn configure(upgrade: WebSocketUpgrade, context: &Context) -> WebSocketUpgrade {
    let limit = context.settings.max_frame_bytes.saturating_mul(2).saturating_add(1024);
    upgrade
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
}

async fn raw_websocket(
    State(routes): State<Routes>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    start_session(upgrade, routes, Framing::Raw, None)
}

async fn sockjs_websocket(
    State(routes): State<Routes>,
    path: Result<Path<(String, String)>, PathRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(Path((server, session_id))) = path else { return StatusCode::NOT_FOUND.into_response() };
    if !sockjs::is_valid_server_id(&server) || !sockjs::is_valid_session_id(&session_id) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    start_session(upgrade, routes, Framing::Sockjs, Some(session_id))
}

/// Completes the upgrade and runs the session, tracked by the cluster (for shutdown, which
/// cuts it short once its grace is over) and by its instance (so a drain ends as soon as its
/// last session has left).
fn start_session(upgrade: WebSocketUpgrade, routes: Routes, framing: Framing, session_id: Option<String>) -> Response {
    let context = routes.context.clone();
    let instance_sessions = routes.instance.sessions().clone();
    configure(upgrade, &routes.context).on_upgrade(move |socket| {
        let session = session::run(socket, framing, session_id, routes.instance, routes.context);
        context.tracked(instance_sessions.track_future(session))
    })
}

/// SockJS answers cross-origin requests for its info, echoing the caller's origin.
fn cors(request: &HeaderMap, response: &mut HeaderMap) {
    match request.get(header::ORIGIN).filter(|origin| origin.as_bytes() != b"null") {
        Some(origin) => {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            response.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        None => {
            response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
    }
    response.insert(header::VARY, HeaderValue::from_static("Origin"));
}

async fn info(request: HeaderMap) -> Response {
    let body = serde_json::json!({
        "websocket": true,
        "origins": ["*:*"],
        "cookie_needed": false,
        "entropy": rand::random::<u32>(),
    });
    let mut response = body.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, no-transform, must-revalidate, max-age=0"),
    );
    cors(&request, headers);
    response
}

async fn info_options(request: HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("OPTIONS, GET"));
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("31536000"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000"));
    cors(&request, headers);
    response
}

async fn welcome() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], "Welcome to SockJS!\n").into_response()
}

async fn healthz(State(routes): State<Routes>) -> Response {
    if routes.instance.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else {
        "ok".into_response()
    }
}
