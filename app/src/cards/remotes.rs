//! Google Drive and OneDrive: rclone remotes, added by a guided sign-in, re-authorised in
//! place, disconnected after a confirmation.

use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, RemoteList, SessionStarted, StartRemoteRequest};

use super::{Card, Summary};
use crate::flow::remote_name_problem;
use crate::session::SignInSteps;
use crate::tasks::Tasks;
use crate::ui::{CardFrame, ConfirmButton, FeedbackLines, Problem, SetupNote, When};

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
    let id = kind.as_str();
    let path = match kind {
        ConnectorId::Onedrive => "/api/connectors/onedrive/remotes",
        _ => "/api/connectors/gdrive/remotes",
    };
    let card = Card::new(path, Signal::stored(true));
    let feedback = card.feedback;
    let remotes = card.last_good::<RemoteList>();
    let rows = Memo::new(move |_| remotes.get().map(|l| l.remotes).unwrap_or_default());
    let names =
        Memo::new(move |_| rows.with(|r| r.iter().map(|r| r.name.clone()).collect::<Vec<_>>()));
    let connected = Signal::derive(move || match remotes.get() {
        Some(l) => !l.remotes.is_empty(),
        None => summary.connected.get(),
    });
    let panel = RwSignal::new(Panel::Closed);
    let provider = match kind {
        ConnectorId::Onedrive => "Microsoft",
        _ => "Google",
    };
    // Made here, not in the view of one panel: they run while that view is going away.
    let ended = card.on_sign_in_end(move || panel.set(Panel::Closed));
    let closed = Callback::new(move |()| panel.set(Panel::Closed));
    let started = Callback::new(move |(session_id, name): (String, String)| {
        panel.set(Panel::Running { session_id, name })
    });
    let open = move |name: String, replace: bool| {
        feedback.clear();
        panel.set(Panel::Naming { name, replace });
    };
    let disconnect = move |name: String| {
        let client = card.client();
        let path = format!("/api/connectors/{id}/remotes/{name}");
        card.act(
            async move { client.delete(&path).await.map(|()| String::new()) },
            move |_| format!("Disconnected {name}: (rclone forgot the remote)."),
        );
    };

    let list = move || {
        rows.get()
            .into_iter()
            .map(|remote| {
                let name = remote.name;
                let n = name.clone();
                let again = name.clone();
                view! {
                    <li data-remote=name.clone()>
                        <div class="remote">
                            <code class="remote-name">{format!("{name}:")}</code>
                            {remote.account.map(|a| view! {
                                <span class="hint account" data-testid="account">{format!("signed in as {a}")}</span>
                            })}
                        </div>
                        <span class="row-actions">
                            <button type="button" class="secondary subtle" data-action="reauth"
                                disabled=move || !matches!(panel.get(), Panel::Closed)
                                on:click=move |_| open(again.clone(), true)>
                                "Sign in again"
                            </button>
                            <ConfirmButton busy=feedback.busy
                                question=format!("Disconnect {name}:? rclone forgets this remote.")
                                on_confirm=Callback::new(move |()| disconnect(n.clone())) />
                        </span>
                    </li>
                }
            })
            .collect_view()
    };
    let needs_setup = move || !connected.get() && summary.setup.with(Option::is_some);

    view! {
        <CardFrame id=kind connected setup=summary.setup account=Signal::stored(None::<String>) detail=summary.detail>
            <Problem message=card.state_problem() />
            <When when=move || !names.with(Vec::is_empty)>
                <ul class="items remotes" aria-label=format!("{} remotes", kind.display_name())>{list}</ul>
            </When>
            <FeedbackLines feedback />
            {move || match panel.get() {
                Panel::Closed => view! {
                    {move || needs_setup().then(|| summary.setup.get().map(|setup| view! { <SetupNote setup /> })).flatten()}
                    <div class="actions">
                        <button type="button" data-action="connect"
                            class=move || if needs_setup() { "secondary" } else { "primary" }
                            on:click=move |_| open(String::new(), false)>
                            {move || if needs_setup() {
                                "Connect anyway"
                            } else if names.with(Vec::is_empty) {
                                "Connect"
                            } else {
                                "Add another remote"
                            }}
                        </button>
                    </div>
                }.into_any(),
                Panel::Naming { name, replace } => view! {
                    <NameStep kind initial=name locked=replace existing=names
                        warning=summary.setup.get_untracked().map(|s| s.message)
                        on_started=started on_cancel=closed />
                }.into_any(),
                Panel::Running { session_id, name } => view! {
                    <SignInSteps sessions=format!("/api/connectors/{id}/sessions") session_id provider
                        done_text=format!("rclone can use the remote {name}: now (try rclone lsd {name}:).")
                        on_end=ended on_close=closed />
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
    /// Said before anyone is sent to the provider: the sign-in will likely be refused
    /// (no OAuth client of one's own).
    warning: Option<String>,
    on_started: Callback<(String, String)>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let client = expect_context::<crate::api::HelperClient>();
    let tasks = Tasks::here();
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
        tasks.spawn(async move {
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
    let go = if warning.is_some() {
        "Continue anyway"
    } else {
        "Continue"
    };
    view! {
        <form class="name-step" data-form="remote-name" on:submit=submit novalidate>
            {warning.map(|w| view! { <p class="caution" data-testid="setup-warning">{w}</p> })}
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
            <When when=move || exists() && !locked>
                <label class="check">
                    <input type="checkbox" bind:checked=replace />
                    " Sign in again and replace this remote's sign-in"
                </label>
            </When>
            <Problem message=start_problem />
            <div class="actions">
                <button type="submit" class="primary" disabled=busy>
                    {move || if busy.get() { "Starting…" } else { go }}
                </button>
                // Not while starting: a sign-in the card no longer follows would hold the port.
                <button type="button" class="secondary" disabled=busy
                    on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
