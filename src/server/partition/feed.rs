//! The change feed from a child to the directory: both ends of `GET /admin/placement/feed`.
//!
//! The child answers with a response that never ends by itself: one line of JSON per
//! placement ([`Snapshot`]), the current one first, then each new one as it is made, and
//! the current one again after [`HEARTBEAT`] without a change. The directory keeps one such
//! request open per child ([`follow`]) and copies each line into its [`Views`]. A line is
//! sent per change, not per visitor, and the watch channel behind it keeps only the newest
//! placement, so a slow reader costs nothing but stale lines it skips.
//!
//! When the feed ends, fails, or is silent for [`SILENCE`] (a child that died, or hangs),
//! the directory drops its copy of that child and forwards its `/locate` until the feed is
//! back, trying again every [`RETRY`].

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{BodyExt, Empty};
use hyper::{header, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::views::Views;
use crate::net::http_client::MAX_BODY;
use crate::server::placement::{Placement, Snapshot};
use crate::wire::http_frames::{FrameError, FrameReader, Framing};

/// The child's route.
pub const PATH: &str = "/admin/placement/feed";

/// How often an unchanged placement is sent again: the directory's sign that the child lives.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long the directory waits for a line before it stops trusting its copy.
const SILENCE: Duration = Duration::from_secs(3);

/// How long the directory waits before it opens a failed feed again.
const RETRY: Duration = Duration::from_millis(250);

/// The child's end: the feed's body, ending when `stop` (the child's directory stopping) is
/// cancelled, so that it does not hold up the directory's shutdown.
pub fn body(mut placements: watch::Receiver<Arc<Placement>>, stop: CancellationToken) -> Body {
    let first = line(placements.borrow_and_update().snapshot());
    let later =
        futures_util::stream::unfold((placements, stop), |(mut placements, stop)| async move {
            tokio::select! {
                changed = placements.changed() => changed.ok()?,
                () = tokio::time::sleep(HEARTBEAT) => {}
                () = stop.cancelled() => return None,
            }
            let line = line(placements.borrow_and_update().snapshot());
            Some((Ok::<_, Infallible>(line), (placements, stop)))
        });
    Body::from_stream(futures_util::stream::iter([Ok(first)]).chain(later))
}

fn line(snapshot: &Snapshot) -> Bytes {
    // A snapshot is strings and a number: serializing it cannot fail.
    let mut line = serde_json::to_vec(snapshot).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

/// Why the directory stopped reading a feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{0:?} is not an http://HOST:PORT address")]
    Address(String),
    #[error("cannot connect: {0}")]
    Connect(#[from] std::io::Error),
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("nothing for {SILENCE:?}")]
    Silent,
    #[error("the feed ended")]
    Ended,
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("a line that is not a placement: {0}")]
    Line(#[from] serde_json::Error),
}

/// The directory's end: keeps child `index`'s feed at `base` open and its copy in `views`
/// current, until `stop`.
pub async fn follow(base: String, index: usize, views: Arc<Views>, stop: CancellationToken) {
    loop {
        let ended = tokio::select! {
            Err(ended) = read_lines(&base, index, &views) => ended,
            () = stop.cancelled() => return,
        };
        // Said once when a trusted copy is lost, not on every attempt while the child is gone.
        if views.get(index).is_some() {
            tracing::warn!(
                process = index,
                "the placement feed of server process {index} broke ({ended}); forwarding its \
                 /locate"
            );
        } else {
            tracing::debug!(
                process = index,
                "no placement feed from server process {index} ({ended})"
            );
        }
        views.distrust(index);
        tokio::select! {
            () = tokio::time::sleep(RETRY) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Reads the feed until it fails; it never ends well.
async fn read_lines(base: &str, index: usize, views: &Views) -> Result<Infallible, FeedError> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| FeedError::Address(base.to_owned()))?;
    let stream = TcpStream::connect(authority).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let request = Request::get(PATH)
        .header(header::HOST, authority)
        .body(Empty::<Bytes>::new())
        .map_err(|_| FeedError::Address(base.to_owned()))?;
    let lines = async {
        let response = sender.send_request(request).await?;
        if response.status() != StatusCode::OK {
            return Err(FeedError::Status(response.status()));
        }
        let mut body = response.into_body();
        // The same bounded line splitting as the SockJS streaming transports: a line is
        // refused before it grows past the limit.
        let mut reader = FrameReader::new(Framing::Lines, MAX_BODY);
        let mut lines = VecDeque::new();
        loop {
            let frame = tokio::time::timeout(SILENCE, body.frame())
                .await
                .map_err(|_| FeedError::Silent)?;
            let Ok(data) = frame.ok_or(FeedError::Ended)??.into_data() else {
                continue;
            };
            reader.feed(&data, &mut lines)?;
            for line in lines.drain(..) {
                views.install(index, serde_json::from_str(&line)?);
            }
        }
    };
    // The connection is driven here, beside the reading, rather than by a task of its own.
    tokio::select! {
        read = lines => read,
        closed = connection => Err(closed.err().map_or(FeedError::Ended, FeedError::Http)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{Cluster, Settings};

    const WAIT: Duration = Duration::from_secs(5);

    fn servers(placement: &Option<Arc<Placement>>) -> Option<Vec<&str>> {
        let instances = &placement.as_ref()?.snapshot().instances;
        Some(
            instances
                .iter()
                .map(|instance| instance.server.as_str())
                .collect(),
        )
    }

    #[tokio::test]
    async fn the_copy_follows_changes_the_directory_did_not_make_and_a_stopped_child() {
        // A grace far over `WAIT`: the shutdown must not wait for the open feed to end by itself.
        let settings = Settings {
            instances: 2,
            drain_window: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(60),
            ..Settings::default()
        };
        let cluster = Cluster::start(settings).await.unwrap();
        let (views, stop) = (Arc::new(Views::new(1)), CancellationToken::new());
        let following = tokio::spawn(follow(
            cluster.directory_url(),
            0,
            views.clone(),
            stop.clone(),
        ));
        let listed = |wanted: &'static [&'static str]| {
            move |copy: &Option<Arc<Placement>>| servers(copy).as_deref() == Some(wanted)
        };
        tokio::time::timeout(WAIT, views.wait_until(0, listed(&["s1", "s2"])))
            .await
            .expect("the first placement");

        // Straight on the cluster, as a drain or a kill the cluster makes itself would be.
        cluster.scale_in(Some("s2")).await.unwrap();
        tokio::time::timeout(WAIT, views.wait_until(0, listed(&["s1"])))
            .await
            .expect("s2 left the copy");
        cluster.scale_out().await.unwrap();
        tokio::time::timeout(WAIT, views.wait_until(0, listed(&["s1", "s3"])))
            .await
            .expect("s3 joined the copy");

        tokio::time::timeout(WAIT, cluster.shutdown())
            .await
            .expect("the open feed ends with the directory");
        tokio::time::timeout(WAIT, views.wait_until(0, Option::is_none))
            .await
            .expect("the copy is dropped");
        stop.cancel();
        tokio::time::timeout(WAIT, following)
            .await
            .expect("follow ends on stop")
            .unwrap();
    }
}
