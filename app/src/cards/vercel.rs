//! Vercel: OAuth (the edge holds the client secret and finishes the exchange at its public
//! `/callback`) or a token. The helper forwards these routes to the edge.

use leptos::prelude::*;
use leptos::task::spawn_local;
use patchbay_proto::tokens::{
    OAuthExchangeRequest, OAuthStartResponse, TokenStatus, VercelAccount, VercelSaved,
};

use super::{
    Changed, Feedback, Summary, card_state, last_good, state_problem, stored_credential_action,
};
use crate::api::{ApiFailure, HelperClient};
use crate::ui::{CardFrame, ConfirmButton, Notice, Problem, TokenForm, on_return};

/// A `?code=…&state=…` the dashboard was opened with (Vercel sent the person back to the
/// dashboard rather than to the edge's `/callback`); the card exchanges it once.
#[derive(Clone, Copy)]
pub struct PendingExchange(pub RwSignal<Option<OAuthExchangeRequest>>);

#[derive(Clone, PartialEq)]
enum Panel {
    Closed,
    Token,
    /// Waiting for the person to approve in the other tab.
    OAuth {
        authorize_url: String,
    },
}

#[component]
pub fn VercelCard(summary: Summary) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let changed = expect_context::<Changed>();
    let (state, reload) = card_state("/api/connectors/vercel/status");
    let status = last_good::<TokenStatus<VercelAccount>>(state);
    let connected = Signal::derive(move || {
        status
            .get()
            .map(|s| s.connected)
            .unwrap_or_else(|| summary.connected.get())
    });
    // The helper answers but cannot serve Vercel (no edge configured): say so, offer nothing.
    let unavailable = Signal::derive(move || {
        matches!(
            state.get(),
            Some(Err(ApiFailure::Refused { status: 503, .. }))
        )
    });
    let account = Signal::derive(move || {
        let s = status.get().filter(|s| s.connected)?;
        let user = s.user?;
        let mut line = format!("Connected as {}", user.username);
        if let Some(email) = user.email {
            line.push_str(&format!(" ({email})"));
        }
        match s.source.as_deref() {
            Some("oauth") => line.push_str(" · Vercel sign-in"),
            Some("manual") => line.push_str(" · token"),
            _ => {}
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

    // Back from the sign-in tab: look again (no timer polling; the edge finished it).
    on_return(move || {
        if matches!(panel.get_untracked(), Panel::OAuth { .. }) {
            reload.update(|n| *n += 1);
        }
    });
    Effect::new(move |_| {
        if connected.get() && matches!(panel.get_untracked(), Panel::OAuth { .. }) {
            panel.set(Panel::Closed);
            notice.set(Some("Signed in to Vercel.".into()));
            changed.bump();
        }
    });

    // Opened at `?code=…&state=…`: finish that sign-in here.
    if let Some(pending) = use_context::<PendingExchange>()
        && let Some(request) = pending.0.get_untracked()
    {
        pending.0.set(None);
        let client = client.clone();
        busy.set(true);
        spawn_local(async move {
            let r: Result<VercelSaved, _> = client
                .post("/api/connectors/vercel/oauth/exchange", &request)
                .await;
            busy.set(false);
            match r {
                Ok(saved) => notice.set(Some(match saved.user {
                    Some(u) => format!("Signed in to Vercel as {}.", u.username),
                    None => "Signed in to Vercel.".into(),
                })),
                Err(e) => problem.set(e.on_card()),
            }
            refresh();
        });
    }

    let act = {
        let client = client.clone();
        move |what: &'static str| {
            let messages = (
                "Vercel accepted the stored credentials.",
                "Disconnected from Vercel.",
            );
            stored_credential_action(&client, "vercel", what, messages, feedback, refresh)
        }
    };
    let start = move |_| {
        let client = client.clone();
        feedback.begin();
        spawn_local(async move {
            let r: Result<OAuthStartResponse, _> =
                client.get("/api/connectors/vercel/oauth/start").await;
            busy.set(false);
            match r {
                Ok(s) => panel.set(Panel::OAuth {
                    authorize_url: s.authorize_url,
                }),
                Err(e) => problem.set(e.on_card()),
            }
        });
    };

    view! {
        <CardFrame id="vercel" title="Vercel" connected account detail=summary.detail>
            <Problem message=state_problem(state) />
            <Problem message=problem />
            <Notice message=notice />
            {move || {
                let act = act.clone();
                let act2 = act.clone();
                let start = start.clone();
                if unavailable.get() {
                    return ().into_any();
                }
                match panel.get() {
                    Panel::OAuth { authorize_url } => view! {
                        <section class="flow" aria-label="Vercel sign-in" data-testid="flow">
                            <ol class="steps">
                                <li>
                                    <strong>"Open Vercel and approve access. "</strong>
                                    <a class="button primary" href=authorize_url target="_blank" rel="noopener noreferrer" data-testid="auth-link">
                                        "Sign in with Vercel"<span class="sr-only">" (opens in a new tab)"</span>
                                    </a>
                                </li>
                                <li>"Vercel then shows a Patchbay page saying the sign-in is complete. Come back to this tab: the card updates when you return."</li>
                            </ol>
                            <div class="actions">
                                <button type="button" class="primary" data-action="check"
                                    on:click=move |_| reload.update(|n| *n += 1)>"I've approved: check now"</button>
                                <button type="button" class="secondary" data-action="cancel-flow"
                                    on:click=move |_| panel.set(Panel::Closed)>"Cancel"</button>
                            </div>
                        </section>
                    }.into_any(),
                    Panel::Token => view! {
                        <TokenForm id="vercel" label="Vercel access token"
                            hint="Create one at vercel.com → Account Settings → Tokens."
                            path="/api/connectors/vercel/token" button="Save token"
                            check=check_vercel_token
                            on_saved=Callback::new(move |_| {
                                panel.set(Panel::Closed);
                                notice.set(Some("Token saved.".into()));
                                refresh();
                            })
                            on_cancel=Some(Callback::new(move |_| panel.set(Panel::Closed))) />
                    }.into_any(),
                    Panel::Closed if connected.get() => view! {
                        <div class="actions">
                            <button type="button" class="secondary" data-action="reconnect"
                                disabled=move || busy.get() on:click=move |_| act("reconnect")>"Reconnect"</button>
                            <ConfirmButton label="Disconnect" yes="Disconnect" busy
                                question="Sign out of Vercel and forget the credentials?"
                                on_confirm=Callback::new(move |_| act2("disconnect")) />
                        </div>
                    }.into_any(),
                    Panel::Closed => view! {
                        <div class="actions">
                            <button type="button" class="primary" data-action="oauth"
                                disabled=move || busy.get() on:click=start>"Sign in with Vercel"</button>
                            <button type="button" class="secondary" data-action="use-token"
                                on:click=move |_| panel.set(Panel::Token)>"Use a token"</button>
                        </div>
                    }.into_any(),
                }
            }}
        </CardFrame>
    }
}

fn check_vercel_token(token: &str) -> Result<(), String> {
    if token.trim().is_empty() {
        return Err("Paste a Vercel token; the field is empty.".into());
    }
    if token.trim().bytes().any(|b| !b.is_ascii_graphic()) {
        return Err("A Vercel token has no spaces; copy it again, whole.".into());
    }
    Ok(())
}
