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

/// Every kind of malformed request to a server of the contract, each answered with `status`
/// and the error shape. `json_routes` are POST routes that take a JSON body whose `field` is
/// a string; `wrong_methods` are (method, path) pairs the document does not have.
struct Hostile<'a> {
    api: &'a Api,
    /// A POST route, its string field, and a well-formed body for it.
    post: (&'a str, &'a str),
    wrong_methods: &'a [(&'a str, &'a str)],
    unknown: &'a [&'a str],
    /// A route with a path parameter, as `prefix` + segment.
    parameter_prefix: &'a str,
    /// Whether the server reads the route with its parameter, or refuses it as unknown.
    raw_prefix_method: &'a str,
}

impl Hostile<'_> {
    async fn run(&self) {
        let api = self.api;
        let (post, field) = self.post;
        let sent = |body: Body| api.authed("POST", post, body);

        // Bad JSON, whatever the Content-Type.
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
        // Wrong types and missing fields.
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
        // A body over 64 KiB.
        let big = json!({ field: "x".repeat(70 * 1024) });
        sent(Body::Json(big)).await.assert_error(413);

        // Unknown routes, and methods the route does not take (405 with Allow, checked by
        // the client against the document's methods for the path).
        for path in self.unknown {
            api.authed("GET", path, Body::None).await.assert_error(404);
        }
        for (method, path) in self.wrong_methods {
            api.authed(method, path, Body::None).await.assert_error(405);
        }

        // A path segment that is not UTF-8: percent-encoded, and as raw bytes on the wire.
        let method = self.raw_prefix_method;
        for segment in ["%FF", "%FF%FE", "a%C3%28b"] {
            let path = format!("{}{segment}", self.parameter_prefix);
            assert_4xx_error(&api.authed(method, &path, Body::None).await);
        }
        let mut head = format!("{method} {}", self.parameter_prefix).into_bytes();
        head.extend_from_slice(b"\xff\xfe HTTP/1.1");
        let path = format!("{}x", self.parameter_prefix);
        assert_4xx_error(&api.raw(&head, b"", method, &path).await);

        // An over-long URI and oversized headers.
        let long = format!("GET {post}?q={} HTTP/1.1", "a".repeat(12 * 1024));
        api.raw(long.as_bytes(), b"", "GET", post)
            .await
            .assert_error(414);
        let mut head = format!("GET {post} HTTP/1.1").into_bytes();
        for i in 0..64 {
            head.extend_from_slice(format!("\r\nx-filler-{i}: {}", "h".repeat(1024)).as_bytes());
        }
        api.raw(&head, b"", "GET", post).await.assert_error(431);

        // No token, a wrong token.
        for auth in [None, Some("Bearer wrong-token-0123456789")] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| ("authorization", a)).into_iter().collect();
            let a = api
                .send("POST", post, Body::Json(json!({ field: "x" })), &headers)
                .await;
            a.assert_error(401);
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
    for post in [
        ("/api/connectors/gdrive/remotes", "name"),
        ("/api/connectors/github/token", "token"),
        ("/api/connectors/manus/token", "token"),
        ("/api/connectors/github/cli/poll", "session_id"),
    ] {
        Hostile {
            api: &api,
            post,
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
            raw_prefix_method: "GET",
        }
        .run()
        .await;
    }
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
    for post in [
        ("/api/connectors/vercel/token", "token"),
        ("/api/connectors/vercel/oauth/exchange", "state"),
    ] {
        Hostile {
            api: &api,
            post,
            wrong_methods: &[
                ("GET", "/api/connectors/vercel/token"),
                ("DELETE", "/api/connectors/vercel/status"),
                ("POST", "/callback"),
                ("POST", "/.well-known/oauth-protected-resource"),
                ("POST", "/.well-known/oauth-authorization-server"),
            ],
            unknown: &["/api/nope", "/api/connectors/vercel/nope"],
            parameter_prefix: "/api/connectors/vercel/",
            raw_prefix_method: "GET",
        }
        .run()
        .await;
    }
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
