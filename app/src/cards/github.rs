//! GitHub: the `gh` device flow (a code to enter at GitHub) or a personal access token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leptos::prelude::*;
use leptos::task::spawn_local;
use patchbay_proto::api::Ok as OkBody;
use patchbay_proto::tokens::{
    DevicePoll, DeviceSessionRequest, DeviceStart, DeviceStatus, GithubUser, TokenStatus,
    check_github_token_shape,
};

use super::{
    Changed, Feedback, Summary, card_state, last_good, state_problem, stored_credential_action,
};
use crate::api::{ApiFailure, HelperClient, LONG_POLL_SECS};
use crate::flow::{clock, device_outcome};
use crate::ui::{CardFrame, ConfirmButton, CopyButton, Notice, Problem, TokenForm};

#[derive(Clone, PartialEq)]
enum Panel {
    Closed,
    Token,
    Device(DeviceStart),
}

#[component]
pub fn GithubCard(summary: Summary) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let changed = expect_context::<Changed>();
    let (state, reload) = card_state("/api/connectors/github/status");
    let status = last_good::<TokenStatus<GithubUser>>(state);
    let connected = Signal::derive(move || {
        status
            .get()
            .map(|s| s.connected)
            .unwrap_or_else(|| summary.connected.get())
    });
    let account = Signal::derive(move || {
        let s = status.get()?;
        let user = s.user?;
        let mut line = format!("Connected as @{}", user.login);
        if let Some(hint) = s.token_hint {
            line.push_str(&format!(" · token ending in {hint}"));
        }
        if s.source.as_deref() == Some("gh") {
            line.push_str(" · via gh sign-in");
        }
        Some(line)
    });
    let panel = RwSignal::new(Panel::Closed);
    let feedback = Feedback::default();
    let Feedback {
        busy,
        problem,
        notice,
    } = feedback;
    let refresh = move || {
        reload.update(|n| *n += 1);
        changed.bump();
    };

    let act = {
        let client = client.clone();
        move |what: &'static str| {
            let messages = (
                "GitHub accepted the stored token.",
                "Disconnected from GitHub.",
            );
            stored_credential_action(&client, "github", what, messages, feedback, refresh)
        }
    };
    let start_device = {
        let client = client.clone();
        move |_| {
            let client = client.clone();
            feedback.begin();
            spawn_local(async move {
                let r: Result<DeviceStart, _> =
                    client.post_empty("/api/connectors/github/cli/start").await;
                busy.set(false);
                match r {
                    Ok(start) => panel.set(Panel::Device(start)),
                    Err(e) => problem.set(e.on_card()),
                }
            });
        }
    };

    view! {
        <CardFrame id="github" title="GitHub" connected account detail=summary.detail>
            <Problem message=state_problem(state) />
            <Problem message=problem />
            <Notice message=notice />
            {move || {
                let act = act.clone();
                let start_device = start_device.clone();
                match panel.get() {
                    Panel::Device(start) => view! {
                        <DeviceCode start
                            on_finish=Callback::new(move |approved: Option<String>| {
                                if let Some(login) = approved {
                                    notice.set(Some(format!("Signed in to GitHub as @{login}.")));
                                    panel.set(Panel::Closed);
                                }
                                refresh();
                            })
                            on_close=Callback::new(move |_| panel.set(Panel::Closed)) />
                    }.into_any(),
                    Panel::Token => view! {
                        <TokenForm id="github" label="Personal access token"
                            hint="Create one at github.com → Settings → Developer settings → Personal access tokens (classic: scope repo; fine-grained: the repositories you need)."
                            path="/api/connectors/github/token" button="Save token"
                            check=check_github_token_shape
                            on_saved=Callback::new(move |_| {
                                panel.set(Panel::Closed);
                                notice.set(Some("Token saved.".into()));
                                refresh();
                            })
                            on_cancel=Some(Callback::new(move |_| panel.set(Panel::Closed))) />
                    }.into_any(),
                    Panel::Closed if connected.get() => {
                        let act2 = act.clone();
                        view! {
                            <div class="actions">
                                <button type="button" class="secondary" data-action="reconnect"
                                    disabled=move || busy.get() on:click=move |_| act("reconnect")>"Reconnect"</button>
                                <ConfirmButton label="Disconnect" yes="Disconnect" busy
                                    question="Forget the stored GitHub token?"
                                    on_confirm=Callback::new(move |_| act2("disconnect")) />
                            </div>
                        }.into_any()
                    }
                    Panel::Closed => view! {
                        <div class="actions">
                            <button type="button" class="primary" data-action="device"
                                disabled=move || busy.get() on:click=start_device>"Sign in with GitHub"</button>
                            <button type="button" class="secondary" data-action="use-token"
                                on:click=move |_| panel.set(Panel::Token)>"Use a token"</button>
                        </div>
                    }.into_any(),
                }
            }}
        </CardFrame>
    }
}

/// The device code, large, with a copy button, the verification link and a countdown;
/// long-polls the flow until GitHub says yes or no.
#[component]
fn DeviceCode(
    start: DeviceStart,
    /// `Some(login)` on approval; `None` when it ended otherwise (the card reloads either way).
    on_finish: Callback<Option<String>>,
    on_close: Callback<()>,
) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let remaining = RwSignal::new(start.expires_in);
    let outcome = RwSignal::new(None::<String>);
    let alive = Arc::new(AtomicBool::new(true));
    if let Ok(tick) = set_interval_with_handle(
        move || remaining.update(|r| *r = r.saturating_sub(1)),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || tick.clear());
    }
    {
        let alive = alive.clone();
        on_cleanup(move || alive.store(false, Ordering::Relaxed));
    }
    {
        let client = client.clone();
        let session_id = start.session_id.clone();
        spawn_local(async move {
            while alive.load(Ordering::Relaxed) {
                let body = DeviceSessionRequest {
                    session_id: session_id.clone(),
                    wait: Some(f64::from(LONG_POLL_SECS)),
                };
                let r: Result<DevicePoll, _> =
                    client.post("/api/connectors/github/cli/poll", &body).await;
                if !alive.load(Ordering::Relaxed) {
                    return;
                }
                match r {
                    Ok(p) if p.status == DeviceStatus::Pending => {}
                    Ok(p) if p.status == DeviceStatus::Approved => {
                        on_finish.run(Some(p.user.map(|u| u.login).unwrap_or_default()));
                        return;
                    }
                    Ok(p) => {
                        outcome.set(device_outcome(p.status, p.message.as_deref()));
                        on_finish.run(None);
                        return;
                    }
                    Err(ApiFailure::Unreachable) => client.until_online().await,
                    Err(e) => {
                        outcome.set(Some(e.explain(client.base())));
                        on_finish.run(None);
                        return;
                    }
                }
            }
        });
    }
    let cancel = {
        let session_id = start.session_id.clone();
        move |_| {
            let client = client.clone();
            let body = DeviceSessionRequest {
                session_id: session_id.clone(),
                wait: None,
            };
            spawn_local(async move {
                let _: Result<OkBody, _> = client
                    .post("/api/connectors/github/cli/cancel", &body)
                    .await;
                on_close.run(());
            });
        }
    };
    let code = start.user_code.clone();
    let uri = start.verification_uri.clone();
    let shown_uri = uri
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned();
    view! {
        <section class="device flow" aria-label="GitHub sign-in code" data-testid="device">
            {move || match outcome.get() {
                Some(message) => view! {
                    <p class="problem" role="alert" data-testid="problem">{message}</p>
                    <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Close"</button>
                }.into_any(),
                None => ().into_any(),
            }}
            <Show when=move || outcome.with(Option::is_none)>
                <p>"1. Copy this one-time code:"</p>
                <div class="code-row">
                    <output class="device-code" data-testid="user-code" aria-label="one-time code">{code.clone()}</output>
                    <CopyButton text=code.clone() what="the code" />
                </div>
                <p>"2. Open GitHub and enter it, then approve:"</p>
                <p><a class="button primary" href=uri.clone() target="_blank" rel="noopener noreferrer" data-testid="verification-link">
                    {format!("Open {shown_uri}")}<span class="sr-only">" (opens in a new tab)"</span>
                </a></p>
                <p class="waiting" role="status" aria-live="polite">
                    <span class="spinner" aria-hidden="true"></span>
                    "Waiting for you to approve at GitHub…"
                </p>
                <p class="countdown hint" data-testid="countdown">
                    {move || match remaining.get() {
                        0 => "The code has expired.".to_owned(),
                        r => format!("The code expires in {}.", clock(r)),
                    }}
                </p>
                <button type="button" class="secondary" data-action="cancel-flow" on:click=cancel.clone()>"Cancel sign-in"</button>
            </Show>
        </section>
    }
}
