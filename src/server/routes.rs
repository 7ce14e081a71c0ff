//! An instance's HTTP surface: the presence service over every SockJS transport (see
//! `sockjs`), `/locate` and `/healthz` (docs/protocol.md sections 1 and 4), and the SockJS test
//! services when asked for.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::future::BoxFuture;

use super::cluster::Context;
use super::discovery::{self, Membership};
use super::instance::Instance;
use super::session;
use super::sockjs::{self, App, Framing, HttpSettings, Link, Service, ServiceOptions};
use super::sockjs_test;
use crate::wire::sockjs::IdRule;

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

/// The presence session as a SockJS service's app.
impl App for Routes {
    fn serve(&self, link: Link) -> BoxFuture<'static, ()> {
        let (instance, context) = (self.instance.clone(), self.context.clone());
        Box::pin(async move {
            // A drain waits for live sessions only: a closed HTTP session's linger runs after.
            let sessions = instance.sessions().clone();
            let linger = sessions
                .track_future(session::run(link, instance, context))
                .await;
            linger.run().await;
        })
    }

    fn tracked(&self, task: BoxFuture<'static, ()>) -> BoxFuture<'static, ()> {
        Box::pin(self.context.tracked(task))
    }
}

pub fn router(instance: Arc<Instance>, context: Context) -> Router {
    let settings = &context.settings;
    let prefix = normalize_prefix(&settings.prefix);
    let options = ServiceOptions {
        websocket: true,
        cookie_needed: false,
        max_frame_bytes: settings.max_frame_bytes,
        raw_framing: Framing::Raw,
        http: HttpSettings {
            disconnect_delay: settings.disconnect_delay,
            response_limit: settings.response_limit,
        },
        ids: IdRule::Presence,
    };
    let routes = Routes {
        instance: instance.clone(),
        context: context.clone(),
    };
    let presence = Service {
        options,
        registry: instance.registry().clone(),
        stopped: instance.stop_token(),
        app: Arc::new(routes.clone()),
    };
    let mut router = sockjs::router(&prefix, presence).merge(
        Router::new()
            .route("/locate", get(discovery::locate))
            .route("/healthz", get(healthz))
            .with_state(routes),
    );
    if settings.sockjs_test_endpoints {
        router = router.merge(sockjs_test::router(&instance, &context, options));
    }
    router
}

async fn healthz(State(routes): State<Routes>) -> Response {
    if routes.instance.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else {
        "ok".into_response()
    }
}
