//! Running a fake outside service on loopback.

use std::net::SocketAddr;

use axum::Router;

/// A fake service listening on 127.0.0.1 on its own thread and runtime, so both async tests
/// and plain `#[test]`s (and child processes like rclone or gh) can reach it. Stops on drop.
pub struct FakeServer {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    /// Serves `router` on a free loopback port.
    pub fn start(router: Router) -> FakeServer {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("fake server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind fake server");
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                // Not a graceful shutdown: a client's idle keep-alive connection must not
                // keep a finished test waiting. Dropping the runtime cancels everything.
                tokio::select! {
                    _ = axum::serve(listener, router) => {}
                    _ = shutdown_rx => {}
                }
            });
        });
        let addr = addr_rx.recv().expect("fake server started");
        FakeServer {
            addr,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How a fake service behaves right now; tests flip it to see outages handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// 403 with `x-ratelimit-remaining: 0` (GitHub's style) or 429 (`Retry-After`).
    RateLimited,
    /// 500 on every request.
    Broken,
}

/// The answer of a service in `mode`, or `None` when it behaves normally.
pub fn trouble_response(mode: Mode, rate_limit_status: u16) -> Option<axum::response::Response> {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    match mode {
        Mode::Normal => None,
        Mode::RateLimited => {
            let reset = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() + 60)
                .unwrap_or(0);
            let status = StatusCode::from_u16(rate_limit_status).unwrap_or(StatusCode::FORBIDDEN);
            Some(
                (
                    status,
                    [
                        ("x-ratelimit-remaining", "0".to_owned()),
                        ("x-ratelimit-reset", reset.to_string()),
                        ("retry-after", "60".to_owned()),
                    ],
                    axum::Json(serde_json::json!({"message": "API rate limit exceeded"})),
                )
                    .into_response(),
            )
        }
        Mode::Broken => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(serde_json::json!({"message": "Server Error"})),
            )
                .into_response(),
        ),
    }
}

/// `GET url` on loopback, the way a fake server fetches something a test serves (a client
/// metadata document): HTTP/1.0, so the answer is never chunked and ends with the
/// connection. Its status and body.
pub async fn loopback_get(url: &str) -> Result<(u16, Vec<u8>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only plain-http loopback URLs here, not {url}"))?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let local = host.starts_with("127.0.0.1:") || host.starts_with("localhost:");
    if !local {
        return Err(format!("{host} is not loopback"));
    }
    let path = if path.is_empty() { "/" } else { path };
    let work = async {
        let mut s = tokio::net::TcpStream::connect(host.replace("localhost", "127.0.0.1"))
            .await
            .map_err(|e| format!("connect {host}: {e}"))?;
        let request =
            format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\r\n");
        s.write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no HTTP head in the answer")?;
        let head = String::from_utf8_lossy(&raw[..end]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status in the answer")?;
        Ok((status, raw[end + 4..].to_vec()))
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), work)
        .await
        .map_err(|_| format!("{url} did not answer in 10 s"))?
}
