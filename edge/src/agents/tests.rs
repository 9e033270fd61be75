//! The authorization server end to end through the router: registration, the authorize
//! contract with the dashboard's decision, the code exchange, rotation, reuse detection,
//! revocation, and what it refuses.

use patchbay_proto::agents::{AgentsOverview, CONNECTIONS_READ, SCOPES, VERCEL_READ};
use patchbay_proto::oauth::AuthorizationServerMetadata;
use patchbay_proto::pkce::PkceVerifier;
use patchbay_proto::pkce::new_state;
use serde_json::{Value, json};

use super::register::MAX_UNAPPROVED;
use super::*;
use crate::testing::{EDGE_TOKEN, ORIGIN, SILENT, TestEdge, get};

pub const REDIRECT: &str = "http://127.0.0.1/callback";
pub const REDIRECT_WITH_PORT: &str = "http://127.0.0.1:49152/callback";

/// A POST with a body; `bearer` as `Authorization`.
pub fn post(t: &TestEdge, path: &str, body: &str, bearer: Option<&str>) -> (u16, Value) {
    let r = t.send(EdgeRequest {
        method: "POST".into(),
        authorization: bearer.map(|b| format!("Bearer {b}")),
        body: body.as_bytes().to_vec(),
        ..get(path)
    });
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

/// A helper (edge bearer) call to the Agents routes.
pub fn admin(t: &TestEdge, method: &str, rest: &str) -> (u16, Value) {
    let r = t.send(EdgeRequest {
        method: method.into(),
        authorization: Some(format!("Bearer {EDGE_TOKEN}")),
        ..get(&format!("{}{rest}", admin::ROOT))
    });
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut f = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        f.append_pair(k, v);
    }
    f.finish()
}

/// One MCP client: registered, with one authorization request in flight.
pub struct Agent<'t> {
    pub t: &'t TestEdge,
    pub client_id: String,
    pub verifier: PkceVerifier,
    pub state: String,
    pub scope: String,
}

impl<'t> Agent<'t> {
    pub fn register(t: &'t TestEdge, scope: &str) -> Agent<'t> {
        let (status, v) = post(
            t,
            REGISTER_PATH,
            &json!({"client_name": "Test <b>Agent</b>", "redirect_uris": [REDIRECT]}).to_string(),
            None,
        );
        assert_eq!(status, 201, "{v}");
        Agent {
            t,
            client_id: v["client_id"].as_str().unwrap().into(),
            verifier: PkceVerifier::generate(),
            state: new_state(),
            scope: scope.into(),
        }
    }

    pub fn query(&self, drop: &str) -> String {
        let challenge = self.verifier.challenge();
        let resource = format!("{ORIGIN}/mcp");
        let all = [
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", REDIRECT_WITH_PORT),
            ("scope", self.scope.as_str()),
            ("state", self.state.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("resource", resource.as_str()),
        ];
        form(
            &all.into_iter()
                .filter(|(k, _)| *k != drop)
                .collect::<Vec<_>>(),
        )
    }

    pub fn authorize(&self) -> EdgeResponse {
        self.t.send(EdgeRequest {
            query: self.query(""),
            ..get(AUTHORIZE_PATH)
        })
    }

    /// The id of this client's pending request, as the Agents card sees it.
    pub fn pending_id(&self) -> String {
        let (status, v) = admin(self.t, "GET", "");
        assert_eq!(status, 200);
        let overview: AgentsOverview = serde_json::from_value(v).unwrap();
        overview
            .pending
            .iter()
            .find(|p| p.client_id == self.client_id)
            .expect("a pending request")
            .id
            .clone()
    }

    pub fn decide(&self, verb: &str) -> (u16, Value) {
        let id = self.pending_id();
        admin(self.t, "POST", &format!("/requests/{id}/{verb}"))
    }

    /// The query of the redirect back to the client.
    pub fn redirected(&self) -> Vec<(String, String)> {
        let r = self.authorize();
        assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
        let location = r.header("location").unwrap();
        let (base, query) = location.split_once('?').unwrap();
        assert_eq!(base, REDIRECT_WITH_PORT);
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    pub fn code(&self) -> String {
        let q = self.redirected();
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("state").as_deref(), Some(self.state.as_str()));
        assert_eq!(get("iss").as_deref(), Some(ORIGIN));
        get("code").unwrap()
    }

    pub fn exchange(&self, code: &str) -> (u16, Value) {
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", &self.client_id),
            ("redirect_uri", REDIRECT_WITH_PORT),
            ("code_verifier", self.verifier.expose()),
            ("resource", &format!("{ORIGIN}/mcp")),
        ]);
        post(self.t, TOKEN_PATH, &body, None)
    }

    /// The whole flow: registered, approved, exchanged; the token answer.
    pub fn login(t: &'t TestEdge, scope: &str) -> (Agent<'t>, Value) {
        let agent = Agent::register(t, scope);
        assert_eq!(agent.authorize().status, 200);
        assert_eq!(agent.decide("approve").0, 200);
        let (status, tokens) = agent.exchange(&agent.code());
        assert_eq!(status, 200, "{tokens}");
        (agent, tokens)
    }

    pub fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        let body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.client_id),
        ]);
        post(self.t, TOKEN_PATH, &body, None)
    }
}

fn text(r: &EdgeResponse) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

#[test]
fn metadata_names_every_endpoint_and_s256_only() {
    let t = TestEdge::new();
    let r = t.send(get(metadata::PATH));
    assert_eq!(r.status, 200);
    let doc: AuthorizationServerMetadata = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc.check(ORIGIN), Ok(()));
    assert_eq!(doc.code_challenge_methods_supported, ["S256"]);
    assert!(doc.authorization_response_iss_parameter_supported);
    assert!(doc.client_id_metadata_document_supported);
    assert_eq!(
        doc.registration_endpoint,
        Some(format!("{ORIGIN}/oauth/register"))
    );
    assert_eq!(
        doc.revocation_endpoint,
        Some(format!("{ORIGIN}/oauth/revoke"))
    );
    assert_eq!(doc.scopes_supported, SCOPES);
    assert_eq!(doc.response_types_supported, ["code"]);
}

#[test]
fn registration_accepts_https_and_loopback_only_and_is_bounded() {
    let t = TestEdge::new();
    let register = |uris: Value| {
        post(
            &t,
            REGISTER_PATH,
            &json!({"client_name": "x", "redirect_uris": uris}).to_string(),
            None,
        )
    };
    let (status, v) = register(json!(["https://claude.ai/api/mcp/auth_callback"]));
    assert_eq!(status, 201, "{v}");
    assert!(v["client_id"].as_str().unwrap().starts_with("pbc_"));
    assert_eq!(v["token_endpoint_auth_method"], "none");
    assert!(v.get("client_secret").is_none());
    for bad in [
        json!(["http://evil.example/cb"]),
        json!(["javascript:alert(1)"]),
        json!(["https://a.example/cb#frag"]),
        json!([]),
    ] {
        let (status, v) = register(bad.clone());
        assert_eq!(status, 400, "{bad}");
        assert_eq!(v["error"], "invalid_redirect_uri");
    }
    let (status, v) = post(&t, REGISTER_PATH, "not json", None);
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("invalid_client_metadata"))
    );
    let (status, _) = post(
        &t,
        REGISTER_PATH,
        &json!({"redirect_uris": [REDIRECT], "scope": "admin"}).to_string(),
        None,
    );
    assert_eq!(status, 400);

    for _ in 1..MAX_UNAPPROVED {
        assert_eq!(register(json!([REDIRECT])).0, 201);
    }
    let (status, v) = register(json!([REDIRECT]));
    assert_eq!(status, 507, "{v}");
    // A day later the unapproved registrations are forgotten and there is room again.
    t.now.set(t.now.get() + 24 * 3600 + 1);
    assert_eq!(register(json!([REDIRECT])).0, 201);
}

#[test]
fn the_authorize_url_waits_then_redirects_with_code_state_and_iss() {
    let t = TestEdge::new();
    let agent = Agent::register(&t, CONNECTIONS_READ);
    let r = agent.authorize();
    assert_eq!(r.status, 200);
    let page = text(&r);
    assert!(page.contains("Test &lt;b&gt;Agent&lt;/b&gt;"), "{page}");
    assert!(page.contains("127.0.0.1:49152"));
    assert!(page.contains("connections:read"));
    assert!(page.contains("Agents"));
    assert!(page.contains("http-equiv=\"refresh\""));
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script"),
        "{csp}"
    );
    // Nothing of the URL is on the page.
    assert!(!page.contains(&agent.state));
    assert!(!page.contains(&agent.verifier.challenge()));

    // Re-loading is the same request: still pending, still one entry on the card.
    assert_eq!(agent.authorize().status, 200);
    let (_, v) = admin(&t, "GET", "");
    let overview: AgentsOverview = serde_json::from_value(v).unwrap();
    assert_eq!(overview.pending.len(), 1);
    let p = &overview.pending[0];
    assert_eq!(p.client_name, "Test <b>Agent</b>");
    assert_eq!(p.redirect_host, "127.0.0.1:49152");
    assert_eq!(p.scopes, [CONNECTIONS_READ]);
    assert!(overview.clients.is_empty());

    let (status, v) = agent.decide("approve");
    assert_eq!((status, v["outcome"].as_str()), (200, Some("approved")));
    let code = agent.code();
    assert!(code.starts_with("pbo_"));
    // The code was handed out once; the URL is spent.
    assert_eq!(agent.authorize().status, 400);

    let (_, v) = admin(&t, "GET", "");
    let overview: AgentsOverview = serde_json::from_value(v).unwrap();
    assert!(overview.pending.is_empty());
    assert_eq!(overview.clients[0].client_id, agent.client_id);
    assert_eq!(overview.clients[0].scopes, [CONNECTIONS_READ]);
    assert_eq!(overview.clients[0].approved_at, t.now.get());
}

#[test]
fn deny_redirects_with_access_denied() {
    let t = TestEdge::new();
    let agent = Agent::register(&t, "");
    assert_eq!(agent.authorize().status, 200);
    assert_eq!(agent.decide("deny").1["outcome"], "denied");
    let q = agent.redirected();
    assert!(q.contains(&("error".into(), "access_denied".into())));
    assert!(q.contains(&("state".into(), agent.state.clone())));
    assert!(!q.iter().any(|(k, _)| k == "code"));
    // Decided requests cannot be decided again.
    let (_, v) = admin(&t, "GET", "");
    assert!(v["pending"].as_array().unwrap().is_empty());
    assert_eq!(admin(&t, "POST", "/requests/req_nope/approve").0, 404);
}

#[test]
fn approving_needs_the_workspace_secret() {
    let t = TestEdge::new();
    let agent = Agent::register(&t, "");
    agent.authorize();
    let id = agent.pending_id();
    for bearer in [None, Some("wrong"), Some("pba_not_the_edge_token")] {
        let (status, _) = post(
            &t,
            &format!("{}/requests/{id}/approve", admin::ROOT),
            "",
            bearer,
        );
        assert_eq!(status, 401, "{bearer:?}");
    }
    // An agent's own access token is no workspace secret either.
    let (_, tokens) = Agent::login(&t, "");
    let (status, _) = post(
        &t,
        &format!("{}/requests/{id}/approve", admin::ROOT),
        "",
        tokens["access_token"].as_str(),
    );
    assert_eq!(status, 401);
    assert_eq!(agent.authorize().status, 200, "still pending");
}

#[test]
fn open_redirects_missing_pkce_and_missing_state_are_refused_without_redirecting() {
    let t = TestEdge::new();
    let agent = Agent::register(&t, CONNECTIONS_READ);
    let send = |query: String| {
        t.send(EdgeRequest {
            query,
            ..get(AUTHORIZE_PATH)
        })
    };
    let evil = agent.query("").replace("127.0.0.1%3A49152", "evil.example");
    for (query, needle) in [
        (evil, "did not register"),
        (agent.query("redirect_uri"), "did not register"),
        (agent.query("state"), "state"),
        (agent.query("code_challenge"), "PKCE"),
        (agent.query("code_challenge_method"), "PKCE"),
        (agent.query("").replace("S256", "plain"), "PKCE"),
        (agent.query("client_id"), "client"),
        (
            agent.query("").replace("connections%3Aread", "admin"),
            "permission",
        ),
        (
            agent.query("").replace("%2Fmcp", "%2Fother"),
            "another server",
        ),
        (format!("{}&state=second", agent.query("")), "state"),
    ] {
        let r = send(query.clone());
        assert_eq!(r.status, 400, "{query}");
        assert!(r.header("location").is_none());
        assert!(text(&r).contains(needle), "{needle}: {}", text(&r));
        assert!(!text(&r).contains("evil.example"));
    }
    let (_, v) = admin(&t, "GET", "");
    assert!(v["pending"].as_array().unwrap().is_empty());
}

#[test]
fn codes_are_single_use_expire_and_need_the_verifier_and_exact_redirect() {
    let t = TestEdge::new();
    let agent = Agent::register(&t, "");
    agent.authorize();
    agent.decide("approve");
    let code = agent.code();

    let mut wrong = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("client_id", &agent.client_id),
        ("redirect_uri", "http://127.0.0.1:50000/callback"),
        ("code_verifier", agent.verifier.expose()),
    ]);
    let (status, v) = post(&t, TOKEN_PATH, &wrong, None);
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
    // The refused attempt used the code up.
    assert_eq!(agent.exchange(&code).1["error"], "invalid_grant");

    let agent = Agent::register(&t, "");
    agent.authorize();
    agent.decide("approve");
    let code = agent.code();
    wrong = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("client_id", &agent.client_id),
        ("redirect_uri", REDIRECT_WITH_PORT),
        ("code_verifier", PkceVerifier::generate().expose()),
    ]);
    assert_eq!(
        post(&t, TOKEN_PATH, &wrong, None).1["error"],
        "invalid_grant"
    );

    let agent = Agent::register(&t, "");
    agent.authorize();
    agent.decide("approve");
    let code = agent.code();
    t.now.set(t.now.get() + 61);
    assert_eq!(agent.exchange(&code).1["error"], "invalid_grant");

    // A code used twice: the second try fails and revokes what the first got.
    let t = TestEdge::new();
    let agent = Agent::register(&t, "");
    agent.authorize();
    agent.decide("approve");
    let code = agent.code();
    let (status, tokens) = agent.exchange(&code);
    assert_eq!(status, 200);
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(agent.exchange(&code).1["error"], "invalid_grant");
    assert_eq!(
        agent.refresh(tokens["refresh_token"].as_str().unwrap()).0,
        400
    );
}

#[test]
fn tokens_are_stored_only_as_hashes() {
    let t = TestEdge::new();
    let (_, tokens) = Agent::login(&t, "");
    let dump = format!(
        "{:?}{:?}",
        t.store.sql("SELECT * FROM agent_tokens"),
        t.store.sql("SELECT * FROM agent_requests")
    );
    for token in ["access_token", "refresh_token"] {
        let value = tokens[token].as_str().unwrap();
        assert!(!dump.contains(value), "{token} stored in clear");
    }
    assert_eq!(t.store.sql("SELECT * FROM agent_tokens").len(), 2);
}

#[test]
fn refresh_rotates_and_reuse_kills_the_grant() {
    let t = TestEdge::new();
    let (agent, first) = Agent::login(&t, &format!("{CONNECTIONS_READ} {VERCEL_READ}"));
    let old = first["refresh_token"].as_str().unwrap();
    let (status, second) = agent.refresh(old);
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["scope"], "connections:read vercel:read");

    // The old one again: refused, and the new tokens die with it.
    let (status, v) = agent.refresh(old);
    assert_eq!((status, v["error"].as_str()), (400, Some("invalid_grant")));
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(
        agent.refresh(second["refresh_token"].as_str().unwrap()).0,
        400
    );
    assert!(t.store.sql("SELECT * FROM agent_tokens").is_empty());

    // Another client cannot use someone's refresh token; refresh tokens expire after 30 days.
    let (agent, tokens) = Agent::login(&t, "");
    let other = Agent::register(&t, "");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(other.refresh(refresh).0, 400);
    let (_, tokens) = Agent::login(&t, "");
    t.now.set(t.now.get() + 30 * 24 * 3600 + 1);
    assert_eq!(
        agent.refresh(tokens["refresh_token"].as_str().unwrap()).0,
        400
    );
}

#[test]
fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let t = TestEdge::new();
    let (agent, tokens) = Agent::login(&t, CONNECTIONS_READ);
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ("client_id", &agent.client_id),
        ("scope", "connections:read vercel:read"),
    ]);
    assert_eq!(
        post(&t, TOKEN_PATH, &body, None).1["error"],
        "invalid_scope"
    );
}

#[test]
fn revocation_of_a_refresh_token_ends_the_grant_and_unknown_tokens_are_fine() {
    let t = TestEdge::new();
    let (agent, tokens) = Agent::login(&t, "");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let body = form(&[("token", refresh), ("client_id", &agent.client_id)]);
    assert_eq!(post(&t, REVOKE_PATH, &body, None).0, 200);
    assert!(t.store.sql("SELECT * FROM agent_tokens").is_empty());
    assert_eq!(agent.refresh(refresh).0, 400);
    assert_eq!(
        post(&t, REVOKE_PATH, &form(&[("token", "nope")]), None).0,
        200
    );
    assert_eq!(post(&t, REVOKE_PATH, "", None).0, 400);
}

#[test]
fn revoking_a_client_on_the_card_removes_it_and_its_tokens() {
    let t = TestEdge::new();
    let (agent, _) = Agent::login(&t, "");
    let (status, v) = admin(&t, "DELETE", &format!("/{}", agent.client_id));
    assert_eq!((status, v["outcome"].as_str()), (200, Some("revoked")));
    assert!(t.store.sql("SELECT * FROM agent_tokens").is_empty());
    assert!(
        admin(&t, "GET", "").1["clients"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(admin(&t, "DELETE", &format!("/{}", agent.client_id)).0, 404);
    assert_eq!(admin(&t, "PATCH", "").0, 400);
}

#[test]
fn a_metadata_document_that_never_answers_is_refused_in_time_and_asks_nothing() {
    let t = TestEdge::new();
    let agent = Agent {
        t: &t,
        client_id: SILENT.into(),
        verifier: PkceVerifier::generate(),
        state: new_state(),
        scope: CONNECTIONS_READ.into(),
    };
    let r = agent.authorize();
    assert_eq!(r.status, 400);
    let page = text(&r);
    assert!(page.contains("did not arrive within 5 seconds"), "{page}");
    let (status, v) = admin(&t, "GET", "");
    assert_eq!(status, 200);
    let card: AgentsOverview = serde_json::from_value(v).unwrap();
    assert!(
        card.pending.is_empty() && card.clients.is_empty(),
        "{card:?}"
    );
}
