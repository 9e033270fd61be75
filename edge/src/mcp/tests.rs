//! `/mcp` through the router, with tokens from the real authorization server.

use patchbay_proto::agents::{CONNECTIONS_READ, VERCEL_READ};
use patchbay_proto::oauth::parse_bearer_challenge;
use serde_json::{Value, json};

use super::*;
use crate::agents::tests::{Agent, admin};
use crate::testing::{EDGE_TOKEN, ORIGIN, TestEdge, get};

struct Mcp<'t> {
    t: &'t TestEdge,
    token: String,
    session: Option<String>,
}

impl<'t> Mcp<'t> {
    fn send(&self, method: &str, body: Value, extra: &[(&str, &str)]) -> EdgeResponse {
        let mut headers: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        if let Some(s) = &self.session {
            headers.push((SESSION_HEADER.into(), s.clone()));
        }
        self.t.send(EdgeRequest {
            method: method.into(),
            authorization: Some(format!("Bearer {}", self.token)),
            headers,
            body: body.to_string().into_bytes(),
            ..get("/mcp")
        })
    }

    fn rpc(&self, method: &str, params: Value) -> (u16, Value) {
        let r = self.send(
            "POST",
            json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}),
            &[],
        );
        (
            r.status,
            serde_json::from_slice(&r.body).unwrap_or(Value::Null),
        )
    }

    fn open(t: &'t TestEdge, scope: &str) -> Mcp<'t> {
        let (_, tokens) = Agent::login(t, scope);
        let mut mcp = Mcp {
            t,
            token: tokens["access_token"].as_str().unwrap().into(),
            session: None,
        };
        let r = mcp.send(
            "POST",
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"}}}),
            &[],
        );
        assert_eq!(r.status, 200);
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["result"]["protocolVersion"], "2025-06-18");
        assert!(v["result"]["capabilities"]["tools"].is_object());
        mcp.session = Some(r.header(SESSION_HEADER).unwrap().into());
        let r = mcp.send(
            "POST",
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            &[],
        );
        assert_eq!(r.status, 202);
        mcp
    }

    fn call(&self, tool: &str, arguments: Value) -> (u16, Value) {
        self.rpc("tools/call", json!({"name": tool, "arguments": arguments}))
    }
}

fn push_overview(t: &TestEdge) {
    let r = t.send(EdgeRequest {
        method: "PUT".into(),
        authorization: Some(format!("Bearer {EDGE_TOKEN}")),
        body: json!({"connectors": [
            {"id": "github", "name": "GitHub", "connected": true, "status": "/api/connectors/github/status",
             "served_by": "helper", "detail": "octocat", "secret": "ghp_should_not_pass"},
            {"id": "vercel", "name": "Vercel", "connected": false, "status": "/api/connectors/vercel/status",
             "served_by": "edge"}
        ]})
        .to_string()
        .into_bytes(),
        ..get("/api/connectors/agents/connections")
    });
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

#[test]
fn without_a_token_the_challenge_names_the_metadata_and_scope() {
    let t = TestEdge::new();
    for token in ["", "pba_unknown"] {
        let mcp = Mcp {
            t: &t,
            token: token.into(),
            session: None,
        };
        let r = mcp.send(
            "POST",
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
            &[],
        );
        assert_eq!(r.status, 401);
        let c = parse_bearer_challenge(r.header("www-authenticate").unwrap()).unwrap();
        assert_eq!(
            c.resource_metadata.as_deref(),
            Some(format!("{ORIGIN}/.well-known/oauth-protected-resource/mcp").as_str())
        );
        assert_eq!(c.scope.as_deref(), Some(CONNECTIONS_READ));
    }
    // The edge's own API secret is no MCP token.
    let mcp = Mcp {
        t: &t,
        token: EDGE_TOKEN.into(),
        session: None,
    };
    assert_eq!(mcp.rpc("tools/list", json!({})).0, 401);
}

#[test]
fn initialize_lists_tools_and_calls_list_connections_without_secrets() {
    let t = TestEdge::new();
    let mcp = Mcp::open(&t, CONNECTIONS_READ);
    let (status, v) = mcp.rpc("tools/list", json!({}));
    assert_eq!(status, 200);
    let names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "list_connections",
            "connect_account",
            "vercel_list_projects",
            "vercel_list_deployments",
            "vercel_get_deployment"
        ]
    );
    assert_eq!(v["result"]["tools"][0]["inputSchema"]["type"], "object");

    // Before the helper reported anything: an error result that says what to do.
    let (_, v) = mcp.call("list_connections", json!({}));
    assert_eq!(v["result"]["isError"], true);
    push_overview(&t);
    let (_, v) = mcp.call("list_connections", json!({}));
    assert_eq!(v["result"]["isError"], false, "{v}");
    let s = &v["result"]["structuredContent"];
    assert_eq!(s["connectors"][0]["detail"], "octocat");
    assert_eq!(s["connectors"][1]["connected"], false);
    assert!(!v.to_string().contains("ghp_should_not_pass"));

    let (_, v) = mcp.call("connect_account", json!({"provider": "vercel"}));
    assert_eq!(
        v["result"]["structuredContent"]["url"],
        format!("{ORIGIN}/")
    );
    let (_, v) = mcp.call("connect_account", json!({"provider": "nope"}));
    assert_eq!(v["result"]["isError"], true);

    // The card shows when the agent was last used.
    let (_, v) = admin(&t, "GET", "");
    assert_eq!(v["clients"][0]["last_used_at"], t.now.get());
}

#[test]
fn sessions_are_required_and_versions_negotiated() {
    let t = TestEdge::new();
    let mut mcp = Mcp::open(&t, "");
    let session = mcp.session.take();
    assert_eq!(mcp.rpc("tools/list", json!({})).0, 400);
    mcp.session = Some("mcs_unknown".into());
    assert_eq!(mcp.rpc("tools/list", json!({})).0, 404);
    mcp.session = session;
    let r = mcp.send(
        "POST",
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        &[("mcp-protocol-version", "1999-01-01")],
    );
    assert_eq!(r.status, 400);
    assert_eq!(mcp.rpc("ping", json!({})).1["result"], json!({}));
    assert_eq!(mcp.rpc("nope", json!({})).1["error"]["code"], -32601);
    let r = mcp.send("POST", json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2099-01-01"}}), &[]);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        v["result"]["protocolVersion"],
        patchbay_proto::agents::MCP_VERSIONS[0]
    );
    assert_eq!(mcp.send("GET", json!(null), &[]).status, 405);
    assert_eq!(mcp.send("POST", json!({"id": 1}), &[]).status, 400);
    assert_eq!(
        mcp.send(
            "POST",
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
            &[("origin", "https://evil.example")]
        )
        .status,
        403
    );
    assert_eq!(mcp.send("DELETE", json!(null), &[]).status, 204);
    assert_eq!(mcp.rpc("ping", json!({})).0, 404);
}

#[test]
fn revoking_the_client_makes_the_next_call_a_401() {
    let t = TestEdge::new();
    let mcp = Mcp::open(&t, "");
    assert_eq!(mcp.rpc("tools/list", json!({})).0, 200);
    let client_id = admin(&t, "GET", "").1["clients"][0]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(admin(&t, "DELETE", &format!("/{client_id}")).0, 200);
    assert_eq!(mcp.rpc("tools/list", json!({})).0, 401);
}

#[test]
fn access_tokens_expire_after_an_hour() {
    let t = TestEdge::new();
    let mcp = Mcp::open(&t, "");
    t.now.set(t.now.get() + 3601);
    assert_eq!(mcp.rpc("tools/list", json!({})).0, 401);
}

#[test]
fn vercel_tools_need_vercel_read_and_answer_with_the_stored_token() {
    let t = TestEdge::new();
    let mcp = Mcp::open(&t, CONNECTIONS_READ);
    let (status, v) = mcp.call("vercel_list_projects", json!({}));
    assert_eq!(status, 403, "{v}");
    let r = mcp.send(
        "POST",
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "vercel_list_projects"}}),
        &[],
    );
    let c = parse_bearer_challenge(r.header("www-authenticate").unwrap()).unwrap();
    assert!(c.is_insufficient_scope());
    assert_eq!(c.scope.as_deref(), Some("connections:read vercel:read"));

    let mcp = Mcp::open(&t, &format!("{CONNECTIONS_READ} {VERCEL_READ}"));
    let (_, v) = mcp.call("vercel_list_projects", json!({}));
    assert_eq!(v["result"]["isError"], true, "not connected yet: {v}");
    assert!(v.to_string().contains("connect_account"));

    t.fake.add_personal_token("vcp_test_token_0001");
    assert_eq!(
        t.api("POST", "token", r#"{"token":"vcp_test_token_0001"}"#)
            .0,
        200
    );
    let (_, v) = mcp.call("vercel_list_projects", json!({}));
    assert_eq!(
        v["result"]["structuredContent"]["projects"][0]["name"], "patchbay-site",
        "{v}"
    );
    let (_, v) = mcp.call(
        "vercel_list_deployments",
        json!({"project_id": "prj_fake1"}),
    );
    assert_eq!(
        v["result"]["structuredContent"]["deployments"][0]["uid"],
        "dpl_fake1"
    );
    let (_, v) = mcp.call("vercel_get_deployment", json!({"id": "dpl_fake1"}));
    assert_eq!(v["result"]["structuredContent"]["state"], "READY");
    let (_, v) = mcp.call("vercel_get_deployment", json!({"id": "dpl_nope"}));
    assert_eq!(v["result"]["isError"], true);
    assert!(!v.to_string().contains("vcp_test_token_0001"));
}
