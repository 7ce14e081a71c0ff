//! The services the SockJS protocol test suite (sockjs-protocol 0.3.3) expects beside the
//! service under test, served on every instance with `serve --sockjs-test-endpoints`:
//! `/echo` (every message back), `/close` (`c[3000,"Go away!"]` right after `o`),
//! `/disabled_websocket_echo` (echo, no WebSocket) and `/cookie_needed_echo` (echo, with
//! `JSESSIONID`). They exercise the transports of `sockjs` without the presence logic.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use futures_util::future::BoxFuture;
use tokio::time::sleep_until;

use super::cluster::Context;
use super::instance::Instance;
use super::sockjs::{self, App, Framing, Link, Received, Registry, Service, ServiceOptions};
use crate::wire::close;
use crate::wire::sockjs::IdRule;

/// What a test service does with a session.
#[derive(Clone, Copy)]
enum Behaviour {
    Echo,
    Close,
}

struct TestApp {
    behaviour: Behaviour,
    heartbeat: Duration,
    context: Context,
}

impl App for TestApp {
    fn serve(&self, link: Link) -> BoxFuture<'static, ()> {
        match self.behaviour {
            Behaviour::Echo => Box::pin(echo(link, self.heartbeat)),
            Behaviour::Close => {
                Box::pin(async move { link.close(close::GO_AWAY).await.run().await })
            }
        }
    }

    fn tracked(&self, task: BoxFuture<'static, ()>) -> BoxFuture<'static, ()> {
        Box::pin(self.context.tracked(task))
    }
}

/// Sends every message back until the client leaves.
async fn echo(mut link: Link, heartbeat: Duration) {
    loop {
        let heartbeat_at = link.last_sent() + heartbeat;
        let received = tokio::select! {
            received = link.recv() => received,
            () = sleep_until(heartbeat_at), if link.wants_heartbeats() => {
                if link.heartbeat().await.is_err() {
                    return link.abort();
                }
                continue;
            }
        };
        match received {
            Received::Messages(messages) => {
                if link.send(&messages).await.is_err() {
                    return link.abort();
                }
            }
            Received::Close(close) => return link.close(close).await.run().await,
            Received::Gone => return link.abort(),
        }
    }
}

/// The four test services of one instance.
pub fn router(instance: &Instance, context: &Context, options: ServiceOptions) -> Router {
    // The suite tries session URLs such as `/a/a`: SockJS's ids, not docs/protocol.md's.
    let options = ServiceOptions {
        ids: IdRule::Sockjs,
        ..options
    };
    let services = [
        (
            "/echo",
            Behaviour::Echo,
            ServiceOptions {
                raw_framing: Framing::RawText,
                ..options
            },
        ),
        ("/close", Behaviour::Close, options),
        (
            "/disabled_websocket_echo",
            Behaviour::Echo,
            ServiceOptions {
                websocket: false,
                raw_framing: Framing::RawText,
                ..options
            },
        ),
        (
            "/cookie_needed_echo",
            Behaviour::Echo,
            ServiceOptions {
                cookie_needed: true,
                raw_framing: Framing::RawText,
                ..options
            },
        ),
    ];
    let mut router = Router::new();
    for (prefix, behaviour, options) in services {
        let app = TestApp {
            behaviour,
            heartbeat: context.settings.heartbeat,
            context: context.clone(),
        };
        let service = Service {
            options,
            registry: Arc::new(Registry::default()),
            stopped: instance.stop_token(),
            app: Arc::new(app),
        };
        router = router.merge(sockjs::router(prefix, service));
    }
    router
}
