//! A fake OAuth 2.0 provider in the style of Google's and Microsoft's, as rclone uses them:
//! an authorization endpoint that "approves" at once (302 to the redirect URI with a code and
//! the state), a token endpoint (authorization_code and rotating refresh_token grants, client
//! secret checked, codes single-use and short-lived), and a resource endpoint that accepts
//! only live access tokens: `GET /me/drive`, shaped like Microsoft Graph's (with the drive's
//! owner), and `GET /about?fields=user(…)`, shaped like Google Drive's (fields required, as
//! there).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;

use crate::fake::FakeServer;
use crate::github::presented_token;

/// As whom the fake's user signs in (Drive's `about` and Graph's drive owner say so).
pub const ACCOUNT_EMAIL: &str = "ana.fake@example.com";

/// Codes look like Google's: `/`, `+` and `=` in them, so any decoding slip shows.
const CODE_PREFIX: &str = "4/0Ab+";

pub struct Provider {
    pub client_id: String,
    pub client_secret: String,
    codes: Mutex<HashMap<String, (String, Instant)>>,
    access: Mutex<HashMap<String, Instant>>,
    refresh: Mutex<HashMap<String, ()>>,
    serial: AtomicU64,
    deny: Mutex<bool>,
    pub token_calls: AtomicUsize,
    access_lifetime: Duration,
}

pub struct FakeOAuth {
    pub server: FakeServer,
    pub provider: Arc<Provider>,
}

impl FakeOAuth {
    pub fn start(client_id: &str, client_secret: &str) -> FakeOAuth {
        let provider = Arc::new(Provider {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            codes: Mutex::default(),
            access: Mutex::default(),
            refresh: Mutex::default(),
            serial: AtomicU64::new(1),
            deny: Mutex::new(false),
            token_calls: AtomicUsize::new(0),
            access_lifetime: Duration::from_secs(3600),
        });
        let router = Router::new()
            .route("/auth", get(authorize))
            .route("/token", post(token))
            .route("/me/drive", get(me_drive))
            .route("/about", get(drive_about))
            .with_state(provider.clone());
        FakeOAuth {
            server: FakeServer::start(router),
            provider,
        }
    }

    pub fn auth_url(&self) -> String {
        format!("{}/auth", self.server.url())
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.server.url())
    }

    /// The base URL of the Graph-like resource API (`/me/drive`).
    pub fn graph_url(&self) -> String {
        self.server.url()
    }

    /// What points `rclone authorize drive|onedrive` at this provider: its endpoints, with
    /// rclone's own names (the helper passes `RCLONE_*` on to rclone unchanged).
    pub fn rclone_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("RCLONE_DRIVE_AUTH_URL", self.auth_url()),
            ("RCLONE_DRIVE_TOKEN_URL", self.token_url()),
            ("RCLONE_ONEDRIVE_AUTH_URL", self.auth_url()),
            ("RCLONE_ONEDRIVE_TOKEN_URL", self.token_url()),
        ]
    }

    /// What points a helper's Drive and OneDrive sign-ins at this provider: rclone's
    /// endpoints, this provider's client for both, and its Graph for the drive lookup.
    pub fn helper_env(&self) -> Vec<(&'static str, String)> {
        let (id, secret) = (&self.provider.client_id, &self.provider.client_secret);
        let mut env = self.rclone_env();
        env.extend([
            ("PATCHBAY_GDRIVE_CLIENT_ID", id.clone()),
            ("PATCHBAY_GDRIVE_CLIENT_SECRET", secret.clone()),
            ("PATCHBAY_ONEDRIVE_CLIENT_ID", id.clone()),
            ("PATCHBAY_ONEDRIVE_CLIENT_SECRET", secret.clone()),
            ("PATCHBAY_GRAPH_API_URL", self.graph_url()),
            ("PATCHBAY_DRIVE_API_URL", self.server.url()),
        ]);
        env
    }

    /// From now on the user "declines" at the consent screen.
    pub fn deny(&self, deny: bool) {
        *self.provider.deny.lock().unwrap() = deny;
    }

    /// Whether `token` is a live access token issued here.
    pub fn accepts(&self, access_token: &str) -> bool {
        self.provider.live_access(access_token)
    }

    pub fn token_calls(&self) -> usize {
        self.provider.token_calls.load(Ordering::SeqCst)
    }

    /// Uses a refresh token as a client would (it rotates).
    pub fn refresh(&self, refresh_token: &str) -> Option<(String, String)> {
        self.provider.redeem_refresh(refresh_token)
    }
}

impl Provider {
    fn next(&self, kind: &str) -> String {
        format!("{kind}-{}", self.serial.fetch_add(1, Ordering::SeqCst))
    }

    fn issue(&self) -> (String, String) {
        let access = self.next("AT");
        let refresh = self.next("RT");
        self.access
            .lock()
            .unwrap()
            .insert(access.clone(), Instant::now() + self.access_lifetime);
        self.refresh.lock().unwrap().insert(refresh.clone(), ());
        (access, refresh)
    }

    fn live_access(&self, token: &str) -> bool {
        self.access
            .lock()
            .unwrap()
            .get(token)
            .is_some_and(|exp| *exp > Instant::now())
    }

    fn redeem_refresh(&self, token: &str) -> Option<(String, String)> {
        self.refresh.lock().unwrap().remove(token)?;
        Some(self.issue())
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    response_type: Option<String>,
}

async fn authorize(State(p): State<Arc<Provider>>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id != p.client_id || q.response_type.as_deref() != Some("code") {
        return (StatusCode::BAD_REQUEST, "unknown client or response_type").into_response();
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(state) = &q.state {
        query.append_pair("state", state);
    }
    if *p.deny.lock().unwrap() {
        query.append_pair("error", "access_denied");
    } else {
        let code = format!("{CODE_PREFIX}{}/x==", p.next("code"));
        p.codes.lock().unwrap().insert(
            code.clone(),
            (
                q.redirect_uri.clone(),
                Instant::now() + Duration::from_secs(300),
            ),
        );
        query.append_pair("code", &code);
    }
    Redirect::to(&format!("{}?{}", q.redirect_uri, query.finish())).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: Option<String>,
    redirect_uri: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn oauth_error(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response()
}

async fn token(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    p.token_calls.fetch_add(1, Ordering::SeqCst);
    // Client authentication: in the body, or HTTP Basic (golang's oauth2 tries both).
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match basic {
        Some(pair) => {
            let (i, s) = pair.split_once(':').unwrap_or((&pair, ""));
            let decode = |v: &str| {
                form_urlencoded::parse(format!("v={v}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (decode(i), decode(s))
        }
        None => (
            f.client_id.clone().unwrap_or_default(),
            f.client_secret.clone().unwrap_or_default(),
        ),
    };
    if id != p.client_id || secret != p.client_secret {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let (access, refresh) = match f.grant_type.as_str() {
        "authorization_code" => {
            let Some(code) = f.code else {
                return oauth_error("invalid_request");
            };
            let Some((redirect, expires)) = p.codes.lock().unwrap().remove(&code) else {
                return oauth_error("invalid_grant");
            };
            if Some(redirect) != f.redirect_uri || expires < Instant::now() {
                return oauth_error("invalid_grant");
            }
            p.issue()
        }
        "refresh_token" => match f.refresh_token.as_deref().and_then(|t| p.redeem_refresh(t)) {
            Some(pair) => pair,
            None => return oauth_error("invalid_grant"),
        },
        _ => return oauth_error("unsupported_grant_type"),
    };
    axum::Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": p.access_lifetime.as_secs(),
    }))
    .into_response()
}

async fn me_drive(State(p): State<Arc<Provider>>, headers: HeaderMap) -> Response {
    match presented_token(&headers) {
        Some(t) if p.live_access(&t) => {
            axum::Json(json!({"id": "b!fake-drive-1", "driveType": "personal", "name": "OneDrive",
                "owner": {"user": {"displayName": "Ana Fake", "email": ACCOUNT_EMAIL, "id": "fake-user-1"}}}))
                .into_response()
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": "InvalidAuthenticationToken"}})),
        )
            .into_response(),
    }
}

/// Drive's `about.get`: `fields` is required there, and names what comes back.
async fn drive_about(
    State(p): State<Arc<Provider>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !presented_token(&headers).is_some_and(|t| p.live_access(&t)) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}})),
        )
            .into_response();
    }
    match q.get("fields") {
        Some(f) if f.starts_with("user") => axum::Json(json!({"user": {
            "kind": "drive#user", "displayName": "Ana Fake", "emailAddress": ACCOUNT_EMAIL}}))
        .into_response(),
        _ => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"code": 400, "message": "The 'fields' parameter is required for this method."}})),
        )
            .into_response(),
    }
}
