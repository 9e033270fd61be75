//! Vercel: OAuth (the edge holds the client secret and finishes the exchange at its public
//! `/callback`) or a token. The helper forwards these routes to the edge.

use leptos::prelude::*;
use patchbay_proto::api::ConnectorId;
use patchbay_proto::tokens::OAuthExchangeRequest;

use super::view::{Action, CardBody, CardView, Panel};
use super::{Card, Known, Summary, TokenFormSpec, setup_only, sign_in_card};
use crate::answer::{self, Value};
use crate::api::{decode, json};
use crate::flow::CANCELLED;
use crate::ui::{button, new_tab_button, on_return};

/// A `?code=…&state=…` the dashboard was opened with (Vercel sent the person back to the
/// dashboard rather than to the edge's `/callback`); the card exchanges it once. Not a
/// signal: it is taken once, when the card is built.
#[derive(Clone)]
pub struct PendingExchange(pub std::sync::Arc<std::sync::Mutex<Option<OAuthExchangeRequest>>>);

impl PendingExchange {
    pub fn new(request: Option<OAuthExchangeRequest>) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(request)))
    }

    /// The request, once.
    fn take(&self) -> Option<OAuthExchangeRequest> {
        self.0.lock().ok()?.take()
    }
}

#[component]
pub fn VercelCard(summary: Summary) -> impl IntoView {
    // Without an edge the helper can only refuse: ask nothing, say what to set up.
    let available = Signal::derive(move || summary.setup().is_none());
    let card = Card::new("/api/connectors/vercel/status", available);
    let feedback = card.feedback;
    let view = card.view(summary, state);
    let connected = Signal::derive(move || view.with(|v| v.connected));
    let panel = RwSignal::new(Panel::Closed);
    // What "check now" found, shown in the sign-in steps until the next check.
    let found = RwSignal::new(None::<String>);

    // Back from the sign-in tab: look again (no timer polling; the edge finished it).
    on_return(move || {
        if matches!(panel.get_untracked(), Panel::OAuth { .. }) {
            card.reload();
        }
    });
    let told = StoredValue::new(0u32);
    // One effect for both outcomes of a sign-in in the other tab (one copy of the effect code).
    Effect::new(move |_| {
        // It connected: close the steps and say as whom.
        if connected.get() && matches!(panel.get_untracked(), Panel::OAuth { .. }) {
            panel.set(Panel::Closed);
            feedback.done(untrack(|| signed_in(card.answer().as_ref())));
            card.refresh();
        }
        // It ended on the edge's `/callback` without connecting: the edge remembers why, and
        // the card says it as the outcome of the sign-in (so it stays until the next action),
        // once per failure.
        // proto's `VercelSignInFailure`.
        let Some((at, message)) = card.answer().and_then(|s| {
            let failure = answer::object(&s, "last_failure")?;
            Some((
                answer::number(&failure, "at")?,
                answer::text(&failure, "message")?,
            ))
        }) else {
            return;
        };
        // Unix seconds fit a u32 (a type the page has already) until 2106.
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        if told.get_value() == at {
            return;
        }
        told.set_value(at);
        if matches!(panel.get_untracked(), Panel::OAuth { .. }) {
            panel.set(Panel::Closed);
        }
        feedback.busy.set(false);
        feedback.notice.set(None);
        feedback.problem.set(Some(message));
    });
    let cancel = Callback::new(move |()| {
        panel.set(Panel::Closed);
        feedback.done(CANCELLED);
    });
    let check = Callback::new(move |()| {
        let client = card.client();
        found.set(Some("Checking with the edge…".into()));
        card.spawn(async move {
            let r = client.get("/api/connectors/vercel/status").await;
            found.set(match r {
                // The card turns connected, or says why not, and closes these steps by itself.
                Ok(s)
                    if answer::flag(&s, "connected")
                        || answer::object(&s, "last_failure").is_some() =>
                {
                    None
                }
                Ok(_) => Some(
                    "Not signed in yet: the edge has not received Vercel's approval. Approve in \
                     the Vercel tab (it ends on a Patchbay page), then check again."
                        .into(),
                ),
                Err(e) => e.on_card(),
            });
            card.reload();
        });
    });

    // Opened at `?code=…&state=…`: finish that sign-in here.
    if let Some(pending) = use_context::<PendingExchange>()
        && let Some(request) = pending.take()
    {
        let client = card.client();
        card.act(
            async move {
                client
                    .post_json("/api/connectors/vercel/oauth/exchange", json(&request))
                    .await
            },
            // proto's `VercelSaved`: its `user` is the account.
            |saved| signed_in(decode(saved).ok().as_ref()),
        );
    }

    let start = Callback::new(move |()| {
        let client = card.client();
        feedback.begin();
        found.set(None);
        card.spawn(async move {
            let r = client.get("/api/connectors/vercel/oauth/start").await;
            // proto's `OAuthStartResponse`.
            match r.map(|s| answer::text(&s, "authorize_url").unwrap_or_default()) {
                Ok(authorize_url) => {
                    feedback.busy.set(false);
                    panel.set(Panel::OAuth { authorize_url });
                }
                Err(e) => feedback.failed(&e),
            }
        });
    });
    let token_form = card.token_form(
        panel,
        TokenFormSpec {
            id: "vercel",
            label: "Vercel access token",
            hint: "Create one at vercel.com → Account Settings → Tokens.",
            path: "/api/connectors/vercel/token",
            check: check_vercel_token,
        },
    );

    let on_action = Callback::new(move |(action, _): Action| match action {
        "oauth" => start.run(()),
        "use-token" => {
            feedback.clear();
            panel.set(Panel::Token);
        }
        _ => card.credential_action("vercel", action, "Vercel accepted the stored credentials."),
    });
    let flow = move || {
        match panel.get() {
        Panel::OAuth { authorize_url } => view! {
            <section class="flow" aria-label="Vercel sign-in" data-testid="flow">
                <ol class="steps">
                    <li>
                        <strong>"Open Vercel and approve access. "</strong>
                        {new_tab_button(authorize_url, "auth-link", "Sign in with Vercel".into(), NodeRef::new())}
                    </li>
                    <li>"Vercel then shows a Patchbay page saying the sign-in is complete. Come back to this tab: the card updates when you return."</li>
                </ol>
                <p class="hint" role="status" aria-live="polite" data-testid="check-result">{found}</p>
                <div class="actions">
                    {button("primary", Some("check"), "I've approved: check now", Signal::stored(false), check)}
                    {button("secondary", Some("cancel-flow"), "Cancel sign-in", Signal::stored(false), cancel)}
                </div>
            </section>
        }
        .into_any(),
        Panel::Token => token_form(),
        _ => ().into_any(),
    }
    };
    // Without an edge the setup note is the whole card.
    let open = Signal::derive(move || available.get() && panel.with(|p| *p != Panel::Closed));
    view! { <CardBody id=ConnectorId::Vercel card summary view on_action open flow /> }
}

/// The card's state from `GET …/vercel/status` (proto's `VercelStatus`): as whom, and
/// whether by sign-in or token; without an edge, only what to set up.
fn state(answer: Option<&Value>, known: &Known) -> CardView {
    if let Some(view) = setup_only(known) {
        return view;
    }
    let connected = answer.map_or(known.connected, |a| answer::flag(a, "connected"));
    let account = answer.filter(|_| connected).and_then(|a| {
        let user = answer::object(a, "user")?;
        let mut line = format!("Connected as {}", answer::text(&user, "username")?);
        if let Some(email) = answer::text(&user, "email") {
            line.push_str(&format!(" ({email})"));
        }
        match answer::text(a, "source").as_deref() {
            Some("oauth") => line.push_str(" · Vercel sign-in"),
            Some("manual") => line.push_str(" · token"),
            _ => {}
        }
        Some(line)
    });
    sign_in_card(
        connected,
        account,
        "Disconnect Vercel? Patchbay signs out and forgets the credentials.",
        ("oauth", "Sign in with Vercel"),
    )
}

/// The notice of a finished sign-in, from an answer whose `user` is the Vercel account
/// (`VercelStatus`, `VercelSaved`).
fn signed_in(answer: Option<&Value>) -> String {
    match answer
        .and_then(|a| answer::object(a, "user"))
        .and_then(|u| answer::text(&u, "username"))
    {
        Some(name) => format!("Signed in to Vercel as {name}."),
        None => "Signed in to Vercel.".into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_proto::api::SetupNeeded;
    use patchbay_proto::tokens::{TokenStatus, VercelAccount, VercelSaved, VercelStatus};

    fn known(setup: Option<SetupNeeded>) -> Known {
        Known {
            id: ConnectorId::Vercel,
            now: 0,
            connected: false,
            setup,
        }
    }

    fn account() -> VercelAccount {
        VercelAccount {
            id: "u1".into(),
            username: "ada".into(),
            email: Some("ada@example.com".into()),
        }
    }

    #[test]
    fn connected_says_as_whom_and_by_which_way() {
        let status = VercelStatus {
            token: TokenStatus {
                connected: true,
                user: Some(account()),
                token_hint: None,
                source: Some("oauth".into()),
            },
            expires_at: None,
            last_failure: None,
        };
        let answer = serde_json::to_value(status).unwrap();
        let view = state(Some(&answer), &known(None));
        assert_eq!(
            view.account.as_deref(),
            Some("Connected as ada (ada@example.com) · Vercel sign-in")
        );
        assert_eq!(view.actions[0].action, "reconnect");
        assert_eq!(signed_in(Some(&answer)), "Signed in to Vercel as ada.");
        let saved = serde_json::to_value(VercelSaved {
            ok: true,
            user: Some(account()),
        })
        .unwrap();
        assert_eq!(signed_in(Some(&saved)), "Signed in to Vercel as ada.");
        assert_eq!(signed_in(None), "Signed in to Vercel.");
    }

    #[test]
    fn without_an_edge_only_the_setup_shows() {
        let setup = crate::cards::fixtures::edge_setup();
        let view = state(None, &known(Some(setup.clone())));
        assert_eq!(view.setup, Some(setup));
        assert!(view.actions.is_empty());
        let none = serde_json::to_value(VercelStatus {
            token: TokenStatus::disconnected(),
            expires_at: None,
            last_failure: None,
        })
        .unwrap();
        let verbs: Vec<_> = state(Some(&none), &known(None))
            .actions
            .iter()
            .map(|b| b.action)
            .collect();
        assert_eq!(verbs, ["oauth", "use-token"]);
    }
}
