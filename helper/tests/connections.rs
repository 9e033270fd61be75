//! The connection level (`engine::server`) on a real socket: stalled and oversized clients
//! are cut off, and every refusal, hyper's own included, has the JSON error shape.
//!
//! These check behaviour, not speed: deadlines are generous and only bound how long a test
//! may wait. The figures under load are `cargo xtask bench --only hostile`'s.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{TOKEN, TestApp};
use patchbay_helper::app;
use patchbay_helper::engine::server::{self, Limits};

struct Served {
    addr: SocketAddr,
    _app: TestApp,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    /// The whole app behind `engine::server::serve`, with `limits`.
    async fn start(limits: Limits) -> Served {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let test_app = TestApp::new(|c| {
            c.listen = addr;
            c.limits = limits;
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = app(test_app.state.clone());
        let done = tokio::spawn(server::serve(listener, router, limits, async move {
            let _ = stopped.await;
        }));
        Served {
            addr,
            _app: test_app,
            stop: Some(stop),
            done: Some(done),
        }
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    fn get(&self, path: &str, auth: bool) -> String {
        let auth = if auth {
            format!("Authorization: Bearer {TOKEN}\r\n")
        } else {
            String::new()
        };
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n",
            self.addr
        );
        exchange(&mut self.connect(), request.as_bytes())
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(15), self.done.take().unwrap())
            .await
            .expect("the server stops")
            .unwrap();
    }
}

fn quick() -> Limits {
    Limits {
        header_read_timeout: Duration::from_millis(600),
        ..Limits::default()
    }
}

/// Sends `bytes`, then reads until the server closes the connection.
fn exchange(s: &mut TcpStream, bytes: &[u8]) -> String {
    // A server that refuses early may reset before everything was written.
    let _ = s.write_all(bytes);
    read_all(s)
}

fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("no end within the read timeout: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status and the JSON body of one response.
fn parse(response: &str) -> (u16, serde_json::Value) {
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or_default())
}

fn assert_error_shape(response: &str, status: u16, code: &str) {
    let (got, body) = parse(response);
    assert_eq!(got, status, "{response}");
    assert_eq!(body["ok"], false, "{response}");
    assert_eq!(body["error"], code, "{response}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.ends_with('.') && message.len() > 20, "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{response}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_head_and_an_idle_kept_alive_connection_are_closed_after_the_timeout() {
    let served = Served::start(quick()).await;
    let addr = served.addr;
    tokio::task::spawn_blocking(move || {
        // Half a request head, then nothing: closed without an answer.
        let mut stalled = TcpStream::connect(addr).unwrap();
        stalled
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let started = Instant::now();
        let answer = exchange(&mut stalled, b"GET /api/health HTTP/1.1\r\nHost: 127");
        assert_eq!(answer, "", "a stalled head was answered");
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "closed too early"
        );

        // Nothing at all: the same.
        let mut silent = TcpStream::connect(addr).unwrap();
        silent
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(read_all(&mut silent), "");

        // A kept-alive connection after its answer: closed once idle that long.
        let mut kept = TcpStream::connect(addr).unwrap();
        kept.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        kept.write_all(request.as_bytes()).unwrap();
        let answer = read_all(&mut kept);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(answer.matches("HTTP/1.1").count(), 1, "{answer}");
    })
    .await
    .unwrap();
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_stops_arriving_ends_the_request() {
    let served = Served::start(quick()).await;
    let addr = served.addr;
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let head = format!(
            "POST /api/connectors/manus/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: \
             Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n\
             {{\"token\": "
        );
        let started = Instant::now();
        let answer = exchange(&mut s, head.as_bytes());
        assert_error_shape(&answer, 400, "bad_request");
        assert!(answer.contains("could not be read"), "{answer}");
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "answered too early"
        );
    })
    .await
    .unwrap();
    served.stop().await;
}

/// Whether the server has closed `s` (a read sees the end or a reset, not "nothing yet").
fn closed_by_server(s: &mut TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        other => panic!("a stalled connection was answered: {other:?}"),
    }
}

/// `max_connections` with timeouts long enough that only the cap closes anything.
fn capped(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        header_read_timeout: Duration::from_secs(30),
        ..Limits::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_cap_the_longest_stalled_connection_makes_room_for_a_new_one() {
    let served = Served::start(capped(3)).await;
    let addr = served.addr;
    tokio::task::spawn_blocking(move || {
        // A full table of stalled heads, the first one oldest.
        let mut stalled: Vec<TcpStream> = (0..3)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127")
                    .unwrap();
                std::thread::sleep(Duration::from_millis(50));
                s
            })
            .collect();
        let ok = served_get(addr, "/api/health");
        assert!(
            ok.starts_with("HTTP/1.1 200"),
            "the newcomer was refused: {ok}"
        );
        assert!(
            closed_by_server(&mut stalled[0]),
            "the oldest stalled one is still open"
        );
        for (i, s) in stalled.iter_mut().enumerate().skip(1) {
            assert!(
                !closed_by_server(s),
                "stalled connection {i} was closed too"
            );
        }
    })
    .await
    .unwrap();
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cap_refuses_with_a_503_when_every_connection_has_a_request_in_flight() {
    let served = Served::start(capped(3)).await;
    let addr = served.addr;
    tokio::task::spawn_blocking(move || {
        // Each one's request is being answered: its body is still on its way.
        let head = format!(
            "POST /api/connectors/manus/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: \
             Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n\
             {{\"token\": "
        );
        let held: Vec<TcpStream> = (0..3)
            .map(|_| {
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(head.as_bytes()).unwrap();
                s
            })
            .collect();
        // Let the server read their heads before the fourth arrives.
        std::thread::sleep(Duration::from_millis(200));
        let mut fourth = TcpStream::connect(addr).unwrap();
        fourth
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let request = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        let answer = exchange(&mut fourth, request.as_bytes());
        assert_error_shape(&answer, 503, "unavailable");
        assert!(
            answer.contains("(3)"),
            "the message names the cap: {answer}"
        );
        drop(held);
        // Slots come back as connections close.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !served_get(addr, "/api/health").starts_with("HTTP/1.1 200") {
            assert!(Instant::now() < deadline, "the cap never freed up");
            std::thread::sleep(Duration::from_millis(50));
        }
    })
    .await
    .unwrap();
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_heads_long_uris_and_garbage_get_the_json_shape() {
    let served = Served::start(Limits::default()).await;
    let addr = served.addr;
    tokio::task::spawn_blocking(move || {
        let head = |extra: &str| {
            format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n")
        };
        // Over the cap but within hyper's buffer, and far beyond it (the 390 KB of the probe).
        for size in [20 * 1024, 400 * 1024] {
            let big = head(&format!("X-Big: {}\r\n", "a".repeat(size)));
            let answer = exchange(&mut TcpStream::connect(addr).unwrap(), big.as_bytes());
            assert_error_shape(&answer, 431, "headers_too_large");
        }
        let many: String = (0..120).map(|i| format!("X-{i}: 1\r\n")).collect();
        let answer = exchange(
            &mut TcpStream::connect(addr).unwrap(),
            head(&many).as_bytes(),
        );
        assert_error_shape(&answer, 431, "headers_too_large");

        let long = format!("/api/health?x={}", "y".repeat(9 * 1024));
        assert_error_shape(&served_get(addr, &long), 414, "uri_too_long");

        for garbage in [
            &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost 127\r\n\r\n",
        ] {
            let answer = exchange(&mut TcpStream::connect(addr).unwrap(), garbage);
            assert_error_shape(&answer, 400, "bad_request");
        }

        // And ordinary requests still work, on the same server.
        let ok = served_get(addr, "/api/health");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    })
    .await
    .unwrap();
    served.stop().await;
}

fn served_get(addr: SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    exchange(&mut s, request.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_front_door_still_stands_behind_the_limits() {
    let served = Served::start(Limits::default()).await;
    let answer = tokio::task::block_in_place(|| served.get("/api/connectors", false));
    assert_error_shape(&answer, 401, "unauthorized");
    let answer = tokio::task::block_in_place(|| served.get("/api/connectors", true));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_lets_an_open_request_finish() {
    let served = Served::start(Limits::default()).await;
    let addr = served.addr;
    let (sent_head, head_sent) = std::sync::mpsc::channel();
    let (go_on, may_go_on) = std::sync::mpsc::channel::<()>();
    let client = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let body = r#"{"token": "mk_live_123456"}"#;
        let head = format!(
            "POST /api/connectors/manus/token HTTP/1.1\r\nHost: {addr}\r\nAuthorization: \
             Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        sent_head.send(()).unwrap();
        // The rest of the request arrives after shutdown has begun.
        may_go_on.recv().unwrap();
        exchange(&mut s, body.as_bytes())
    });
    tokio::task::block_in_place(|| head_sent.recv().unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(served.stop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    go_on.send(()).unwrap();
    let answer = client.await.unwrap();
    // Manus is unreachable in tests (127.0.0.1:9): the handler ran to its end.
    assert_error_shape(&answer, 502, "upstream");
    stopping.await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_accept_queue_holds_a_flood_that_arrives_faster_than_it_is_accepted() {
    // Nothing accepts: every connection waits in the kernel's queue, as a flood's do while
    // the helper is busy. tokio's own bind (backlog 128) drops the SYNs past it. 600 is
    // well past 128 and stays under the usual soft limit of 1,024 open files.
    const QUEUED: usize = 600;
    let listener = server::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .expect("Linux's somaxconn")
        .trim()
        .parse()
        .unwrap();
    let fits = somaxconn.min(server::ACCEPT_BACKLOG as usize);
    assert!(
        fits > QUEUED,
        "net.core.somaxconn is {somaxconn}: the test needs more than {QUEUED}"
    );
    tokio::task::spawn_blocking(move || {
        let held: Vec<TcpStream> = (0..QUEUED)
            .map(|i| {
                TcpStream::connect_timeout(&addr, Duration::from_millis(500))
                    .unwrap_or_else(|e| panic!("connection {i} was not queued: {e}"))
            })
            .collect();
        assert_eq!(held.len(), QUEUED);
    })
    .await
    .unwrap();
    drop(listener);
}
