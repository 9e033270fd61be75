//! MCP servers: add one by URL (OAuth 2.1 sign-in run by the helper), see each server's
//! token state, sign in again, disconnect.

use leptos::prelude::*;
use patchbay_proto::api::SessionStarted;
use patchbay_proto::mcp::{McpServerList, StartServerRequest, TokenState};

use super::{Card, Summary};
use crate::flow::{server_url_problem, token_state_words};
use crate::session::SignInSteps;
use crate::ui::{CardFrame, ConfirmButton, FeedbackLines, Problem, When};

#[derive(Clone, PartialEq)]
enum Panel {
    Closed,
    Adding,
    Running { session_id: String, url: String },
}

#[component]
pub fn McpCard(summary: Summary) -> impl IntoView {
    let card = Card::new("/api/connectors/mcp/servers", Signal::stored(true));
    let feedback = card.feedback;
    let servers = card.last_good::<McpServerList>();
    let connected = Signal::derive(move || match servers.get() {
        Some(l) => l
            .servers
            .iter()
            .any(|s| matches!(s.token_state, TokenState::Valid | TokenState::Expired)),
        None => summary.connected.get(),
    });
    let panel = RwSignal::new(Panel::Closed);
    // Made here, not in the view of one panel: they run while that view is going away.
    let ended = card.on_sign_in_end(move || panel.set(Panel::Closed));
    let closed = Callback::new(move |()| panel.set(Panel::Closed));
    let start = Callback::new(move |url: String| {
        let client = card.client();
        feedback.begin();
        card.spawn(async move {
            let r: Result<SessionStarted, _> = client
                .post(
                    "/api/connectors/mcp/servers",
                    &StartServerRequest { url: url.clone() },
                )
                .await;
            match r {
                Ok(s) => {
                    feedback.busy.set(false);
                    panel.set(Panel::Running {
                        session_id: s.session_id,
                        url,
                    });
                }
                Err(e) => feedback.failed(&e),
            }
        });
    });
    let disconnect = move |id: String| {
        let client = card.client();
        let path = format!("/api/connectors/mcp/servers/{id}");
        card.act(
            async move { client.delete(&path).await.map(|()| String::new()) },
            |_| "Disconnected the server; its tokens are gone.".to_owned(),
        );
    };

    let list = move || {
        servers
            .get()
            .map(|l| l.servers)
            .unwrap_or_default()
            .into_iter()
            .map(|server| {
                let (tone, words) = token_state_words(server.token_state);
                let url = server.url.clone();
                let id = server.id.clone();
                view! {
                    <li data-server=server.url.clone()>
                        <div class="server">
                            <code class="server-url">{server.url.clone()}</code>
                            {server.issuer.clone().map(|i| view! { <span class="hint">{format!("signs in at {i}")}</span> })}
                            {server.scope.clone().filter(|s| !s.is_empty()).map(|s| view! { <span class="hint">{format!("access: {s}")}</span> })}
                            <span class=format!("pill {tone}") data-token-state=words>{words}</span>
                        </div>
                        <span class="row-actions">
                            <button type="button" class="secondary subtle" data-action="reauth"
                                disabled=move || !matches!(panel.get(), Panel::Closed) || feedback.busy.get()
                                on:click=move |_| start.run(url.clone())>"Sign in again"</button>
                            <ConfirmButton busy=feedback.busy
                                question="Disconnect this server? Patchbay forgets its tokens."
                                on_confirm=Callback::new(move |()| disconnect(id.clone())) />
                        </span>
                    </li>
                }
            })
            .collect_view()
    };

    view! {
        <CardFrame id=patchbay_proto::api::ConnectorId::Mcp connected setup=summary.setup
            account=Signal::stored(None::<String>) detail=summary.detail>
            <Problem message=card.state_problem() />
            <When when=move || servers.with(|l| l.as_ref().is_some_and(|l| !l.servers.is_empty()))>
                <ul class="items servers" aria-label="MCP servers">{list}</ul>
            </When>
            <FeedbackLines feedback />
            {move || match panel.get() {
                Panel::Closed => view! {
                    <div class="actions">
                        <button type="button" class="primary" data-action="connect"
                            on:click=move |_| { feedback.clear(); panel.set(Panel::Adding) }>"Add a server"</button>
                    </div>
                }.into_any(),
                Panel::Adding => view! {
                    <AddServer on_submit=start on_cancel=closed busy=feedback.busy />
                }.into_any(),
                Panel::Running { session_id, url } => view! {
                    <SignInSteps sessions="/api/connectors/mcp/sessions".to_owned() session_id
                        provider="the server"
                        done_text=format!("Tools can reach {url} through Patchbay now.")
                        on_end=ended on_close=closed />
                }.into_any(),
            }}
        </CardFrame>
    }
}

#[component]
fn AddServer(
    on_submit: Callback<String>,
    on_cancel: Callback<()>,
    #[prop(into)] busy: Signal<bool>,
) -> impl IntoView {
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
                <button type="submit" class="primary" disabled=busy>
                    {move || if busy.get() { "Starting…" } else { "Continue" }}
                </button>
                <button type="button" class="secondary" disabled=busy
                    on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}
