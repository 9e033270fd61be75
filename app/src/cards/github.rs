//! GitHub: the `gh` device flow (a code to enter at GitHub) or a personal access token.

use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, EndReason, Ok as OkBody};
use patchbay_proto::tokens::{
    DevicePoll, DeviceSessionRequest, DeviceStart, DeviceStatus, GithubUser, TokenStatus,
    check_github_token_shape,
};

use super::{Card, CredentialActions, SignInOrToken, Summary};
use crate::api::{ApiFailure, HelperClient, LONG_POLL_SECS};
use crate::flow::{clock, device_failure};
use crate::session::Ended;
use crate::tasks::Tasks;
use crate::ui::{CardFrame, CopyButton, FeedbackLines, Problem, TokenForm, When};

#[derive(Clone, PartialEq)]
enum Panel {
    Closed,
    Token,
    Device(DeviceStart),
}

#[component]
pub fn GithubCard(summary: Summary) -> impl IntoView {
    let card = Card::new("/api/connectors/github/status", Signal::stored(true));
    let feedback = card.feedback;
    let status = card.last_good::<TokenStatus<GithubUser>>();
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
    // Made here, not in the view of one panel: they run while that view is going away.
    let approved = Callback::new(move |login: String| {
        panel.set(Panel::Closed);
        feedback.done(format!("Signed in to GitHub as @{login}."));
        card.refresh();
    });
    let ended = card.on_sign_in_end(move || panel.set(Panel::Closed));
    let closed = Callback::new(move |()| panel.set(Panel::Closed));
    let saved = Callback::new(move |()| {
        panel.set(Panel::Closed);
        feedback.done("Token saved.");
        card.refresh();
    });
    let start_device = Callback::new(move |()| {
        let client = card.client();
        feedback.begin();
        card.spawn(async move {
            let r: Result<DeviceStart, _> =
                client.post_empty("/api/connectors/github/cli/start").await;
            match r {
                Ok(start) => {
                    feedback.busy.set(false);
                    panel.set(Panel::Device(start));
                }
                Err(e) => feedback.failed(&e),
            }
        });
    });
    let use_token = Callback::new(move |()| panel.set(Panel::Token));

    view! {
        <CardFrame id=ConnectorId::Github connected setup=summary.setup account detail=summary.detail>
            <Problem message=card.state_problem() />
            <FeedbackLines feedback />
            {move || match panel.get() {
                Panel::Device(start) => view! {
                    <DeviceCode start on_approved=approved on_end=ended on_close=closed />
                }.into_any(),
                Panel::Token => view! {
                    <TokenForm id="github" label="Personal access token"
                        hint="Create one at github.com → Settings → Developer settings → Personal access tokens (classic: scope repo; fine-grained: the repositories you need)."
                        path="/api/connectors/github/token" button="Save token"
                        check=check_github_token_shape
                        on_saved=saved on_cancel=Some(closed) />
                }.into_any(),
                Panel::Closed if connected.get() => view! {
                    <CredentialActions card connector="github" accepted="GitHub accepted the stored token."
                        question="Disconnect GitHub? Patchbay forgets the stored token." />
                }.into_any(),
                Panel::Closed => view! {
                    <SignInOrToken card action="device" label="Sign in with GitHub"
                        on_sign_in=start_device on_token=use_token />
                }.into_any(),
            }}
        </CardFrame>
    }
}

/// The device code, large, with a copy button, the verification link and a countdown;
/// long-polls the flow until GitHub says yes or no.
#[component]
fn DeviceCode(
    start: DeviceStart,
    /// GitHub said yes, for this login.
    on_approved: Callback<String>,
    /// It ended otherwise (failed, expired, cancelled); the card reloads either way.
    on_end: Callback<Ended>,
    on_close: Callback<()>,
) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let tasks = Tasks::here();
    let remaining = RwSignal::new(start.expires_in);
    let failure = RwSignal::new(None::<String>);
    // Cancel's answer and the long-poll's can both say "cancelled": tell the card once.
    let reported = StoredValue::new(false);
    let end = move |how: Ended| {
        if !reported.get_value() {
            reported.set_value(true);
            on_end.run(how);
        }
    };
    if let Ok(tick) = set_interval_with_handle(
        move || remaining.update(|r| *r = r.saturating_sub(1)),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || tick.clear());
    }
    {
        let client = client.clone();
        let session_id = start.session_id.clone();
        tasks.spawn(async move {
            loop {
                let body = DeviceSessionRequest {
                    session_id: session_id.clone(),
                    wait: Some(f64::from(LONG_POLL_SECS)),
                };
                let r: Result<DevicePoll, _> =
                    client.post("/api/connectors/github/cli/poll", &body).await;
                let failed = match r {
                    Ok(p) if p.status == DeviceStatus::Pending => continue,
                    Ok(p) if p.status == DeviceStatus::Approved => {
                        on_approved.run(p.user.map(|u| u.login).unwrap_or_default());
                        return;
                    }
                    Ok(p) if p.reason == Some(EndReason::Cancelled) => {
                        end(Ended::Cancelled);
                        return;
                    }
                    Ok(p) => device_failure(&p),
                    Err(ApiFailure::Unreachable) => {
                        client.until_online().await;
                        continue;
                    }
                    Err(e) => Some(e.explain(client.base())),
                };
                failure.set(failed);
                end(Ended::Failed);
                return;
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
            tasks.spawn(async move {
                let _: Result<OkBody, _> = client
                    .post("/api/connectors/github/cli/cancel", &body)
                    .await;
                end(Ended::Cancelled);
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
            {move || failure.get().map(|message| view! {
                <p class="problem" role="alert" data-testid="problem">{message}</p>
                <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Close"</button>
            })}
            <When when=move || failure.with(Option::is_none)>
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
            </When>
        </section>
    }
}
