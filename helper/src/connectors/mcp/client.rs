//! Talking to a remote MCP server over Streamable HTTP with rmcp, with our tokens.
//!
//! [`AuthedHttp`] wraps rmcp's reqwest client: every request gets a fresh access token from
//! the [`TokenManager`] and the server's own `--header`s (expanded when the session starts),
//! a 401 leads to one refresh and one retry, and a 403 `insufficient_scope` is recorded for
//! the next sign-in (the step-up). A token only ever goes to the server's own origin: any
//! other URI is refused, and redirects are followed only within that origin. rmcp does the
//! rest (JSON-RPC, JSON and SSE responses, `Mcp-Session-Id`, and `MCP-Protocol-Version` on
//! every request after `initialize`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientJsonRpcMessage, Tool};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use rmcp::{RoleClient, ServiceExt};
use sse_stream::Sse;

use super::tokens::{TokenError, TokenManager};
use crate::ApiError;
use patchbay_proto::oauth::HttpUrl;

type HttpResult<T> = Result<T, StreamableHttpError<reqwest::Error>>;

/// The client for MCP traffic: like the shared one, but a redirect is followed only to the
/// same origin (scheme, host and port), so the `Authorization` header can never travel to
/// another host.
fn mcp_http() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let same_origin = reqwest::redirect::Policy::custom(|attempt| {
                let first = attempt.previous().first().cloned();
                let same = first.is_some_and(|f| {
                    f.scheme() == attempt.url().scheme()
                        && f.host_str() == attempt.url().host_str()
                        && f.port_or_known_default() == attempt.url().port_or_known_default()
                });
                if same && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            });
            reqwest::Client::builder()
                .user_agent(concat!("patchbay/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(10))
                .redirect(same_origin)
                .build()
                .expect("the TLS backend initialises")
        })
        .clone()
}

/// Whether `uri` is on the MCP server's own origin (where its tokens may go).
fn same_origin(server: &str, uri: &str) -> bool {
    matches!(
        (HttpUrl::parse(server), HttpUrl::parse(uri)),
        (Some(a), Some(b)) if a.origin() == b.origin()
    )
}

/// rmcp's HTTP client with tokens attached and refreshed.
#[derive(Clone)]
pub struct AuthedHttp {
    http: reqwest::Client,
    tokens: TokenManager,
    url: String,
    /// The server's `--header`s, expanded.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Why the last token could not be had, for a message better than rmcp's.
    last_token_error: Arc<Mutex<Option<TokenError>>>,
}

impl AuthedHttp {
    /// The client for `url`, with the headers stored with it (`${VAR}`s expanded now).
    pub async fn new(tokens: TokenManager, url: &str) -> Result<Self, ApiError> {
        let headers = match tokens.entry(url).await? {
            Some(entry) => entry.options.expanded_headers()?,
            None => Vec::new(),
        };
        Ok(Self {
            http: mcp_http(),
            tokens,
            url: url.to_owned(),
            headers,
            last_token_error: Arc::default(),
        })
    }

    /// The token problem behind the last failure, if there was one.
    pub fn token_error(&self) -> Option<TokenError> {
        self.last_token_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn note<T>(&self, r: Result<T, TokenError>) -> HttpResult<T> {
        r.map_err(|e| {
            let message = e.message();
            *self
                .last_token_error
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(e);
            StreamableHttpError::Io(std::io::Error::other(message))
        })
    }

    /// rmcp's headers plus the server's own.
    fn headers(
        &self,
        mut headers: HashMap<HeaderName, HeaderValue>,
    ) -> HashMap<HeaderName, HeaderValue> {
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        headers
    }

    /// Runs `call` with a token; on 401, once more with a refreshed one; on 403
    /// `insufficient_scope`, records the step-up and fails with a sentence that names it.
    async fn with_token<T, F, Fut>(&self, uri: &str, call: F) -> HttpResult<T>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = HttpResult<T>>,
    {
        if !same_origin(&self.url, uri) {
            return self.note(Err(TokenError::Other(ApiError::forbidden(format!(
                "Patchbay only sends the sign-in for {} to that server; it will not send it to \
                 {}.",
                self.url,
                HttpUrl::parse(uri).map(|u| u.origin()).unwrap_or_default()
            )))));
        }
        let token = self.note(self.tokens.access_token(&self.url).await)?;
        let answer = match call(token.expose().to_owned()).await {
            Err(StreamableHttpError::AuthRequired(challenge)) => {
                tracing::debug!(server = %self.url, "401 from the MCP server; refreshing once");
                let fresh = self.note(self.tokens.after_rejection(&self.url, &token).await);
                match fresh {
                    Ok(fresh) if fresh != token => call(fresh.expose().to_owned()).await,
                    Ok(_) => Err(StreamableHttpError::AuthRequired(challenge)),
                    Err(e) => Err(e),
                }
            }
            other => other,
        };
        match answer {
            Err(StreamableHttpError::InsufficientScope(challenge)) => {
                Err(self.step_up(challenge).await)
            }
            other => other,
        }
    }

    async fn step_up(
        &self,
        challenge: rmcp::transport::streamable_http_client::InsufficientScopeError,
    ) -> StreamableHttpError<reqwest::Error> {
        let scope =
            patchbay_proto::oauth::parse_bearer_challenge(&challenge.www_authenticate_header)
                .and_then(|c| c.scope)
                .or(challenge.required_scope.clone());
        tracing::debug!(server = %self.url, "403 insufficient_scope from the MCP server");
        let e = self
            .tokens
            .record_step_up(&self.url, scope.as_deref())
            .await;
        match self.note::<()>(Err(e)) {
            Err(e) => e,
            Ok(()) => StreamableHttpError::InsufficientScope(challenge),
        }
    }
}

impl StreamableHttpClient for AuthedHttp {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<StreamableHttpPostResponse> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> HttpResult<StreamableHttpPostResponse> {
        let headers = self.headers(headers);
        self.with_token(&uri, |token| {
            self.http.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                Some(token),
                headers.clone(),
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<()> {
        let headers = self.headers(headers);
        self.with_token(&uri, |token| {
            self.http.delete_session(
                uri.clone(),
                session_id.clone(),
                Some(token),
                headers.clone(),
            )
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
    ) -> HttpResult<BoxStream<'static, Result<Sse, SseError>>> {
        let headers = self.headers(headers);
        self.with_token(&uri, |token| {
            self.http.get_stream(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                Some(token),
                headers.clone(),
            )
        })
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth: Option<String>,
        headers: HashMap<HeaderName, HeaderValue>,
        max: usize,
    ) -> HttpResult<BoxStream<'static, Result<Sse, SseError>>> {
        let headers = self.headers(headers);
        self.with_token(&uri, |token| {
            self.http.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                Some(token),
                headers.clone(),
                max,
            )
        })
        .await
    }
}

/// The rmcp transport to `url`, authenticated.
pub fn transport(http: AuthedHttp, url: &str) -> StreamableHttpClientTransport<AuthedHttp> {
    StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
    )
}

/// An initialised MCP session with the server.
pub struct Session {
    service: RunningService<RoleClient, ()>,
    http: AuthedHttp,
    url: String,
}

fn explain(http: &AuthedHttp, url: &str, what: &str, err: impl std::fmt::Display) -> ApiError {
    if let Some(e) = http.token_error() {
        return e.into();
    }
    ApiError::upstream(format!("The MCP server at {url} failed to {what}: {err}"))
}

impl Session {
    /// Connects and runs `initialize`.
    pub async fn connect(tokens: TokenManager, url: &str) -> Result<Session, ApiError> {
        let http = AuthedHttp::new(tokens, url).await?;
        let service =
            ().serve(transport(http.clone(), url))
                .await
                .map_err(|e| explain(&http, url, "initialize", e))?;
        Ok(Session {
            service,
            http,
            url: url.to_owned(),
        })
    }

    pub async fn list_tools(&self) -> Result<Vec<Tool>, ApiError> {
        self.service
            .list_all_tools()
            .await
            .map_err(|e| explain(&self.http, &self.url, "list its tools", e))
    }

    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Result<CallToolResult, ApiError> {
        let mut params = CallToolRequestParams::new(name.to_owned());
        params.arguments = arguments;
        self.service
            .call_tool(params)
            .await
            .map_err(|e| explain(&self.http, &self.url, "run the tool", e))
    }

    pub async fn close(mut self) {
        let _ = self.service.close().await;
    }
}
