//! One child of a partitioned server: a full cluster for the groups it owns, serving until
//! its parent goes away.
//!
//! The parent holds the child's stdin; end of file there is the order to drain and exit. It
//! comes however the parent ends (clean shutdown, crash, SIGKILL), so no child outlives it.

use std::io::Write as _;

use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::{ChildSpec, DIRECTORY_LINE};
use crate::server::{Cluster, ServerError};

/// Starts the cluster, prints `directory http://HOST:PORT` for the parent, and serves until
/// stdin closes or `stop` is cancelled (a signal); then drains and shuts down.
pub async fn serve(spec: ChildSpec, stop: CancellationToken) -> Result<(), ServerError> {
    let cluster = Cluster::start_part(spec.settings.clone(), Some(spec.part)).await?;
    let mut stdout = std::io::stdout().lock();
    // The parent reads this one line; if it is gone already, shutting down is all that is left.
    let _ = writeln!(stdout, "{DIRECTORY_LINE}{}", cluster.directory_url())
        .and_then(|()| stdout.flush());
    drop(stdout);
    tokio::select! {
        () = parent_gone() => {}
        () = stop.cancelled() => {}
    }
    cluster.shutdown().await;
    Ok(())
}

/// Completes when stdin reaches its end (or fails): the parent has closed it or is gone.
async fn parent_gone() {
    let mut stdin = tokio::io::stdin();
    let mut buffer = [0u8; 64];
    while let Ok(read) = stdin.read(&mut buffer).await {
        if read == 0 {
            return;
        }
    }
}
