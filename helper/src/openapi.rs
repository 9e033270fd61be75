//! The OpenAPI 3.1 document of the Connectors API (`GET /api/openapi.json`, committed as
//! `docs/openapi.json`). Every schema is generated from proto's wire types (`ToSchema`
//! behind proto's `openapi` feature), so a type cannot change without the document; every
//! route is one line in [`routes`], with the seed's examples.
//!
//! Architecture invariant: a route added to a connector's `routes()` gets its line here in
//! the same commit (`helper/tests/openapi.rs` fails for a documented route the helper does
//! not serve, and for a route of the seed that is not documented).

use std::sync::OnceLock;

use patchbay_proto::agents::{AgentDecision, AgentsOverview};
use patchbay_proto::api::{
    ConnectorsOverview, Health, Ok, RemoteList, RemoteSession, RemotesStatus, SessionStarted,
    StartRemoteRequest, SubmitCodeRequest,
};
use patchbay_proto::mcp::{McpRemoved, McpServerList, McpSession, StartServerRequest};
use patchbay_proto::oauth::ProtectedResourceMetadata;
use patchbay_proto::tokens::{
    DevicePoll, DeviceSessionRequest, DeviceStart, GithubSaved, GithubUser, OAuthExchangeRequest,
    OAuthStartResponse, SaveTokenRequest, TokenStatus, VercelSaved, VercelStatus,
};
use patchbay_proto::{ErrorBody, ErrorCode};
use serde_json::{Value, json};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder, Schema, ServerBuilder,
};
use utoipa::{PartialSchema, ToSchema};

/// Who may call a route.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Anyone the Host/Origin guard lets in.
    Public,
    /// `Authorization: Bearer <pairing token>` (the helper).
    Pairing,
    /// `Authorization: Bearer <PATCHBAY_EDGE_TOKEN>` (the edge itself).
    Edge,
}

/// A body's schema: a reference to a named component, or inline for a generic type (whose
/// name alone would be ambiguous).
struct Shape {
    schema: RefOr<Schema>,
    register: fn(&mut Vec<(String, RefOr<Schema>)>),
}

fn named<T: ToSchema>() -> Shape {
    Shape {
        schema: Ref::from_schema_name(T::name()).into(),
        register: |all| {
            all.push((T::name().into_owned(), T::schema()));
            T::schemas(all);
        },
    }
}

fn inline<T: ToSchema>() -> Shape {
    Shape {
        schema: T::schema(),
        register: |all| T::schemas(all),
    }
}

fn any_object() -> Shape {
    Shape {
        schema: Value::schema(),
        register: |_| {},
    }
}

/// One operation of the API.
struct Route {
    method: HttpMethod,
    path: String,
    summary: &'static str,
    auth: Auth,
    body: Option<(Shape, Value)>,
    status: u16,
    answer: Option<(Shape, Option<Value>)>,
    errors: &'static [u16],
    /// Failures answered with an HTML page, for a route a person's browser opens (its
    /// success is a page too); the refusals before the route (405, 414, 431) stay JSON.
    pages: &'static [u16],
}

fn route(method: HttpMethod, path: impl Into<String>, summary: &'static str) -> Route {
    Route {
        method,
        path: path.into(),
        summary,
        auth: Auth::Pairing,
        body: None,
        status: 200,
        answer: None,
        errors: &[],
        pages: &[],
    }
}

impl Route {
    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
    fn body(mut self, shape: Shape, example: Value) -> Self {
        self.body = Some((shape, example));
        self
    }
    fn answers(mut self, status: u16, shape: Shape, example: Option<Value>) -> Self {
        self.status = status;
        self.answer = Some((shape, example));
        self
    }
    fn no_content(mut self) -> Self {
        self.status = 204;
        self
    }
    fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }
    fn pages(mut self, pages: &'static [u16]) -> Self {
        self.pages = pages;
        self
    }
}

use HttpMethod::{Delete, Get, Post};

/// Every route of the helper, then the edge's own. Adding a route is one line here.
fn routes() -> Vec<Route> {
    let mut all = vec![
        route(
            Get,
            "/api/health",
            "Whether the helper is up (no token needed)",
        )
        .auth(Auth::Public)
        .answers(200, named::<Health>(), None),
        route(Get, "/api/openapi.json", "This document (no token needed)")
            .auth(Auth::Public)
            .answers(200, any_object(), None),
        route(
            Get,
            "/api/connectors",
            "Every connector's state, for the dashboard",
        )
        .answers(200, named::<ConnectorsOverview>(), None),
    ];
    for (kind, backend) in [("gdrive", "drive"), ("onedrive", "onedrive")] {
        let base = format!("/api/connectors/{kind}");
        all.extend([
            route(
                Get,
                format!("{base}/remotes"),
                "The remotes of this kind in rclone.conf",
            )
            .answers(
                200,
                named::<RemoteList>(),
                Some(json!({"remotes": [
                    {"name": "personal", "type": backend}, {"name": "work", "type": backend}]})),
            )
            .errors(&[503]),
            route(
                Post,
                format!("{base}/remotes"),
                "Add a remote: start the OAuth sign-in",
            )
            .body(
                named::<StartRemoteRequest>(),
                json!({"name": "personal", "force": false}),
            )
            .answers(
                202,
                named::<SessionStarted>(),
                Some(json!({"session_id": format!("{kind}-..."), "status": "pending"})),
            )
            .errors(&[400, 409, 413, 503]),
            route(
                Get,
                format!("{base}/status"),
                "Whether a remote of this kind exists (the seed's card badge)",
            )
            .answers(
                200,
                named::<RemotesStatus>(),
                Some(json!({"connected": true, "remotes": ["personal"]})),
            ),
            route(
                Get,
                format!("{base}/sessions/{{session_id}}"),
                "Where a sign-in stands",
            )
            .answers(
                200,
                named::<RemoteSession>(),
                Some(json!({
                    "status": "awaiting_oauth",
                    "auth_url": "https://accounts.google.com/o/oauth2/auth?...",
                    "needs_manual_code": true, "remote_name": "personal", "error": null,
                    "reason": null, "note": null})),
            )
            .errors(&[400, 404]),
            route(
                Post,
                format!("{base}/sessions/{{session_id}}/submit"),
                "Submit the pasted redirect URL (or its code)",
            )
            .body(
                named::<SubmitCodeRequest>(),
                json!({"code": "http://localhost:53682/?code=..."}),
            )
            .answers(200, named::<Ok>(), Some(json!({"ok": true})))
            .errors(&[400, 404, 409, 413, 502]),
            route(
                Post,
                format!("{base}/sessions/{{session_id}}/cancel"),
                "Abort the sign-in",
            )
            .answers(200, named::<Ok>(), Some(json!({"ok": true})))
            .errors(&[404]),
            route(
                Delete,
                format!("{base}/remotes/{{name}}"),
                "Delete a remote (rclone config delete)",
            )
            .no_content()
            .errors(&[400, 404, 409, 503]),
        ]);
    }
    all.extend(token_routes(
        "github",
        named::<GithubSaved>(),
        inline::<TokenStatus<GithubUser>>(),
        json!({"token": "ghp_..."}),
        json!({"ok": true, "user": {"login": "...", "id": 1}}),
    ));
    all.extend([
        route(
            Post,
            "/api/connectors/github/cli/start",
            "Start the gh device flow",
        )
        .answers(
            200,
            named::<DeviceStart>(),
            Some(json!({"session_id": "gh-cli-...",
                "user_code": "AB12-CD34", "verification_uri": "https://github.com/login/device",
                "expires_in": 900})),
        )
        .errors(&[409, 503]),
        route(
            Post,
            "/api/connectors/github/cli/poll",
            "Where the device flow stands",
        )
        .body(
            named::<DeviceSessionRequest>(),
            json!({"session_id": "gh-cli-..."}),
        )
        .answers(
            200,
            named::<DevicePoll>(),
            Some(json!({"status": "pending"})),
        )
        .errors(&[400, 404, 413]),
        route(
            Post,
            "/api/connectors/github/cli/cancel",
            "Cancel the device flow",
        )
        .body(
            named::<DeviceSessionRequest>(),
            json!({"session_id": "gh-cli-..."}),
        )
        .answers(200, named::<Ok>(), Some(json!({"ok": true})))
        .errors(&[400, 404, 413]),
    ]);
    all.extend(token_routes(
        "vercel",
        named::<VercelSaved>(),
        named::<VercelStatus>(),
        json!({"token": "vercel_..."}),
        json!({"ok": true, "user": {"id": "...", "username": "..."}}),
    ));
    all.extend([
        route(
            Get,
            "/api/connectors/vercel/oauth/start",
            "Start the Vercel OAuth sign-in (PKCE)",
        )
        .answers(
            200,
            named::<OAuthStartResponse>(),
            Some(json!({
                "authorize_url": "https://vercel.com/oauth/authorize?...", "state": "...",
                "code_verifier_id": "..."})),
        )
        .errors(&[502, 503]),
        route(
            Post,
            "/api/connectors/vercel/oauth/exchange",
            "Finish the sign-in (also after /callback did: the connected user, no second exchange)",
        )
        .body(
            named::<OAuthExchangeRequest>(),
            json!({"code": "...", "state": "..."}),
        )
        .answers(
            200,
            named::<VercelSaved>(),
            Some(json!({"ok": true, "user": {"id": "...", "username": "..."}})),
        )
        .errors(&[400, 404, 409, 413, 502, 503]),
        route(
            Get,
            "/api/connectors/vercel/credentials",
            "The mcp-tokens.json entries (edge only)",
        )
        .auth(Auth::Edge)
        .answers(200, any_object(), None)
        .errors(&[503]),
        route(
            Get,
            "/callback",
            "Vercel's OAuth redirect URI (edge only; an HTML page)",
        )
        .auth(Auth::Public)
        .pages(&[400, 409, 502, 503]),
        route(
            Get,
            "/.well-known/oauth-protected-resource",
            "RFC 9728 metadata (edge only)",
        )
        .auth(Auth::Public)
        .answers(200, named::<ProtectedResourceMetadata>(), None),
    ]);
    all.extend(token_routes(
        "manus",
        named::<Ok>(),
        inline::<TokenStatus<Value>>(),
        json!({"token": "manus_..."}),
        json!({"ok": true}),
    ));
    all.extend([
        route(
            Get,
            "/api/connectors/mcp/servers",
            "The MCP servers signed in to",
        )
        .answers(200, named::<McpServerList>(), None),
        route(
            Post,
            "/api/connectors/mcp/servers",
            "Sign in to an MCP server",
        )
        .body(
            named::<StartServerRequest>(),
            json!({"url": "https://mcp.example.com/mcp"}),
        )
        .answers(
            202,
            named::<SessionStarted>(),
            Some(json!({"session_id": "mcp-...", "status": "pending"})),
        )
        .errors(&[400, 409, 413, 502]),
        route(
            Delete,
            "/api/connectors/mcp/servers/{id}",
            "Forget a server (and revoke its tokens)",
        )
        .answers(200, named::<McpRemoved>(), None)
        .errors(&[404]),
        route(
            Get,
            "/api/connectors/mcp/sessions/{id}",
            "Where an MCP sign-in stands",
        )
        .answers(200, named::<McpSession>(), None)
        .errors(&[400, 404]),
        route(
            Post,
            "/api/connectors/mcp/sessions/{id}/submit",
            "Submit the pasted redirect URL",
        )
        .body(
            named::<SubmitCodeRequest>(),
            json!({"code": "http://127.0.0.1:53682/callback?code=..."}),
        )
        .answers(200, named::<McpSession>(), None)
        .errors(&[400, 404, 409, 413]),
        route(
            Post,
            "/api/connectors/mcp/sessions/{id}/cancel",
            "Cancel an MCP sign-in",
        )
        .answers(200, named::<McpSession>(), None)
        .errors(&[404]),
        route(
            Get,
            "/api/connectors/agents",
            "Hosted agents: approved clients and requests waiting for a decision (via the edge)",
        )
        .answers(
            200,
            named::<AgentsOverview>(),
            Some(
                json!({"clients": [], "pending": [{"id": "...", "client_id": "...",
                "client_name": "Claude", "redirect_host": "claude.ai",
                "scopes": ["connections:read"], "created_at": 1767225600}]}),
            ),
        )
        .errors(&[502, 503]),
        route(
            Post,
            "/api/connectors/agents/requests/{id}/approve",
            "Approve an agent's authorization request",
        )
        .answers(
            200,
            named::<AgentDecision>(),
            Some(json!({"ok": true, "outcome": "approved"})),
        )
        .errors(&[400, 404, 409, 502, 503]),
        route(
            Post,
            "/api/connectors/agents/requests/{id}/deny",
            "Deny an agent's authorization request",
        )
        .answers(
            200,
            named::<AgentDecision>(),
            Some(json!({"ok": true, "outcome": "denied"})),
        )
        .errors(&[400, 404, 409, 502, 503]),
        route(
            Delete,
            "/api/connectors/agents/{client_id}",
            "Revoke an agent: its tokens stop working at once",
        )
        .answers(
            200,
            named::<AgentDecision>(),
            Some(json!({"ok": true, "outcome": "revoked"})),
        )
        .errors(&[400, 404, 502, 503]),
    ]);
    all
}

/// The four routes every token connector has (one shape for every connector).
fn token_routes(
    id: &'static str,
    saved: Shape,
    status: Shape,
    body: Value,
    example: Value,
) -> Vec<Route> {
    let base = format!("/api/connectors/{id}");
    let (saved_again, saved_schema) = (saved.register, saved.schema);
    vec![
        route(
            Post,
            format!("{base}/token"),
            "Validate and store a pasted token",
        )
        .body(named::<SaveTokenRequest>(), body)
        .answers(
            200,
            Shape {
                schema: saved_schema.clone(),
                register: saved_again,
            },
            Some(example),
        )
        .errors(&[400, 413, 502, 507]),
        route(
            Get,
            format!("{base}/status"),
            "Whether it is connected, and as whom",
        )
        .answers(200, status, Some(json!({"connected": false}))),
        route(
            Post,
            format!("{base}/disconnect"),
            "Forget the stored token",
        )
        .answers(200, named::<Ok>(), Some(json!({"ok": true}))),
        route(
            Post,
            format!("{base}/reconnect"),
            "Validate the stored token again",
        )
        .answers(
            200,
            Shape {
                schema: saved_schema,
                register: saved_again,
            },
            None,
        )
        .errors(&[404, 502]),
    ]
}

/// The document, built once.
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> OpenApi {
    let mut schemas = Vec::new();
    schemas.push((ErrorBody::name().into_owned(), ErrorBody::schema()));
    ErrorBody::schemas(&mut schemas);
    schemas.push((ErrorCode::name().into_owned(), ErrorCode::schema()));
    // Manus's status has no user type: any JSON.
    schemas.push((Value::name().into_owned(), Value::schema()));
    let mut paths = PathsBuilder::new();
    for r in routes() {
        let mut op = OperationBuilder::new()
            .summary(Some(r.summary))
            .operation_id(Some(operation_id(&r)))
            .tag(tag_of(&r.path));
        for name in r
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(String::schema())),
            );
        }
        if r.path.contains("/sessions/{") && r.method == Get {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("wait")
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(
                        "Long-poll: answer when the status changes, or after this many seconds.",
                    ))
                    .schema(Some(u64::schema())),
            );
        }
        if let Some((shape, example)) = r.body {
            (shape.register)(&mut schemas);
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .description(Some("JSON; read whatever the Content-Type says."))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(shape.schema))
                            .example(Some(example))
                            .build(),
                    )
                    .build(),
            ));
        }
        let ok = match r.answer {
            Some((shape, example)) => {
                (shape.register)(&mut schemas);
                ResponseBuilder::new()
                    .description(success_words(r.status))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(shape.schema))
                            .example(example)
                            .build(),
                    )
            }
            None if !r.pages.is_empty() => html_page("An HTML page that says what happened"),
            None => ResponseBuilder::new().description(success_words(r.status)),
        };
        op = op.response(r.status.to_string(), ok.build());
        for status in r.pages {
            op = op.response(
                status.to_string(),
                html_page("An HTML page that says what went wrong and what to do").build(),
            );
        }
        let mut errors: Vec<u16> = r.errors.to_vec();
        // Every route can meet the refusals that come before routing: the head's limits.
        errors.extend(match r.auth {
            Auth::Public => &[403, 405, 414, 431][..],
            Auth::Pairing | Auth::Edge => &[401, 403, 405, 414, 431][..],
        });
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            op = op.response(
                status.to_string(),
                Ref::from_response_name(error_name(status)),
            );
        }
        op = match r.auth {
            Auth::Public => op.securities(Some(Vec::<SecurityRequirement>::new())),
            Auth::Pairing => op.security(SecurityRequirement::new("pairing", Vec::<String>::new())),
            Auth::Edge => op.security(SecurityRequirement::new("edge", Vec::<String>::new())),
        };
        let mut item = PathItem::new(r.method, op.build());
        if is_edge_only(&r.path) {
            item.servers = Some(vec![edge_server()]);
        }
        paths = paths.path(r.path, item);
    }
    let mut components = ComponentsBuilder::new()
        .schemas_from_iter(schemas)
        .security_scheme(
            "pairing",
            bearer("The pairing token `patchbay serve` prints in the dashboard link."),
        )
        .security_scheme(
            "edge",
            bearer("PATCHBAY_EDGE_TOKEN, the edge's API secret."),
        );
    for code in ErrorCode::ALL {
        let status = code.http_status();
        components = components.response(
            error_name(status),
            ResponseBuilder::new()
                .description(format!(
                    "`{{\"ok\": false, \"error\": \"{}\", \"message\": …}}`",
                    code_word(code)
                ))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                        .example(Some(json!({"ok": false, "error": code_word(code),
                            "message": "A sentence that says what to do."})))
                        .build(),
                )
                .build(),
        );
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Patchbay Connectors API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The Connectors API of the seed (Google Drive, OneDrive, GitHub, Vercel, \
                     Manus) plus MCP servers, as the Patchbay helper serves it on loopback. \
                     Deliberate differences: every /api route but /api/health and \
                     /api/openapi.json needs the pairing token; credential files live in the \
                     helper's data folder; Vercel's OAuth runs on the edge (a Cloudflare \
                     Worker), which the helper forwards to; listing remotes reads \
                     rclone.conf itself (no rclone needed). Every failure is \
                     {\"ok\": false, \"error\", \"message\"}.",
                ))
                .build(),
        )
        .servers(Some(vec![
            ServerBuilder::new()
                .url("http://127.0.0.1:7878")
                .description(Some("The helper (its --listen address)"))
                .build(),
        ]))
        .paths(paths.build())
        .components(Some(components.build()))
        .build()
}

fn bearer(description: &str) -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(description))
            .build(),
    )
}

/// A response that is an HTML page for a person, which echoes nothing of the request.
fn html_page(what: &str) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(format!("{what}; it echoes nothing of the request"))
        .content("text/html", ContentBuilder::new().build())
}

fn edge_server() -> utoipa::openapi::Server {
    ServerBuilder::new()
        .url("https://patchbay-edge.example.workers.dev")
        .description(Some("The edge Worker (its PATCHBAY_PUBLIC_URL)"))
        .build()
}

fn is_edge_only(path: &str) -> bool {
    matches!(
        path,
        "/callback"
            | "/.well-known/oauth-protected-resource"
            | "/api/connectors/vercel/credentials"
    )
}

fn code_word(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn error_name(status: u16) -> String {
    format!("Error{status}")
}

fn success_words(status: u16) -> &'static str {
    match status {
        202 => "Accepted: the flow runs; poll its session",
        204 => "No Content",
        _ => "OK",
    }
}

fn tag_of(path: &str) -> String {
    path.strip_prefix("/api/connectors/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(if path.starts_with("/api") {
            "helper"
        } else {
            "edge"
        })
        .to_owned()
}

fn operation_id(r: &Route) -> String {
    let method = match r.method {
        Get => "get",
        Post => "post",
        Delete => "delete",
        _ => "other",
    };
    let words: Vec<&str> = r
        .path
        .split(['/', '.', '-'])
        .filter(|s| !s.is_empty() && *s != "api" && *s != "connectors" && !s.starts_with('{'))
        .collect();
    format!("{method}_{}", words.join("_"))
}
