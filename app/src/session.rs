//! The guided sign-in that ends at an authorization page: Drive, OneDrive and MCP servers.
//! Follows the helper's session with long-polls, so each step shows the moment it happens.

use leptos::prelude::*;
use patchbay_proto::api::SubmitCodeRequest;

use crate::api::{ApiFailure, HelperClient, LONG_POLL_SECS, json};
use crate::flow::{SessionView, Step, paste_problem, step_of};
use crate::tasks::Tasks;
use crate::ui::{Notice, Problem, When, button, failed_view, new_tab_button, waiting_view};

/// How a sign-in ended, reported once to the card that shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The credentials are saved; the steps show "Connected" until the person closes them.
    Completed,
    /// The steps show what went wrong until the person closes them.
    Failed,
    /// Whoever cancelled it (Cancel here, another tab, the helper stopping): the card closes
    /// the steps and says [`crate::flow::CANCELLED`], the same on every card.
    Cancelled,
}

/// Follows one session: `{sessions}/{id}` (e.g. `/api/connectors/gdrive/sessions`).
///
/// Every callback must belong to the card (made where the card is built, not inside the
/// view that shows these steps), because it runs when the steps are on their way out.
#[component]
pub fn SignInSteps(
    sessions: String,
    session_id: String,
    /// Whose sign-in page it is ("Google", "Microsoft", "the server").
    provider: &'static str,
    /// What the finished state says ("personal: is ready…").
    done_text: String,
    /// The session ended (see [`Ended`]); the card reloads its data.
    on_end: Callback<Ended>,
    /// The person closed a finished flow (Done or Close).
    on_close: Callback<()>,
) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let tasks = Tasks::here();
    let step = RwSignal::new(Step::Preparing);
    // Cancel's answer and the long-poll's can both say "cancelled": tell the card once.
    let reported = StoredValue::new(false);
    let end = move |how: Ended| {
        if !reported.get_value() {
            reported.set_value(true);
            on_end.run(how);
        }
    };
    let base = format!("{sessions}/{session_id}");

    // Follow the session: one read at once, then long-polls that answer on each change.
    {
        let client = client.clone();
        let base = base.clone();
        tasks.spawn(async move {
            let mut since: Option<&'static str> = None;
            loop {
                let path = match since {
                    None => base.clone(),
                    Some(s) => format!("{base}?wait={LONG_POLL_SECS}&since={s}"),
                };
                let next = match client.get(&path).await.map(|a| SessionView::read(&a)) {
                    Ok(Some(view)) => {
                        since = Some(view.status.as_str());
                        step_of(&view)
                    }
                    Ok(None) => Step::Failed(
                        ApiFailure::Garbled("not a sign-in session".into()).explain(client.base()),
                    ),
                    Err(ApiFailure::Unreachable) => {
                        client.until_online().await;
                        since = None;
                        continue;
                    }
                    Err(ApiFailure::Refused { status: 404, .. }) => Step::Failed(
                        "The helper no longer knows this sign-in (it expired, or the helper \
                         restarted). Start it again."
                            .into(),
                    ),
                    Err(e) => Step::Failed(e.explain(client.base())),
                };
                let ended = match &next {
                    Step::Completed { .. } => Some(Ended::Completed),
                    Step::Failed(_) => Some(Ended::Failed),
                    Step::Cancelled => Some(Ended::Cancelled),
                    _ => None,
                };
                if step.get_untracked() != next {
                    step.set(next);
                }
                if let Some(how) = ended {
                    end(how);
                    return;
                }
            }
        });
    }

    let cancel_problem = RwSignal::new(None::<String>);
    let cancelling = RwSignal::new(false);
    let cancel = {
        let client = client.clone();
        let path = format!("{base}/cancel");
        Callback::new(move |()| {
            let client = client.clone();
            let path = path.clone();
            cancelling.set(true);
            cancel_problem.set(None);
            tasks.spawn(async move {
                let r = client.post_empty(&path).await;
                cancelling.set(false);
                match r {
                    // Gone already (expired, or the helper restarted): nothing left to cancel.
                    Ok(_) | Err(ApiFailure::Refused { status: 404, .. }) => end(Ended::Cancelled),
                    Err(e) => cancel_problem.set(e.on_card()),
                }
            });
        })
    };

    view! {
        <section class="flow" aria-label="Sign-in steps" data-testid="flow">
            {move || match step.get() {
                Step::Preparing => waiting_view("Getting the sign-in ready…", Some("preparing")),
                Step::Authorize { auth_url, note } => view! {
                    <Authorize auth_url note provider submit_path=format!("{base}/submit") />
                }.into_any(),
                Step::Completed { note } => view! {
                    <div class="done" data-step="completed" role="status" aria-live="polite">
                        <p><strong>"Connected. "</strong>{done_text.clone()}</p>
                        {note.map(|n| view! { <p class="hint">{n}</p> })}
                        {button("primary", None, "Done", Signal::stored(false), on_close)}
                    </div>
                }.into_any(),
                Step::Failed(message) => failed_view(message, on_close),
                // The card closes the steps and says so itself.
                Step::Cancelled => ().into_any(),
            }}
            <When when=move || !step.get().is_finished()>
                <Problem message=cancel_problem />
                {button("secondary", Some("cancel-flow"), "Cancel sign-in", cancelling.into(), cancel)}
            </When>
        </section>
    }
}

/// Open the page, approve, and paste the address back if the browser could not return.
#[component]
fn Authorize(
    auth_url: String,
    note: Option<String>,
    provider: &'static str,
    submit_path: String,
) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let tasks = Tasks::here();
    let pasted = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let sent = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input_id = format!("paste{}", submit_path.replace('/', "-"));
    // The next thing to do is follow the link: put the keyboard there.
    let link = NodeRef::<leptos::html::A>::new();
    Effect::new(move |_| {
        if let Some(a) = link.get() {
            let _ = a.focus();
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = pasted.get_untracked().trim().to_owned();
        if let Some(p) = paste_problem(&value) {
            problem.set(Some(p));
            return;
        }
        problem.set(None);
        busy.set(true);
        let client = client.clone();
        let path = submit_path.clone();
        tasks.spawn(async move {
            let r = client
                .post(&path, json(&SubmitCodeRequest { code: value }))
                .await;
            busy.set(false);
            match r {
                Ok(_) => sent.set(Some("Code sent; finishing the sign-in…".into())),
                Err(e) => problem.set(e.on_card()),
            }
        });
    };
    view! {
        {note.map(|n| view! { <p class="caution" data-testid="flow-note">{n}</p> })}
        <ol class="steps" data-step="authorize">
            <li>
                <strong>"Open the sign-in page. "</strong>
                {new_tab_button(auth_url, "auth-link", format!("Sign in with {provider}"), link)}
            </li>
            <li><strong>"Approve access. "</strong>"If you approve in a browser on this computer, this card moves on by itself."</li>
            <li>
                <strong>"Otherwise, paste the address you land on. "</strong>
                "After you approve, the tab shows an error page whose address starts with "
                <code>"http://127.0.0.1:53682/"</code>" or "<code>"http://localhost:53682/"</code>
                ". Copy the whole address from the address bar (it contains "<code>"code="</code>") and paste it here."
                <form class="paste" on:submit=submit>
                    <label for=input_id.clone()>"Address after approving"</label>
                    <input id=input_id type="text" autocomplete="off" spellcheck="false"
                        placeholder="http://127.0.0.1:53682/?state=…&code=…"
                        aria-invalid=move || if problem.get().is_some() { "true" } else { "false" }
                        prop:value=pasted
                        on:input=move |ev| pasted.set(event_target_value(&ev)) />
                    <Problem message=problem />
                    <Notice message=sent />
                    <button type="submit" class="primary" disabled=busy>"Finish sign-in"</button>
                </form>
            </li>
        </ol>
    }
}
