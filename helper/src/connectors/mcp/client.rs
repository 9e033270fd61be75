//! Talking to a remote MCP server over Streamable HTTP with rmcp, with our tokens.
//!
//! [`AuthedHttp`] wraps rmcp's reqwest client: every request gets a fresh access token from
//! the [`TokenManager`], and a 401 leads to one refresh and one retry. rmcp does the rest
//! (JSON-RPC, JSON and SSE responses, `Mcp-Session-Id`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

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

type HttpResult<T> = Result<T, StreamableHttpError<reqwest::Error>>;

/// rmcp's HTTP client with tokens attached and refreshed.
#[derive(Clone)]
pub struct AuthedHttp {
    http: reqwest::Client,
    tokens: TokenManager,
    url: String,
    /// Why the last token could not be had, for a message better than rmcp's.
    last_token_error: Arc<Mutex<Option<TokenError>>>,
}

impl AuthedHttp {
    pub fn new(tokens: TokenManager, url: &str) -> Self {
        Self {
            http: tokens.ctx().http.clone(),
            tokens,
            url: url.to_owned(),
            last_token_error: Arc::default(),
        }
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

    /// Runs `call` with a token; on 401, once more with a refreshed one.
    async fn with_token<T, F, Fut>(&self, call: F) -> HttpResult<T>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = HttpResult<T>>,
    {
        let token = self.note(self.tokens.access_token(&self.url).await)?;
        match call(token.expose().to_owned()).await {
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
        self.with_token(|token| {
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
        self.with_token(|token| {
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
        self.with_token(|token| {
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
        self.with_token(|token| {
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
        let http = AuthedHttp::new(tokens, url);
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
