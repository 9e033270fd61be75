//! The HTTP side of the rclone connectors: validate, start, report, forward, cancel.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use patchbay_proto::api::{
    FlowStatus, Ok, RemoteList, RemoteSession, RemotesStatus, StartRemoteRequest, SubmitCodeRequest,
};
use patchbay_proto::rclone::{self, REMOTE_NAME_RULE, is_valid_remote_name};
use patchbay_proto::redirect::parse_pasted_redirect;

use super::account::Accounts;
use super::flow::{self, FlowContext};
use super::settings::ProviderSettings;
use super::{Kind, RemoteFlow};
use crate::engine::child::GroupChild;
use crate::engine::lease::{LOOPBACK_PORT, LoopbackLease};
use crate::engine::session;
use crate::engine::store::{LockedFile, StoreError, blocking};
use crate::engine::text::quote_input;
use crate::error::ApiJson;
use crate::{ApiError, AppState};

/// How long `submit` waits for rclone to finish before answering.
const SUBMIT_SETTLE: Duration = Duration::from_secs(15);
/// How long `submit` waits for a flow whose listener is gone to report how it ended.
const GONE_SETTLE: Duration = Duration::from_secs(2);

fn rclone_conf(state: &AppState) -> LockedFile {
    LockedFile::at(state.config().rclone_conf())
}

fn accounts(state: &AppState) -> Accounts {
    Accounts::in_dir(&state.config().data_dir)
}

async fn read_conf(state: &AppState) -> Result<String, ApiError> {
    let file = rclone_conf(state);
    let bytes = blocking(move || file.read()).await?;
    Ok(String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned())
}

/// The remotes of this kind in rclone.conf.
async fn remotes_of(state: &AppState, kind: Kind) -> Result<Vec<rclone::Remote>, ApiError> {
    let conf = read_conf(state).await?;
    Ok(rclone::parse_remotes(&conf)
        .into_iter()
        .filter(|r| r.kind == kind.backend())
        .collect())
}

pub async fn list_remotes(
    State(state): State<AppState>,
    kind: Kind,
) -> Result<Json<RemoteList>, ApiError> {
    let accounts = accounts(&state);
    let mut known = blocking(move || accounts.of(kind)).await?;
    let remotes = remotes_of(&state, kind)
        .await?
        .into_iter()
        .map(|mut r| {
            r.account = known.remove(&r.name);
            r
        })
        .collect();
    Ok(Json(RemoteList { remotes }))
}

/// The card's badge: connected when a remote of this kind exists.
pub async fn status(
    State(state): State<AppState>,
    kind: Kind,
) -> Result<Json<RemotesStatus>, ApiError> {
    let remotes: Vec<String> = remotes_of(&state, kind)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    Ok(Json(RemotesStatus {
        connected: !remotes.is_empty(),
        remotes,
    }))
}

pub async fn start(
    State(state): State<AppState>,
    kind: Kind,
    ApiJson(body): ApiJson<StartRemoteRequest>,
) -> Result<session::Started, ApiError> {
    let name = body.name.trim().to_owned();
    if !is_valid_remote_name(&name) {
        return Err(ApiError::bad_request(format!(
            "“{}” cannot be a remote name: {REMOTE_NAME_RULE}.",
            quote_input(&name)
        )));
    }
    let conf = read_conf(&state).await?;
    let existing = rclone::parse_remotes(&conf)
        .into_iter()
        .find(|r| r.name == name);
    let kept_options = match existing {
        Some(r) if r.kind != kind.backend() => {
            return Err(ApiError::bad_request(format!(
                "A remote named “{name}” already exists and is not a {} remote; pick another name.",
                kind.display()
            )));
        }
        Some(_) if !body.force => {
            return Err(ApiError::bad_request(format!(
                "A remote named “{name}” already exists. To sign in to it again, send \"force\": true."
            )));
        }
        Some(_) => rclone::section_options(&conf, &name),
        None => Vec::new(),
    };

    let config = state.config();
    let holder = format!("{} sign-in for remote “{name}”", kind.display());
    let data_dir = config.data_dir.clone();
    let lease = tokio::task::spawn_blocking(move || LoopbackLease::try_acquire(&data_dir, &holder))
        .await
        .map_err(|_| ApiError::internal("taking the port lease failed"))??;

    let settings = ProviderSettings::load(kind, &config.data_dir, |k| std::env::var(k).ok());
    let (client_id, client_secret) = settings.effective_client(kind, |k| std::env::var(k).ok());
    let note = (kind == Kind::Gdrive && client_id.is_none()).then(|| {
        "No Google OAuth client is configured. Google retired rclone's shared client in 2026, \
         so this sign-in will likely be refused: create an OAuth client (Desktop app) in Google \
         Cloud and set PATCHBAY_GDRIVE_CLIENT_ID and PATCHBAY_GDRIVE_CLIENT_SECRET."
            .to_owned()
    });
    let ctx = FlowContext {
        kind,
        name: name.clone(),
        rclone_conf: config.rclone_conf(),
        http: state.http().clone(),
        loopback: state.loopback_http().clone(),
        graph_api_url: config.graph_api_url.clone(),
        drive_api_url: config.drive_api_url.clone(),
        accounts: accounts(&state),
        settings,
        client_id,
        client_secret,
        kept_options,
    };
    let child = GroupChild::spawn(flow::command(&config.rclone_bin, &ctx)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ApiError::unavailable(format!(
                "rclone is not installed (no {} on PATH). Install it (sudo apt-get install \
                 rclone) or set PATCHBAY_RCLONE to its path.",
                config.rclone_bin.display()
            ))
        } else {
            ApiError::unavailable(format!("rclone could not be started: {e}"))
        }
    })?;

    let initial = RemoteFlow {
        public: RemoteSession {
            status: FlowStatus::Pending,
            auth_url: None,
            needs_manual_code: false,
            remote_name: name.clone(),
            error: None,
            reason: None,
            note,
        },
        oauth_state: None,
    };
    let id = state
        .connectors()
        .rclone
        .sessions(kind)
        .start(initial, move |ctl| flow::run(ctl, child, lease, ctx));
    tracing::info!(session = %id, remote = %name, backend = kind.backend(), "rclone sign-in started");
    Ok(session::started(id))
}

pub async fn session(
    State(state): State<AppState>,
    kind: Kind,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<RemoteSession>, ApiError> {
    let sessions = state.connectors().rclone.sessions(kind);
    Ok(Json(sessions.poll(&id, &query).await?.public))
}

pub async fn submit(
    State(state): State<AppState>,
    kind: Kind,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubmitCodeRequest>,
) -> Result<Json<Ok>, ApiError> {
    let sessions = state.connectors().rclone.sessions(kind);
    let flow = sessions.get(&id).ok_or_else(|| sessions.unknown(&id))?;
    let pasted =
        parse_pasted_redirect(&body.code).map_err(|e| ApiError::bad_request(e.message()))?;
    let expected = flow.oauth_state.clone().unwrap_or_default();
    let state_param = match pasted.state {
        Some(s) if !patchbay_proto::Secret::new(s.as_str()).matches(&expected) => {
            return Err(ApiError::bad_request(
                "This address belongs to another sign-in (its state does not match). Paste the \
                 address from the sign-in you started here, or start again.",
            ));
        }
        Some(s) => s,
        None => expected,
    };
    match flow.public.status {
        FlowStatus::AwaitingOauth => {}
        // The browser on this machine reached rclone's listener before the person pasted:
        // the sign-in this address belongs to is done, which is all the paste asked for.
        FlowStatus::Completed => return Ok(Json(Ok::YES)),
        FlowStatus::Pending => {
            return Err(ApiError::conflict(
                "This sign-in is still starting and not waiting for a code yet: poll the \
                 session until its status is awaiting_oauth, then paste again.",
            ));
        }
        FlowStatus::Error => {
            return Err(ApiError::conflict(
                "This sign-in has ended without completing (the session's error says why) and \
                 takes no code any more. Start the sign-in again.",
            ));
        }
    }
    // Hand the code to rclone exactly as the provider's redirect would have.
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("state", &state_param)
        .append_pair("code", &pasted.code)
        .finish();
    let forwarded = state
        .loopback_http()
        .get(format!("http://127.0.0.1:{LOOPBACK_PORT}/?{query}"))
        .send()
        .await;
    // rclone's listener hands the code to its sign-in and closes every connection at once,
    // often before its own answer is written (rclone's lib/oauthutil: the handler's send on
    // the result channel races the deferred `server.Close()`). So a connection that was
    // made but closed unanswered delivered the code as surely as a 200 did: the outcome is
    // the session's either way. Only a refused connection means nobody was listening.
    let listening = !matches!(&forwarded, Err(e) if e.is_connect());
    let settle = if listening {
        SUBMIT_SETTLE
    } else {
        GONE_SETTLE
    };
    // Answer with the outcome rather than leaving the client to guess.
    let settled = sessions.wait(&id, Some(settle)).await.map(|f| f.public);
    match settled {
        Some(s) if s.status == FlowStatus::Error => Err(ApiError::bad_request(
            s.error.unwrap_or_else(|| "The sign-in failed.".into()),
        )),
        Some(s) if listening || s.status == FlowStatus::Completed => Ok(Json(Ok::YES)),
        _ => Err(ApiError::conflict(
            "rclone is no longer waiting for a code (the sign-in may have just finished or \
             been cancelled). Check the session status.",
        )),
    }
}

pub async fn cancel(
    State(state): State<AppState>,
    kind: Kind,
    Path(id): Path<String>,
) -> Result<Json<Ok>, ApiError> {
    // Answer once rclone is gone, so a new sign-in can start right after.
    let sessions = state.connectors().rclone.sessions(kind);
    sessions
        .cancel_and_settle(&id, Duration::from_secs(5))
        .await?;
    Ok(Json(Ok::YES))
}

pub async fn delete_remote(
    State(state): State<AppState>,
    kind: Kind,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !is_valid_remote_name(&name) {
        return Err(ApiError::bad_request(format!(
            "“{}” cannot be a remote name: {REMOTE_NAME_RULE}.",
            quote_input(&name)
        )));
    }
    let file = rclone_conf(&state);
    let backend = kind.backend();
    let display = kind.display();
    let wanted = name.clone();
    let removed = blocking(move || {
        file.replace(|current| {
            let text = String::from_utf8_lossy(current.unwrap_or_default()).into_owned();
            let is_ours = rclone::parse_remotes(&text)
                .iter()
                .any(|r| r.name == wanted && r.kind == backend);
            if !is_ours {
                return Ok::<_, StoreError>((None, false));
            }
            let (rest, _) = rclone::remove_section(&text, &wanted);
            Ok((Some(rest.into_bytes()), true))
        })
    })
    .await?;
    if removed {
        let (accounts, forget) = (accounts(&state), name.clone());
        blocking(move || accounts.set(kind, &forget, None)).await?;
        tracing::info!(remote = %name, backend, "remote deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "There is no {display} remote named “{name}”."
        )))
    }
}
