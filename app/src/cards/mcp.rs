//! MCP servers: add one by URL (OAuth 2.1 sign-in run by the helper), see each server's
//! token state, sign in again, remove.

use leptos::prelude::*;
use leptos::task::spawn_local;
use patchbay_proto::api::SessionStarted;
use patchbay_proto::mcp::{McpServerList, StartServerRequest};

use super::{Changed, Summary, card_state, last_good, state_problem};
use crate::api::HelperClient;
use crate::flow::{server_url_problem, token_state_words};
use crate::session::SignInSteps;
use crate::ui::{CardFrame, ConfirmButton, Problem};

#[derive(Clone, PartialEq)]
enum Panel {
    Closed,
    Adding,
    Running { session_id: String, url: String },
}

#[component]
pub fn McpCard(summary: Summary) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let changed = expect_context::<Changed>();
    let (state, reload) = card_state("/api/connectors/mcp/servers");
    let servers = last_good::<McpServerList>(state);
    let connected = Signal::derive(move || match servers.get() {
        Some(l) => l.servers.iter().any(|s| {
            matches!(
                s.token_state,
                patchbay_proto::mcp::TokenState::Valid | patchbay_proto::mcp::TokenState::Expired
            )
        }),
        None => summary.connected.get(),
    });
    let panel = RwSignal::new(Panel::Closed);
    let problem = RwSignal::new(None::<String>);
    let removing = RwSignal::new(None::<String>);
    let refresh = move || {
        reload.update(|n| *n += 1);
        changed.bump();
    };
    let start = {
        let client = client.clone();
        move |url: String| {
            let client = client.clone();
            problem.set(None);
            spawn_local(async move {
                let r: Result<SessionStarted, _> = client
                    .post(
                        "/api/connectors/mcp/servers",
                        &StartServerRequest { url: url.clone() },
                    )
                    .await;
                match r {
                    Ok(s) => panel.set(Panel::Running {
                        session_id: s.session_id,
                        url,
                    }),
                    Err(e) => problem.set(e.on_card()),
                }
            });
        }
    };
    let remove = move |id: String| {
        let client = client.clone();
        removing.set(Some(id.clone()));
        problem.set(None);
        spawn_local(async move {
            let r = client
                .delete(&format!("/api/connectors/mcp/servers/{id}"))
                .await;
            removing.set(None);
            match r {
                Ok(()) => refresh(),
                Err(e) => problem.set(e.on_card()),
            }
        });
    };

    let list = {
        let start = start.clone();
        move || {
            let start = start.clone();
            let remove = remove.clone();
            servers
                .get()
                .map(|l| l.servers)
                .unwrap_or_default()
                .into_iter()
                .map(|server| {
                    let (tone, words) = token_state_words(server.token_state);
                    let start = start.clone();
                    let remove = remove.clone();
                    let url = server.url.clone();
                    let id = server.id.clone();
                    let busy = Signal::derive({
                        let id = id.clone();
                        move || removing.get().as_deref() == Some(id.as_str())
                    });
                    view! {
                        <li data-server=server.url.clone()>
                            <div class="server">
                                <code class="server-url">{server.url.clone()}</code>
                                {server.issuer.clone().map(|i| view! { <span class="hint">{format!("signs in at {i}")}</span> })}
                                <span class=format!("pill {tone}") data-token-state=words>{words}</span>
                            </div>
                            <span class="row-actions">
                                <button type="button" class="secondary subtle" data-action="reauth"
                                    disabled=move || !matches!(panel.get(), Panel::Closed)
                                    on:click=move |_| start(url.clone())>"Sign in again"</button>
                                <ConfirmButton label="Remove" yes="Remove" busy
                                    question="Remove this server and its tokens?"
                                    on_confirm=Callback::new(move |_| remove(id.clone())) />
                            </span>
                        </li>
                    }
                })
                .collect_view()
        }
    };

    view! {
        <CardFrame id="mcp" title="MCP servers" connected account=Signal::derive(|| None::<String>) detail=summary.detail>
            <Problem message=state_problem(state) />
            <Show when=move || servers.with(|l| l.as_ref().is_some_and(|l| !l.servers.is_empty()))>
                <ul class="items servers" aria-label="MCP servers">{list.clone()}</ul>
            </Show>
            <Problem message=problem />
            {move || {
                let start = start.clone();
                match panel.get() {
                    Panel::Closed => view! {
                        <div class="actions">
                            <button type="button" class="primary" data-action="connect"
                                on:click=move |_| panel.set(Panel::Adding)>"Add a server"</button>
                        </div>
                    }.into_any(),
                    Panel::Adding => view! {
                        <AddServer on_submit=Callback::new(start)
                            on_cancel=Callback::new(move |_| panel.set(Panel::Closed)) />
                    }.into_any(),
                    Panel::Running { session_id, url } => view! {
                        <SignInSteps sessions="/api/connectors/mcp/sessions".to_owned() session_id
                            provider="the server"
                            done_text=format!("Tools can reach {url} through Patchbay now.")
                            on_finish=Callback::new(move |_| refresh())
                            on_close=Callback::new(move |_| panel.set(Panel::Closed)) />
                    }.into_any(),
                }
            }}
        </CardFrame>
    }
}

#[component]
fn AddServer(on_submit: Callback<String>, on_cancel: Callback<()>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let touched = RwSignal::new(false);
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(i) = input.get() {
            let _ = i.focus();
        }
    });
    let shown = move || server_url_problem(&url.get()).filter(|_| touched.get());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        touched.set(true);
        if server_url_problem(&url.get_untracked()).is_none() {
            on_submit.run(url.get_untracked().trim().to_owned());
        }
    };
    view! {
        <form class="name-step" data-form="server-url" on:submit=submit novalidate>
            <label for="mcp-server-url">"Server address"</label>
            <input id="mcp-server-url" node_ref=input type="url" autocomplete="off" spellcheck="false"
                placeholder="https://mcp.example.com/mcp"
                aria-invalid=move || if shown().is_some() { "true" } else { "false" }
                aria-describedby="mcp-server-url-msg"
                on:change=move |_| touched.set(true)
                bind:value=url />
            <p id="mcp-server-url-msg" class=move || if shown().is_some() { "problem inline" } else { "hint" }
                aria-live="polite" data-testid="name-message">
                {move || shown().unwrap_or_else(|| "The server's MCP endpoint. Patchbay finds its sign-in page by itself.".to_owned())}
            </p>
            <div class="actions">
                <button type="submit" class="primary">"Continue"</button>
                <button type="button" class="secondary" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
