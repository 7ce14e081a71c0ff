//! The HTTP surface of one SockJS service (SockJS protocol 0.3.3) under its prefix: info
//! and welcome, the WebSocket transports, and the HTTP transports `xhr` (polling),
//! `xhr_send`, `xhr_streaming` and `eventsource`, with SockJS's CORS and caching headers.
//! What a session does is the service's [`App`]; this file only carries it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::future::BoxFuture;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio_util::sync::CancellationToken;

use super::http_link::{HttpLink, HttpSettings};
use super::link::{Link, Received};
use super::receiver::{Kind, Receiver};
use super::registry::{Reception, Registry};
use super::socket::{Framing, SocketLink};
use crate::wire::close;
use crate::wire::sockjs;

/// Initial read and write buffers per socket: presence messages are small, and 20 000 idle
/// sessions at tungstenite's 128 KiB defaults would need gigabytes. A bigger frame grows the
/// buffer as needed; 1 KiB instead of 4 KiB took an idle session from 10.0 to 7.0 KiB.
const SOCKET_BUFFER: usize = 1024;

/// SockJS's answer for requests that must never be cached (iOS caches POSTs).
const NO_CACHE: &str = "no-store, no-cache, must-revalidate, max-age=0";
/// Preflight answers are cached for a year.
const ONE_YEAR: Duration = Duration::from_secs(31_536_000);

/// What a service does with its sessions.
pub trait App: Send + Sync + 'static {
    /// Serves one session on a link that is already open, until it ends.
    fn serve(&self, link: Link) -> BoxFuture<'static, ()>;
    /// `task` as a task of the service's owner: tracked, and cut short when it shuts down.
    fn tracked(&self, task: BoxFuture<'static, ()>) -> BoxFuture<'static, ()>;
}

/// How one service's transports behave.
#[derive(Debug, Clone, Copy)]
pub struct ServiceOptions {
    /// Serve the WebSocket transports (info says so).
    pub websocket: bool,
    /// Info says `cookie_needed`, and HTTP transports set a `JSESSIONID` cookie (echoed
    /// when the client sent one), as load balancers with sticky sessions want.
    pub cookie_needed: bool,
    /// Largest client frame; larger ones close the session with 1009.
    pub max_frame_bytes: usize,
    /// Framing of `{prefix}/websocket`.
    pub raw_framing: Framing,
    pub http: HttpSettings,
    /// Which session URLs exist: docs/protocol.md's strict ids for the presence service, SockJS's
    /// any-value ids for the protocol suite's test services.
    pub ids: sockjs::IdRule,
}

/// One SockJS service of an instance.
#[derive(Clone)]
pub struct Service {
    pub options: ServiceOptions,
    /// Session ids open in this service on this instance.
    pub registry: Arc<Registry>,
    /// Cancelled when the instance stops listening.
    pub stopped: CancellationToken,
    pub app: Arc<dyn App>,
}

/// The routes of `service` under `prefix` (normalized: empty, or `/name`).
pub fn router(prefix: &str, service: Service) -> Router {
    let session = |transport: &str| format!("{prefix}/{{server}}/{{session}}/{transport}");
    let mut router = Router::new()
        .route(
            &format!("{prefix}/info"),
            get(info).options(|request: HeaderMap| preflight(request, "OPTIONS, GET")),
        )
        .route(&format!("{prefix}/"), get(welcome))
        .route(
            &session("xhr"),
            post(receiving(Kind::Polling))
                .options(post_preflight)
                .fallback(wrong_method),
        )
        .route(
            &session("xhr_send"),
            post(xhr_send)
                .options(post_preflight)
                .fallback(wrong_method),
        )
        .route(
            &session("xhr_streaming"),
            post(receiving(Kind::Streaming))
                .options(post_preflight)
                .fallback(wrong_method),
        )
        .route(
            &session("eventsource"),
            get(receiving(Kind::EventSource)).fallback(wrong_method),
        );
    if service.options.websocket {
        router = router
            .route(&format!("{prefix}/websocket"), get(raw_websocket))
            .route(&session("websocket"), get(sockjs_websocket));
    }
    if !prefix.is_empty() {
        router = router.route(prefix, get(welcome));
    }
    router.with_state(service)
}

/// Limits sit above `max_frame_bytes`, so an oversized frame still arrives whole and the
/// session can answer it with `c[1009,...]` instead of a bare socket error.
fn configure(upgrade: WebSocketUpgrade, max_frame_bytes: usize) -> WebSocketUpgrade {
    let limit = max_frame_bytes.saturating_mul(2).saturating_add(1024);
    upgrade
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
}

/// A plain GET or a broken handshake, answered as SockJS does.
fn not_an_upgrade(_: WebSocketUpgradeRejection) -> Response {
    (
        StatusCode::BAD_REQUEST,
        r#"Can "Upgrade" only to "WebSocket"."#,
    )
        .into_response()
}

/// The upgrade a request asks for. WebSocket drafts hybi-07 and -08 (Firefox 6 and 7) shake
/// hands and frame text as RFC 6455 (version 13) does, and SockJS accepts them; tungstenite
/// knows only 13, so they are taken as 13.
async fn upgrade(request: Request) -> Result<WebSocketUpgrade, Response> {
    let (mut parts, _) = request.into_parts();
    let version = parts.headers.get(header::SEC_WEBSOCKET_VERSION);
    if version.is_some_and(|version| version == "7" || version == "8") {
        parts.headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(not_an_upgrade)
}

async fn raw_websocket(State(service): State<Service>, request: Request) -> Response {
    match upgrade(request).await {
        Ok(upgrade) => {
            let framing = service.options.raw_framing;
            start_socket(upgrade, service, framing, None)
        }
        Err(refused) => refused,
    }
}

async fn sockjs_websocket(
    State(service): State<Service>,
    SessionId(id): SessionId,
    request: Request,
) -> Response {
    let Some(session_id) = id else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match upgrade(request).await {
        Ok(upgrade) => start_socket(upgrade, service, Framing::Sockjs, Some(session_id)),
        Err(refused) => refused,
    }
}

/// A method the route does not serve: 404 for a malformed session URL, as for any other
/// method, else 405.
async fn wrong_method(SessionId(id): SessionId) -> StatusCode {
    match id {
        Some(_) => StatusCode::METHOD_NOT_ALLOWED,
        None => StatusCode::NOT_FOUND,
    }
}

/// Completes the upgrade and runs the session as a task of the service's owner. A SockJS
/// session id already in use gets `o` then `c[2010,...]`.
fn start_socket(
    upgrade: WebSocketUpgrade,
    service: Service,
    framing: Framing,
    id: Option<String>,
) -> Response {
    let app = service.app.clone();
    let max_frame_bytes = service.options.max_frame_bytes;
    configure(upgrade, max_frame_bytes).on_upgrade(move |socket| {
        app.tracked(Box::pin(async move {
            let claim = id.as_deref().map(|id| service.registry.claim_socket(id));
            let in_use = matches!(claim, Some(None));
            let mut link = Link::Socket(SocketLink::new(
                socket,
                framing,
                max_frame_bytes,
                claim.flatten(),
            ));
            if link.open().await.is_err() {
                return;
            }
            if in_use {
                return link.close(close::SESSION_IN_USE).await.run().await;
            }
            service.app.serve(link).await
        }))
    })
}

/// The session id of a session URL; `None` for a malformed one (a 404).
struct SessionId(Option<String>);

impl FromRequestParts<Service> for SessionId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, service: &Service) -> Result<Self, Infallible> {
        let path = Path::<(String, String)>::from_request_parts(parts, service).await;
        let valid = |Path((server, session)): Path<(String, String)>| {
            service
                .options
                .ids
                .accepts(&server, &session)
                .then_some(session)
        };
        Ok(SessionId(path.ok().and_then(valid)))
    }
}

/// The handler of a receiving request of `kind`.
fn receiving(
    kind: Kind,
) -> impl Fn(State<Service>, SessionId, HeaderMap) -> std::future::Ready<Response>
       + Clone
       + Send
       + Sync
       + 'static {
    move |State(service), SessionId(id), request| {
        std::future::ready(receive(service, id, &request, kind))
    }
}

/// A receiving request: handed to its session, which writes the frames; a new session is
/// started for an unknown id.
fn receive(service: Service, id: Option<String>, request: &HeaderMap, kind: Kind) -> Response {
    let Some(id) = id else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (receiver, body) = Receiver::new(kind, service.options.http.response_limit);
    match service.registry.receive(&id, receiver) {
        Reception::Attached => {}
        Reception::Refused(receiver) => receiver.refuse(),
        Reception::New(claim, keeper, receiver) => {
            let link = HttpLink::new(
                claim,
                keeper,
                receiver,
                service.options.http,
                service.stopped.clone(),
            );
            let app = service.app.clone();
            tokio::spawn(service.app.tracked(Box::pin(async move {
                let mut link = Link::Http(link);
                if link.open().await.is_ok() {
                    app.serve(link).await;
                }
            })));
        }
    }
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    cors(request, headers);
    cookie(&service.options, request, headers);
    response
}

/// `xhr_send`: one client frame for an HTTP session, answered 204 once the session has it.
async fn xhr_send(
    State(service): State<Service>,
    SessionId(id): SessionId,
    request: HeaderMap,
    body: Body,
) -> Response {
    let Some(id) = id else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(door) = service.registry.door(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (status, text, frame) = match Limited::new(body, service.options.max_frame_bytes)
        .collect()
        .await
    {
        Ok(collected) => {
            let payload = collected.to_bytes();
            match std::str::from_utf8(&payload).map(sockjs::decode_client_frame) {
                _ if payload.is_empty() => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "Payload expected.", None)
                }
                Ok(Ok(messages)) => (
                    StatusCode::NO_CONTENT,
                    "",
                    Some(Received::Messages(messages)),
                ),
                Ok(Err(_)) | Err(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Broken JSON encoding.",
                    None,
                ),
            }
        }
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "Message too big",
            Some(Received::Close(close::MESSAGE_TOO_BIG)),
        ),
        // The client left halfway through its body.
        Err(_) => (StatusCode::BAD_REQUEST, "Incomplete body.", None),
    };
    if let Some(frame) = frame {
        if door.deliver(frame).await.is_err() {
            return StatusCode::NOT_FOUND.into_response();
        }
    }
    let mut response = (status, text).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    cors(&request, headers);
    cookie(&service.options, &request, headers);
    response
}

/// SockJS answers cross-origin requests, echoing the caller's origin (`*` for none or the
/// `null` of a page opened from a file) and the headers it asked for.
fn cors(request: &HeaderMap, response: &mut HeaderMap) {
    let origin = request
        .get(header::ORIGIN)
        .filter(|origin| origin.as_bytes() != b"null");
    let origin = origin.cloned().unwrap_or(HeaderValue::from_static("*"));
    response.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    response.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    if let Some(asked) = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .filter(|asked| !asked.is_empty())
    {
        response.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    response.insert(header::VARY, HeaderValue::from_static("Origin"));
}

/// `JSESSIONID` for a service that needs cookies: the client's own, or `dummy`.
fn cookie(options: &ServiceOptions, request: &HeaderMap, response: &mut HeaderMap) {
    if !options.cookie_needed {
        return;
    }
    let sent = request
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| pair.trim().strip_prefix("JSESSIONID="));
    let cookie = format!("JSESSIONID={}; path=/", sent.unwrap_or("dummy"));
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.insert(header::SET_COOKIE, value);
    }
}

async fn post_preflight(request: HeaderMap) -> Response {
    preflight(request, "OPTIONS, POST").await
}

/// An `OPTIONS` preflight, cacheable for a year.
async fn preflight(request: HeaderMap, methods: &'static str) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("31536000"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000"),
    );
    if let Ok(expires) =
        HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now() + ONE_YEAR))
    {
        headers.insert(header::EXPIRES, expires);
    }
    cors(&request, headers);
    response
}

async fn info(State(service): State<Service>, request: HeaderMap) -> Response {
    let body = serde_json::json!({
        "websocket": service.options.websocket,
        "origins": ["*:*"],
        "cookie_needed": service.options.cookie_needed,
        "entropy": rand::random::<u32>(),
    });
    let mut response = body.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    cors(&request, headers);
    response
}

async fn welcome() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        "Welcome to SockJS!\n",
    )
        .into_response()
}
