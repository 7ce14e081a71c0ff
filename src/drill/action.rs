//! Carrying out one drill event: through the embedded cluster's handle, or through the action
//! the scenario gives for an external target (an HTTP request or a command line). An action
//! that fails or times out is reported, never fatal: the run goes on. What an action answers
//! (a body, a command's output) is read up to `MAX_BODY` bytes: more is an error.

use std::process::Stdio;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::net::http_client::{HttpClient, MAX_BODY};
use crate::scenario::{Action, ActionRun, DrillActions, DrillKind};
use crate::schema::ActionResult;
use crate::server::Cluster;

/// Longest part of an answer or an error output kept in the report.
const DETAIL_CHARS: usize = 200;

/// Who carries out events.
#[derive(Clone)]
pub enum Executor {
    /// The cluster this run started.
    Embedded(Cluster),
    /// The scenario's actions, per kind.
    External(Box<DrillActions>),
    /// Another shard of a split run (shard 0) carries the events out; this one measures.
    Elsewhere(crate::shard::Shard),
}

/// One instance's part of an event: what to report, and the instance acted on if known.
type Step = Result<(String, Option<String>), String>;

impl Executor {
    /// Scales or kills `count` instances, one after the other.
    pub async fn execute(&self, kind: DrillKind, count: u32) -> ActionResult {
        let started = Instant::now();
        let (mut ok, mut details, mut servers) = (true, Vec::new(), Vec::new());
        for _ in 0..count {
            match self.once(kind).await {
                Ok((detail, server)) => {
                    details.push(detail);
                    servers.extend(server);
                }
                Err(detail) => {
                    ok = false;
                    details.push(detail);
                }
            }
        }
        let outcome = ActionResult {
            ok,
            detail: details.join("; "),
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
            servers,
        };
        if ok {
            tracing::info!(
                kind = kind.name(),
                detail = %outcome.detail,
                servers = ?outcome.servers,
                "drill action done"
            );
        } else {
            tracing::warn!(
                kind = kind.name(),
                detail = %outcome.detail,
                "drill action failed; the run goes on"
            );
        }
        outcome
    }

    async fn once(&self, kind: DrillKind) -> Step {
        match self {
            Executor::Embedded(cluster) => {
                let info = match kind {
                    DrillKind::ScaleIn => cluster.scale_in(None).await,
                    DrillKind::ScaleOut => cluster.scale_out().await,
                    DrillKind::Kill => cluster.kill(None).await,
                };
                info.map(|info| ("done".to_owned(), Some(info.server)))
                    .map_err(|err| err.to_string())
            }
            Executor::External(actions) => match actions.get(kind) {
                Some(action) => run(action).await,
                None => Err(format!(
                    "no `{}` action given in `drills.actions` for this target",
                    kind.name()
                )),
            },
            Executor::Elsewhere(shard) => {
                Ok((format!("carried out by shard 0/{}", shard.count), None))
            }
        }
    }
}

async fn run(action: &Action) -> Step {
    match &action.run {
        ActionRun::Http { method, url, body } => {
            request(method, url, body.as_deref(), action.timeout).await
        }
        ActionRun::Command(argv) => command(argv, action.timeout).await,
    }
}

async fn request(method: &str, url: &str, body: Option<&str>, timeout: Duration) -> Step {
    let method = Method::from_bytes(method.as_bytes()).map_err(|err| err.to_string())?;
    let body = Bytes::from(body.unwrap_or_default().to_owned());
    let (status, answer) = HttpClient::new(timeout)
        .send(method, url, body)
        .await
        .map_err(|err| err.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {}: {}",
            status.as_u16(),
            clip(&String::from_utf8_lossy(&answer))
        ));
    }
    Ok((format!("HTTP {}", status.as_u16()), server_in(&answer)))
}

async fn command(argv: &[String], timeout: Duration) -> Step {
    let (program, args) = argv.split_first().ok_or("an empty command")?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| format!("{program}: {err}"))?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    // The first failure (output over the limit) ends the wait; the child is killed on drop.
    let finished = async { tokio::try_join!(capped(stdout), capped(stderr), child.wait()) };
    let (stdout, stderr, status) = match tokio::time::timeout(timeout, finished).await {
        Err(_) => {
            return Err(format!(
                "{program}: timed out after {}",
                humantime::format_duration(timeout)
            ))
        }
        Ok(Err(err)) => return Err(format!("{program}: {err}")),
        Ok(Ok(output)) => output,
    };
    let code = status.code().map_or_else(
        || "killed by a signal".to_owned(),
        |code| format!("exit {code}"),
    );
    if !status.success() {
        return Err(format!(
            "{program}: {code}: {}",
            clip(&String::from_utf8_lossy(&stderr))
        ));
    }
    Ok((code, server_in(&stdout)))
}

/// A child's output, read up to [`MAX_BODY`] bytes: a command that writes on and on is an
/// error, not a buffer that grows until the timeout.
async fn capped(pipe: Option<impl AsyncRead + Unpin>) -> std::io::Result<Vec<u8>> {
    let mut output = Vec::new();
    if let Some(pipe) = pipe {
        pipe.take(MAX_BODY as u64 + 1)
            .read_to_end(&mut output)
            .await?;
    }
    if output.len() > MAX_BODY {
        return Err(std::io::Error::other(format!(
            "output over the {MAX_BODY}-byte limit"
        )));
    }
    Ok(output)
}

/// The `server` an answer names, when it is JSON like the reference admin routes' answers.
fn server_in(answer: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(answer).ok()?;
    value.get("server")?.as_str().map(str::to_owned)
}

fn clip(text: &str) -> String {
    text.trim().chars().take(DETAIL_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn external(kind: DrillKind, run: ActionRun) -> Executor {
        let action = Action {
            run,
            timeout: Duration::from_millis(500),
        };
        let mut actions = DrillActions::default();
        match kind {
            DrillKind::ScaleIn => actions.scale_in = Some(action),
            DrillKind::ScaleOut => actions.scale_out = Some(action),
            DrillKind::Kill => actions.kill = Some(action),
        }
        Executor::External(Box::new(actions))
    }

    fn argv(words: &[&str]) -> ActionRun {
        ActionRun::Command(words.iter().map(|w| (*w).to_owned()).collect())
    }

    #[tokio::test]
    async fn commands_report_exit_codes_answers_and_timeouts() {
        let echo = external(DrillKind::Kill, argv(&["echo", r#"{"server":"s2"}"#]));
        let done = echo.execute(DrillKind::Kill, 2).await;
        assert_eq!(
            (done.ok, done.detail.as_str(), done.servers.clone()),
            (true, "exit 0; exit 0", vec!["s2".into(), "s2".into()])
        );
        let failing = external(
            DrillKind::Kill,
            argv(&["sh", "-c", "echo nope >&2; exit 3"]),
        );
        let failed = failing.execute(DrillKind::Kill, 1).await;
        assert_eq!(
            (failed.ok, failed.detail.as_str()),
            (false, "sh: exit 3: nope")
        );
        let slow = external(DrillKind::Kill, argv(&["sleep", "5"]))
            .execute(DrillKind::Kill, 1)
            .await;
        assert!(!slow.ok && slow.detail.contains("timed out"), "{slow:?}");
        assert!(slow.duration_ms < 3000.0, "the timeout ended it: {slow:?}");
        let chatty = external(
            DrillKind::Kill,
            argv(&["head", "-c", "200000", "/dev/zero"]),
        );
        let refused = chatty.execute(DrillKind::Kill, 1).await;
        assert!(
            !refused.ok && refused.detail.contains("output over the 65536-byte limit"),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn missing_and_unreachable_actions_are_reported() {
        let none = Executor::External(Box::default())
            .execute(DrillKind::ScaleOut, 1)
            .await;
        assert!(
            !none.ok && none.detail.contains("no `scale_out` action"),
            "{none:?}"
        );
        let http = ActionRun::Http {
            method: "POST".into(),
            url: "http://127.0.0.1:1/admin/kill".into(),
            body: None,
        };
        let refused = external(DrillKind::Kill, http)
            .execute(DrillKind::Kill, 1)
            .await;
        assert!(!refused.ok, "{refused:?}");
    }
}
