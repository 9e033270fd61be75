//! `patchbay mcp proxy <url>`: a stdio MCP server that forwards every message to the remote
//! server over Streamable HTTP, with tokens attached and refreshed, and every answer back.
//!
//! Any stdio MCP client (an editor, an agent) can then use a remote OAuth server without a
//! Node runtime. The proxy does not interpret the protocol beyond the handshake: it moves
//! rmcp's JSON-RPC messages between the two transports. stdout carries only protocol
//! messages; diagnostics go to stderr.
//!
//! Order: rmcp's client worker takes the first message after `initialize` as the
//! `initialized` notification, whatever it is. So the handshake is sent in order, one message
//! at a time, and anything a client sends before its `initialized` is held until that went
//! out; after the handshake, sends run concurrently (a slow tool call must not hold up the
//! next message).
//!
//! Headless sign-in: when the grant is dead, the proxy signs in again by itself
//! ([`Headless`]): the URL goes to stderr, a pasted redirect is read from the terminal
//! (`/dev/tty`) if there is one, and the client's requests wait for the new token.

use std::sync::Arc;

use futures::future::BoxFuture;
use rmcp::RoleServer;
use rmcp::model::{
    ClientJsonRpcMessage, ClientNotification, ClientRequest, ErrorData, JsonRpcMessage,
    ServerJsonRpcMessage,
};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cli::{Terminal, lines_of};
use super::client::{AuthedHttp, transport};
use super::login::{self, Ctx, LoginRequest};
use super::tokens::{Relogin, TokenError, TokenManager};
use crate::ApiError;

/// Runs on this process's stdin/stdout until stdin closes or the remote side ends, signing
/// in again by itself when the grant dies.
pub async fn run(tokens: TokenManager, url: &str) -> Result<(), ApiError> {
    let headless = Arc::new(Headless {
        ctx: tokens.ctx().clone(),
        once: tokio::sync::Mutex::new(()),
    });
    let tokens = tokens.with_relogin(headless);
    let (stdin, stdout) = rmcp::transport::stdio();
    serve(tokens, url, stdin, stdout).await
}

/// Where the handshake stands.
#[derive(PartialEq, Eq)]
enum Phase {
    /// Nothing sent yet: the next message should be `initialize`.
    Start,
    /// `initialize` sent: messages wait (held) until the client's `initialized` went out.
    Initializing,
    Ready,
}

fn is_initialize(m: &ClientJsonRpcMessage) -> bool {
    matches!(m, JsonRpcMessage::Request(r) if matches!(r.request, ClientRequest::InitializeRequest(_)))
}

fn is_initialized(m: &ClientJsonRpcMessage) -> bool {
    matches!(m, JsonRpcMessage::Notification(n) if matches!(n.notification, ClientNotification::InitializedNotification(_)))
}

/// The proxy over any byte streams (stdin/stdout, or pipes in tests).
pub async fn serve<R, W>(
    tokens: TokenManager,
    url: &str,
    input: R,
    output: W,
) -> Result<(), ApiError>
where
    R: AsyncRead + Send + Unpin + 'static,
    W: AsyncWrite + Send + Unpin + 'static,
{
    // Fail early, before the client waits on us, if there is no sign-in at all (a dead one
    // is signed in again here, before the first message is read: the client's requests wait).
    tokens.access_token(url).await.map_err(ApiError::from)?;
    let http = AuthedHttp::new(tokens, url).await?;
    let mut remote = transport(http.clone(), url);
    let mut local = AsyncRwTransport::<RoleServer, _, _>::new(input, output);
    // Errors of sends come back here, to be written to stdout in order.
    let (err_tx, mut err_rx) = mpsc::channel::<ServerJsonRpcMessage>(16);
    let mut phase = Phase::Start;
    let mut held: Vec<ClientJsonRpcMessage> = Vec::new();

    loop {
        tokio::select! {
            from_client = local.receive() => {
                let Some(message) = from_client else { break };
                let in_order = match phase {
                    Phase::Start if is_initialize(&message) => {
                        phase = Phase::Initializing;
                        true
                    }
                    Phase::Initializing if is_initialized(&message) => {
                        phase = Phase::Ready;
                        true
                    }
                    Phase::Initializing => {
                        held.push(message);
                        continue;
                    }
                    _ => false,
                };
                let send = forward(&mut remote, message, &http, &err_tx);
                if in_order {
                    send.await;
                    if phase == Phase::Ready {
                        for message in held.drain(..) {
                            tokio::spawn(forward(&mut remote, message, &http, &err_tx));
                        }
                    }
                } else {
                    tokio::spawn(send);
                }
            }
            from_server = remote.receive() => {
                let Some(message) = from_server else {
                    eprintln!("patchbay mcp proxy: the connection to {url} ended");
                    break;
                };
                if local.send(message).await.is_err() {
                    break;
                }
            }
            Some(error) = err_rx.recv() => {
                if local.send(error).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = remote.close().await;
    let _ = local.close().await;
    Ok(())
}

/// Hands one message to the remote transport; the returned future ends when it was sent,
/// and turns a failure of a request into a JSON-RPC error for the client.
fn forward(
    remote: &mut rmcp::transport::StreamableHttpClientTransport<AuthedHttp>,
    message: ClientJsonRpcMessage,
    http: &AuthedHttp,
    err_tx: &mpsc::Sender<ServerJsonRpcMessage>,
) -> impl Future<Output = ()> + Send + 'static {
    let request_id = match &message {
        JsonRpcMessage::Request(r) => Some(r.id.clone()),
        _ => None,
    };
    let send = remote.send(message);
    let err_tx = err_tx.clone();
    let http = http.clone();
    async move {
        if let Err(e) = send.await {
            let why = http
                .token_error()
                .map(|t| t.message())
                .unwrap_or_else(|| format!("the remote MCP server failed: {e}"));
            eprintln!("patchbay mcp proxy: {why}");
            if let Some(id) = request_id {
                let error = ErrorData::internal_error(why, None);
                let _ = err_tx
                    .send(ServerJsonRpcMessage::error(error, Some(id)))
                    .await;
            }
        }
    }
}

/// Signs in again from inside the proxy: one sign-in at a time, its URL on stderr, a paste
/// from the terminal when the process has one.
struct Headless {
    ctx: Ctx,
    once: tokio::sync::Mutex<()>,
}

impl Relogin for Headless {
    fn relogin<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<(), TokenError>> {
        Box::pin(async move {
            let _one_at_a_time = self.once.lock().await;
            // Someone signed in while we waited for the lock.
            let store = self.ctx.files.tokens.clone();
            let entries = crate::engine::store::blocking(move || store.read())
                .await
                .map_err(TokenError::Other)?;
            let current = super::store::ServerEntry::find(&entries, url);
            if current.is_some_and(|e| !e.needs_login && e.token.is_some()) {
                return Ok(());
            }
            eprintln!(
                "patchbay mcp proxy: the sign-in for {url} is no longer valid; signing in again."
            );
            let mut pasted = match std::fs::File::open("/dev/tty") {
                Ok(tty) => lines_of(std::io::BufReader::new(tty)),
                // No terminal: only the listener can complete the sign-in.
                Err(_) => mpsc::channel(1).1,
            };
            let cancel = CancellationToken::new();
            let req = LoginRequest::plain(url);
            let result = login::run(
                &self.ctx,
                &req,
                None,
                &mut Terminal { to_stderr: true },
                &mut pasted,
                &cancel,
            )
            .await;
            match result {
                Ok(_) => {
                    eprintln!("patchbay mcp proxy: signed in to {url} again.");
                    Ok(())
                }
                Err(end) => Err(TokenError::NeedsLogin(format!(
                    "Signing in to {url} again failed: {}. Run `patchbay mcp login {url}`.",
                    end.message()
                ))),
            }
        })
    }
}
