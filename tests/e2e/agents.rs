//! Hosted agents through the real parts: the Worker under `wrangler dev` (workerd, local D1)
//! as authorization server and `/mcp`, the real helper for the dashboard's decisions, and the
//! real `patchbay mcp` CLI as the MCP client (dynamic registration, then a Client ID Metadata
//! Document on loopback). The refresh, reuse, revoke and step-up rules are driven with raw
//! HTTP, as a script would, since they are about exactly what goes on the wire.

use std::process::Stdio;
use std::time::{Duration, Instant};

use patchbay_proto::Secret;
use patchbay_proto::mcp::forms::{Authorize, authorization_url, code_exchange_form, refresh_form};
use patchbay_proto::oauth::{ClientAuth, parse_bearer_challenge};
use patchbay_proto::pkce::{PkceVerifier, new_state};
use patchbay_testkit::process::{Running, workspace_root};
use serde_json::{Value, json};

use crate::harness::{
    Browser, Helper, HelperBuilder, VercelEdge, browser_http, dashboard_helper, helper, port_53682,
    redirect_of, secret,
};
use crate::mcp::{Cli, land, patchbay_mcp, text};
use crate::pages::Dashboard;

struct Rig {
    edge: VercelEdge,
    helper: Helper,
    http: reqwest::Client,
}

impl Rig {
    fn start() -> Rig {
        Self::start_with(helper())
    }

    fn start_with(helper: HelperBuilder) -> Rig {
        let edge = VercelEdge::start(&[]);
        let helper = helper.envs(edge.helper_env()).start();
        Rig {
            edge,
            helper,
            http: browser_http(),
        }
    }

    fn origin(&self) -> String {
        self.edge.edge.origin()
    }

    fn mcp_url(&self) -> String {
        format!("{}/mcp", self.origin())
    }

    /// The pending requests on the Agents card (through the helper).
    async fn pending(&self) -> Vec<Value> {
        let (status, body) = self.helper.get("/api/connectors/agents").await;
        assert_eq!(status, 200, "{body}");
        body["pending"].as_array().unwrap().clone()
    }

    async fn decide(&self, id: &str, verb: &str) -> Value {
        let (status, body) = self
            .helper
            .post(
                &format!("/api/connectors/agents/requests/{id}/{verb}"),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `patchbay mcp login <edge>/mcp`, with the given client identity settings.
    fn login(&self, data: &std::path::Path, metadata_url: Option<&str>) -> Cli {
        let mut cmd = patchbay_mcp(data, &["login", &self.mcp_url()]);
        cmd.env_remove("PATCHBAY_EDGE_URL")
            .env_remove("PATCHBAY_CLIENT_METADATA_URL")
            .env("PATCHBAY_LOG", "patchbay_helper=debug");
        if let Some(url) = metadata_url {
            cmd.env("PATCHBAY_CLIENT_METADATA_URL", url);
        }
        Cli(Running::start_with_stdin("patchbay mcp", cmd))
    }

    fn printed_authorize_url(&self, cli: &mut Cli) -> String {
        let prefix = format!("{}/oauth/authorize?", self.origin());
        cli.wait_for(|l| {
            let l = l.trim();
            l.starts_with(&prefix).then(|| l.to_owned())
        })
    }

    /// `patchbay mcp call <edge>/mcp <tool>` until the helper's pushed overview has arrived.
    fn call_until_ok(&self, data: &std::path::Path, tool: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let o = patchbay_mcp(data, &["call", &self.mcp_url(), tool])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", text(&o));
            let result: Value = serde_json::from_slice(&o.stdout).unwrap();
            if result["isError"] != true {
                return result;
            }
            assert!(Instant::now() < deadline, "{result}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// The CLI signs in: registration, the pending page, approval on the card, the redirect.
async fn cli_login(rig: &Rig, data: &std::path::Path, metadata_url: Option<&str>) -> Value {
    let mut login = rig.login(data, metadata_url);
    let auth_url = rig.printed_authorize_url(&mut login);
    let page = rig.http.get(&auth_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Patchbay dashboard") && html.contains("127.0.0.1:53682"),
        "{html}"
    );
    assert!(html.contains("http-equiv=\"refresh\""));

    let pending = rig.pending().await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    let request = pending[0].clone();
    assert_eq!(request["client_name"], "Patchbay");
    assert_eq!(request["redirect_host"], "127.0.0.1:53682");
    assert_eq!(
        rig.decide(request["id"].as_str().unwrap(), "approve").await["outcome"],
        "approved"
    );

    let (status, location) = redirect_of(&auth_url).await.unwrap();
    assert_eq!(status, 302);
    assert!(
        location.starts_with("http://127.0.0.1:53682/callback?"),
        "{location}"
    );
    assert!(
        location.contains("code=pbo_") && location.contains("iss="),
        "{location}"
    );
    assert_eq!(land(&location).await, 200);
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
    assert!(out.contains("Signed in to"), "{out}");
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn patchbay_mcp_registers_is_approved_on_the_card_lists_connections_and_is_revoked() {
    let _port = port_53682();
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    // The dashboard reads the overview: the helper pushes it to the edge.
    assert_eq!(rig.helper.get("/api/connectors").await.0, 200);

    let request = cli_login(&rig, dir.path(), None).await;
    let client_id = request["client_id"].as_str().unwrap().to_owned();
    assert!(
        client_id.starts_with("pbc_"),
        "dynamic registration: {client_id}"
    );

    let result = rig.call_until_ok(dir.path(), "list_connections");
    let connectors = result["structuredContent"]["connectors"]
        .as_array()
        .unwrap();
    let ids: Vec<&str> = connectors
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "gdrive", "onedrive", "github", "vercel", "manus", "mcp", "agents"
        ]
    );

    let (_, card) = rig.helper.get("/api/connectors/agents").await;
    let client = &card["clients"][0];
    assert_eq!(client["client_id"], client_id.as_str());
    assert_eq!(client["scopes"], json!(["connections:read"]));
    assert!(client["approved_at"].as_u64().is_some());
    assert!(client["last_used_at"].as_u64().is_some(), "{card}");

    // Revoked on the card: the agent's next call is refused.
    let (status, body) = rig
        .helper
        .call(
            reqwest::Method::DELETE,
            &format!("/api/connectors/agents/{client_id}"),
            None,
        )
        .await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("revoked")));
    let o = patchbay_mcp(dir.path(), &["call", &rig.mcp_url(), "list_connections"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!o.status.success(), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_id_metadata_document_on_loopback_signs_in_too() {
    let _port = port_53682();
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(rig.helper.get("/api/connectors").await.0, 200);
    // The edge's own document of Patchbay's client, served on loopback by wrangler dev.
    let document = format!("{}/oauth/client-metadata.json", rig.origin());
    let request = cli_login(&rig, dir.path(), Some(&document)).await;
    assert_eq!(request["client_id"], document.as_str());
    let result = rig.call_until_ok(dir.path(), "list_connections");
    assert!(result["structuredContent"]["connectors"].is_array());
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_on_the_card_sends_access_denied_and_the_login_fails() {
    let _port = port_53682();
    let rig = Rig::start();
    let dir = tempfile::tempdir().unwrap();
    let mut login = rig.login(dir.path(), None);
    let auth_url = rig.printed_authorize_url(&mut login);
    assert_eq!(rig.http.get(&auth_url).send().await.unwrap().status(), 200);
    let id = rig.pending().await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(rig.decide(&id, "deny").await["outcome"], "denied");
    let (status, location) = redirect_of(&auth_url).await.unwrap();
    assert_eq!(status, 302);
    assert!(location.contains("error=access_denied"), "{location}");
    assert!(!location.contains("code="));
    land(&location).await;
    let (ok, out) = login.finish();
    assert!(!ok, "{out}");
    assert!(rig.pending().await.is_empty());
    assert!(
        rig.helper.get("/api/connectors/agents").await.1["clients"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_official_typescript_sdk_signs_in_and_calls_list_connections() {
    let rig = Rig::start();
    assert_eq!(rig.helper.get("/api/connectors").await.0, 200);
    let mut cmd = std::process::Command::new("node");
    cmd.arg(workspace_root().join("testkit/js/mcp-sdk-client.mjs"))
        .arg(rig.mcp_url())
        .arg("http://127.0.0.1:9/callback")
        .arg("list_connections")
        .current_dir(workspace_root());
    let mut sdk = Running::start_with_stdin("mcp sdk", cmd);
    let wait = Duration::from_secs(60);
    let auth_url = sdk
        .next_line(wait, |l| {
            l.text.strip_prefix("AUTHORIZE ").map(str::to_owned)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        auth_url.starts_with(&format!("{}/oauth/authorize?", rig.origin())),
        "{auth_url}"
    );
    assert_eq!(rig.http.get(&auth_url).send().await.unwrap().status(), 200);
    let pending = rig.pending().await;
    assert_eq!(pending[0]["client_name"], "MCP TypeScript SDK");
    rig.decide(pending[0]["id"].as_str().unwrap(), "approve")
        .await;
    let (_, location) = redirect_of(&auth_url).await.unwrap();
    sdk.write_line(&location).unwrap();
    let line = sdk
        .next_line(wait, |l| {
            (l.text.starts_with("RESULT ") || l.text.starts_with("ERROR ")).then(|| l.text.clone())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let result: Value = match line.strip_prefix("RESULT ") {
        Some(json) => serde_json::from_str(json).unwrap(),
        None => panic!("{line}\n{}", sdk.output()),
    };
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"]["connectors"][0]["id"], "gdrive");
    assert!(sdk.wait_exit(wait).unwrap().success());
}

/// A client written against the wire, as a script would be.
struct RawClient<'r> {
    rig: &'r Rig,
    client_id: String,
    redirect_uri: String,
}

impl<'r> RawClient<'r> {
    async fn register(rig: &'r Rig) -> RawClient<'r> {
        let redirect_uri = "http://127.0.0.1:1/cb".to_owned();
        let res = rig
            .http
            .post(format!("{}/oauth/register", rig.origin()))
            .json(
                &json!({"client_name": "Raw <i>script</i>", "redirect_uris": [redirect_uri],
                          "token_endpoint_auth_method": "none"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let v: Value = res.json().await.unwrap();
        RawClient {
            rig,
            client_id: v["client_id"].as_str().unwrap().into(),
            redirect_uri,
        }
    }

    fn url(&self, scope: &str, state: &str, verifier: &PkceVerifier) -> String {
        let resource = self.rig.mcp_url();
        authorization_url(
            Authorize {
                endpoint: &format!("{}/oauth/authorize", self.rig.origin()),
                client_id: &self.client_id,
                redirect_uri: &self.redirect_uri,
                scope,
                resource: Some(&resource),
            },
            state,
            verifier,
        )
    }

    async fn form(&self, path: &str, body: String) -> (u16, Value) {
        let res = self
            .rig
            .http
            .post(format!("{}{path}", self.rig.origin()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (
            res.status().as_u16(),
            res.json().await.unwrap_or(Value::Null),
        )
    }

    fn auth(&self) -> ClientAuth<'_> {
        ClientAuth {
            client_id: &self.client_id,
            client_secret: None,
        }
    }

    /// An authorization request, as the agent's browser opens it: the pending page answers,
    /// and the card has a request to decide. The authorize URL and the PKCE verifier.
    async fn ask(&self, scope: &str) -> (String, PkceVerifier) {
        let verifier = PkceVerifier::generate();
        let url = self.url(scope, &new_state(), &verifier);
        assert_eq!(self.rig.http.get(&url).send().await.unwrap().status(), 200);
        (url, verifier)
    }

    /// Where the decided authorize URL sends the browser, exchanged for tokens (registered
    /// as secrets, so the helper's output check looks for them).
    async fn exchange(&self, url: &str, verifier: &PkceVerifier) -> Value {
        let (status, location) = redirect_of(url).await.unwrap();
        assert_eq!(status, 302, "{location}");
        assert!(location.starts_with(&self.redirect_uri), "{location}");
        let code = location
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("code="))
            .unwrap_or_else(|| panic!("no code in {location}"))
            .to_owned();
        let resource = self.rig.mcp_url();
        let body = code_exchange_form(
            self.auth(),
            &code,
            &self.redirect_uri,
            verifier,
            Some(&resource),
        );
        let (status, tokens) = self.form("/oauth/token", body).await;
        assert_eq!(status, 200, "{tokens}");
        secret(tokens["access_token"].as_str().unwrap());
        secret(tokens["refresh_token"].as_str().unwrap());
        tokens
    }

    /// Approved through the helper's API and exchanged: the token answer.
    async fn sign_in(&self, scope: &str) -> Value {
        let (url, verifier) = self.ask(scope).await;
        let id = self
            .rig
            .pending()
            .await
            .iter()
            .find(|p| p["client_id"] == self.client_id.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.rig.decide(&id, "approve").await;
        self.exchange(&url, &verifier).await
    }

    async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let resource = self.rig.mcp_url();
        let body = refresh_form(self.auth(), &Secret::new(refresh_token), Some(&resource));
        let (status, v) = self.form("/oauth/token", body).await;
        if status == 200 {
            secret(v["access_token"].as_str().unwrap());
            secret(v["refresh_token"].as_str().unwrap());
        }
        (status, v)
    }
}

/// One JSON-RPC POST to /mcp: status, `WWW-Authenticate`, session header, body.
async fn mcp_post(
    rig: &Rig,
    token: &str,
    session: Option<&str>,
    message: Value,
) -> (u16, Option<String>, Option<String>, Value) {
    let mut req = rig
        .http
        .post(rig.mcp_url())
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&message);
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    let res = req.send().await.unwrap();
    let header = |n: &str| {
        res.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (www, session) = (header("www-authenticate"), header("mcp-session-id"));
    let status = res.status().as_u16();
    (
        status,
        www,
        session,
        res.json().await.unwrap_or(Value::Null),
    )
}

async fn tools_call(rig: &Rig, token: &str, tool: &str) -> (u16, Option<String>, Value) {
    let (status, _, session, _) = mcp_post(
        rig,
        token,
        None,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                          "clientInfo": {"name": "raw", "version": "1"}}}),
    )
    .await;
    if status != 200 {
        return (status, None, Value::Null);
    }
    let (status, www, _, body) = mcp_post(
        rig,
        token,
        session.as_deref(),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": tool, "arguments": {}}}),
    )
    .await;
    (status, www, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_reuse_kills_the_grant_and_revocation_ends_access() {
    let rig = Rig::start();
    let client = RawClient::register(&rig).await;
    let first = client.sign_in("connections:read").await;
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(first["expires_in"], 3600);
    assert_eq!(tools_call(&rig, access, "connect_account").await.0, 200);

    let (status, second) = client
        .refresh(first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let newest = second["access_token"].as_str().unwrap();
    assert_eq!(tools_call(&rig, newest, "connect_account").await.0, 200);

    // The old refresh token again: refused, and every token of the grant dies.
    let (status, reuse) = client
        .refresh(first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(tools_call(&rig, newest, "connect_account").await.0, 401);
    assert_eq!(
        client
            .refresh(second["refresh_token"].as_str().unwrap())
            .await
            .0,
        400
    );

    // RFC 7009: revoking the refresh token of a new sign-in ends its access too.
    let tokens = client.sign_in("connections:read").await;
    let body = format!(
        "token={}&client_id={}",
        tokens["refresh_token"].as_str().unwrap(),
        client.client_id
    );
    assert_eq!(client.form("/oauth/revoke", body).await.0, 200);
    let (status, _, _) = tools_call(
        &rig,
        tokens["access_token"].as_str().unwrap(),
        "connect_account",
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn vercel_tools_answer_403_insufficient_scope_until_the_agent_steps_up() {
    let rig = Rig::start();
    let client = RawClient::register(&rig).await;
    let narrow = client.sign_in("connections:read").await;
    let (status, www, _) = tools_call(
        &rig,
        narrow["access_token"].as_str().unwrap(),
        "vercel_list_projects",
    )
    .await;
    assert_eq!(status, 403);
    let challenge = parse_bearer_challenge(&www.unwrap()).unwrap();
    assert!(challenge.is_insufficient_scope());
    assert_eq!(
        challenge.scope.as_deref(),
        Some("connections:read vercel:read")
    );
    assert_eq!(
        challenge.resource_metadata.as_deref(),
        Some(format!("{}/.well-known/oauth-protected-resource/mcp", rig.origin()).as_str())
    );

    // Stepped up (a new approval), with Vercel connected on the edge: the fake's projects.
    let personal = secret("vercel_e2e_agents_token_0123456789");
    rig.edge.fake.add_personal_token(&personal);
    let (status, body) = rig
        .helper
        .post("/api/connectors/vercel/token", json!({"token": personal}))
        .await;
    assert_eq!(status, 200, "{body}");
    let wide = client.sign_in("connections:read vercel:read").await;
    let (status, _, body) = tools_call(
        &rig,
        wide["access_token"].as_str().unwrap(),
        "vercel_list_projects",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["result"]["structuredContent"]["projects"][0]["name"], "patchbay-site",
        "{body}"
    );
    assert!(!body.to_string().contains(&personal));
}

#[tokio::test(flavor = "multi_thread")]
async fn open_redirects_missing_pkce_or_state_and_approval_without_the_secret_are_refused() {
    let rig = Rig::start();
    let client = RawClient::register(&rig).await;
    let verifier = PkceVerifier::generate();
    let hostile_state = "<script>alert(1)</script>";
    let good = client.url("connections:read", hostile_state, &verifier);
    let cases = [
        good.replace("127.0.0.1%3A1", "evil.example"),
        good.replace("&code_challenge_method=S256", ""),
        good.replace("state=", "nostate="),
    ];
    for url in cases {
        let res = rig.http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), 400, "{url}");
        assert!(res.headers().get("location").is_none());
        let html = res.text().await.unwrap();
        assert!(
            !html.contains("evil.example") && !html.contains("<script>"),
            "{html}"
        );
    }
    assert!(rig.pending().await.is_empty());

    // The pending page shows the registered name escaped, and nothing of the URL.
    let page = rig.http.get(&good).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Raw &lt;i&gt;script&lt;/i&gt;"), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("alert(1)"),
        "{html}"
    );

    // Deciding needs the workspace's secret: not on the edge without the edge token, not on
    // the helper without the pairing token.
    let id = rig.pending().await[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/connectors/agents/requests/{id}/approve");
    let res = rig
        .http
        .post(format!("{}{path}", rig.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = rig.http.post(rig.helper.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(rig.pending().await.len(), 1, "still pending");
}

/// The whole decision on the Agents card in real Chromium: a request shows with the client's
/// name (as text, never markup) and scopes; Approve sends the agent's page back with a code
/// and lists the client; a second request, seen when the person returns to the tab, is
/// denied; Disconnect ends the agent's access.
#[tokio::test(flavor = "multi_thread")]
async fn the_agents_card_approves_denies_and_disconnects_in_the_browser() {
    let rig = Rig::start_with(dashboard_helper());
    let client = RawClient::register(&rig).await;
    let name = "Raw <i>script</i>";
    let (url, verifier) = client.ask("connections:read").await;

    let browser = Browser::start("dashboard-agents").await;
    let page = Dashboard::open(&browser, &rig.helper.pairing_link(&rig.helper.origin())).await;
    let card = page.card("agents");
    card.wait_state("disconnected").await;
    let request = card.agent_request(name).await;
    assert!(request.contains("access: connections:read"), "{request}");
    assert!(request.contains("returns to 127.0.0.1:1"), "{request}");
    assert!(
        request.contains(&format!("Approve: {name} can see which accounts")),
        "{request}"
    );
    assert!(
        request.contains(&format!("Deny: {name} is told no; nothing is shared.")),
        "{request}"
    );
    card.snap("pending").await;

    card.decide_request(name, "approve").await;
    card.notice("Approved").await;
    let tokens = client.exchange(&url, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(tools_call(&rig, access, "list_connections").await.0, 200);
    card.wait_state("connected").await;
    // Listed with its scopes and times (read again after the call: it was used).
    page.return_to_tab().await;
    let listed = card.agent_client(name).await;
    assert!(listed.contains("access: connections:read"), "{listed}");
    assert!(listed.contains("approved just now"), "{listed}");
    assert!(
        !card.lists_agent("Approve:").await,
        "the request is still shown"
    );

    // A second request appears when the person comes back to the tab; Deny refuses it.
    let (second, _) = client.ask("connections:read vercel:read").await;
    page.return_to_tab().await;
    let request = card.agent_request("vercel:read").await;
    assert!(
        request.contains("read the connected Vercel account"),
        "{request}"
    );
    card.decide_request(name, "deny").await;
    card.notice("Denied").await;
    let (status, location) = redirect_of(&second).await.unwrap();
    assert_eq!(status, 302);
    assert!(location.contains("error=access_denied"), "{location}");
    assert!(!location.contains("code="), "{location}");
    assert!(rig.pending().await.is_empty());

    // Disconnect asks first, then the agent's next call is refused.
    let question = card.disconnect_agent(name).await;
    assert!(question.contains("stop working"), "{question}");
    card.notice("Disconnected").await;
    card.wait_state("disconnected").await;
    let (status, www, _) = tools_call(&rig, access, "list_connections").await;
    assert_eq!(status, 401, "{www:?}");
    card.snap("after-disconnect").await;
    browser.close().await;
}
