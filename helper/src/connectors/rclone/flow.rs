//! One sign-in: drive `rclone authorize`, then write the remote.

use std::path::PathBuf;
use std::time::Duration;

use patchbay_proto::Secret;
use patchbay_proto::api::{EndReason, FlowStatus};
use patchbay_proto::rclone;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

use super::account::{self, Accounts};
use super::settings::ProviderSettings;
use super::{Kind, RemoteFlow};
use crate::engine::child::GroupChild;
use crate::engine::lease::{LOOPBACK_PORT, LoopbackLease};
use crate::engine::session::SessionCtl;
use crate::engine::store::{LockedFile, StoreError};

/// How long rclone gets to print its local sign-in link.
const LINK_TIMEOUT: Duration = Duration::from_secs(30);
const TOKEN_START: &str = "Paste the following into your remote machine";
const TOKEN_END: &str = "<---End paste";

/// What a flow needs besides its session and child.
pub struct FlowContext {
    pub kind: Kind,
    pub name: String,
    pub rclone_conf: PathBuf,
    /// For Microsoft Graph.
    pub http: reqwest::Client,
    /// For rclone's listener: no proxy, no redirects followed.
    pub loopback: reqwest::Client,
    pub graph_api_url: String,
    /// For Google Drive's `about` (as whom the remote is signed in).
    pub drive_api_url: String,
    /// Where the remote's account is recorded once it is written.
    pub accounts: Accounts,
    pub settings: ProviderSettings,
    /// The client rclone will use (written into the remote, so downstream rclone can refresh).
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// Options of the existing remote when re-signing in with `force`.
    pub kept_options: Vec<(String, String)>,
}

/// `rclone authorize <backend>` with the client in its environment. Everything already in
/// the helper's environment (`RCLONE_*` included) is inherited unchanged.
pub fn command(rclone_bin: &std::path::Path, ctx: &FlowContext) -> Command {
    let mut cmd = Command::new(rclone_bin);
    cmd.args(["authorize", ctx.kind.backend(), "--auth-no-open-browser"])
        // Never read or write the user's own rclone config during a sign-in.
        .args(["--config", "/dev/null"]);
    let id_var = format!("{}CLIENT_ID", ctx.kind.env_prefix());
    let secret_var = format!("{}CLIENT_SECRET", ctx.kind.env_prefix());
    if std::env::var_os(&id_var).is_none()
        && let Some(id) = &ctx.settings.client_id
    {
        cmd.env(id_var, id);
    }
    if std::env::var_os(&secret_var).is_none()
        && let Some(secret) = &ctx.settings.client_secret
    {
        cmd.env(secret_var, secret.expose());
    }
    cmd
}

enum Failure {
    Cancelled,
    Failed(String),
}

/// Drives the sign-in to its end. Whatever happens, rclone is gone and the lease released
/// when this returns.
pub async fn run(
    ctl: SessionCtl<RemoteFlow>,
    mut child: GroupChild,
    lease: LoopbackLease,
    ctx: FlowContext,
) {
    let outcome = tokio::select! {
        r = authorize(&ctl, &mut child, &ctx) => r,
        _ = ctl.cancel.cancelled() => Err(Failure::Cancelled),
    };
    child.kill_group().await;
    drop(lease);
    // The token is in hand: finishing is not cancellable, so the outcome is never "cancelled"
    // with a remote written anyway.
    let result = match outcome {
        Ok(token) => finish(&ctx, &token).await,
        Err(f) => Err(f),
    };
    ctl.update(|flow| {
        let s = &mut flow.public;
        s.needs_manual_code = false;
        match result {
            Ok(note) => {
                s.status = FlowStatus::Completed;
                if note.is_some() {
                    s.note = note;
                }
            }
            // The contract knows no `cancelled`: a cancelled sign-in is an `error` that says so.
            Err(Failure::Cancelled) => {
                s.status = FlowStatus::Error;
                s.reason = Some(EndReason::Cancelled);
                s.error = Some("The sign-in was cancelled; nothing was written.".into());
            }
            Err(Failure::Failed(message)) => {
                s.status = FlowStatus::Error;
                s.reason = Some(EndReason::Failed);
                s.error = Some(message);
            }
        }
    });
    tracing::info!(session = %ctl.id, status = ?ctl.current().public.status, "rclone sign-in ended");
}

enum Line {
    Log(String),
    Out(String),
}

fn pump(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    tx: mpsc::UnboundedSender<Line>,
    log: bool,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(if log {
                Line::Log(line)
            } else {
                Line::Out(line)
            });
        }
    });
}

/// Runs rclone until it prints the token; returns the token JSON.
async fn authorize(
    ctl: &SessionCtl<RemoteFlow>,
    child: &mut GroupChild,
    ctx: &FlowContext,
) -> Result<String, Failure> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Some(out) = child.child.stdout.take() {
        pump(out, tx.clone(), false);
    }
    if let Some(err) = child.child.stderr.take() {
        pump(err, tx, true);
    }
    let link_deadline = tokio::time::Instant::now() + LINK_TIMEOUT;
    let mut have_link = false;
    // rclone spreads an error over several lines ("Failed to get token: …" / "Response: …").
    let mut problems: Vec<String> = Vec::new();
    let mut token_lines: Option<Vec<String>> = None;
    let mut token: Option<String> = None;
    loop {
        let next = if have_link {
            rx.recv().await
        } else {
            match tokio::time::timeout_at(link_deadline, rx.recv()).await {
                Ok(line) => line,
                Err(_) => {
                    return Err(Failure::Failed(
                        "rclone did not start its sign-in listener within 30 seconds.".into(),
                    ));
                }
            }
        };
        let Some(line) = next else { break };
        match line {
            Line::Log(line) => {
                if !have_link && let Some(local) = local_auth_link(&line) {
                    let auth_url = resolve_auth_link(&ctx.loopback, &local).await?;
                    let state = query_param(&local, "state");
                    ctl.update(|flow| {
                        flow.oauth_state = state;
                        flow.public.status = FlowStatus::AwaitingOauth;
                        flow.public.auth_url = Some(auth_url);
                        flow.public.needs_manual_code = true;
                    });
                    have_link = true;
                } else if is_problem(&line) {
                    problems.push(clean_log_line(&line));
                    if problems.len() > 3 {
                        problems.remove(0);
                    }
                }
            }
            Line::Out(line) => {
                if line.contains(TOKEN_START) {
                    token_lines = Some(Vec::new());
                } else if line.contains(TOKEN_END) {
                    token = token_lines.take().map(|l| l.join("").trim().to_owned());
                } else if let Some(lines) = token_lines.as_mut() {
                    lines.push(line);
                }
            }
        }
    }
    let status = child.child.wait().await.ok();
    match token.filter(|t| t.starts_with('{')) {
        Some(t) if status.is_some_and(|s| s.success()) => Ok(t),
        _ => Err(Failure::Failed(explain_failure(
            Some(problems.join(" "))
                .filter(|p| !p.is_empty())
                .as_deref(),
        ))),
    }
}

/// The `http://127.0.0.1:53682/auth?state=…` link rclone prints.
fn local_auth_link(line: &str) -> Option<String> {
    let prefix = format!("http://127.0.0.1:{LOOPBACK_PORT}/auth?");
    let start = line.find(&prefix)?;
    let link: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    Some(link)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// rclone's local link redirects to the provider; the provider's URL is what a user opens
/// (it works from any machine, unlike 127.0.0.1).
async fn resolve_auth_link(loopback: &reqwest::Client, local: &str) -> Result<String, Failure> {
    let response = loopback.get(local).send().await.map_err(|_| {
        Failure::Failed("rclone's sign-in listener did not answer on 127.0.0.1:53682.".into())
    })?;
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .filter(|l| l.starts_with("https://") || l.starts_with("http://"))
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure::Failed("rclone's sign-in link did not lead to the provider.".into())
        })
}

fn is_problem(line: &str) -> bool {
    ["ERROR", "CRITICAL", "Failed", "failed", "error"]
        .iter()
        .any(|w| line.contains(w))
}

/// `2026/11/23 11:55:11 CRITICAL: Failed to …` → `Failed to …`.
fn clean_log_line(line: &str) -> String {
    let rest = [
        "NOTICE: ",
        "ERROR : ",
        "ERROR: ",
        "CRITICAL: ",
        "Fatal error: ",
    ]
    .iter()
    .find_map(|tag| line.split_once(tag).map(|(_, r)| r))
    .unwrap_or(line);
    rest.chars().filter(|c| !c.is_control()).take(300).collect()
}

fn explain_failure(problem: Option<&str>) -> String {
    match problem {
        Some(p) if p.contains("address already in use") => format!(
            "Port {LOOPBACK_PORT} is in use by another program (not a Patchbay sign-in). Close \
             it and try again."
        ),
        Some(p) if p.contains("token") || p.contains("invalid_grant") => format!(
            "The provider did not accept the sign-in code (it may have expired or been used \
             already). Start the sign-in again. rclone said: {p}"
        ),
        Some(p) => format!("rclone stopped before the sign-in finished: {p}"),
        None => "rclone stopped before the sign-in finished.".into(),
    }
}

/// Writes the remote; for OneDrive, finds the drive first. Records as whom it is signed in.
/// Returns a note for the user.
async fn finish(ctx: &FlowContext, token: &str) -> Result<Option<String>, Failure> {
    let mut note = None;
    let access = account::access_token(token);
    let mut who = match (ctx.kind, &access) {
        (Kind::Gdrive, Some(a)) => account::google(&ctx.http, &ctx.drive_api_url, a).await,
        _ => None,
    };
    let mut options: Vec<(String, String)> = vec![("type".into(), ctx.kind.backend().into())];
    if let Some(id) = &ctx.client_id {
        options.push(("client_id".into(), id.clone()));
    }
    if let Some(secret) = &ctx.client_secret {
        options.push(("client_secret".into(), secret.expose().to_owned()));
    }
    if ctx.kind == Kind::Gdrive && !ctx.kept_options.iter().any(|(k, _)| k == "scope") {
        options.push(("scope".into(), "drive".into()));
    }
    options.push(("token".into(), token.to_owned()));
    if ctx.kind == Kind::Onedrive {
        match (&ctx.settings.drive_id, &ctx.settings.drive_type) {
            (Some(id), Some(kind)) => {
                options.push(("drive_id".into(), id.clone()));
                options.push(("drive_type".into(), kind.clone()));
            }
            _ => match find_onedrive(ctx, access.as_deref()).await {
                Ok(found) => {
                    options.push(("drive_id".into(), found.id));
                    options.push(("drive_type".into(), found.drive_type));
                    who = found.owner;
                }
                Err(why) => {
                    note = Some(format!(
                        "Signed in, but your OneDrive could not be looked up in Microsoft Graph \
                         ({why}). Set PATCHBAY_ONEDRIVE_DRIVE_ID and PATCHBAY_ONEDRIVE_DRIVE_TYPE \
                         and sign in again, or run `rclone config reconnect {}:`.",
                        ctx.name
                    ))
                }
            },
        }
    }
    // Re-signing in keeps the remote's other options (root folder, team drive, …).
    for (k, v) in &ctx.kept_options {
        if !options.iter().any(|(key, _)| key == k) {
            options.push((k.clone(), v.clone()));
        }
    }
    let file = LockedFile::at(ctx.rclone_conf.clone());
    let name = ctx.name.clone();
    let write = tokio::task::spawn_blocking(move || {
        file.replace(|current| {
            let text = String::from_utf8_lossy(current.unwrap_or_default());
            let pairs: Vec<(&str, &str)> = options
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            // Refused: nothing is written, the old file stays.
            Ok::<_, StoreError>(match rclone::upsert_section(&text, &name, &pairs) {
                Ok(conf) => (Some(conf.into_bytes()), Ok(())),
                Err(unwritable) => (None, Err(unwritable)),
            })
        })
    })
    .await;
    match write {
        Ok(Ok(Ok(()))) => {
            remember_account(ctx, who).await;
            Ok(note)
        }
        Ok(Ok(Err(unwritable))) => Err(Failure::Failed(format!(
            "Signed in, but rclone.conf was not changed: {}",
            unwritable.message()
        ))),
        Ok(Err(e)) => Err(Failure::Failed(format!(
            "Signed in, but writing rclone.conf failed: {e}"
        ))),
        Err(_) => Err(Failure::Failed(
            "Signed in, but writing rclone.conf failed.".into(),
        )),
    }
}

/// A new remote's account, or none (a sign-in again may be another account): the card
/// shows it, so a failure to record it is logged, never a failed sign-in.
async fn remember_account(ctx: &FlowContext, who: Option<String>) {
    let (accounts, kind, name) = (ctx.accounts.clone(), ctx.kind, ctx.name.clone());
    let saved =
        tokio::task::spawn_blocking(move || accounts.set(kind, &name, who.as_deref())).await;
    if !matches!(saved, Ok(Ok(()))) {
        tracing::warn!(remote = %ctx.name, "could not record the remote's account");
    }
}

/// The drive Microsoft Graph names for the signed-in account.
struct OneDrive {
    id: String,
    drive_type: String,
    /// Its owner, as far as Graph says (see [`account::from_graph_drive`]).
    owner: Option<String>,
}

/// `GET /me/drive` with the new token: the drive's id, type and owner.
async fn find_onedrive(ctx: &FlowContext, access: Option<&str>) -> Result<OneDrive, String> {
    let access = access.ok_or_else(|| "the token has no access_token".to_owned())?;
    let response = ctx
        .http
        .get(format!("{}/me/drive", ctx.graph_api_url))
        .bearer_auth(access)
        .send()
        .await
        .map_err(|_| "Microsoft Graph could not be reached".to_owned())?;
    if !response.status().is_success() {
        return Err(format!("Microsoft Graph answered {}", response.status()));
    }
    let no_drive = || "Microsoft Graph's answer had no drive".to_owned();
    let drive: serde_json::Value = response.json().await.map_err(|_| no_drive())?;
    let field = |name: &str| drive.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    Ok(OneDrive {
        id: field("id").ok_or_else(no_drive)?,
        drive_type: field("driveType").ok_or_else(no_drive)?,
        owner: account::from_graph_drive(&drive),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rclones_link_and_cleans_log_lines() {
        let line = "2026/11/23 11:55:11 NOTICE: Please go to the following link: http://127.0.0.1:53682/auth?state=SRPs9-iSy Trailing";
        let link = local_auth_link(line).unwrap();
        assert_eq!(link, "http://127.0.0.1:53682/auth?state=SRPs9-iSy");
        assert_eq!(query_param(&link, "state").as_deref(), Some("SRPs9-iSy"));
        assert_eq!(
            clean_log_line("2026/11/23 11:55:11 CRITICAL: Failed to authorize: boom"),
            "Failed to authorize: boom"
        );
        assert!(
            explain_failure(Some(
                "listen tcp 127.0.0.1:53682: bind: address already in use"
            ))
            .contains("another program")
        );
    }
}
