//! How `patchbay serve` accepts and serves connections: every client, hostile ones
//! included, costs bounded memory for a bounded time.
//!
//! A local process needs no token to open a connection, so everything here runs before any
//! check of the front door ([`super::security`]):
//! - **Header-read timeout** ([`Limits::header_read_timeout`]): a request head must arrive
//!   whole within it, counted from the moment the connection waits for one. hyper's timer
//!   runs from the end of the previous answer too, so it is also the idle keep-alive
//!   timeout: a connection that sends nothing is closed after it.
//! - **Body-read timeout**: each piece of a request body must arrive within the same time.
//! - **Write timeout** ([`Limits::write_timeout`]): a client that stops reading its answers
//!   is dropped once the socket has refused our bytes that long.
//! - **Header size** ([`Limits::max_header_bytes`], also hyper's read buffer, so a head
//!   costs at most that much) and **URI length** ([`Limits::max_uri_bytes`]): 431 and 414.
//! - **Connection cap** ([`Limits::max_connections`]): a newcomer past it takes the place of
//!   the connection that has waited longest for a request head ([`waiting`]): a stalled or
//!   idle connection, never one whose request is being answered. Only when every connection
//!   has a request in flight is the newcomer answered 503 and closed (a few at a time;
//!   beyond those it is closed unanswered). So a flood of stalled connections cannot lock
//!   out a well-behaved client, and memory stays bounded by the cap.
//! - **Accept queue** ([`ACCEPT_BACKLOG`], see [`listen`]): connections the kernel has
//!   completed but the helper has not yet accepted. When it is full the kernel drops a new
//!   client's SYN and that client waits a whole second to retry, so it is sized for a
//!   flood, not left at the 128 of tokio's (and std's) `bind`.
//!
//! Every refusal, hyper's own included, has the one JSON error shape ([`canned`]). Memory
//! is given back after a burst ([`memory`]).

mod canned;
mod connection;
mod guarded_io;
mod memory;
mod waiting;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use canned::{headers_too_large, raw_response, uri_too_long};

/// The connection-level limits (flags of `patchbay serve`, hidden from `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub write_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_uri_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_header_bytes: patchbay_proto::error::HEADER_LIMIT,
            max_uri_bytes: patchbay_proto::error::URI_LIMIT,
        }
    }
}

impl Limits {
    /// hyper's read buffer cannot be smaller than this.
    const MIN_BUFFER: usize = 8192;

    fn read_buffer(&self) -> usize {
        self.max_header_bytes.max(Self::MIN_BUFFER)
    }
}

/// The listen backlog asked for. Linux caps it at `net.core.somaxconn` (4,096 by default
/// since 5.4): above the 2,200 connections of the hostile bench's flood, which a client
/// that opens them one after another can push in faster than a busy helper accepts them.
pub const ACCEPT_BACKLOG: u32 = 4096;

/// The helper's listening socket on `addr`, with [`ACCEPT_BACKLOG`] (tokio's own `bind`
/// asks for 128, as std does).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As std's and tokio's `bind` do on Unix: a restarted helper gets its port back at once.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Refused connections answered at once (each for at most a short header timeout); more
/// than this are closed without an answer, so a flood cannot grow the helper either.
const REFUSALS_ANSWERED: usize = 64;
/// How long shutdown waits for open requests to finish.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting, lets open requests finish (at most [`DRAIN`]) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let cap = memory::raise_fd_limit_for(limits.max_connections);
    if cap < limits.max_connections {
        tracing::warn!(
            cap,
            asked = limits.max_connections,
            "the open-file limit allows fewer connections than configured"
        );
    }
    let server = Arc::new(connection::Server::new(app, limits, cap));
    let slots = Arc::new(Semaphore::new(cap));
    let refusals = Arc::new(Semaphore::new(REFUSALS_ANSWERED));
    let stopping = CancellationToken::new();
    let refusing = AtomicBool::new(false);
    let waiting = Arc::new(waiting::Waiting::default());
    let memory = Arc::new(memory::Trimmer::default());
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or the peer gave up before accept: wait a
                    // little instead of spinning.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                if refusing.swap(false, Ordering::Relaxed) {
                    tracing::info!("below the connection limit again");
                }
                Some(slot)
            }
            Err(_) => {
                if !refusing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        cap,
                        "connection limit reached; closing the connections that have waited \
                         longest for a request, refusing when every one has a request in flight"
                    );
                }
                if !waiting.close_longest_waiting() {
                    if let Ok(answer) = refusals.clone().try_acquire_owned() {
                        let server = server.clone();
                        tokio::spawn(async move {
                            server.refuse(stream).await;
                            drop(answer);
                        });
                    }
                    continue;
                }
                // The closed connection's slot comes back as soon as its task ends.
                None
            }
        };
        let (server, stop, memory) = (server.clone(), stopping.clone(), memory.clone());
        let (slots, waiting) = (slots.clone(), waiting.clone());
        tokio::spawn(async move {
            let slot = match slot {
                Some(slot) => slot,
                None => match slots.acquire_owned().await {
                    Ok(slot) => slot,
                    Err(_) => return,
                },
            };
            memory.opened();
            server.serve(stream, waiting.open(), stop).await;
            drop(slot);
            memory.closed();
        });
    }
    drop(listener);
    stopping.cancel();
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after {DRAIN:?}; stopping anyway");
    }
}
