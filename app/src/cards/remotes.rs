//! Google Drive and OneDrive: rclone remotes, added by a guided sign-in, re-authorised in
//! place, deleted after a confirmation.

use leptos::prelude::*;
use leptos::task::spawn_local;
use patchbay_proto::api::{ConnectorId, RemoteList, SessionStarted, StartRemoteRequest};

use super::{Changed, Summary, card_state, last_good, state_problem};
use crate::api::HelperClient;
use crate::flow::remote_name_problem;
use crate::session::SignInSteps;
use crate::ui::{CardFrame, ConfirmButton, Problem};

/// Where the card's flow stands.
#[derive(Clone, PartialEq)]
enum Panel {
    Closed,
    /// Choosing a name (pre-filled and locked when signing in again to an existing remote).
    Naming {
        name: String,
        replace: bool,
    },
    Running {
        session_id: String,
        name: String,
    },
}

#[component]
pub fn RemotesCard(kind: ConnectorId, summary: Summary) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let changed = expect_context::<Changed>();
    let id = kind.as_str();
    let path = match kind {
        ConnectorId::Onedrive => "/api/connectors/onedrive/remotes",
        _ => "/api/connectors/gdrive/remotes",
    };
    let (state, reload) = card_state(path);
    let remotes = last_good::<RemoteList>(state);
    let names = Memo::new(move |_| {
        remotes
            .get()
            .map(|l| l.remotes.into_iter().map(|r| r.name).collect::<Vec<_>>())
            .unwrap_or_default()
    });
    let connected = Signal::derive(move || match remotes.get() {
        Some(l) => !l.remotes.is_empty(),
        None => summary.connected.get(),
    });
    let panel = RwSignal::new(Panel::Closed);
    let problem = RwSignal::new(None::<String>);
    let deleting = RwSignal::new(None::<String>);
    let provider = match kind {
        ConnectorId::Onedrive => "Microsoft",
        _ => "Google",
    };
    let refresh = move || {
        reload.update(|n| *n += 1);
        changed.bump();
    };

    let delete = {
        let client = client.clone();
        move |name: String| {
            let client = client.clone();
            deleting.set(Some(name.clone()));
            problem.set(None);
            spawn_local(async move {
                let r = client
                    .delete(&format!("/api/connectors/{id}/remotes/{name}"))
                    .await;
                deleting.set(None);
                match r {
                    Ok(()) => refresh(),
                    Err(e) => problem.set(e.on_card()),
                }
            });
        }
    };

    let list = move || {
        let delete = delete.clone();
        names
            .get()
            .into_iter()
            .map(|name| {
                let delete = delete.clone();
                let n = name.clone();
                let again = name.clone();
                let busy = Signal::derive({
                    let name = name.clone();
                    move || deleting.get().as_deref() == Some(name.as_str())
                });
                view! {
                    <li data-remote=name.clone()>
                        <code class="remote-name">{format!("{name}:")}</code>
                        <span class="row-actions">
                            <button type="button" class="secondary subtle" data-action="reauth"
                                disabled=move || !matches!(panel.get(), Panel::Closed)
                                on:click=move |_| panel.set(Panel::Naming { name: again.clone(), replace: true })>
                                "Sign in again"
                            </button>
                            <ConfirmButton label="Delete" yes="Delete"
                                question=format!("Delete {name}: from rclone.conf?")
                                busy
                                on_confirm=Callback::new(move |_| delete(n.clone())) />
                        </span>
                    </li>
                }
            })
            .collect_view()
    };

    view! {
        <CardFrame id title=kind.display_name() connected account=Signal::derive(|| None::<String>) detail=summary.detail>
            <Problem message=state_problem(state) />
            <Show when=move || !names.with(Vec::is_empty)>
                <ul class="items remotes" aria-label=format!("{} remotes", kind.display_name())>{list.clone()}</ul>
            </Show>
            <Problem message=problem />
            {move || match panel.get() {
                Panel::Closed => view! {
                    <div class="actions">
                        <button type="button" class="primary" data-action="connect"
                            on:click=move |_| panel.set(Panel::Naming { name: String::new(), replace: false })>
                            {move || if names.with(Vec::is_empty) { "Connect" } else { "Add another remote" }}
                        </button>
                    </div>
                }.into_any(),
                Panel::Naming { name, replace } => view! {
                    <NameStep kind initial=name locked=replace existing=names
                        on_started=Callback::new(move |(session_id, name)| panel.set(Panel::Running { session_id, name }))
                        on_cancel=Callback::new(move |_| panel.set(Panel::Closed)) />
                }.into_any(),
                Panel::Running { session_id, name } => view! {
                    <SignInSteps sessions=format!("/api/connectors/{id}/sessions") session_id provider
                        done_text=format!("rclone can use the remote {name}: now (try rclone lsd {name}:).")
                        on_finish=Callback::new(move |_| refresh())
                        on_close=Callback::new(move |_| panel.set(Panel::Closed)) />
                }.into_any(),
            }}
        </CardFrame>
    }
}

/// Step 1: the remote's name, checked as it is typed.
#[component]
fn NameStep(
    kind: ConnectorId,
    initial: String,
    /// Signing in again to an existing remote: the name is fixed and `force` is sent.
    locked: bool,
    existing: Memo<Vec<String>>,
    on_started: Callback<(String, String)>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let id = kind.as_str();
    let name = RwSignal::new(initial);
    let touched = RwSignal::new(locked);
    let replace = RwSignal::new(locked);
    let start_problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(i) = input.get() {
            let _ = i.focus();
        }
    });
    let problem = Memo::new(move |_| {
        let n = name.get();
        existing.with(|e| remote_name_problem(n.trim(), e, replace.get()))
    });
    let exists = move || existing.with(|e| e.iter().any(|x| *x == name.get().trim()));
    let input_id = format!("{id}-remote-name");
    let msg_id = format!("{id}-remote-name-msg");
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        touched.set(true);
        if problem.get_untracked().is_some() {
            return;
        }
        let body = StartRemoteRequest {
            name: name.get_untracked().trim().to_owned(),
            force: replace.get_untracked(),
        };
        let client = client.clone();
        busy.set(true);
        start_problem.set(None);
        spawn_local(async move {
            let r: Result<SessionStarted, _> = client
                .post(&format!("/api/connectors/{id}/remotes"), &body)
                .await;
            busy.set(false);
            match r {
                Ok(s) => on_started.run((s.session_id, body.name)),
                Err(e) => start_problem.set(e.on_card()),
            }
        });
    };
    let shown = move || problem.get().filter(|_| touched.get());
    view! {
        <form class="name-step" data-form="remote-name" on:submit=submit novalidate>
            <label for=input_id.clone()>"Remote name"</label>
            <input id=input_id node_ref=input type="text" autocomplete="off" spellcheck="false"
                autocapitalize="none" placeholder="personal" readonly=locked
                aria-invalid=move || if shown().is_some() { "true" } else { "false" }
                aria-describedby=msg_id.clone()
                on:input=move |_| touched.set(true)
                bind:value=name />
            <p id=msg_id class=move || if shown().is_some() { "problem inline" } else { "hint" }
                aria-live="polite" data-testid="name-message">
                {move || shown().unwrap_or_else(|| {
                    let n = name.get();
                    let n = if n.trim().is_empty() { "name".to_owned() } else { n.trim().to_owned() };
                    format!("rclone will know this account as {n}: (lowercase letters, digits, - and _).")
                })}
            </p>
            <Show when=move || exists() && !locked>
                <label class="check">
                    <input type="checkbox" bind:checked=replace />
                    " Sign in again and replace this remote's sign-in"
                </label>
            </Show>
            <Problem message=start_problem />
            <div class="actions">
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if busy.get() { "Starting…" } else { "Continue" }}
                </button>
                <button type="button" class="secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
