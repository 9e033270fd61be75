//! MCP servers: add one by URL (OAuth 2.1 sign-in run by the helper), see each server's
//! token state, sign in again, disconnect.

use leptos::prelude::*;
use patchbay_proto::api::ConnectorId;
use patchbay_proto::mcp::{StartServerRequest, TokenState};

use super::view::{
    Action, Button, CardBody, CardView, Enable, Line, List, Panel, Pill, Row, Title,
};
use super::{Card, Known, Summary};
use crate::answer::{self, Value};
use crate::api::json;
use crate::flow::{server_url_problem, token_state_words};
use crate::session::SignInSteps;
use crate::ui::{Field, FieldForm};

#[component]
pub fn McpCard(summary: Summary) -> impl IntoView {
    let card = Card::new("/api/connectors/mcp/servers", Signal::stored(true));
    let feedback = card.feedback;
    let view = card.view(summary, state);
    let panel = RwSignal::new(Panel::Closed);
    // Made here, not in the view of one panel: they run while that view is going away.
    let ended = card.on_sign_in_end(move || panel.set(Panel::Closed));
    let closed = Callback::new(move |()| panel.set(Panel::Closed));
    let start = Callback::new(move |url: String| {
        let client = card.client();
        feedback.begin();
        card.spawn(async move {
            let r = client
                .post(
                    "/api/connectors/mcp/servers",
                    json(&StartServerRequest { url: url.clone() }),
                )
                .await;
            // proto's `SessionStarted`.
            match r.map(|s| answer::text(&s, "session_id").unwrap_or_default()) {
                Ok(session_id) => {
                    feedback.busy.set(false);
                    panel.set(Panel::Running {
                        session_id,
                        what: url,
                    });
                }
                Err(e) => feedback.failed(&e),
            }
        });
    });
    let on_action = Callback::new(move |(action, arg): Action| match action {
        "reauth" => start.run(arg),
        "disconnect" => {
            let client = card.client();
            let path = format!("/api/connectors/mcp/servers/{arg}");
            card.act(
                async move { client.delete(&path).await.map(|()| String::new()) },
                |_| "Disconnected the server; its tokens are gone.".to_owned(),
            );
        }
        _ => {
            feedback.clear();
            panel.set(Panel::Adding);
        }
    });
    let flow = move || match panel.get() {
        Panel::Adding => view! {
            <AddServer on_submit=start on_cancel=closed busy=feedback.busy />
        }
        .into_any(),
        Panel::Running {
            session_id,
            what: url,
        } => view! {
            <SignInSteps sessions="/api/connectors/mcp/sessions".to_owned() session_id
                provider="the server"
                done_text=format!("Tools can reach {url} through Patchbay now.")
                on_end=ended on_close=closed />
        }
        .into_any(),
        _ => ().into_any(),
    };
    let open = Signal::derive(move || panel.with(|p| *p != Panel::Closed));
    view! { <CardBody id=ConnectorId::Mcp card summary view on_action open flow /> }
}

/// The card's state from `GET …/mcp/servers` (proto's `McpServerList`): each server with
/// where it signs in, its access and token state, Sign in again and Disconnect; connected
/// while one has a usable token.
fn state(answer: Option<&Value>, known: &Known) -> CardView {
    let servers = answer
        .map(|a| answer::items(a, "servers"))
        .unwrap_or_default();
    let mut connected = known.connected && answer.is_none();
    let rows = servers
        .iter()
        .filter_map(|s| {
            let (id, url) = (answer::text(s, "id")?, answer::text(s, "url")?);
            let token_state = answer::token_state(s, "token_state").unwrap_or(TokenState::Missing);
            connected |= matches!(token_state, TokenState::Valid | TokenState::Expired);
            let (tone, words) = token_state_words(token_state);
            let mut lines = Vec::new();
            if let Some(issuer) = answer::text(s, "issuer") {
                lines.push(Line::hint(format!("signs in at {issuer}")));
            }
            if let Some(scope) = answer::text(s, "scope").filter(|s| !s.is_empty()) {
                lines.push(Line::hint(format!("access: {scope}")));
            }
            Some(Row {
                key: ("data-server", url.clone()),
                class: "server",
                title: Title::Code("server-url", url.clone()),
                lines,
                pill: Some(Pill { tone, words }),
                buttons: vec![
                    Button::new("Sign in again", "reauth", "secondary subtle")
                        .on(url)
                        .enable(Enable::IdleClosed),
                    Button::disconnect(
                        "Disconnect this server? Patchbay forgets its tokens.".to_owned(),
                    )
                    .on(id),
                ],
            })
        })
        .collect();
    CardView {
        connected,
        account: None,
        list: Some(List {
            label: "MCP servers".to_owned(),
            class: "items servers",
            rows,
            empty: None,
        }),
        setup: None,
        actions: vec![Button::new("Add a server", "connect", "primary")],
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
    let field = Field {
        form: "server-url",
        id: "mcp-server-url".to_owned(),
        label: "Server address",
        kind: "url",
        placeholder: "https://mcp.example.com/mcp",
        readonly: false,
        check_as_typed: false,
        go: "Continue",
    };
    let problem = Signal::derive(move || server_url_problem(&url.get()));
    let hint = Signal::stored(
        "The server's MCP endpoint. Patchbay finds its sign-in page by itself.".to_owned(),
    );
    let submit = Callback::new(move |()| on_submit.run(url.get_untracked().trim().to_owned()));
    view! {
        <FieldForm field value=url touched problem hint busy on_submit=submit on_cancel />
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_proto::mcp::{McpServer, McpServerList};

    fn server(id: &str, token_state: TokenState, issuer: Option<&str>) -> McpServer {
        McpServer {
            id: id.into(),
            url: format!("https://{id}.example/mcp"),
            issuer: issuer.map(Into::into),
            scope: Some("tools:read".into()),
            token_state,
            expires_at: None,
            has_refresh_token: true,
        }
    }

    fn known(connected: bool) -> Known {
        Known {
            id: ConnectorId::Mcp,
            now: 0,
            connected,
            setup: None,
        }
    }

    #[test]
    fn each_server_shows_where_it_signs_in_its_access_and_token_state() {
        let answer = serde_json::to_value(McpServerList {
            servers: vec![
                server(
                    "a",
                    TokenState::ReauthorizationRequired,
                    Some("https://auth.example"),
                ),
                server("b", TokenState::Missing, None),
            ],
        })
        .unwrap();
        let view = state(Some(&answer), &known(true));
        assert!(!view.connected, "no server has a usable token");
        let rows = view.list.unwrap().rows;
        assert_eq!(
            rows[0].key,
            ("data-server", "https://a.example/mcp".to_owned())
        );
        let lines: Vec<_> = rows[0].lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            lines,
            ["signs in at https://auth.example", "access: tools:read"]
        );
        assert_eq!(
            rows[0].pill,
            Some(Pill {
                tone: "warn",
                words: "Sign in again"
            })
        );
        assert_eq!(rows[1].lines.len(), 1);
        // Sign in again goes by address, Disconnect by id.
        assert_eq!(rows[0].buttons[0].arg, "https://a.example/mcp");
        assert_eq!(rows[0].buttons[1].arg, "a");
        assert_eq!(rows[0].buttons[0].enable, Enable::IdleClosed);
        assert_eq!(view.actions[0].action, "connect");
    }

    #[test]
    fn a_valid_or_refreshable_token_is_connected() {
        for token_state in [TokenState::Valid, TokenState::Expired] {
            let answer = serde_json::to_value(McpServerList {
                servers: vec![server("a", token_state, None)],
            })
            .unwrap();
            assert!(state(Some(&answer), &known(false)).connected);
        }
        assert!(state(None, &known(true)).connected);
    }
}
