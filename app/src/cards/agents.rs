//! Agents: hosted MCP clients (Claude, ChatGPT, Cursor…) that use this workspace through the
//! edge's `/mcp`. A client's authorization request waits on the edge until it is approved or
//! denied here; an approved client is listed until it is disconnected. The helper forwards
//! every route to the edge, so without an edge the card only says what to set up.

use leptos::prelude::*;
use patchbay_proto::api::ConnectorId;

use super::view::{Action, Button, CardBody, CardView, Enable, Line, List, Row, Title};
use super::{Card, Known, Summary, setup_only};
use crate::answer::{self, Value};
use crate::flow::{agent_times, approve_consequence, deny_consequence};
use crate::ui::on_return;

const ROOT: &str = "/api/connectors/agents";

#[component]
pub fn AgentsCard(summary: Summary) -> impl IntoView {
    // Without an edge the helper can only refuse: ask nothing, say what to set up.
    let available = Signal::derive(move || summary.setup().is_none());
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
                    "approve" => {
                        format!("Approved {name}: its sign-in page sends it back by itself.")
                    }
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
    if let Some(view) = setup_only(known) {
        return view;
    }
    let Some(answer) = answer else {
        return CardView {
            connected: known.connected,
            ..CardView::default()
        };
    };
    let pending = answer::items(answer, "pending")
        .into_iter()
        .filter_map(|ref r| {
            let (id, name) = (answer::text(r, "id")?, answer::text(r, "client_name")?);
            let scopes = answer::words(r, "scopes");
            let host = answer::text(r, "redirect_host").unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_proto::agents::{AgentClient, AgentRequest, AgentsOverview};
    use patchbay_proto::api::SetupNeeded;

    fn known(setup: Option<SetupNeeded>) -> Known {
        Known {
            id: ConnectorId::Agents,
            now: 10 * 86_400,
            connected: false,
            setup,
        }
    }

    #[test]
    fn requests_come_first_with_what_approve_and_deny_do_then_clients() {
        let answer = serde_json::to_value(AgentsOverview {
            pending: vec![AgentRequest {
                id: "r1".into(),
                client_id: "c2".into(),
                client_name: "Claude".into(),
                redirect_host: "claude.ai".into(),
                scopes: vec!["mcp:tools".into()],
                created_at: 0,
            }],
            clients: vec![AgentClient {
                client_id: "https://cursor.example/client.json".into(),
                client_name: "Cursor".into(),
                scopes: vec!["mcp:tools".into(), "vercel:read".into()],
                approved_at: 7 * 86_400,
                last_used_at: None,
            }],
        })
        .unwrap();
        let view = state(Some(&answer), &known(None));
        assert!(view.connected);
        let rows = view.list.clone().unwrap().rows;
        assert_eq!(rows[0].key, ("data-request", "r1".to_owned()));
        assert_eq!(
            rows[0].lines[0].text,
            "asks to sign in, then returns to claude.ai"
        );
        assert_eq!(rows[0].lines[1].testid, Some("scopes"));
        assert_eq!(
            rows[0].lines[2].text,
            approve_consequence("Claude", &["mcp:tools".to_owned()])
        );
        let verbs: Vec<_> = rows[0].buttons.iter().map(|b| b.action).collect();
        assert_eq!(verbs, ["approve", "deny"]);
        assert_eq!(rows[1].key.0, "data-client");
        assert_eq!(rows[1].lines[0].text, "access: mcp:tools vercel:read");
        assert_eq!(
            rows[1].lines[1].text,
            agent_times(10 * 86_400, 7 * 86_400, None)
        );
        assert!(
            rows[1].buttons[0]
                .ask
                .as_deref()
                .unwrap()
                .starts_with("Disconnect Cursor?")
        );
        assert_eq!(
            row_name(&view, "https://cursor.example/client.json"),
            "Cursor"
        );
        assert_eq!(row_name(&view, "r1"), "Claude");
    }

    #[test]
    fn nothing_yet_says_how_to_add_one_and_no_edge_says_what_to_set_up() {
        let empty = serde_json::to_value(AgentsOverview::default()).unwrap();
        let view = state(Some(&empty), &known(None));
        assert!(!view.connected);
        let list = view.list.unwrap();
        assert!(list.rows.is_empty());
        assert_eq!(list.empty.unwrap().0, "agents-empty");
        let setup = crate::cards::fixtures::edge_setup();
        let view = state(None, &known(Some(setup.clone())));
        assert_eq!(view.setup, Some(setup));
        assert!(view.list.is_none() && view.actions.is_empty());
    }
}
