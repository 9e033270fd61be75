//! `patchbay mcp proxy <url>`: a stdio MCP server that forwards every message to the remote
//! server over Streamable HTTP, with tokens attached and refreshed, and every answer back.
//!
//! Any stdio MCP client (an editor, an agent) can then use a remote OAuth server without a
//! Node runtime. The proxy does not interpret the protocol: it moves rmcp's JSON-RPC messages
//! between the two transports. stdout carries only protocol messages; diagnostics go to
//! stderr.

use rmcp::RoleServer;
use rmcp::model::{ErrorData, JsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use tokio::sync::mpsc;

use super::client::{AuthedHttp, transport};
use super::tokens::TokenManager;
use crate::ApiError;

/// Runs until stdin closes (the client went away) or the remote side ends.
pub async fn run(tokens: TokenManager, url: &str) -> Result<(), ApiError> {
    // Fail early, before the client waits on us, if there is no sign-in at all.
    tokens.access_token(url).await.map_err(ApiError::from)?;
    let http = AuthedHttp::new(tokens, url);
    let mut remote = transport(http.clone(), url);
    let (stdin, stdout) = rmcp::transport::stdio();
    let mut local = AsyncRwTransport::<RoleServer, _, _>::new(stdin, stdout);
    // Errors of spawned sends come back here, to be written to stdout in order.
    let (err_tx, mut err_rx) = mpsc::channel::<ServerJsonRpcMessage>(16);

    loop {
        tokio::select! {
            from_client = local.receive() => {
                let Some(message) = from_client else { break };
                let request_id = match &message {
                    JsonRpcMessage::Request(r) => Some(r.id.clone()),
                    _ => None,
                };
                // Sends run concurrently: a slow tool call must not hold up the next message.
                let send = remote.send(message);
                let err_tx = err_tx.clone();
                let http = http.clone();
                tokio::spawn(async move {
                    if let Err(e) = send.await {
                        let why = http
                            .token_error()
                            .map(|t| t.message())
                            .unwrap_or_else(|| format!("the remote MCP server failed: {e}"));
                        eprintln!("patchbay mcp proxy: {why}");
                        if let Some(id) = request_id {
                            let error = ErrorData::internal_error(why, None);
                            let _ = err_tx.send(ServerJsonRpcMessage::error(error, Some(id))).await;
                        }
                    }
                });
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
