//! The contract's client: requests built by hand (reqwest, `serde_json::Value`, or raw bytes
//! on a TCP socket where reqwest would fix them), and every answer checked against the
//! OpenAPI document before a flow looks at it.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::schema::spec;

/// A server of the contract (the helper, or the edge) and the bearer token it takes.
pub struct Api {
    origin: String,
    addr: SocketAddr,
    token: String,
    http: reqwest::Client,
}

/// An answer, as a strict client sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub allow: Option<String>,
    pub text: String,
    /// The body as JSON (`null` when it is not JSON).
    pub json: Value,
}

impl std::ops::Index<&str> for Answer {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        &self.json[key]
    }
}

/// What a request sends as its body.
pub enum Body {
    None,
    /// JSON as the seed's snippets send it: `fetch` with `body: JSON.stringify(…)` and no
    /// headers, so `Content-Type: text/plain;charset=UTF-8`.
    Json(Value),
    /// Bytes with the given Content-Type, or none.
    Raw(Vec<u8>, Option<&'static str>),
}

impl Api {
    /// `origin` is `http://127.0.0.1:PORT`.
    pub fn new(origin: &str, token: &str) -> Api {
        let addr = origin
            .strip_prefix("http://")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("not a loopback origin: {origin}"));
        Api {
            origin: origin.to_owned(),
            addr,
            token: token.to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A call as the seed's frontend makes it, with the bearer token; a JSON body is first
    /// checked against the operation's request schema, so the client itself keeps to the
    /// document. Panics unless the answer is one the document allows.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        if let (Some(body), Some(op)) = (&body, spec().operation(method, path))
            && let Some(schema) = spec().request_schema(&op)
            && let Err(e) = spec().validate(schema, body)
        {
            panic!("the test's own {method} {path} body breaks the document: {e}");
        }
        self.authed(method, path, body.map_or(Body::None, Body::Json))
            .await
    }

    /// Any body, with the bearer token.
    pub async fn authed(&self, method: &str, path: &str, body: Body) -> Answer {
        self.send(method, path, body, &[("authorization", &self.bearer())])
            .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(body)).await
    }

    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }

    /// Any request, with exactly `headers`; the answer checked against the document.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Body,
        headers: &[(&str, &str)],
    ) -> Answer {
        let method_ = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method_, format!("{}{path}", self.origin));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req
                .header("content-type", "text/plain;charset=UTF-8")
                .body(v.to_string()),
            Body::Raw(bytes, Some(ct)) => req.header("content-type", ct).body(bytes),
            Body::Raw(bytes, None) => req.body(bytes),
        };
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (status, content_type, allow) = (
            res.status().as_u16(),
            header("content-type").unwrap_or_default(),
            header("allow"),
        );
        let text = res.text().await.unwrap_or_default();
        let answer = Answer::new(status, content_type, allow, text);
        answer.conforms(method, path);
        answer
    }

    /// Writes `head` (a request line and headers, no final blank line: `Host`, the token
    /// and `Connection: close` are added) and `body` on a fresh connection, as bytes: for
    /// what an HTTP library would refuse to send (a path that is not UTF-8, a huge head).
    /// The answer is checked against the document for `method path_for_doc`.
    pub async fn raw(&self, head: &[u8], body: &[u8], method: &str, path_for_doc: &str) -> Answer {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let mut request = head.to_vec();
        request.extend_from_slice(
            format!(
                "\r\nhost: {}\r\nauthorization: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                self.addr,
                self.bearer(),
                body.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(body);
        // A server may answer and close before it has read everything (a 431 after the
        // first 16 KiB): what it wrote still counts.
        let _ = stream.write_all(&request).await;
        // Read until the answer is whole (some servers keep the connection a while after it).
        let mut raw = Vec::new();
        let whole = async {
            let mut chunk = [0u8; 16 * 1024];
            loop {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return Answer::parse(&raw, true),
                    Ok(n) => raw.extend_from_slice(&chunk[..n]),
                }
                if let Some(answer) = Answer::parse(&raw, false) {
                    return Some(answer);
                }
            }
        };
        let answer = tokio::time::timeout(Duration::from_secs(30), whole)
            .await
            .expect("the server answers a raw request in time")
            .unwrap_or_else(|| panic!("{method} {path_for_doc}: not an HTTP answer"));
        answer.conforms(method, path_for_doc);
        answer
    }
}

impl Answer {
    fn new(status: u16, content_type: String, allow: Option<String>, text: String) -> Answer {
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            allow,
            text,
            json,
        }
    }

    /// An HTTP/1.1 answer read off a socket (`Content-Length`, chunked, or up to the end of
    /// the connection when `closed`); `None` while it is not whole.
    fn parse(raw: &[u8], closed: bool) -> Option<Answer> {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = std::str::from_utf8(&raw[..split]).ok()?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let mut headers = std::collections::HashMap::new();
        for line in lines {
            let (k, v) = line.split_once(':')?;
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
        let mut body = &raw[split + 4..];
        let mut decoded = Vec::new();
        if headers
            .get("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let end = body.windows(2).position(|w| w == b"\r\n")?;
                let size = std::str::from_utf8(&body[..end]).ok()?;
                let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
                if size == 0 {
                    break;
                }
                decoded.extend_from_slice(body.get(end + 2..end + 2 + size)?);
                body = body.get(end + 4 + size..)?;
            }
            body = &decoded;
        } else if let Some(len) = headers.get("content-length") {
            body = body.get(..len.parse().ok()?)?;
        } else if !closed {
            return None;
        }
        Some(Answer::new(
            status,
            headers.get("content-type").cloned().unwrap_or_default(),
            headers.get("allow").cloned(),
            String::from_utf8_lossy(body).into_owned(),
        ))
    }

    /// Panics unless the document allows this answer to `method path`: a status it lists
    /// for the operation (or, for a request that reached none, one of its shared error
    /// responses), the media type it names, a body valid against its schema, an error code
    /// that is the one the document gives that status, and a 405 that says what is allowed.
    fn conforms(&self, method: &str, path: &str) {
        let spec = spec();
        let what = format!("{method} {path} → {} {}", self.status, self.text);
        let op = spec.operation(method, path);
        let response = match &op {
            Some(op) => spec.response(op, self.status).unwrap_or_else(|| {
                panic!(
                    "{what}: the document lists no {} for {}",
                    self.status, op.template
                )
            }),
            None => {
                assert!(
                    self.status >= 400,
                    "{what}: a success for a route the document does not have"
                );
                spec.shared_response(self.status)
                    .unwrap_or_else(|| panic!("{what}: the document has no Error{}", self.status))
            }
        };
        match response.get("content").and_then(Value::as_object) {
            None => assert!(self.text.is_empty(), "{what}: the document says no body"),
            Some(content) => {
                let (media, media_type) = content.iter().next().expect("a media type");
                assert!(
                    self.content_type.starts_with(media.as_str()),
                    "{what}: Content-Type {:?}, the document says {media}",
                    self.content_type
                );
                if let Some(schema) = media_type.get("schema") {
                    assert!(!self.json.is_null(), "{what}: not JSON");
                    if let Err(e) = spec.validate(schema, &self.json) {
                        panic!("{what}: not what the document says: {e}");
                    }
                }
                if self.status >= 400 && media == "application/json" {
                    let code = &media_type["example"]["error"];
                    assert_eq!(&self["error"], code, "{what}: the document's code for it");
                }
            }
        }
        if self.status == 405 {
            let allow = self
                .allow
                .as_deref()
                .unwrap_or_else(|| panic!("{what}: no Allow"));
            let allowed: Vec<&str> = allow.split(',').map(str::trim).collect();
            assert!(!allowed.contains(&method), "{what}: Allow: {allow}");
            for documented in spec.methods(path) {
                assert!(
                    allowed.contains(&documented.as_str()),
                    "{what}: Allow: {allow}"
                );
            }
        }
    }

    /// The one error shape, with a message a person can act on.
    pub fn assert_error(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self["ok"], false, "{}", self.text);
        assert!(self["error"].is_string(), "{}", self.text);
        let message = self["message"].as_str().unwrap_or_default();
        assert!(
            message.len() > 10,
            "no message that says what to do: {}",
            self.text
        );
    }
}
