//! A reverse proxy in front of reference instances, as real clusters have one: for the tests
//! of the headers and cookies the harness sends. It forwards plain HTTP requests (streamed
//! both ways, so `xhr_streaming` passes) and WebSocket upgrades (the bytes after the `101`,
//! both ways), one backend connection per request, and applies one [`Policy`]. It binds
//! 127.0.0.1:0 and stops accepting when dropped.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// What the gateway lets through, and where to.
pub enum Policy {
    /// Answers `401` to every request without `Authorization: <this>`, as an API gateway
    /// does; `/locate` goes to the directory (its answer rewritten to point at the gateway),
    /// everything else to the one instance.
    Authorization {
        token: String,
        directory: SocketAddr,
        instance: SocketAddr,
    },
    /// Pins sessions by cookie, as a sticky load balancer does: a request without
    /// `JSESSIONID` goes to the next instance in turn and its answer sets `JSESSIONID`
    /// naming that instance; a request with it goes where it says.
    Sticky { instances: Vec<SocketAddr> },
}

/// What the gateway saw.
#[derive(Default)]
pub struct Seen {
    /// Requests answered 401 for lack of the right `Authorization`.
    pub refused: AtomicUsize,
    /// Requests that came with the sticky cookie, routed by it.
    pub pinned: AtomicUsize,
    /// Requests that came without it, routed in turn (and sent the cookie).
    pub unpinned: AtomicUsize,
}

pub struct Gateway {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Gateway {
    pub async fn start(policy: Policy) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        let seen = Arc::new(Seen::default());
        let state = Arc::new(State {
            policy,
            addr,
            seen: seen.clone(),
            turn: AtomicUsize::new(0),
        });
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(state.clone(), request));
                    let serving = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .with_upgrades();
                    let _ = serving.await;
                });
            }
        });
        Gateway { addr, seen, accept }
    }

    /// The gateway as an instance: `ws://127.0.0.1:PORT/presence`.
    pub fn instance_url(&self) -> String {
        format!("ws://{}/presence", self.addr)
    }

    /// The gateway as a directory: `http://127.0.0.1:PORT`.
    pub fn directory_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The `HOST:PORT` of a `ws://` or `http://` URL.
pub fn address_of(url: &str) -> SocketAddr {
    let host_port = url
        .split("://")
        .nth(1)
        .expect("a URL")
        .split('/')
        .next()
        .expect("a host");
    host_port.parse().expect("an address")
}

struct State {
    policy: Policy,
    addr: SocketAddr,
    seen: Arc<Seen>,
    /// The next instance in turn (sticky).
    turn: AtomicUsize,
}

type Body = BoxBody<Bytes, hyper::Error>;

fn answer(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(status.as_str().to_owned()))
            .map_err(|n| match n {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

const COOKIE: &str = "JSESSIONID";

/// The instance a `JSESSIONID=N.x` cookie names, if the request has one.
fn pinned_to(request: &Request<Incoming>) -> Option<usize> {
    let cookies = request
        .headers()
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|value| value.to_str().ok());
    let pairs = cookies.flat_map(|cookies| cookies.split(';').map(str::trim));
    let value = pairs
        .filter_map(|pair| pair.strip_prefix(COOKIE)?.strip_prefix('='))
        .next()?;
    value.split('.').next()?.parse().ok()
}

async fn handle(
    state: Arc<State>,
    mut request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    let (backend, set_cookie, rewrite) = match &state.policy {
        Policy::Authorization {
            token,
            directory,
            instance,
        } => {
            if request
                .headers()
                .get(header::AUTHORIZATION)
                .is_none_or(|given| given != token.as_str())
            {
                state.seen.refused.fetch_add(1, Ordering::Relaxed);
                return Ok(answer(StatusCode::UNAUTHORIZED));
            }
            match path.as_str() {
                "/locate" => (
                    *directory,
                    None,
                    Some((format!("ws://{instance}"), format!("ws://{}", state.addr))),
                ),
                _ => (*instance, None, None),
            }
        }
        Policy::Sticky { instances } => {
            match pinned_to(&request).filter(|index| *index < instances.len()) {
                Some(index) => {
                    state.seen.pinned.fetch_add(1, Ordering::Relaxed);
                    (instances[index], None, None)
                }
                None => {
                    state.seen.unpinned.fetch_add(1, Ordering::Relaxed);
                    let turn = state.turn.fetch_add(1, Ordering::Relaxed);
                    let index = turn % instances.len();
                    (
                        instances[index],
                        Some(format!("{COOKIE}={index}.{turn:x}; Path=/; HttpOnly")),
                        None,
                    )
                }
            }
        }
    };
    let client_side = request
        .headers()
        .contains_key(header::UPGRADE)
        .then(|| hyper::upgrade::on(&mut request));
    let Ok(stream) = TcpStream::connect(backend).await else {
        return Ok(answer(StatusCode::BAD_GATEWAY));
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return Ok(answer(StatusCode::BAD_GATEWAY));
    };
    tokio::spawn(connection.with_upgrades());
    let Ok(mut response) = sender.send_request(request).await else {
        return Ok(answer(StatusCode::BAD_GATEWAY));
    };
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).expect("a cookie"),
        );
    }
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let backend_side = hyper::upgrade::on(&mut response);
        if let Some(client_side) = client_side {
            tokio::spawn(async move {
                if let (Ok(client), Ok(backend)) = (client_side.await, backend_side.await) {
                    let _ = tokio::io::copy_bidirectional(
                        &mut TokioIo::new(client),
                        &mut TokioIo::new(backend),
                    )
                    .await;
                }
            });
        }
        return Ok(response.map(|_| Empty::new().map_err(|n| match n {}).boxed()));
    }
    match rewrite {
        Some((from, to)) => {
            let (mut parts, body) = response.into_parts();
            let Ok(body) = body.collect().await else {
                return Ok(answer(StatusCode::BAD_GATEWAY));
            };
            let text = String::from_utf8_lossy(&body.to_bytes()).replace(&from, &to);
            parts.headers.remove(header::CONTENT_LENGTH);
            Ok(Response::from_parts(
                parts,
                Full::new(Bytes::from(text)).map_err(|n| match n {}).boxed(),
            ))
        }
        None => Ok(response.map(BodyExt::boxed)),
    }
}
