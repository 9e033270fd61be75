//! Agents: hosted MCP clients (Claude, ChatGPT, Cursor…) that use this workspace through the
//! edge's `/mcp`. A client's authorization request waits on the edge until it is approved or
//! denied here; an approved client is listed until it is disconnected. The helper forwards
//! every route to the edge, so without an edge the card only says what to set up.

use leptos::prelude::*;
use patchbay_proto::api::ConnectorId;

use super::view::{Action, Button, CardBody, CardView, Enable, Line, List, Row, Title};
use super::{Card, Known, Summary};
use crate::answer::{self, Value};
use crate::flow::{agent_times, approve_consequence, deny_consequence};
use crate::ui::on_return;

const ROOT: &str = "/api/connectors/agents";

#[component]
pub fn AgentsCard(summary: Summary) -> impl IntoView {
    // Without an edge the helper can only refuse: ask nothing, say what to set up.
    let available = Signal::derive(move || summary.setup.with(Option::is_none));
    let card = Card::new(ROOT, available);
    let view = card.view(summary, state);
    // A request is made in the agent's tab, so it appears when the person comes back to this
    // one (and when the card is built): no timer.
    on_return(move || {
        if available.get_untracked() {
            card.reload();
        }
    });
    let on_action = Callback::new(move |(action, id): Action| {
        let name = view.with_untracked(|v| row_name(v, &id));
        let client = card.client();
        match action {
            "disconnect" => {
                // One path segment: a metadata-document client's id is a URL.
                let path = format!("{ROOT}/{}", js_sys::encode_uri_component(&id));
                card.act(
                    async move { client.delete(&path).await.map(|()| String::new()) },
                    move |_| format!("Disconnected {name}; its next call is refused."),
                );
            }
            verb => {
                let path = format!("{ROOT}/requests/{id}/{verb}");
                let done = match verb {
                    "approve" => format!("Approved {name}: its sign-in page sends it back by itself."),
                    _ => format!("Denied {name}; nothing was shared."),
                };
                card.act(async move { client.post_text(&path).await }, move |_| done);
            }
        }
    });
    view! { <CardBody id=ConnectorId::Agents card summary view on_action /> }
}

/// The name on the row for request or client `id`.
fn row_name(view: &CardView, id: &str) -> String {
    view.list
        .iter()
        .flat_map(|l| &l.rows)
        .find(|r| r.key.1 == id)
        .map(|r| match &r.title {
            Title::Name(n) | Title::Code(_, n) => n.clone(),
        })
        .unwrap_or_default()
}

/// The card's state from `GET /api/connectors/agents` (proto's `AgentsOverview`): each
/// pending request with its client, where it returns, its scopes and what Approve and Deny
/// do; each approved client with its scopes, its times and Disconnect. Without an edge, only
/// what to set up.
fn state(answer: Option<&Value>, known: &Known) -> CardView {
    if let Some(setup) = &known.setup {
        return CardView {
            connected: known.connected,
            setup: Some(setup.clone()),
            ..CardView::default()
        };
    }
    let Some(answer) = answer else {
        return CardView {
            connected: known.connected,
            ..CardView::default()
        };
    };
    let pending = answer::items(answer, "pending").iter().filter_map(|r| {
        let (id, name) = (answer::text(r, "id")?, answer::text(r, "client_name")?);
        let scopes = answer::words(r, "scopes");
        let host = answer::str(r, "redirect_host").unwrap_or_default();
        Some(Row {
            key: ("data-request", id.clone()),
            class: "server",
            title: Title::Name(name.clone()),
            lines: vec![
                Line::hint(format!("asks to sign in, then returns to {host}")),
                Line::tagged(format!("access: {}", scopes.join(" ")), "scopes"),
                Line::tagged(approve_consequence(&name, &scopes), "consequence"),
                Line::hint(deny_consequence(&name)),
            ],
            pill: None,
            buttons: vec![
                Button::new("Approve", "approve", "primary")
                    .on(id.clone())
                    .enable(Enable::Idle),
                Button::new("Deny", "deny", "secondary")
                    .on(id)
                    .enable(Enable::Idle),
            ],
        })
    });
    let clients: Vec<Row> = answer::items(answer, "clients")
        .iter()
        .filter_map(|c| {
            let (id, name) = (answer::text(c, "client_id")?, answer::text(c, "client_name")?);
            let times = agent_times(
                known.now,
                answer::number(c, "approved_at").unwrap_or_default(),
                answer::number(c, "last_used_at"),
            );
            Some(Row {
                key: ("data-client", id.clone()),
                class: "server",
                title: Title::Name(name.clone()),
                lines: vec![
                    Line::tagged(format!("access: {}", answer::words(c, "scopes").join(" ")), "scopes"),
                    Line::tagged(times, "times"),
                ],
                pill: None,
                buttons: vec![Button::disconnect(format!(
                    "Disconnect {name}? Its tokens stop working at once; it must ask again to come back."
                ))
                .on(id)],
            })
        })
        .collect();
    let connected = !clients.is_empty();
    CardView {
        connected,
        account: None,
        list: Some(List {
            label: "Agents".to_owned(),
            class: "items servers",
            rows: pending.chain(clients).collect(),
            empty: Some((
                "agents-empty",
                "No agent has asked yet. Add this workspace's edge address followed by /mcp to \
                 Claude, ChatGPT or Cursor; its request shows here for you to approve.",
            )),
        }),
        setup: None,
        actions: Vec::new(),
    }
}
