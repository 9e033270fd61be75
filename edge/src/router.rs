//! Every decision the edge makes: which route, who may call it, what it answers. Generic
//! over the [`Store`] and [`Upstream`] seams, so it runs natively in tests.

use patchbay_proto::oauth::ProtectedResourceMetadata;
use patchbay_proto::{ErrorCode, Secret};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::EdgeConfig;
use crate::crypto::Cipher;
use crate::error::ApiError;
use crate::store::Store;
use crate::upstream::Upstream;
use crate::vercel::{self, CompleteError, Edge, FirstOutcome};

/// The parts of a request the router looks at.
#[derive(Clone, Default)]
pub struct EdgeRequest {
    pub method: String,
    /// The request's origin (`https://pb.example.com`), from its URL.
    pub origin: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for EdgeRequest {
    /// Method and path only: the query (`/callback?code=`), header and body carry secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl EdgeResponse {
    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        Self {
            status,
            headers: vec![
                ("content-type", "application/json".into()),
                ("cache-control", "no-store".into()),
            ],
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::new(code, message).into_response()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

const VERCEL: &str = "/api/connectors/vercel/";
const ACTIONS: [&str; 7] = [
    "token",
    "status",
    "disconnect",
    "reconnect",
    "oauth/start",
    "oauth/exchange",
    "credentials",
];

pub async fn route<S: Store, U: Upstream>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> EdgeResponse {
    let method = req.method.as_str();
    match req.path.as_str() {
        "/.well-known/oauth-protected-resource" => match method {
            "GET" | "HEAD" => protected_resource_metadata(req, edge.config),
            _ => EdgeResponse::error(ErrorCode::BadRequest, "Use GET for this document."),
        },
        "/callback" => callback(req, edge).await,
        path if path
            .strip_prefix(VERCEL)
            .is_some_and(|action| ACTIONS.contains(&action)) =>
        {
            if let Err(e) = authorize(req, edge) {
                return e.into_response();
            }
            match api(req, edge).await {
                Ok(r) => r,
                Err(e) => e.into_response(),
            }
        }
        _ => EdgeResponse::error(
            ErrorCode::NotFound,
            format!("The edge serves no route {}.", req.path),
        ),
    }
}

/// Every `/api` route needs `Authorization: Bearer <PATCHBAY_EDGE_TOKEN>`, compared in
/// constant time.
fn authorize<S, U>(req: &EdgeRequest, edge: &Edge<'_, S, U>) -> Result<(), ApiError> {
    let Some(expected) = &edge.secrets.edge_token else {
        return Err(ApiError::unavailable(
            "The edge has no API secret yet: run `npx wrangler secret put PATCHBAY_EDGE_TOKEN`              in edge/ and use the same value as the bearer token.",
        ));
    };
    let presented = req
        .authorization
        .as_deref()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .unwrap_or("");
    if presented.is_empty() || !expected.matches(presented) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "Send the edge API secret (PATCHBAY_EDGE_TOKEN) as `Authorization: Bearer …`.",
        ));
    }
    Ok(())
}

fn cipher<S, U>(edge: &Edge<'_, S, U>) -> Result<Cipher, ApiError> {
    let key = edge.secrets.encryption_key.as_ref().ok_or_else(|| {
        ApiError::unavailable(
            "The edge has no encryption key yet: run `openssl rand -base64 32 | npx wrangler              secret put PATCHBAY_ENCRYPTION_KEY` in edge/.",
        )
    })?;
    Cipher::from_base64_key(key).map_err(|why| {
        ApiError::unavailable(format!(
            "PATCHBAY_ENCRYPTION_KEY {why}: set it to `openssl rand -base64 32` with `npx              wrangler secret put PATCHBAY_ENCRYPTION_KEY`."
        ))
    })
}

fn json_body<T: for<'de> Deserialize<'de>>(
    req: &EdgeRequest,
    example: &str,
) -> Result<T, ApiError> {
    serde_json::from_slice(&req.body)
        .map_err(|_| ApiError::bad_request(format!("Send a JSON body like {example}.")))
}

async fn api<S: Store, U: Upstream>(
    req: &EdgeRequest,
    edge: &Edge<'_, S, U>,
) -> Result<EdgeResponse, ApiError> {
    let Some(action) = req.path.strip_prefix(VERCEL) else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("The edge serves no route {}.", req.path),
        ));
    };
    let ok = |v: serde_json::Value| Ok(EdgeResponse::json(200, &v));
    match (req.method.as_str(), action) {
        ("POST", "token") => {
            #[derive(Deserialize)]
            struct Body {
                token: String,
            }
            let body: Body = json_body(req, r#"{"token": "…"}"#)?;
            let cipher = cipher(edge)?;
            let user = vercel::save_manual_token(edge, &cipher, Secret::new(body.token)).await?;
            ok(json!({"ok": true, "user": user}))
        }
        ("GET", "status") => Ok(EdgeResponse::json(200, &vercel::status(edge).await?)),
        ("POST", "disconnect") => {
            let cipher = cipher(edge).ok();
            let revoked = vercel::disconnect(edge, cipher.as_ref()).await?;
            ok(json!({"ok": true, "revoked": revoked}))
        }
        ("POST", "reconnect") => {
            let cipher = cipher(edge)?;
            let user = vercel::reconnect(edge, &cipher).await?;
            ok(json!({"ok": true, "user": user}))
        }
        ("GET", "oauth/start") => {
            let cipher = cipher(edge)?;
            let redirect = vercel::redirect_uri(edge.config, &req.origin);
            Ok(EdgeResponse::json(
                200,
                &vercel::start(edge, &cipher, &redirect).await?,
            ))
        }
        ("POST", "oauth/exchange") => {
            #[derive(Deserialize)]
            struct Body {
                code: String,
                state: String,
            }
            let body: Body = json_body(req, r#"{"code": "…", "state": "…"}"#)?;
            let cipher = cipher(edge)?;
            match vercel::complete(edge, &cipher, Some(&body.code), &body.state).await {
                Ok(user) => ok(json!({"ok": true, "user": user})),
                Err(e) => Err(complete_error(e)),
            }
        }
        ("GET", "credentials") => {
            let cipher = cipher(edge)?;
            Ok(EdgeResponse::json(
                200,
                &vercel::credentials(edge, &cipher).await?,
            ))
        }
        _ => Err(ApiError::bad_request(format!(
            "{} {} is not supported; see the Connectors API for the method.",
            req.method, req.path
        ))),
    }
}

fn complete_error(e: CompleteError) -> ApiError {
    match e {
        CompleteError::Unknown => ApiError::new(
            ErrorCode::NotFound,
            "This sign-in is unknown to the edge; start the Vercel sign-in again.",
        ),
        CompleteError::Expired => ApiError::new(
            ErrorCode::NotFound,
            "This sign-in expired (it must be finished within 10 minutes); start it again.",
        ),
        CompleteError::AlreadyUsed(first) => ApiError::new(
            ErrorCode::Conflict,
            match first {
                FirstOutcome::Connected => {
                    "This sign-in was already used, and Vercel is connected; nothing more to do."
                }
                FirstOutcome::Failed => {
                    "This sign-in was already used, and it failed; start the Vercel sign-in again."
                }
                FirstOutcome::InProgress => {
                    "This sign-in is being completed already; check the Vercel status in a moment."
                }
            },
        ),
        CompleteError::Failed(e) => e,
    }
}

/// `GET /callback`: Vercel sends the person here. The page says what happened in fixed
/// sentences and echoes nothing from the request.
async fn callback<S: Store, U: Upstream>(req: &EdgeRequest, edge: &Edge<'_, S, U>) -> EdgeResponse {
    if req.method != "GET" {
        return EdgeResponse::error(ErrorCode::BadRequest, "Use GET for the OAuth callback.");
    }
    let mut code = None;
    let mut state = None;
    for (k, v) in form_urlencoded::parse(req.query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            _ => {}
        }
    }
    let Some(state) = state.filter(|s| !s.is_empty()) else {
        return page(400, Page::NoState);
    };
    let cipher = match cipher(edge) {
        Ok(c) => c,
        Err(_) => return page(503, Page::NotConfigured),
    };
    match vercel::complete(edge, &cipher, code.as_deref(), &state).await {
        Ok(_) => page(200, Page::Connected),
        Err(CompleteError::Unknown) => page(400, Page::Unknown),
        Err(CompleteError::Expired) => page(400, Page::Expired),
        Err(CompleteError::AlreadyUsed(FirstOutcome::Connected)) => page(200, Page::UsedConnected),
        Err(CompleteError::AlreadyUsed(_)) => page(409, Page::Used),
        Err(CompleteError::Failed(_)) if code.is_none() => page(400, Page::Denied),
        Err(CompleteError::Failed(_)) => page(502, Page::Failed),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Connected,
    UsedConnected,
    Used,
    Unknown,
    Expired,
    Denied,
    Failed,
    NoState,
    NotConfigured,
}

fn page(status: u16, which: Page) -> EdgeResponse {
    let (title, text) = match which {
        Page::Connected => (
            "Vercel is connected",
            "Patchbay can now use your Vercel account. You can close this tab.",
        ),
        Page::UsedConnected => (
            "This link was already used",
            "Vercel was connected the first time this link was opened. You can close this tab.",
        ),
        Page::Used => (
            "This link was already used",
            "This sign-in link was already used and did not connect Vercel. Start the Vercel              sign-in again from the Patchbay dashboard.",
        ),
        Page::Unknown => (
            "Unknown sign-in",
            "Patchbay did not start this sign-in. Start the Vercel sign-in from the Patchbay              dashboard.",
        ),
        Page::Expired => (
            "This sign-in expired",
            "Sign-ins must be finished within a few minutes. Start the Vercel sign-in again              from the Patchbay dashboard.",
        ),
        Page::Denied => (
            "Vercel was not connected",
            "The sign-in was cancelled or refused at Vercel. Start it again from the Patchbay              dashboard if you want to connect.",
        ),
        Page::Failed => (
            "Vercel was not connected",
            "Vercel did not accept the sign-in. Start the Vercel sign-in again from the              Patchbay dashboard.",
        ),
        Page::NoState => (
            "Nothing to do here",
            "This address is where Vercel sends you back after signing in. Start the Vercel              sign-in from the Patchbay dashboard.",
        ),
        Page::NotConfigured => (
            "The edge is not set up",
            "The Patchbay edge has no encryption key. Its operator must run `wrangler secret              put PATCHBAY_ENCRYPTION_KEY`.",
        ),
    };
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title} · Patchbay</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}</style>\
         </head><body><h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    EdgeResponse {
        status,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".into()),
            ("cache-control", "no-store".into()),
            (
                "content-security-policy",
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'".into(),
            ),
            ("referrer-policy", "no-referrer".into()),
            ("x-content-type-options", "nosniff".into()),
        ],
        body: body.into_bytes(),
    }
}

/// RFC 9728 metadata for this deployment. Cacheable for a short while: it changes only with
/// configuration.
fn protected_resource_metadata(req: &EdgeRequest, config: &EdgeConfig) -> EdgeResponse {
    let resource = config
        .public_url
        .clone()
        .unwrap_or_else(|| req.origin.clone());
    let doc = ProtectedResourceMetadata {
        resource,
        authorization_servers: config.authorization_servers.clone(),
        scopes_supported: config.scopes.clone(),
        bearer_methods_supported: vec!["header".into()],
        resource_name: Some("Patchbay".into()),
        resource_documentation: None,
        registration_endpoint: config.registration_endpoint.clone(),
    };
    if let Err(e) = doc.validate() {
        return EdgeResponse::error(
            ErrorCode::Internal,
            format!(
                "The edge's OAuth settings are invalid ({e:?}); check PATCHBAY_PUBLIC_URL and PATCHBAY_AUTHORIZATION_SERVERS."
            ),
        );
    }
    let mut response = EdgeResponse::json(200, &doc);
    response.headers.retain(|(k, _)| *k != "cache-control");
    response
        .headers
        .push(("cache-control", "public, max-age=300".into()));
    response
        .headers
        .push(("access-control-allow-origin", "*".into()));
    response
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use patchbay_proto::ErrorBody;
    use patchbay_testkit::vercel::{FakeRequest, FakeVercel};

    use super::*;
    use crate::config::EdgeSecrets;
    use crate::crypto::test_key;
    use crate::store::memory::MemoryStore;
    use crate::upstream::{UpstreamError, UpstreamRequest, UpstreamResponse};

    const FAKE: &str = "http://fake.vercel.test";
    const ORIGIN: &str = "http://127.0.0.1:8787";
    const EDGE_TOKEN: &str = "edge-token-for-tests-0001";

    /// Every seam is synchronous in tests, so one poll finishes any future.
    fn block_on<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("a test future was not ready"),
        }
    }

    /// The fake Vercel, called in-process.
    struct InProcess(FakeVercel);

    impl Upstream for InProcess {
        async fn send(&self, req: UpstreamRequest) -> Result<UpstreamResponse, UpstreamError> {
            let rest = req
                .url
                .strip_prefix(FAKE)
                .ok_or_else(|| UpstreamError(format!("unexpected host in {}", req.url)))?;
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let r = self.0.handle(FakeRequest {
                method: req.method.into(),
                path: path.into(),
                query: query.into(),
                headers: req
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                body: req.body.unwrap_or_default(),
            });
            Ok(UpstreamResponse {
                status: r.status,
                body: r.body,
            })
        }
    }

    struct T {
        config: EdgeConfig,
        secrets: EdgeSecrets,
        store: MemoryStore,
        fake: FakeVercel,
        upstream: InProcess,
        now: Cell<u64>,
    }

    impl T {
        fn new() -> T {
            Self::with(&[])
        }

        fn with(extra: &[(&str, &str)]) -> T {
            let mut vars: HashMap<String, String> = FakeVercel::edge_vars(FAKE)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            vars.insert("PATCHBAY_EDGE_TOKEN".into(), EDGE_TOKEN.into());
            vars.insert(
                "PATCHBAY_ENCRYPTION_KEY".into(),
                test_key().expose().to_owned(),
            );
            for (k, v) in extra {
                vars.insert((*k).into(), (*v).into());
            }
            let lookup = |k: &str| vars.get(k).cloned();
            let fake = FakeVercel::new();
            T {
                config: EdgeConfig::from_vars(lookup),
                secrets: EdgeSecrets::from_vars(lookup),
                store: MemoryStore::default(),
                upstream: InProcess(fake.clone()),
                fake,
                now: Cell::new(1_800_000_000),
            }
        }

        fn send(&self, req: EdgeRequest) -> EdgeResponse {
            let edge = Edge {
                config: &self.config,
                secrets: &self.secrets,
                store: &self.store,
                upstream: &self.upstream,
                now: self.now.get(),
            };
            block_on(route(&req, &edge))
        }

        fn api(&self, method: &str, action: &str, body: &str) -> (u16, serde_json::Value) {
            let r = self.send(EdgeRequest {
                method: method.into(),
                origin: ORIGIN.into(),
                path: format!("{VERCEL}{action}"),
                authorization: Some(format!("Bearer {EDGE_TOKEN}")),
                body: body.as_bytes().to_vec(),
                ..Default::default()
            });
            let v = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
            (r.status, v)
        }

        fn callback(&self, query: &str) -> EdgeResponse {
            self.send(EdgeRequest {
                method: "GET".into(),
                origin: ORIGIN.into(),
                path: "/callback".into(),
                query: query.into(),
                ..Default::default()
            })
        }

        /// `oauth/start`, then the person approves at (fake) Vercel: (state, code).
        fn approve(&self) -> (String, String) {
            let (status, start) = self.api("GET", "oauth/start", "");
            assert_eq!(status, 200, "{start}");
            let url = start["authorize_url"].as_str().unwrap();
            let rest = url.strip_prefix(FAKE).unwrap();
            let (path, query) = rest.split_once('?').unwrap();
            let r = self.fake.handle(FakeRequest {
                method: "GET".into(),
                path: path.into(),
                query: query.into(),
                ..Default::default()
            });
            assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
            let location = r.header("location").unwrap();
            assert!(location.starts_with(&format!("{ORIGIN}/callback?")));
            let q: HashMap<String, String> =
                form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
                    .into_owned()
                    .collect();
            assert_eq!(q["state"], start["state"].as_str().unwrap());
            (q["state"].clone(), q["code"].clone())
        }

        fn connect_oauth(&self) -> serde_json::Value {
            let (state, code) = self.approve();
            let (status, body) = self.api(
                "POST",
                "oauth/exchange",
                &json!({"code": code, "state": state}).to_string(),
            );
            assert_eq!(status, 200, "{body}");
            body
        }

        fn credentials(&self) -> serde_json::Value {
            let (status, body) = self.api("GET", "credentials", "");
            assert_eq!(status, 200, "{body}");
            body
        }

        fn stored(&self) -> String {
            format!(
                "{:?}{:?}{:?}",
                self.store.sql("SELECT * FROM vercel_connection"),
                self.store.sql("SELECT * FROM vercel_client"),
                self.store.sql("SELECT * FROM oauth_states")
            )
        }
    }

    fn error_of(v: &serde_json::Value) -> (String, String) {
        let body: ErrorBody = serde_json::from_value(v.clone()).unwrap();
        assert!(!body.ok);
        (
            serde_json::to_value(body.error)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned(),
            body.message,
        )
    }

    fn get(path: &str) -> EdgeRequest {
        EdgeRequest {
            method: "GET".into(),
            origin: ORIGIN.into(),
            path: path.into(),
            ..Default::default()
        }
    }

    // ---- RFC 9728 and routing ----------------------------------------------------------

    #[test]
    fn metadata_uses_configuration() {
        let mut t = T::new();
        t.config.public_url = Some("https://pb.example.com".into());
        t.config.authorization_servers = vec!["https://auth.example.com".into()];
        t.config.scopes = vec!["read".into(), "write".into()];
        t.config.registration_endpoint = Some("https://auth.example.com/register".into());
        let r = t.send(get("/.well-known/oauth-protected-resource"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
        let doc: ProtectedResourceMetadata = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc.resource, "https://pb.example.com");
        assert_eq!(doc.authorization_servers, ["https://auth.example.com"]);
        assert_eq!(doc.scopes_supported, ["read", "write"]);
        assert_eq!(
            doc.registration_endpoint.as_deref(),
            Some("https://auth.example.com/register")
        );
        assert_eq!(doc.validate(), Ok(()));
    }

    #[test]
    fn metadata_defaults_to_the_request_origin() {
        let t = T::new();
        let r = t.send(get("/.well-known/oauth-protected-resource"));
        let doc: ProtectedResourceMetadata = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc.resource, ORIGIN);
        assert!(doc.registration_endpoint.is_none());
    }

    #[test]
    fn bad_configuration_is_a_clear_500_not_a_bad_document() {
        let mut t = T::new();
        t.config.public_url = Some("not a url".into());
        let r = t.send(get("/.well-known/oauth-protected-resource"));
        assert_eq!(r.status, 500);
        let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
        assert!(body.message.contains("PATCHBAY_PUBLIC_URL"));
    }

    #[test]
    fn unknown_routes_get_a_json_404_and_wrong_methods_a_400() {
        let t = T::new();
        let r = t.send(get("/api/nope"));
        assert_eq!(r.status, 404);
        let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body.error, ErrorCode::NotFound);
        let (status, body) = t.api("GET", "token", "");
        assert_eq!(status, 400);
        assert!(error_of(&body).1.contains("not supported"));
    }

    // ---- The edge bearer and the secrets ------------------------------------------------

    #[test]
    fn api_routes_need_the_edge_bearer() {
        let t = T::new();
        for auth in [
            None,
            Some("Bearer wrong"),
            Some(EDGE_TOKEN),
            Some("Bearer "),
        ] {
            let r = t.send(EdgeRequest {
                authorization: auth.map(str::to_owned),
                ..get(&format!("{VERCEL}credentials"))
            });
            assert_eq!(r.status, 401, "{auth:?}");
            assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
            let body: ErrorBody = serde_json::from_slice(&r.body).unwrap();
            assert!(body.message.contains("PATCHBAY_EDGE_TOKEN"));
        }
        assert_eq!(t.api("GET", "status", "").0, 200);
    }

    #[test]
    fn missing_secrets_are_a_503_that_names_the_command() {
        let mut t = T::new();
        t.secrets.edge_token = None;
        let (status, body) = t.api("GET", "status", "");
        assert_eq!(status, 503);
        assert!(
            error_of(&body)
                .1
                .contains("wrangler secret put PATCHBAY_EDGE_TOKEN")
        );

        let mut t = T::new();
        t.secrets.encryption_key = None;
        let (status, body) = t.api("POST", "token", r#"{"token":"x"}"#);
        assert_eq!(status, 503);
        assert!(error_of(&body).1.contains("PATCHBAY_ENCRYPTION_KEY"));
        let r = t.callback("code=a&state=b");
        assert_eq!(r.status, 503);

        t.secrets.encryption_key = Some(Secret::new("c2hvcnQ="));
        let (status, body) = t.api("GET", "oauth/start", "");
        assert_eq!(status, 503);
        assert!(error_of(&body).1.contains("32 bytes"));
    }

    // ---- Manual token -------------------------------------------------------------------

    #[test]
    fn a_good_manual_token_is_validated_stored_encrypted_and_never_shown() {
        let t = T::new();
        t.fake.add_personal_token("vercel_manual_token_AbCd");
        let (status, body) = t.api(
            "POST",
            "token",
            r#"{"token": " vercel_manual_token_AbCd "}"#,
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["ok"], true);
        assert_eq!(body["user"]["username"], "patchbay-tester");
        assert!(!t.stored().contains("vercel_manual_token"));

        let (status, s) = t.api("GET", "status", "");
        assert_eq!(status, 200);
        assert_eq!(
            s,
            json!({"connected": true, "user": {"id": "usr_fake0001", "username": "patchbay-tester",
                   "email": "tester@example.com"}, "token_hint": "AbCd", "source": "manual"})
        );
        let creds = t.credentials();
        assert_eq!(creds["vercel"]["token"], "vercel_manual_token_AbCd");
        assert_eq!(creds["vercel"]["source"], "manual");
        assert_eq!(creds["vercel"]["refresh_token"], serde_json::Value::Null);
        assert_eq!(creds["vercel"]["expires_at"], serde_json::Value::Null);
        assert_eq!(creds["vercel"]["token_type"], "Bearer");
        assert_eq!(creds["vercel_client"], serde_json::Value::Null);
    }

    #[test]
    fn a_bad_manual_token_is_refused_and_nothing_is_stored() {
        let t = T::new();
        let (status, body) = t.api("POST", "token", r#"{"token": "vercel_wrong"}"#);
        assert_eq!(status, 400);
        let (code, message) = error_of(&body);
        assert_eq!(code, "bad_request");
        assert!(message.contains("vercel.com/account/tokens"), "{message}");
        assert!(!message.contains("vercel_wrong"));
        assert_eq!(t.api("GET", "status", "").1, json!({"connected": false}));
        assert_eq!(t.api("POST", "token", r#"{"token": "  "}"#).0, 400);
        assert_eq!(t.api("POST", "token", "not json").0, 400);
    }

    #[test]
    fn disconnecting_a_manual_token_forgets_it_without_revoking_it() {
        let t = T::new();
        t.fake.add_personal_token("vercel_manual_token_AbCd");
        t.api("POST", "token", r#"{"token": "vercel_manual_token_AbCd"}"#);
        let (status, body) = t.api("POST", "disconnect", "");
        assert_eq!((status, body), (200, json!({"ok": true, "revoked": false})));
        assert_eq!(t.fake.counters().revocations, 0);
        assert!(t.fake.is_token_valid("vercel_manual_token_AbCd"));
        assert_eq!(t.api("GET", "status", "").1, json!({"connected": false}));
        assert_eq!(t.credentials()["vercel"], serde_json::Value::Null);
        // Disconnecting twice is fine.
        assert_eq!(t.api("POST", "disconnect", "").0, 200);
    }

    #[test]
    fn reconnect_revalidates_and_reports_a_revoked_manual_token() {
        let t = T::new();
        t.fake.add_personal_token("vercel_manual_token_AbCd");
        t.api("POST", "token", r#"{"token": "vercel_manual_token_AbCd"}"#);
        let (status, body) = t.api("POST", "reconnect", "");
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["id"], "usr_fake0001");
        t.fake.expire_access_tokens();
        let (status, body) = t.api("POST", "reconnect", "");
        assert_eq!(status, 409);
        assert!(error_of(&body).1.contains("connect Vercel again"));
        let fresh = T::new();
        assert_eq!(fresh.api("POST", "reconnect", "").0, 404);
    }

    // ---- OAuth --------------------------------------------------------------------------

    #[test]
    fn oauth_start_registers_a_client_once_and_keeps_the_verifier_home() {
        let t = T::new();
        let (_, a) = t.api("GET", "oauth/start", "");
        let (_, b) = t.api("GET", "oauth/start", "");
        assert_eq!(t.fake.counters().registrations, 1);
        assert_ne!(a["state"], b["state"]);
        let url = a["authorize_url"].as_str().unwrap();
        assert!(url.starts_with(&format!("{FAKE}/oauth/authorize?")));
        let q: HashMap<String, String> =
            form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["redirect_uri"], format!("{ORIGIN}/callback"));
        assert_eq!(q["state"], a["state"].as_str().unwrap());
        assert!(!q.contains_key("code_verifier"));
        assert!(a["code_verifier_id"].as_str().unwrap().len() >= 16);
        // Only the hash of the state is stored; the verifier only encrypted.
        let stored = t.stored();
        assert!(!stored.contains(a["state"].as_str().unwrap()));
        assert_eq!(t.store.sql("SELECT * FROM oauth_states").len(), 2);
    }

    #[test]
    fn configured_client_skips_registration() {
        let t = T::with(&[
            ("VERCEL_CLIENT_ID", "cl_configured"),
            ("VERCEL_CLIENT_SECRET", "cs_conf"),
        ]);
        let (status, start) = t.api("GET", "oauth/start", "");
        assert_eq!(status, 200);
        assert!(
            start["authorize_url"]
                .as_str()
                .unwrap()
                .contains("client_id=cl_configured")
        );
        assert_eq!(t.fake.counters().registrations, 0);
        assert_eq!(
            t.credentials()["vercel_client"],
            json!({"client_id": "cl_configured", "client_secret": "cs_conf", "registration": "configured"})
        );
    }

    #[test]
    fn oauth_exchange_connects_and_a_replay_never_exchanges_again() {
        let t = T::new();
        let (state, code) = t.approve();
        let body = json!({"code": code, "state": state}).to_string();
        let (status, first) = t.api("POST", "oauth/exchange", &body);
        assert_eq!(status, 200, "{first}");
        assert_eq!(first["user"]["username"], "patchbay-tester");
        assert_eq!(t.fake.counters().code_exchanges, 1);

        let (status, again) = t.api("POST", "oauth/exchange", &body);
        assert_eq!(status, 409);
        assert!(error_of(&again).1.contains("already used"));
        let page = t.callback(&format!("code={code}&state={state}"));
        assert_eq!(page.status, 200);
        assert!(String::from_utf8_lossy(&page.body).contains("already used"));
        assert_eq!(t.fake.counters().code_exchanges, 1);
        assert_eq!(t.fake.counters().token_errors, 0);

        let (_, s) = t.api("GET", "status", "");
        assert_eq!(s["connected"], true);
        assert_eq!(s["source"], "oauth");
        assert_eq!(s["expires_at"], t.now.get() + 3600);
        let creds = t.credentials();
        let token = creds["vercel"]["token"].as_str().unwrap();
        assert!(token.starts_with("vca_") && t.fake.is_token_valid(token));
        assert!(!s.to_string().contains(token));
        assert!(!t.stored().contains(token));
        assert_eq!(creds["vercel_client"]["registration"], "dynamic");
        assert!(
            creds["vercel_client"]["client_secret"]
                .as_str()
                .unwrap()
                .starts_with("cs_")
        );
        // The verifier is wiped once used.
        assert_eq!(
            t.store.sql("SELECT code_verifier FROM oauth_states")[0]
                .text("code_verifier")
                .as_deref(),
            Some("")
        );
    }

    #[test]
    fn the_callback_completes_the_flow_and_reflects_no_input() {
        let t = T::new();
        let (state, code) = t.approve();
        let r = t.callback(&format!("code={code}&state={state}&x=%3Cscript%3E"));
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(
            r.header("content-security-policy")
                .unwrap()
                .contains("default-src 'none'")
        );
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        let html = String::from_utf8(r.body).unwrap();
        assert!(html.contains("Vercel is connected"));
        assert!(!html.contains(&code) && !html.contains(&state));
        assert_eq!(t.api("GET", "status", "").1["connected"], true);

        let evil = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
        for q in [
            format!("code={evil}&state={evil}"),
            format!("error={evil}&error_description={evil}&state={evil}"),
            format!("code={evil}"),
            String::new(),
        ] {
            let html = String::from_utf8(t.callback(&q).body).unwrap();
            assert!(
                !html.contains("<script") && !html.contains("alert"),
                "{q}: {html}"
            );
        }
    }

    #[test]
    fn unknown_and_expired_states_are_refused() {
        let t = T::with(&[("VERCEL_OAUTH_STATE_TTL_SECS", "60")]);
        let (status, body) = t.api(
            "POST",
            "oauth/exchange",
            r#"{"code":"c","state":"never-issued"}"#,
        );
        assert_eq!(status, 404);
        assert!(error_of(&body).1.contains("unknown"));
        assert_eq!(t.callback("code=c&state=never-issued").status, 400);

        let (state, code) = t.approve();
        t.now.set(t.now.get() + 61);
        let body = json!({"code": code, "state": state}).to_string();
        let (status, err) = t.api("POST", "oauth/exchange", &body);
        assert_eq!(status, 404);
        assert!(error_of(&err).1.contains("expired"));
        let html =
            String::from_utf8(t.callback(&format!("code={code}&state={state}")).body).unwrap();
        assert!(html.contains("expired"));
        assert_eq!(t.fake.counters().code_exchanges, 0);
        assert_eq!(t.fake.counters().token_errors, 0);
    }

    #[test]
    fn a_refused_exchange_is_final_for_its_state() {
        let t = T::new();
        let (state_a, _code_a) = t.approve();
        let (_state_b, code_b) = t.approve();
        // Code B was issued for B's challenge: with A's verifier, PKCE fails at Vercel.
        let (status, body) = t.api(
            "POST",
            "oauth/exchange",
            &json!({"code": code_b, "state": state_a}).to_string(),
        );
        assert_eq!(status, 400, "{body}");
        assert_eq!(t.fake.counters().token_errors, 1);
        let html = String::from_utf8(t.callback(&format!("code=x&state={state_a}")).body).unwrap();
        assert!(html.contains("already used"));
        assert_eq!(t.fake.counters().token_errors, 1);
        assert_eq!(t.api("GET", "status", "").1["connected"], false);
    }

    #[test]
    fn a_denied_sign_in_consumes_the_state() {
        let t = T::new();
        let (state, _) = t.approve();
        let r = t.callback(&format!("error=access_denied&state={state}"));
        assert_eq!(r.status, 400);
        assert!(
            String::from_utf8(r.body)
                .unwrap()
                .contains("cancelled or refused")
        );
        assert_eq!(t.callback(&format!("code=x&state={state}")).status, 409);
        assert_eq!(
            t.fake.counters().code_exchanges + t.fake.counters().token_errors,
            0
        );
    }

    #[test]
    fn reconnect_refreshes_an_expired_token_and_stores_the_rotated_refresh_token() {
        let t = T::new();
        t.connect_oauth();
        let before = t.credentials();
        let old_refresh = before["vercel"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        t.fake.expire_access_tokens();
        t.now.set(t.now.get() + 3600);
        let (status, body) = t.api("POST", "reconnect", "");
        assert_eq!(status, 200, "{body}");
        assert_eq!(t.fake.counters().refreshes, 1);
        let after = t.credentials();
        let new_refresh = after["vercel"]["refresh_token"].as_str().unwrap();
        assert_ne!(new_refresh, old_refresh);
        assert!(!t.fake.is_token_valid(&old_refresh));
        assert!(
            t.fake
                .is_token_valid(after["vercel"]["token"].as_str().unwrap())
        );
        assert_eq!(after["vercel"]["expires_at"], t.now.get() + 3600);

        // When Vercel does not rotate, the refresh token we had is kept.
        t.fake.set_rotate_refresh_tokens(false);
        t.fake.expire_access_tokens();
        t.now.set(t.now.get() + 3600);
        assert_eq!(t.api("POST", "reconnect", "").0, 200);
        assert_eq!(t.credentials()["vercel"]["refresh_token"], new_refresh);
        assert_eq!(t.fake.counters().refreshes, 2);
    }

    #[test]
    fn reconnect_refreshes_when_vercel_refuses_a_token_that_looked_valid() {
        let t = T::new();
        t.connect_oauth();
        t.fake.expire_access_tokens();
        assert_eq!(t.api("POST", "reconnect", "").0, 200);
        assert_eq!(t.fake.counters().refreshes, 1);
    }

    #[test]
    fn credentials_refresh_an_expiring_token_first() {
        let t = T::new();
        t.connect_oauth();
        let first = t.credentials()["vercel"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        t.now.set(t.now.get() + 3590);
        let second = t.credentials()["vercel"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(first, second);
        assert_eq!(t.fake.counters().refreshes, 1);
    }

    #[test]
    fn disconnect_revokes_oauth_tokens_then_forgets_them() {
        let t = T::new();
        t.connect_oauth();
        let creds = t.credentials();
        let (status, body) = t.api("POST", "disconnect", "");
        assert_eq!((status, body), (200, json!({"ok": true, "revoked": true})));
        assert_eq!(t.fake.counters().revocations, 2);
        assert!(
            !t.fake
                .is_token_valid(creds["vercel"]["token"].as_str().unwrap())
        );
        assert!(
            !t.fake
                .is_token_valid(creds["vercel"]["refresh_token"].as_str().unwrap())
        );
        assert_eq!(t.api("GET", "status", "").1, json!({"connected": false}));
        // The registered client stays for the next sign-in.
        t.connect_oauth();
        assert_eq!(t.fake.counters().registrations, 1);
    }

    #[test]
    fn a_missing_schema_says_to_run_the_migrations() {
        let t = T::new();
        t.store.sql("DROP TABLE vercel_connection");
        let (status, body) = t.api("GET", "status", "");
        assert_eq!(status, 503);
        assert!(error_of(&body).1.contains("d1 migrations apply"));
    }
}
