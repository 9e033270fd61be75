//! Agents: hosted MCP clients (Claude, ChatGPT, Cursor…) that use this workspace through the
//! edge's `/mcp`. A client's authorization request waits on the edge until it is approved or
//! denied here; an approved client is listed until it is disconnected. The helper forwards
//! every route to the edge, so without an edge the card only says what to set up.

use leptos::prelude::*;
use patchbay_proto::agents::AgentsOverview;
use patchbay_proto::api::ConnectorId;

use super::{Card, Summary};
use crate::flow::{agent_times, approve_consequence, deny_consequence};
use crate::ui::{CardFrame, ConfirmButton, FeedbackLines, Problem, SetupNote, on_return};

const ROOT: &str = "/api/connectors/agents";

#[component]
pub fn AgentsCard(summary: Summary) -> impl IntoView {
    // Without an edge the helper can only refuse: ask nothing, say what to set up.
    let available = Signal::derive(move || summary.setup.with(Option::is_none));
    let card = Card::new(ROOT, available);
    let feedback = card.feedback;
    let agents = card.last_good::<AgentsOverview>();
    let connected = Signal::derive(move || match agents.get() {
        Some(a) => !a.clients.is_empty(),
        None => summary.connected.get(),
    });
    // A request is made in the agent's tab, so it appears when the person comes back to this
    // one (and when the card is built): no timer.
    on_return(move || {
        if available.get_untracked() {
            card.reload();
        }
    });
    let decide = move |id: String, verb: &'static str, done: String| {
        let client = card.client();
        let path = format!("{ROOT}/requests/{id}/{verb}");
        card.act(async move { client.post_text(&path).await }, move |_| done);
    };
    let revoke = move |client_id: String, done: String| {
        let client = card.client();
        // One path segment: a metadata-document client's id is a URL.
        let id = String::from(js_sys::encode_uri_component(&client_id));
        let path = format!("{ROOT}/{id}");
        card.act(
            async move { client.delete(&path).await.map(|()| String::new()) },
            move |_| done,
        );
    };

    let now = move || (js_sys::Date::now() / 1000.0) as u64;
    let lists = move || {
        let a = agents.get().unwrap_or_default();
        let none = (a.pending.is_empty() && a.clients.is_empty()).then(|| {
            view! {
                <p class="hint" data-testid="agents-empty">
                    "No agent has asked yet. Add this workspace's edge address followed by "
                    <code>"/mcp"</code>
                    " to Claude, ChatGPT or Cursor; its request shows here for you to approve."
                </p>
            }
        });
        let pending = a.pending.into_iter().map(|r| {
            let (id, deny_id) = (r.id.clone(), r.id.clone());
            let approved = format!("Approved {}: its sign-in page sends it back by itself.", r.client_name);
            let denied = format!("Denied {}; nothing was shared.", r.client_name);
            view! {
                <li data-request=r.id.clone()>
                    <div class="server">
                        <strong data-testid="client-name">{r.client_name.clone()}</strong>
                        <span class="hint">{format!("asks to sign in, then returns to {}", r.redirect_host)}</span>
                        <span class="hint" data-testid="scopes">{format!("access: {}", r.scopes.join(" "))}</span>
                        <span class="hint" data-testid="consequence">{approve_consequence(&r.client_name, &r.scopes)}</span>
                        <span class="hint">{deny_consequence(&r.client_name)}</span>
                    </div>
                    <span class="row-actions">
                        <button type="button" class="primary" data-action="approve" disabled=feedback.busy
                            on:click=move |_| decide(id.clone(), "approve", approved.clone())>"Approve"</button>
                        <button type="button" class="secondary" data-action="deny" disabled=feedback.busy
                            on:click=move |_| decide(deny_id.clone(), "deny", denied.clone())>"Deny"</button>
                    </span>
                </li>
            }
        }).collect_view();
        let clients = a.clients.into_iter().map(|c| {
            let id = c.client_id.clone();
            let question = format!(
                "Disconnect {}? Its tokens stop working at once; it must ask again to come back.",
                c.client_name
            );
            let done = format!("Disconnected {}; its next call is refused.", c.client_name);
            view! {
                <li data-client=c.client_id.clone()>
                    <div class="server">
                        <strong data-testid="client-name">{c.client_name.clone()}</strong>
                        <span class="hint" data-testid="scopes">{format!("access: {}", c.scopes.join(" "))}</span>
                        <span class="hint" data-testid="times">{agent_times(now(), c.approved_at, c.last_used_at)}</span>
                    </div>
                    <span class="row-actions">
                        <ConfirmButton busy=feedback.busy question
                            on_confirm=Callback::new(move |()| revoke(id.clone(), done.clone())) />
                    </span>
                </li>
            }
        }).collect_view();
        view! {
            {none}
            <ul class="items servers" aria-label="Agents">{pending}{clients}</ul>
        }
    };

    view! {
        <CardFrame id=ConnectorId::Agents connected setup=summary.setup
            account=Signal::stored(None::<String>) detail=summary.detail>
            <Problem message=card.state_problem() />
            <FeedbackLines feedback />
            {move || match summary.setup.get() {
                Some(setup) => view! { <SetupNote setup /> }.into_any(),
                None => lists().into_any(),
            }}
        </CardFrame>
    }
}
