//! The target, reached before anything is recorded: its TLS roots, where it is (the embedded
//! cluster started, or the URL's discovery), how sessions connect to it, and a preflight of
//! an external target, so that a target found down ends the run before its load begins.

use std::sync::Arc;

use rustls::ClientConfig;
use tokio_util::sync::CancellationToken;

use super::target::{self, ResolvedTarget, TargetError};
use super::{preflight, HTTP_TIMEOUT};
use crate::client::ConnectOptions;
use crate::net::tls;
use crate::scenario::Plan;

/// A target ready for the run's sessions.
pub struct Reached {
    pub target: ResolvedTarget,
    pub tls: Arc<ClientConfig>,
    /// How every session of the run connects.
    pub connect: ConnectOptions,
}

/// Resolves the plan's target and checks an external one.
pub async fn reach(plan: &Plan, stop: &CancellationToken) -> Result<Reached, TargetError> {
    let tls = tls::client_config(plan.target.ca_file.as_deref()).map_err(TargetError::Tls)?;
    let target = target::resolve(
        &plan.target.destination,
        HTTP_TIMEOUT,
        tls.clone(),
        &plan.target.headers,
    )
    .await?;
    let connect = ConnectOptions {
        transport: plan.target.transport.main(),
        tls: Some(tls.clone()),
        send_timeout: plan.target.reply_timeout,
        headers: plan.target.headers.clone(),
        ..ConnectOptions::default()
    };
    if target.cluster.is_none() {
        let transports = plan.transports();
        // A signal during the check goes on to a run that stops at once: an interrupted run.
        tokio::select! {
            checked = preflight::check(
                &target.discovery,
                &connect,
                &transports,
                &plan.target.group,
            ) => checked.map_err(TargetError::from)?,
            _ = stop.cancelled() => {}
        }
    }
    Ok(Reached {
        target,
        tls,
        connect,
    })
}
