//! A fake Vercel: OAuth authorization server (authorize with auto-approval, token endpoint
//! with PKCE S256 checks and rotating refresh tokens, Dynamic Client Registration,
//! revocation) and the REST API's `GET /v2/user`.
//!
//! The protocol lives in [`FakeVercel::handle`], a plain function of a request, so the edge's
//! native tests can call it in-process; [`FakeVercel::serve`] puts the same thing on a
//! loopback port for `wrangler dev`. Counters let a test prove what did (not) happen.
//!
//! Paths: `/oauth/authorize`, `/oauth/token`, `/oauth/register`, `/oauth/revoke`,
//! `/v2/user`; [`FakeVercel::edge_vars`] gives the Worker vars that point the edge here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::FakeServer;

/// A Vercel account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeUser {
    pub id: String,
    pub username: String,
    pub email: String,
}

impl Default for FakeUser {
    fn default() -> Self {
        Self {
            id: "usr_fake0001".into(),
            username: "patchbay-tester".into(),
            email: "tester@example.com".into(),
        }
    }
}

/// What the fake has been asked, for assertions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub registrations: u32,
    pub authorizations: u32,
    /// Successful `authorization_code` grants.
    pub code_exchanges: u32,
    /// Successful `refresh_token` grants.
    pub refreshes: u32,
    /// Token requests refused with `invalid_grant` / `invalid_client`.
    pub token_errors: u32,
    pub user_requests: u32,
    pub revocations: u32,
}

/// A request as the fake sees it.
#[derive(Debug, Clone, Default)]
pub struct FakeRequest {
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// Lower-case header names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The fake's answer.
#[derive(Debug, Clone)]
pub struct FakeResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl FakeResponse {
    fn json(status: u16, v: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: v.to_string().into_bytes(),
        }
    }

    fn oauth_error(status: u16, error: &str, description: &str) -> Self {
        Self::json(
            status,
            json!({"error": error, "error_description": description}),
        )
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

struct Client {
    secret: Option<String>,
    redirect_uris: Vec<String>,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    used: bool,
}

struct Access {
    user: FakeUser,
    expires_at: u64,
    revoked: bool,
}

struct Refresh {
    client_id: String,
    user: FakeUser,
    valid: bool,
}

struct State {
    user: FakeUser,
    clients: HashMap<String, Client>,
    codes: HashMap<String, Grant>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    counters: Counters,
    access_ttl: u64,
    rotate_refresh_tokens: bool,
    serial: u64,
}

/// The fake's state; clones share it.
#[derive(Clone)]
pub struct FakeVercel {
    state: Arc<Mutex<State>>,
}

impl Default for FakeVercel {
    fn default() -> Self {
        Self::new()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).expect("random");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

impl FakeVercel {
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                user: FakeUser::default(),
                clients: HashMap::new(),
                codes: HashMap::new(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                counters: Counters::default(),
                access_ttl: 3600,
                rotate_refresh_tokens: true,
                serial: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves the fake on a loopback port.
    pub fn serve(&self) -> FakeServer {
        let fake = self.clone();
        let router =
            Router::new().fallback(
                move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let fake = fake.clone();
                    async move {
                        Response::from(fake.handle(to_fake_request(method, uri, headers, body)))
                    }
                },
            );
        FakeServer::start(router)
    }

    /// The Worker vars that send the edge to a fake served at `base` (`http://127.0.0.1:P`).
    pub fn edge_vars(base: &str) -> Vec<(&'static str, String)> {
        vec![
            ("VERCEL_AUTHORIZE_URL", format!("{base}/oauth/authorize")),
            ("VERCEL_TOKEN_URL", format!("{base}/oauth/token")),
            ("VERCEL_REGISTER_URL", format!("{base}/oauth/register")),
            ("VERCEL_REVOKE_URL", format!("{base}/oauth/revoke")),
            ("VERCEL_API_URL", base.to_owned()),
        ]
    }

    pub fn counters(&self) -> Counters {
        self.lock().counters
    }

    pub fn user(&self) -> FakeUser {
        self.lock().user.clone()
    }

    /// Accepts `token` as a personal access token (what a person pastes) for the fake user.
    pub fn add_personal_token(&self, token: &str) {
        let mut s = self.lock();
        let user = s.user.clone();
        s.access.insert(
            token.into(),
            Access {
                user,
                expires_at: u64::MAX,
                revoked: false,
            },
        );
    }

    /// Lifetime of access tokens issued from now on (`expires_in`).
    pub fn set_access_token_lifetime(&self, secs: u64) {
        self.lock().access_ttl = secs;
    }

    /// When off, refresh responses omit `refresh_token` and the old one stays valid.
    pub fn set_rotate_refresh_tokens(&self, rotate: bool) {
        self.lock().rotate_refresh_tokens = rotate;
    }

    /// Makes every access token issued so far expired (personal tokens included).
    pub fn expire_access_tokens(&self) {
        for a in self.lock().access.values_mut() {
            a.expires_at = 0;
        }
    }

    /// Is `token` (access or refresh) currently accepted?
    pub fn is_token_valid(&self, token: &str) -> bool {
        let s = self.lock();
        s.access
            .get(token)
            .is_some_and(|a| !a.revoked && a.expires_at > now())
            || s.refresh.get(token).is_some_and(|r| r.valid)
    }

    /// How many registered clients there are.
    pub fn client_count(&self) -> usize {
        self.lock().clients.len()
    }

    /// Answers one request.
    pub fn handle(&self, req: FakeRequest) -> FakeResponse {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/oauth/authorize") => self.authorize(&req),
            ("POST", "/oauth/token") => self.token(&req),
            ("POST", "/oauth/register") => self.register(&req),
            ("POST", "/oauth/revoke") => self.revoke(&req),
            ("GET", "/v2/user") => self.get_user(&req),
            ("GET", "/v9/projects") => self.authorized(&req, |_, _| {
                json!({"projects": [FAKE_PROJECT.clone()], "pagination": {"count": 1, "next": null}})
            }),
            ("GET", "/v6/deployments") => self.authorized(&req, |_, query| {
                let project = pairs(query.as_bytes()).remove("projectId");
                let all = [FAKE_DEPLOYMENT.clone()];
                let deployments: Vec<_> = all
                    .into_iter()
                    .filter(|d| project.as_deref().is_none_or(|p| d["projectId"] == p))
                    .collect();
                json!({"deployments": deployments, "pagination": {"count": 1, "next": null}})
            }),
            ("GET", path) if path.starts_with("/v13/deployments/") => {
                let id = path.trim_start_matches("/v13/deployments/");
                if id == FAKE_DEPLOYMENT["uid"] {
                    self.authorized(&req, |_, _| FAKE_DEPLOYMENT.clone())
                } else {
                    FakeResponse::json(404, json!({"error": {"code": "not_found"}}))
                }
            }
            _ => FakeResponse::json(404, json!({"error": {"code": "not_found"}})),
        }
    }

    fn authorize(&self, req: &FakeRequest) -> FakeResponse {
        let q = pairs(req.query.as_bytes());
        let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
        let mut s = self.lock();
        s.counters.authorizations += 1;
        let redirect_uri = get("redirect_uri");
        let Some(client) = s.clients.get(get("client_id")) else {
            return FakeResponse::oauth_error(400, "invalid_client", "unknown client_id");
        };
        if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
            return FakeResponse::oauth_error(400, "invalid_request", "redirect_uri mismatch");
        }
        if get("response_type") != "code"
            || get("code_challenge_method") != "S256"
            || get("code_challenge").len() != 43
            || get("state").is_empty()
        {
            return FakeResponse::oauth_error(
                400,
                "invalid_request",
                "response_type=code, S256 PKCE and state are required",
            );
        }
        s.serial += 1;
        let code = random_token("code_");
        s.codes.insert(
            code.clone(),
            Grant {
                client_id: get("client_id").into(),
                redirect_uri: redirect_uri.into(),
                challenge: get("code_challenge").into(),
                used: false,
            },
        );
        let mut back = form_urlencoded::Serializer::new(String::new());
        back.append_pair("code", &code)
            .append_pair("state", get("state"));
        let sep = if redirect_uri.contains('?') { '&' } else { '?' };
        FakeResponse {
            status: 302,
            headers: vec![(
                "location".into(),
                format!("{redirect_uri}{sep}{}", back.finish()),
            )],
            body: Vec::new(),
        }
    }

    fn client_ok(s: &State, form: &HashMap<String, String>) -> Option<String> {
        let id = form.get("client_id")?;
        let client = s.clients.get(id)?;
        match &client.secret {
            Some(secret) => (form.get("client_secret") == Some(secret)).then(|| id.clone()),
            None => Some(id.clone()),
        }
    }

    fn issue(
        s: &mut State,
        user: FakeUser,
        client_id: &str,
        new_refresh: bool,
    ) -> (String, Option<String>) {
        let access = random_token("vca_");
        let ttl = s.access_ttl;
        s.access.insert(
            access.clone(),
            Access {
                user: user.clone(),
                expires_at: now() + ttl,
                revoked: false,
            },
        );
        let refresh = new_refresh.then(|| {
            let r = random_token("vcr_");
            s.refresh.insert(
                r.clone(),
                Refresh {
                    client_id: client_id.into(),
                    user,
                    valid: true,
                },
            );
            r
        });
        (access, refresh)
    }

    fn token_body(s: &State, access: String, refresh: Option<String>) -> FakeResponse {
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": s.access_ttl,
            "scope": "openid email profile offline_access",
        });
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        FakeResponse::json(200, body)
    }

    fn token(&self, req: &FakeRequest) -> FakeResponse {
        let form = pairs(&req.body);
        let mut s = self.lock();
        let Some(client_id) = Self::client_ok(&s, &form) else {
            s.counters.token_errors += 1;
            return FakeResponse::oauth_error(
                401,
                "invalid_client",
                "client authentication failed",
            );
        };
        let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
        match get("grant_type") {
            "authorization_code" => {
                let verifier_ok = |g: &Grant| {
                    URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()))
                        == g.challenge
                };
                let ok = match s.codes.get_mut(get("code")) {
                    Some(g)
                        if !g.used
                            && g.client_id == client_id
                            && g.redirect_uri == get("redirect_uri")
                            && verifier_ok(g) =>
                    {
                        g.used = true;
                        true
                    }
                    Some(g) => {
                        // A code is single-use even when the attempt fails (RFC 6749 §4.1.2).
                        g.used = true;
                        false
                    }
                    None => false,
                };
                if !ok {
                    s.counters.token_errors += 1;
                    return FakeResponse::oauth_error(
                        400,
                        "invalid_grant",
                        "code unknown, used, or PKCE verifier/redirect_uri mismatch",
                    );
                }
                s.counters.code_exchanges += 1;
                let user = s.user.clone();
                let (a, r) = Self::issue(&mut s, user, &client_id, true);
                Self::token_body(&s, a, r)
            }
            "refresh_token" => {
                let rotate = s.rotate_refresh_tokens;
                let user = match s.refresh.get_mut(get("refresh_token")) {
                    Some(r) if r.valid && r.client_id == client_id => {
                        if rotate {
                            r.valid = false;
                        }
                        r.user.clone()
                    }
                    _ => {
                        s.counters.token_errors += 1;
                        return FakeResponse::oauth_error(
                            400,
                            "invalid_grant",
                            "refresh token unknown, used or revoked",
                        );
                    }
                };
                s.counters.refreshes += 1;
                let (a, r) = Self::issue(&mut s, user, &client_id, rotate);
                Self::token_body(&s, a, r)
            }
            _ => FakeResponse::oauth_error(400, "unsupported_grant_type", "unsupported grant_type"),
        }
    }

    fn register(&self, req: &FakeRequest) -> FakeResponse {
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&req.body) else {
            return FakeResponse::oauth_error(400, "invalid_client_metadata", "body is not JSON");
        };
        let redirect_uris: Vec<String> = body["redirect_uris"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if redirect_uris.is_empty() {
            return FakeResponse::oauth_error(
                400,
                "invalid_redirect_uri",
                "redirect_uris required",
            );
        }
        let public = body["token_endpoint_auth_method"] == "none";
        let client_id = random_token("cl_");
        let secret = (!public).then(|| random_token("cs_"));
        let mut s = self.lock();
        s.counters.registrations += 1;
        s.clients.insert(
            client_id.clone(),
            Client {
                secret: secret.clone(),
                redirect_uris: redirect_uris.clone(),
            },
        );
        let mut out = json!({
            "client_id": client_id,
            "client_id_issued_at": now(),
            "redirect_uris": redirect_uris,
            "token_endpoint_auth_method": body["token_endpoint_auth_method"],
        });
        if let Some(secret) = secret {
            out["client_secret"] = json!(secret);
            out["client_secret_expires_at"] = json!(0);
        }
        FakeResponse::json(201, out)
    }

    fn revoke(&self, req: &FakeRequest) -> FakeResponse {
        let form = pairs(&req.body);
        let mut s = self.lock();
        if Self::client_ok(&s, &form).is_none() {
            return FakeResponse::oauth_error(
                401,
                "invalid_client",
                "client authentication failed",
            );
        }
        s.counters.revocations += 1;
        let token = form.get("token").cloned().unwrap_or_default();
        if let Some(a) = s.access.get_mut(&token) {
            a.revoked = true;
        }
        if let Some(r) = s.refresh.get_mut(&token) {
            r.valid = false;
        }
        FakeResponse::json(200, json!({}))
    }

    /// Answers `body(user, query)` to a live access token, 403 as Vercel does otherwise.
    fn authorized(
        &self,
        req: &FakeRequest,
        body: impl Fn(&FakeUser, &str) -> Value,
    ) -> FakeResponse {
        let token = req
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .and_then(|(_, v)| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let user = match self.lock().access.get(token) {
            Some(a) if !a.revoked && a.expires_at > now() => Some(a.user.clone()),
            _ => None,
        };
        if let Some(user) = user {
            FakeResponse::json(200, body(&user, &req.query))
        } else {
            FakeResponse::json(
                403,
                json!({"error": {"code": "forbidden", "message": "Not authorized", "invalidToken": true}}),
            )
        }
    }

    fn get_user(&self, req: &FakeRequest) -> FakeResponse {
        self.lock().counters.user_requests += 1;
        self.authorized(req, |user, _| {
            json!({"user": {
                "id": user.id,
                "username": user.username,
                "email": user.email,
                "name": "Patchbay Tester",
            }})
        })
    }
}

/// The one project of the fake account (`GET /v9/projects`).
pub static FAKE_PROJECT: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
    || json!({"id": "prj_fake1", "name": "patchbay-site", "framework": "nextjs", "updatedAt": 1_800_000_000_000u64}),
);

/// Its one deployment (`GET /v6/deployments`, `GET /v13/deployments/{id}`).
pub static FAKE_DEPLOYMENT: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
    json!({"uid": "dpl_fake1", "id": "dpl_fake1", "name": "patchbay-site", "projectId": "prj_fake1",
           "url": "patchbay-site-abc.vercel.app", "state": "READY", "readyState": "READY",
           "target": "production", "created": 1_800_000_000_000u64, "ready": 1_800_000_060_000u64})
});

fn pairs(bytes: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn to_fake_request(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> FakeRequest {
    FakeRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: body.to_vec(),
    }
}

impl From<FakeResponse> for Response {
    fn from(r: FakeResponse) -> Response {
        let mut response = (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            r.body,
        )
            .into_response();
        for (k, v) in r.headers {
            if let (Ok(k), Ok(v)) = (
                axum::http::HeaderName::try_from(k),
                axum::http::HeaderValue::try_from(v),
            ) {
                response.headers_mut().insert(k, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str, body: &str) -> FakeRequest {
        FakeRequest {
            method: "POST".into(),
            path: path.into(),
            body: body.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn form(pairs: &[(&str, &str)]) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    #[test]
    fn a_wrong_verifier_is_refused_and_burns_the_code() {
        let fake = FakeVercel::new();
        let reg = fake.handle(post(
            "/oauth/register",
            r#"{"redirect_uris":["http://e/callback"],"token_endpoint_auth_method":"client_secret_post"}"#,
        ));
        assert_eq!(reg.status, 201);
        let reg = reg.json_body();
        let (id, secret) = (
            reg["client_id"].as_str().unwrap().to_owned(),
            reg["client_secret"].as_str().unwrap().to_owned(),
        );
        let verifier = "v".repeat(43);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let query = form(&[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", "http://e/callback"),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let auth = fake.handle(FakeRequest {
            method: "GET".into(),
            path: "/oauth/authorize".into(),
            query,
            ..Default::default()
        });
        assert_eq!(auth.status, 302);
        let location = auth.header("location").unwrap().to_owned();
        let back = pairs(location.split_once('?').unwrap().1.as_bytes());
        assert_eq!(back["state"], "st");
        let code = back["code"].clone();

        let exchange = |v: &str| {
            fake.handle(post(
                "/oauth/token",
                &form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", "http://e/callback"),
                    ("code_verifier", v),
                    ("client_id", &id),
                    ("client_secret", &secret),
                ]),
            ))
        };
        // A wrong verifier burns the code, so even the right one fails afterwards.
        assert_eq!(
            exchange("w".repeat(43).as_str()).json_body()["error"],
            "invalid_grant"
        );
        assert_eq!(exchange(&verifier).status, 400);
        assert_eq!(fake.counters().token_errors, 2);
        assert_eq!(fake.counters().code_exchanges, 0);
    }

    #[test]
    fn refresh_rotation_and_user_endpoint() {
        let fake = FakeVercel::new();
        fake.handle(post(
            "/oauth/register",
            r#"{"redirect_uris":["http://e/cb"],"token_endpoint_auth_method":"none"}"#,
        ));
        let id = fake.lock().clients.keys().next().unwrap().clone();
        let user = fake.user();
        let (access, refresh) = FakeVercel::issue(&mut fake.lock(), user, &id, true);
        let refresh = refresh.unwrap();
        let me = fake.handle(FakeRequest {
            method: "GET".into(),
            path: "/v2/user".into(),
            headers: vec![("authorization".into(), format!("Bearer {access}"))],
            ..Default::default()
        });
        assert_eq!(me.json_body()["user"]["username"], "patchbay-tester");
        let grant = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", &id),
        ]);
        let first = fake.handle(post("/oauth/token", &grant));
        assert_eq!(first.status, 200);
        assert_ne!(first.json_body()["refresh_token"], refresh.as_str());
        assert_eq!(fake.handle(post("/oauth/token", &grant)).status, 400);
        assert!(!fake.is_token_valid(&refresh));
        fake.expire_access_tokens();
        assert!(!fake.is_token_valid(&access));
    }
}
