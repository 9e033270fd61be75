//! Vercel: OAuth (the edge holds the client secret and finishes the exchange at its public
//! `/callback`) or a token. The helper forwards these routes to the edge.

use leptos::prelude::*;
use patchbay_proto::api::ConnectorId;
use patchbay_proto::tokens::{OAuthExchangeRequest, OAuthStartResponse, VercelSaved, VercelStatus};

use super::{Card, CredentialActions, SignInOrToken, Summary};
use crate::flow::CANCELLED;
use crate::ui::{CardFrame, FeedbackLines, Problem, SetupNote, TokenForm, on_return};

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
    // Without an edge the helper can only refuse: ask nothing, say what to set up.
    let available = Signal::derive(move || summary.setup.with(Option::is_none));
    let card = Card::new("/api/connectors/vercel/status", available);
    let feedback = card.feedback;
    let status = card.last_good::<VercelStatus>();
    let connected = Signal::derive(move || {
        status
            .get()
            .map(|s| s.token.connected)
            .unwrap_or_else(|| summary.connected.get())
    });
    let account = Signal::derive(move || {
        let s = status.get().map(|s| s.token).filter(|s| s.connected)?;
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
    // What "check now" found, shown in the sign-in steps until the next check.
    let found = RwSignal::new(None::<String>);

    // Back from the sign-in tab: look again (no timer polling; the edge finished it).
    on_return(move || {
        if matches!(panel.get_untracked(), Panel::OAuth { .. }) {
            card.reload();
        }
    });
    Effect::new(move |_| {
        if connected.get() && matches!(panel.get_untracked(), Panel::OAuth { .. }) {
            panel.set(Panel::Closed);
            feedback.done(match status.get_untracked().and_then(|s| s.token.user) {
                Some(u) => format!("Signed in to Vercel as {}.", u.username),
                None => "Signed in to Vercel.".into(),
            });
            card.refresh();
        }
    });
    // A sign-in that ended on the edge's `/callback` without connecting: the edge remembers
    // why, and the card says it as the outcome of the sign-in (so it stays until the next
    // action), once per failure.
    let told = StoredValue::new(None::<u64>);
    Effect::new(move |_| {
        let Some(failure) = status.get().and_then(|s| s.last_failure) else {
            return;
        };
        if told.get_value() == Some(failure.at) {
            return;
        }
        told.set_value(Some(failure.at));
        if matches!(panel.get_untracked(), Panel::OAuth { .. }) {
            panel.set(Panel::Closed);
        }
        feedback.busy.set(false);
        feedback.notice.set(None);
        feedback.problem.set(Some(failure.message));
    });
    let check = move |_| {
        let client = card.client();
        found.set(Some("Checking with the edge…".into()));
        card.spawn(async move {
            let r = client
                .get::<VercelStatus>("/api/connectors/vercel/status")
                .await;
            found.set(match r {
                // The card turns connected, or says why not, and closes these steps by itself.
                Ok(s) if s.token.connected || s.last_failure.is_some() => None,
                Ok(_) => Some(
                    "Not signed in yet: the edge has not received Vercel's approval. Approve in \
                     the Vercel tab (it ends on a Patchbay page), then check again."
                        .into(),
                ),
                Err(e) => e.on_card(),
            });
            card.reload();
        });
    };

    // Opened at `?code=…&state=…`: finish that sign-in here.
    if let Some(pending) = use_context::<PendingExchange>()
        && let Some(request) = pending.0.get_untracked()
    {
        pending.0.set(None);
        let client = card.client();
        card.act(
            async move {
                client
                    .post_json("/api/connectors/vercel/oauth/exchange", &request)
                    .await
            },
            |answer| match serde_json::from_str::<VercelSaved>(answer)
                .ok()
                .and_then(|s| s.user)
            {
                Some(u) => format!("Signed in to Vercel as {}.", u.username),
                None => "Signed in to Vercel.".into(),
            },
        );
    }

    let start = Callback::new(move |()| {
        let client = card.client();
        feedback.begin();
        found.set(None);
        card.spawn(async move {
            let r: Result<OAuthStartResponse, _> =
                client.get("/api/connectors/vercel/oauth/start").await;
            match r {
                Ok(s) => {
                    feedback.busy.set(false);
                    panel.set(Panel::OAuth {
                        authorize_url: s.authorize_url,
                    });
                }
                Err(e) => feedback.failed(&e),
            }
        });
    });
    let use_token = Callback::new(move |()| panel.set(Panel::Token));
    let saved = Callback::new(move |()| {
        panel.set(Panel::Closed);
        feedback.done("Token saved.");
        card.refresh();
    });
    let closed = Callback::new(move |()| panel.set(Panel::Closed));

    view! {
        <CardFrame id=ConnectorId::Vercel connected setup=summary.setup account detail=summary.detail>
            <Problem message=card.state_problem() />
            <FeedbackLines feedback />
            {move || {
                if let Some(setup) = summary.setup.get() {
                    return view! { <SetupNote setup /> }.into_any();
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
                            <p class="hint" role="status" aria-live="polite" data-testid="check-result">{found}</p>
                            <div class="actions">
                                <button type="button" class="primary" data-action="check" on:click=check>"I've approved: check now"</button>
                                <button type="button" class="secondary" data-action="cancel-flow"
                                    on:click=move |_| { panel.set(Panel::Closed); feedback.done(CANCELLED) }>"Cancel sign-in"</button>
                            </div>
                        </section>
                    }.into_any(),
                    Panel::Token => view! {
                        <TokenForm id="vercel" label="Vercel access token"
                            hint="Create one at vercel.com → Account Settings → Tokens."
                            path="/api/connectors/vercel/token" button="Save token"
                            check=check_vercel_token
                            on_saved=saved on_cancel=Some(closed) />
                    }.into_any(),
                    Panel::Closed if connected.get() => view! {
                        <CredentialActions card connector="vercel" accepted="Vercel accepted the stored credentials."
                            question="Disconnect Vercel? Patchbay signs out and forgets the credentials." />
                    }.into_any(),
                    Panel::Closed => view! {
                        <SignInOrToken card action="oauth" label="Sign in with Vercel"
                            on_sign_in=start on_token=use_token />
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
