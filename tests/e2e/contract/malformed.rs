//! Hostile requests, against one helper and one edge: each must be a 4xx with the one error
//! shape `{"ok": false, "error", "message"}` the document describes, and change nothing.

use serde_json::{Value, json};

use super::client::{Answer, Api, Body};
use crate::harness::{VercelEdge, helper};

/// What a request could change, read through the API.
async fn state(api: &Api, reads: &[&str]) -> Vec<Value> {
    let mut all = Vec::new();
    for path in reads {
        let a = api.get(path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        all.push(a.json);
    }
    all
}

/// The bodies a POST route that takes a string `field` must refuse with a 400 (bad JSON,
/// whatever the Content-Type; wrong types; missing fields), 413 (over 64 KiB) or 401 (no
/// or a wrong token).
async fn bad_bodies(api: &Api, post: &str, field: &str) {
    let sent = |body: Body| api.authed("POST", post, body);
    for (bytes, ct) in [
        (&b"{\"name\": "[..], Some("application/json")),
        (b"not json", Some("application/json")),
        (b"{\"name\": \"x\"", Some("text/plain")),
        (b"", Some("application/json")),
        (b"[1, 2]", None),
        (b"\xff\xfe{}", Some("application/json")),
    ] {
        sent(Body::Raw(bytes.to_vec(), ct)).await.assert_error(400);
    }
    for body in [
        json!({ field: 5 }),
        json!({ field: null }),
        json!({ field: ["x"] }),
        json!({ field: {"x": 1} }),
        json!({}),
        json!("just a string"),
        json!(42),
    ] {
        sent(Body::Json(body)).await.assert_error(400);
    }
    let big = json!({ field: "x".repeat(70 * 1024) });
    sent(Body::Json(big)).await.assert_error(413);
    for auth in [None, Some("Bearer wrong-token-0123456789")] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let a = api
            .send("POST", post, Body::Json(json!({ field: "x" })), &headers)
            .await;
        a.assert_error(401);
    }
}

/// Requests a server refuses before a route reads them.
struct Routing<'a> {
    /// (method, path) pairs the document does not have: 405 with `Allow`, checked by the
    /// client against the document's methods for the path.
    wrong_methods: &'a [(&'a str, &'a str)],
    /// Paths the document does not have: 404.
    unknown: &'a [&'a str],
    /// A GET route with a path parameter, as this prefix and the parameter.
    parameter_prefix: &'a str,
    /// GET routes that get a 12 KiB address (414) and 64 KiB of headers (431).
    heads: &'a [&'a str],
}

impl Routing<'_> {
    async fn refused_by(&self, api: &Api) {
        for path in self.unknown {
            api.authed("GET", path, Body::None).await.assert_error(404);
        }
        for (method, path) in self.wrong_methods {
            api.authed(method, path, Body::None).await.assert_error(405);
        }
        // A path segment that is not UTF-8: percent-encoded, and as raw bytes on the wire.
        for segment in ["%FF", "%FF%FE", "a%C3%28b"] {
            let path = format!("{}{segment}", self.parameter_prefix);
            assert_4xx_error(&api.authed("GET", &path, Body::None).await);
        }
        let mut head = format!("GET {}", self.parameter_prefix).into_bytes();
        head.extend_from_slice(b"\xff\xfe HTTP/1.1");
        let path = format!("{}x", self.parameter_prefix);
        assert_4xx_error(&api.raw(&head, b"", "GET", &path).await);
        for path in self.heads {
            let long = format!("GET {path}?q={} HTTP/1.1", "a".repeat(12 * 1024));
            api.raw(long.as_bytes(), b"", "GET", path)
                .await
                .assert_error(414);
            let mut head = format!("GET {path} HTTP/1.1").into_bytes();
            for i in 0..64 {
                let filler = format!("\r\nx-filler-{i}: {}", "h".repeat(1024));
                head.extend_from_slice(filler.as_bytes());
            }
            api.raw(&head, b"", "GET", path).await.assert_error(431);
        }
    }
}

/// A 4xx in the error shape (which 4xx a server gives a segment that is no text is its
/// choice: 400 or 404).
fn assert_4xx_error(a: &Answer) {
    assert!((400..500).contains(&a.status), "{} {}", a.status, a.text);
    a.assert_error(a.status);
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_malformed_requests_to_the_helper_change_nothing() {
    let helper = helper().start();
    let api = Api::new(&helper.origin(), &helper.token);
    let reads = [
        "/api/connectors/gdrive/remotes",
        "/api/connectors/onedrive/remotes",
        "/api/connectors/github/status",
        "/api/connectors/manus/status",
        "/api/connectors/mcp/servers",
    ];
    let before = state(&api, &reads).await;
    for (post, field) in [
        ("/api/connectors/gdrive/remotes", "name"),
        ("/api/connectors/github/token", "token"),
        ("/api/connectors/manus/token", "token"),
        ("/api/connectors/github/cli/poll", "session_id"),
    ] {
        bad_bodies(&api, post, field).await;
    }
    Routing {
        wrong_methods: &[
            ("PUT", "/api/connectors/gdrive/remotes"),
            ("GET", "/api/connectors/github/token"),
            ("DELETE", "/api/connectors/manus/status"),
            ("PATCH", "/api/connectors/onedrive/sessions/onedrive-x"),
            ("POST", "/api/health"),
        ],
        unknown: &[
            "/api/nope",
            "/api/connectors/dropbox/status",
            "/api/connectors/gdrive/remotes/x/y",
        ],
        parameter_prefix: "/api/connectors/gdrive/sessions/",
        heads: &["/api/connectors/gdrive/remotes", "/api/health"],
    }
    .refused_by(&api)
    .await;
    // The two routes without a token: the health check, and the document this client read.
    for path in ["/api/health", "/api/openapi.json"] {
        let a = api.send("GET", path, Body::None, &[]).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
    }
    let served = api.send("GET", "/api/openapi.json", Body::None, &[]).await;
    assert_eq!(
        served.json,
        super::schema::spec().doc,
        "the served document differs"
    );
    // A foreign page's Origin is refused too.
    let a = api
        .send(
            "POST",
            "/api/connectors/manus/token",
            Body::Json(json!({"token": "manus_x"})),
            &[
                ("authorization", &api.bearer()),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    a.assert_error(403);
    assert_eq!(
        state(&api, &reads).await,
        before,
        "a refused request changed something"
    );
    let files: Vec<_> = std::fs::read_dir(helper.data_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| n == "rclone.conf" || n == "mcp-tokens.json")
        .collect();
    assert_eq!(
        files,
        Vec::<std::ffi::OsString>::new(),
        "a refused request wrote a file"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn contract_malformed_requests_to_the_edge_change_nothing() {
    let vercel = VercelEdge::start(&[]);
    let api = Api::new(&vercel.edge.origin(), VercelEdge::TOKEN);
    let reads = ["/api/connectors/vercel/status"];
    let before = state(&api, &reads).await;
    for (post, field) in [
        ("/api/connectors/vercel/token", "token"),
        ("/api/connectors/vercel/oauth/exchange", "state"),
    ] {
        bad_bodies(&api, post, field).await;
    }
    Routing {
        wrong_methods: &[
            ("GET", "/api/connectors/vercel/token"),
            ("DELETE", "/api/connectors/vercel/status"),
            ("POST", "/callback"),
            ("POST", "/.well-known/oauth-protected-resource"),
            ("POST", "/.well-known/oauth-authorization-server"),
        ],
        unknown: &["/api/nope", "/api/connectors/vercel/nope"],
        parameter_prefix: "/api/connectors/vercel/",
        heads: &[
            "/api/connectors/vercel/status",
            "/callback",
            "/.well-known/oauth-protected-resource",
        ],
    }
    .refused_by(&api)
    .await;
    // The public redirect URI with what no sign-in issued: refused, as the document says.
    for query in [
        "",
        "?code=c&state=never-issued",
        "?error=access_denied&state=x",
    ] {
        let a = api
            .send("GET", &format!("/callback{query}"), Body::None, &[])
            .await;
        assert!((400..500).contains(&a.status), "{query}: {}", a.status);
        assert!(!a.text.contains("never-issued") && !a.text.contains("access_denied"));
    }
    assert_eq!(
        state(&api, &reads).await,
        before,
        "a refused request changed something"
    );
    assert_eq!(
        vercel.fake.counters().user_requests,
        0,
        "a refused request reached Vercel"
    );
}
