//! The request and response the router works with: only the parts it looks at, as plain
//! values, so every route runs natively in tests. The shim converts `worker::Request` and
//! `worker::Response` to and from these.

use serde::Serialize;

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
    /// Every other header the routes read (`origin`, `mcp-session-id`, …), names in lower case.
    pub headers: Vec<(String, String)>,
    /// The size of every header as sent (names and values, `authorization` and `cookie`
    /// included), for the 431.
    pub header_bytes: usize,
    pub body: Vec<u8>,
}

impl EdgeRequest {
    /// The token of `Authorization: Bearer <token>`, trimmed; `None` when absent or empty.
    pub fn bearer(&self) -> Option<&str> {
        self.authorization
            .as_deref()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// A header's value; `name` in lower case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
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
    /// A JSON answer that no cache keeps.
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

    /// A public metadata document: any origin may read it (CORS `*`) and caches may keep it
    /// for `max_age` seconds.
    pub fn public_json<T: Serialize>(value: &T, max_age: u32) -> Self {
        let mut response = Self::json(200, value);
        response.set_header("cache-control", format!("public, max-age={max_age}"));
        response.set_header("access-control-allow-origin", "*");
        response
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Replaces every header called `name` (compared as written: the edge names its
    /// headers in lower case).
    pub fn set_header(&mut self, name: &'static str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| *k != name);
        self.headers.push((name, value.into()));
    }
}
