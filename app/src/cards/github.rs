//! GitHub: the `gh` device flow (a code to enter at GitHub) or a personal access token.

use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, EndReason};
use patchbay_proto::tokens::{
    DeviceSessionRequest, DeviceStart, DeviceStatus, check_github_token_shape,
};

use super::view::{Action, CardBody, CardView, Panel};
use super::{Card, Known, Summary, TokenFormSpec, sign_in_card};
use crate::answer::{self, Value};
use crate::api::{ApiFailure, HelperClient, LONG_POLL_SECS, json};
use crate::flow::{clock, device_failure};
use crate::session::Ended;
use crate::tasks::Tasks;
use crate::ui::{CopyButton, button, failed_view, new_tab_button, waiting_view};

#[component]
pub fn GithubCard(summary: Summary) -> impl IntoView {
    let card = Card::new("/api/connectors/github/status", Signal::stored(true));
    let feedback = card.feedback;
    let view = card.view(summary, state);
    let panel = RwSignal::new(Panel::Closed);
    // Made here, not in the view of one panel: they run while that view is going away.
    let approved = Callback::new(move |login: String| {
        panel.set(Panel::Closed);
        feedback.done(format!("Signed in to GitHub as @{login}."));
        card.refresh();
    });
    let ended = card.on_sign_in_end(move || panel.set(Panel::Closed));
    let closed = Callback::new(move |()| panel.set(Panel::Closed));
    let token_form = card.token_form(
        panel,
        TokenFormSpec {
            id: "github",
            label: "Personal access token",
            hint: "Create one at github.com → Settings → Developer settings → Personal access \
                   tokens (classic: scope repo; fine-grained: the repositories you need).",
            path: "/api/connectors/github/token",
            check: check_github_token_shape,
        },
    );
    let on_action = Callback::new(move |(action, _): Action| match action {
        "device" => {
            let client = card.client();
            feedback.begin();
            card.spawn(async move {
                let r = client.post_empty("/api/connectors/github/cli/start").await;
                match r.and_then(|a| device_start(&a)) {
                    Ok(start) => {
                        feedback.busy.set(false);
                        panel.set(Panel::Device(start));
                    }
                    Err(e) => feedback.failed(&e),
                }
            });
        }
        "use-token" => {
            feedback.clear();
            panel.set(Panel::Token);
        }
        _ => card.credential_action("github", action, "GitHub accepted the stored token."),
    });
    let flow = move || match panel.get() {
        Panel::Device(start) => view! {
            <DeviceCode start on_approved=approved on_end=ended on_close=closed />
        }
        .into_any(),
        Panel::Token => token_form(),
        _ => ().into_any(),
    };
    let open = Signal::derive(move || panel.with(|p| *p != Panel::Closed));
    view! { <CardBody id=ConnectorId::Github card summary view on_action open flow /> }
}

/// The card's state from `GET …/github/status` (proto's `TokenStatus<GithubUser>`): as whom,
/// with which token, and how it was obtained.
fn state(answer: Option<&Value>, known: &Known) -> CardView {
    let connected = answer.map_or(known.connected, |a| answer::flag(a, "connected"));
    let account = answer.and_then(|a| {
        let login = answer::text(&answer::object(a, "user")?, "login")?;
        let mut line = format!("Connected as @{login}");
        if let Some(hint) = answer::text(a, "token_hint") {
            line.push_str(&format!(" · token ending in {hint}"));
        }
        if answer::text(a, "source").as_deref() == Some("gh") {
            line.push_str(" · via gh sign-in");
        }
        Some(line)
    });
    sign_in_card(
        connected,
        account,
        "Disconnect GitHub? Patchbay forgets the stored token.",
        ("device", "Sign in with GitHub"),
    )
}

/// `POST …/github/cli/start`'s answer (proto's `DeviceStart`).
fn device_start(answer: &Value) -> Result<DeviceStart, ApiFailure> {
    let field = |f| answer::text(answer, f).ok_or_else(|| ApiFailure::Garbled(format!("no {f}")));
    Ok(DeviceStart {
        session_id: field("session_id")?,
        user_code: field("user_code")?,
        verification_uri: field("verification_uri")?,
        expires_in: answer::number(answer, "expires_in").unwrap_or_default(),
    })
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
    // Seconds; u32, a signal type the page has already.
    let remaining = RwSignal::new(u32::try_from(start.expires_in).unwrap_or(u32::MAX));
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
                let r = client
                    .post("/api/connectors/github/cli/poll", json(&body))
                    .await;
                let r = r.and_then(|a| {
                    answer::device_poll(&a).ok_or_else(|| ApiFailure::Garbled("not a poll".into()))
                });
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
        Callback::new(move |()| {
            let client = client.clone();
            let body = DeviceSessionRequest {
                session_id: session_id.clone(),
                wait: None,
            };
            tasks.spawn(async move {
                let _ = client
                    .post("/api/connectors/github/cli/cancel", json(&body))
                    .await;
                end(Ended::Cancelled);
            });
        })
    };
    let code = start.user_code.clone();
    let uri = start.verification_uri.clone();
    let shown_uri = uri
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned();
    view! {
        <section class="device flow" aria-label="GitHub sign-in code" data-testid="device">
            // One closure for both states (a `When` beside it was one more copy of its code).
            {move || match failure.get() {
                Some(message) => failed_view(message, on_close),
                None => view! {
                        <p>"1. Copy this one-time code:"</p>
                        <div class="code-row">
                            <output class="device-code" data-testid="user-code" aria-label="one-time code">{code.clone()}</output>
                            <CopyButton text=code.clone() what="the code" />
                        </div>
                        <p>"2. Open GitHub and enter it, then approve:"</p>
                        <p>{new_tab_button(uri.clone(), "verification-link", format!("Open {shown_uri}"), NodeRef::new())}</p>
                        {waiting_view("Waiting for you to approve at GitHub…", None)}
                        <p class="countdown hint" data-testid="countdown">
                            {move || match remaining.get() {
                                0 => "The code has expired.".to_owned(),
                                r => format!("The code expires in {}.", clock(r.into())),
                            }}
                        </p>
                        {button("secondary", Some("cancel-flow"), "Cancel sign-in", Signal::stored(false), cancel)}
                }
                .into_any(),
            }}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_proto::tokens::{GithubUser, TokenStatus};

    fn known() -> Known {
        Known {
            id: ConnectorId::Github,
            now: 0,
            connected: false,
            setup: None,
        }
    }

    #[test]
    fn connected_says_as_whom_with_which_token_and_how() {
        let status = TokenStatus {
            connected: true,
            user: Some(GithubUser {
                login: "octocat".into(),
                id: 1,
                scopes: vec![],
            }),
            token_hint: Some("wxyz".into()),
            source: Some("gh".into()),
        };
        let view = state(Some(&serde_json::to_value(status).unwrap()), &known());
        assert_eq!(
            view.account.as_deref(),
            Some("Connected as @octocat · token ending in wxyz · via gh sign-in")
        );
        let verbs: Vec<_> = view.actions.iter().map(|b| b.action).collect();
        assert_eq!(verbs, ["reconnect", "disconnect"]);
    }

    #[test]
    fn disconnected_offers_the_device_sign_in_or_a_token() {
        let none = serde_json::to_value(TokenStatus::<GithubUser>::disconnected()).unwrap();
        let view = state(Some(&none), &known());
        let verbs: Vec<_> = view.actions.iter().map(|b| (b.action, b.verb)).collect();
        assert_eq!(
            verbs,
            [
                ("device", "Sign in with GitHub"),
                ("use-token", "Use a token")
            ]
        );
    }

    #[test]
    fn a_device_start_reads_as_proto_wrote_it() {
        let start = DeviceStart {
            session_id: "s".into(),
            user_code: "ABCD-1234".into(),
            verification_uri: "https://github.com/login/device".into(),
            expires_in: 900,
        };
        let answer = serde_json::to_value(&start).unwrap();
        assert_eq!(device_start(&answer), Ok(start));
        assert!(device_start(&serde_json::json!({"session_id": "s"})).is_err());
    }
}
