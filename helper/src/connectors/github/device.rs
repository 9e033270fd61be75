//! GitHub through the `gh` device flow: `POST /api/connectors/github/cli/start|poll|cancel`
//! (the routes are in [`super::routes`]).
//!
//! `gh auth login --web` runs in its own process group with a private `GH_CONFIG_DIR` (the
//! user's own gh login is never touched) and `BROWSER` set to a no-op. Its one-time code and
//! verification URL are read from its output; once the user approves, `gh auth token` hands
//! over the token, which is validated with GET /user and written through the store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use patchbay_proto::Secret;
use patchbay_proto::api::{EndReason, Ok};
use patchbay_proto::tokens::{DevicePoll, DeviceSessionRequest, DeviceStart, DeviceStatus};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::pat;
use crate::engine::child::GroupChild;
use crate::engine::fsutil;
use crate::engine::session::{self, SessionCtl, SessionStatus, SessionTable};
use crate::engine::store::{self, JsonStore, now_unix};
use crate::engine::upstream::Attempt;
use crate::error::ApiJson;
use crate::{ApiError, AppState};

/// A finished device session stays readable this long (and a running one is stopped).
pub const DEVICE_TTL: Duration = Duration::from_secs(15 * 60);
/// GitHub's device codes live 15 minutes; gh does not print the figure.
const CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);
const CODE_TIMEOUT: Duration = Duration::from_secs(30);
/// gh prints its verification URL on the line after the code; wait this long for it.
const URL_GRACE: Duration = Duration::from_millis(1500);
/// Variables that would make gh use them instead of logging in.
const GH_TOKEN_VARS: [&str; 5] = [
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
    "GH_HOST",
];

/// A device session: what `poll` reports, plus the code shown to the user.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceFlow {
    pub poll: DevicePoll,
    pub user_code: Option<String>,
    pub verification_uri: Option<String>,
    pub expires_at: Instant,
}

impl SessionStatus for DeviceFlow {
    fn is_finished(&self) -> bool {
        self.poll.status != DeviceStatus::Pending
    }
    fn label(&self) -> &'static str {
        match self.poll.status {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Expired => "expired",
        }
    }
}

/// The GitHub connector's state: its device sessions.
pub struct GithubState {
    sessions: SessionTable<DeviceFlow>,
    /// One device flow at a time: a second start returns the running one.
    start: tokio::sync::Mutex<Option<String>>,
}

impl Default for GithubState {
    fn default() -> Self {
        Self {
            sessions: SessionTable::new("gh-cli", "GitHub", DEVICE_TTL),
            start: tokio::sync::Mutex::new(None),
        }
    }
}

impl GithubState {
    /// Cancels the device flow, if one runs, and waits until gh is gone.
    pub async fn shutdown(&self) {
        self.sessions.shutdown().await;
    }
}

/// The start answer, once gh has shown its code. `fallback_uri`: the host's standard device
/// page, for a gh that printed no URL line.
fn start_answer(id: &str, flow: &DeviceFlow, fallback_uri: Option<&str>) -> Option<DeviceStart> {
    Some(DeviceStart {
        session_id: id.to_owned(),
        user_code: flow.user_code.clone()?,
        verification_uri: flow
            .verification_uri
            .clone()
            .or_else(|| fallback_uri.map(str::to_owned))?,
        expires_in: flow
            .expires_at
            .saturating_duration_since(Instant::now())
            .as_secs(),
    })
}

pub async fn start(State(state): State<AppState>) -> Result<Json<DeviceStart>, ApiError> {
    let gh = &state.connectors().github;
    let config = state.config();
    let fallback_uri = format!("https://{}/login/device", config.github_host);
    let mut running = gh.start.lock().await;
    if let Some(id) = running.as_deref()
        && let Some(flow) = gh.sessions.get(id)
        && !flow.is_finished()
        && let Some(answer) = start_answer(id, &flow, Some(&fallback_uri))
    {
        return Ok(Json(answer));
    }

    let config_dir = config
        .data_dir
        .join("gh-sessions")
        .join(patchbay_proto::secret::random_urlsafe(9));
    let dir = config_dir.clone();
    tokio::task::spawn_blocking(move || fsutil::ensure_private_dir(&dir))
        .await
        .map_err(|_| ApiError::internal("creating gh's folder failed"))?
        .map_err(|e| ApiError::internal(format!("cannot create gh's private folder: {e}")))?;
    let mut cmd = gh_command(&config.gh_bin, &config_dir);
    cmd.args(["auth", "login", "--hostname", &config.github_host, "--web"])
        .args(["--git-protocol", "https"]);
    let child = match GroupChild::spawn(cmd) {
        Result::Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&config_dir);
            return Err(if e.kind() == std::io::ErrorKind::NotFound {
                ApiError::unavailable(format!(
                    "gh (GitHub CLI) is not installed (no {} on PATH). Install it (sudo apt-get \
                     install gh) or set PATCHBAY_GH to its path, or save a personal access \
                     token instead.",
                    config.gh_bin.display()
                ))
            } else {
                ApiError::unavailable(format!("gh could not be started: {e}"))
            });
        }
    };

    let initial = DeviceFlow {
        poll: DevicePoll {
            status: DeviceStatus::Pending,
            reason: None,
            message: None,
            user: None,
        },
        user_code: None,
        verification_uri: None,
        expires_at: Instant::now() + CODE_LIFETIME,
    };
    let task_state = state.clone();
    let id = gh
        .sessions
        .start(initial, move |ctl| run(ctl, child, config_dir, task_state));
    *running = Some(id.clone());
    drop(running);

    // The answer carries the code and URL, so wait until gh has printed them (or given up).
    let deadline = Instant::now() + CODE_TIMEOUT;
    let mut code_seen: Option<Instant> = None;
    loop {
        let flow = gh
            .sessions
            .wait(&id, Some(Duration::from_millis(250)))
            .await
            .ok_or_else(|| ApiError::internal("the device session vanished"))?;
        if flow.user_code.is_some() {
            let seen = *code_seen.get_or_insert_with(Instant::now);
            let fallback = (seen.elapsed() >= URL_GRACE).then_some(fallback_uri.as_str());
            if let Some(answer) = start_answer(&id, &flow, fallback) {
                tracing::info!(session = %id, "gh device flow started");
                return Ok(Json(answer));
            }
        }
        if flow.is_finished() {
            return Err(ApiError::upstream(
                flow.poll
                    .message
                    .unwrap_or_else(|| "gh stopped before showing a code.".into()),
            ));
        }
        if Instant::now() > deadline {
            gh.sessions.cancel(&id);
            return Err(ApiError::upstream(
                "gh did not show a one-time code within 30 seconds; check that this machine can \
                 reach GitHub.",
            ));
        }
    }
}

/// gh with a private config folder, no browser, no prompts, and none of the user's tokens.
fn gh_command(gh_bin: &Path, config_dir: &Path) -> Command {
    let mut cmd = Command::new(gh_bin);
    for var in GH_TOKEN_VARS {
        cmd.env_remove(var);
    }
    cmd.env("GH_CONFIG_DIR", config_dir)
        .env("BROWSER", "true")
        .env("GH_PROMPT_DISABLED", "1")
        .env("GH_NO_UPDATE_NOTIFIER", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("NO_COLOR", "1");
    cmd
}

async fn run(
    ctl: SessionCtl<DeviceFlow>,
    mut child: GroupChild,
    config_dir: PathBuf,
    state: AppState,
) {
    let outcome = tokio::select! {
        r = login(&ctl, &mut child) => r,
        _ = ctl.cancel.cancelled() => Err((EndReason::Cancelled, "The sign-in was cancelled.".to_owned())),
        _ = tokio::time::sleep_until(ctl.current().expires_at) => Err((EndReason::Expired, expired_message())),
    };
    child.kill_group().await;
    let result = match outcome {
        Result::Ok(()) => finish(&state, &config_dir).await,
        Err(e) => Err(e),
    };
    let dir = config_dir.clone();
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
    ctl.update(|flow| match result {
        Result::Ok(user) => {
            flow.poll.status = DeviceStatus::Approved;
            flow.poll.user = Some(user);
        }
        // The contract's only word for a flow that can no longer be approved is `expired`;
        // `reason` says whether it failed, was cancelled or ran out of time.
        Err((reason, message)) => {
            flow.poll.status = DeviceStatus::Expired;
            flow.poll.reason = Some(reason);
            flow.poll.message = Some(message);
        }
    });
    tracing::info!(session = %ctl.id, status = ?ctl.current().poll.status, "gh device flow ended");
}

fn expired_message() -> String {
    "The one-time code expired before it was entered. Start the sign-in again.".into()
}

/// Why a device flow ended unapproved, and the sentence for the person.
type Failure = (EndReason, String);

/// Reads gh's output until it exits; publishes the code as soon as it appears.
async fn login(ctl: &SessionCtl<DeviceFlow>, child: &mut GroupChild) -> Result<(), Failure> {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    for stream in [
        child
            .child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        child
            .child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Result::Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let mut last = String::new();
    while let Some(line) = rx.recv().await {
        if let Some(code) = one_time_code(&line) {
            // The URL comes on gh's next line; `start` waits for it (URL_GRACE).
            ctl.update(|f| f.user_code = Some(code));
        } else if let Some(url) = verification_url(&line) {
            ctl.update(|f| f.verification_uri = Some(url));
        }
        if !line.trim().is_empty() {
            last = line;
        }
    }
    let status = child.child.wait().await.ok();
    if status.is_some_and(|s| s.success()) {
        return Result::Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    Err(ending_of(status.and_then(|s| s.signal()), &last))
}

/// How a gh that exited without success ended: killed by `signal`, or from the last line it
/// printed (outside input: quoted before it reaches the message).
fn ending_of(signal: Option<i32>, last_line: &str) -> Failure {
    if let Some(signal) = signal {
        return (
            EndReason::Failed,
            format!(
                "gh was stopped (signal {signal}) before the sign-in finished, so nothing was \
                 saved. Start the sign-in again."
            ),
        );
    }
    let last = patchbay_proto::text::quote(last_line.trim(), 300);
    // gh enforces expires_in itself ("context deadline exceeded"), or GitHub says so.
    if last.contains("expired_token") || last.contains("deadline exceeded") {
        (EndReason::Expired, expired_message())
    } else if last.contains("slow_down") {
        // gh 2.23's OAuth library treats GitHub's request to poll more slowly as fatal.
        (
            EndReason::Failed,
            "GitHub asked gh to poll more slowly and this version of gh gave up. Start the \
             sign-in again (updating gh avoids this)."
                .into(),
        )
    } else if last.contains("access_denied") {
        (
            EndReason::Failed,
            "Access was declined on GitHub. Start again and choose Authorize.".into(),
        )
    } else {
        (
            EndReason::Failed,
            format!(
                "gh could not finish the sign-in (it said: {last}), so nothing was saved. Start \
                 the sign-in again."
            ),
        )
    }
}

/// `! First copy your one-time code: ABCD-1234` → `ABCD-1234`.
fn one_time_code(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("one-time code:")?;
    let code = rest.trim();
    (!code.is_empty()
        && code.len() <= 16
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    .then(|| code.to_owned())
}

/// The `http(s)://…/login/device` URL gh prints.
fn verification_url(line: &str) -> Option<String> {
    let start = line.find("http://").or_else(|| line.find("https://"))?;
    let url: String = line[start..]
        .chars()
        .take_while(|c| c.is_ascii_graphic())
        .collect();
    url.contains("/login/device").then_some(url)
}

/// Takes the token from gh, validates it and writes both credential files.
async fn finish(
    state: &AppState,
    config_dir: &Path,
) -> Result<patchbay_proto::tokens::GithubUser, Failure> {
    let config = state.config();
    let fail = |m: String| (EndReason::Failed, m);
    let mut cmd = gh_command(&config.gh_bin, config_dir);
    cmd.args(["auth", "token", "--hostname", &config.github_host])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(15), cmd.output())
        .await
        .map_err(|_| fail("gh did not hand over the token.".into()))?
        .map_err(|e| fail(format!("gh could not be run to read the token: {e}")))?;
    let token = Secret::new(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || token.is_empty() {
        return Err(fail("gh finished but has no token for this host.".into()));
    }
    let user = pat::fetch_user(state, &token, Attempt::Save)
        .await
        .map_err(|e| fail(e.message))?;
    let entry = pat::entry(&token, &user, "gh");
    let cache = json!({
        "token": token.expose(),
        "login": user.login,
        "host": config.github_host,
        "source": "gh",
        "saved_at": now_unix(),
    });
    let tokens = state.tokens().clone();
    let cache_file = JsonStore::at(config.github_token_file.clone());
    store::blocking(move || {
        cache_file.update(|e| {
            e.clear();
            if let serde_json::Value::Object(map) = cache {
                e.extend(map);
            }
        })?;
        tokens.update(|e| e.insert(pat::STORED.key.into(), entry))
    })
    .await
    .map_err(|e| fail(e.message))?;
    tracing::info!(login = %user.login, "github connected through gh");
    Result::Ok(user)
}

pub async fn poll(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    ApiJson(body): ApiJson<DeviceSessionRequest>,
) -> Result<Json<DevicePoll>, ApiError> {
    let wait = match body.wait {
        Some(seconds) => Some(session::wait_for(seconds)?),
        None => session::wait_param(&query)?,
    };
    let sessions = &state.connectors().github.sessions;
    let flow = sessions
        .wait(&body.session_id, wait)
        .await
        .ok_or_else(|| sessions.unknown(&body.session_id))?;
    Result::Ok(Json(flow.poll))
}

pub async fn cancel(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DeviceSessionRequest>,
) -> Result<Json<Ok>, ApiError> {
    // Answer once gh is gone, so a new sign-in can start right after.
    let sessions = &state.connectors().github.sessions;
    sessions
        .cancel_and_settle(&body.session_id, Duration::from_secs(5))
        .await?;
    Result::Ok(Json(Ok::YES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_gh_output() {
        assert_eq!(
            one_time_code("! First copy your one-time code: ABCD-1234").as_deref(),
            Some("ABCD-1234")
        );
        assert_eq!(one_time_code("nothing here"), None);
        assert_eq!(
            verification_url("Open this URL to continue in your web browser: http://github.localhost/login/device").as_deref(),
            Some("http://github.localhost/login/device")
        );
        assert_eq!(verification_url("see https://example.com/other"), None);
    }

    mod gh_output_lines {
        use super::*;
        use patchbay_proto::text::is_unsafe_in_messages;
        use proptest::prelude::*;

        /// What gh prints, and what a broken or hostile gh (or terminal) could.
        fn line() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                3 => any::<char>().prop_map(String::from),
                3 => prop::sample::select(vec![
                    "! First copy your one-time code: ", "one-time code:", "ABCD-1234",
                    "https://github.com/login/device", "http://", "/login/device", " ",
                    "\u{1b}[2J", "\u{202e}", "\r", "expired_token", "slow_down",
                    "access_denied", "context deadline exceeded", "error: ",
                ])
                .prop_map(str::to_owned),
            ];
            prop::collection::vec(piece, 0..16).prop_map(|p| p.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn no_line_panics_or_puts_a_control_character_anywhere(line in line()) {
                if let Some(code) = one_time_code(&line) {
                    prop_assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
                    prop_assert!((1..=16).contains(&code.len()));
                }
                if let Some(url) = verification_url(&line) {
                    prop_assert!(url.starts_with("http"));
                    prop_assert!(url.bytes().all(|b| b.is_ascii_graphic()), "{url:?}");
                }
                let (_, message) = ending_of(None, &line);
                prop_assert!(!message.chars().any(is_unsafe_in_messages), "{message:?}");
                prop_assert!(message.chars().count() < 400);
            }
        }

        /// A gh whose last line carried an escape sequence reached the dashboard with it.
        #[test]
        fn an_escape_sequence_in_the_last_line_is_dropped() {
            let (status, message) = ending_of(None, "error: \u{1b}[2J\u{202e}boom");
            assert_eq!(status, EndReason::Failed);
            assert!(message.contains("(it said: error: [2Jboom)"), "{message}");
            let (_, killed) = ending_of(Some(9), "Open this URL: https://github.com/login/device");
            assert!(killed.starts_with("gh was stopped (signal 9)"), "{killed}");
            let url = verification_url("Open https://github.com/login/device\u{1b}[0m now");
            assert_eq!(url.as_deref(), Some("https://github.com/login/device"));
        }
    }
}
