//! The guided sign-in that ends at an authorization page: Drive, OneDrive and MCP servers.
//! Follows the helper's session with long-polls, so each step shows the moment it happens.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use leptos::prelude::*;
use leptos::task::spawn_local;
use patchbay_proto::api::{Ok as OkBody, SubmitCodeRequest};

use crate::api::{ApiFailure, HelperClient, LONG_POLL_SECS};
use crate::flow::{SessionView, Step, paste_problem, step_of};
use crate::ui::{Notice, Problem};

/// Follows one session: `{sessions}/{id}` (e.g. `/api/connectors/gdrive/sessions`).
#[component]
pub fn SignInSteps(
    sessions: String,
    session_id: String,
    /// Whose sign-in page it is ("Google", "Microsoft", "the server").
    provider: &'static str,
    /// What the finished state says ("personal: is ready…").
    done_text: String,
    /// The session finished (true when completed): the card reloads its data.
    on_finish: Callback<bool>,
    /// The person closed the flow (Done, Close, or after Cancel).
    on_close: Callback<()>,
) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let step = RwSignal::new(Step::Preparing);
    let alive = Arc::new(AtomicBool::new(true));
    {
        let alive = alive.clone();
        on_cleanup(move || alive.store(false, Ordering::Relaxed));
    }
    let base = format!("{sessions}/{session_id}");

    // Follow the session: one read at once, then long-polls that answer on each change.
    {
        let client = client.clone();
        let base = base.clone();
        spawn_local(async move {
            let mut since: Option<&'static str> = None;
            while alive.load(Ordering::Relaxed) {
                let path = match since {
                    None => base.clone(),
                    Some(s) => format!("{base}?wait={LONG_POLL_SECS}&since={s}"),
                };
                match client.get::<SessionView>(&path).await {
                    Ok(view) => {
                        since = Some(status_word(&view));
                        let next = step_of(&view);
                        let finished = next.is_finished();
                        let completed = matches!(next, Step::Completed { .. });
                        if alive.load(Ordering::Relaxed) && step.get_untracked() != next {
                            step.set(next);
                        }
                        if finished {
                            on_finish.run(completed);
                            return;
                        }
                    }
                    Err(ApiFailure::Unreachable) => {
                        client.until_online().await;
                        since = None;
                    }
                    Err(ApiFailure::Refused { status: 404, .. }) => {
                        step.set(Step::Failed(
                            "The helper no longer knows this sign-in (it expired, or the \
                             helper restarted). Start it again."
                                .into(),
                        ));
                        on_finish.run(false);
                        return;
                    }
                    Err(e) => {
                        step.set(Step::Failed(e.explain(client.base())));
                        on_finish.run(false);
                        return;
                    }
                }
            }
        });
    }

    let cancel_problem = RwSignal::new(None::<String>);
    let cancelling = RwSignal::new(false);
    let cancel = {
        let client = client.clone();
        let base = base.clone();
        move |_| {
            let client = client.clone();
            let path = format!("{base}/cancel");
            cancelling.set(true);
            spawn_local(async move {
                let r: Result<OkBody, _> = client.post_empty(&path).await;
                cancelling.set(false);
                match r {
                    Ok(_) | Err(ApiFailure::Refused { status: 404, .. }) => on_close.run(()),
                    Err(e) => cancel_problem.set(e.on_card()),
                }
            });
        }
    };

    view! {
        <section class="flow" aria-label="Sign-in steps" data-testid="flow">
            {move || match step.get() {
                Step::Preparing => view! {
                    <p class="waiting" role="status" aria-live="polite" data-step="preparing">
                        <span class="spinner" aria-hidden="true"></span>
                        "Getting the sign-in ready…"
                    </p>
                }.into_any(),
                Step::Authorize { auth_url } => view! {
                    <Authorize auth_url provider submit_path=format!("{base}/submit") />
                }.into_any(),
                Step::Completed { note } => view! {
                    <div class="done" data-step="completed" role="status" aria-live="polite">
                        <p><strong>"Connected. "</strong>{done_text.clone()}</p>
                        {note.map(|n| view! { <p class="hint">{n}</p> })}
                        <button type="button" class="primary" on:click=move |_| on_close.run(())>"Done"</button>
                    </div>
                }.into_any(),
                Step::Failed(message) => view! {
                    <div data-step="failed">
                        <p class="problem" role="alert" data-testid="problem">{message}</p>
                        <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Close"</button>
                    </div>
                }.into_any(),
                Step::Cancelled => view! {
                    <div data-step="cancelled">
                        <p role="status">"Sign-in cancelled."</p>
                        <button type="button" class="secondary" on:click=move |_| on_close.run(())>"Close"</button>
                    </div>
                }.into_any(),
            }}
            <Show when=move || !step.get().is_finished()>
                <Problem message=cancel_problem />
                <button type="button" class="secondary" data-action="cancel-flow"
                    disabled=move || cancelling.get() on:click=cancel.clone()>"Cancel sign-in"</button>
            </Show>
        </section>
    }
}

fn status_word(v: &SessionView) -> &'static str {
    use patchbay_proto::api::FlowStatus::*;
    match v.status {
        Pending => "pending",
        AwaitingOauth => "awaiting_oauth",
        Completed => "completed",
        Error => "error",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

/// Open the page, approve, and paste the address back if the browser could not return.
#[component]
fn Authorize(auth_url: String, provider: &'static str, submit_path: String) -> impl IntoView {
    let client = expect_context::<HelperClient>();
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
        spawn_local(async move {
            let r: Result<OkBody, _> = client.post(&path, &SubmitCodeRequest { code: value }).await;
            busy.set(false);
            match r {
                Ok(_) => sent.set(Some("Code sent; finishing the sign-in…".into())),
                Err(e) => problem.set(e.on_card()),
            }
        });
    };
    view! {
        <ol class="steps" data-step="authorize">
            <li>
                <strong>"Open the sign-in page. "</strong>
                <a class="button primary" href=auth_url target="_blank" rel="noopener noreferrer" data-testid="auth-link" node_ref=link>
                    {format!("Sign in with {provider}")}<span class="sr-only">" (opens in a new tab)"</span>
                </a>
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
                        bind:value=pasted />
                    <Problem message=problem />
                    <Notice message=sent />
                    <button type="submit" class="primary" disabled=move || busy.get()>"Finish sign-in"</button>
                </form>
            </li>
        </ol>
    }
}
