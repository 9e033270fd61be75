//! `patchbay mcp` against an authorization server this project did not write: panva's
//! oidc-provider (npm), which publishes only OpenID Connect discovery, registers clients
//! dynamically (refusing loopback redirects unless the client says it is `native`), needs
//! PKCE S256, issues resource-bound tokens (RFC 8707), rotates refresh tokens and revokes
//! (RFC 7009).

use std::collections::BTreeMap;

use patchbay_testkit::rigs::OidcProvider;
use serde_json::{Value, json};

use crate::harness::{browser_http, port_53682};
use crate::mcp::{Cli, land, run, text};

/// The person's browser through the provider's consent: follows redirects (keeping its
/// cookies, as a browser does) until one points at Patchbay's listener.
async fn through_consent(start: &str, issuer: &str) -> String {
    let browser = browser_http();
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    let mut url = start.to_owned();
    for _ in 0..10 {
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let r = browser
            .get(&url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        for c in r.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                jar.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
        let status = r.status();
        let Some(location) = r
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
        else {
            panic!(
                "{url} answered {status}: {}",
                r.text().await.unwrap_or_default()
            );
        };
        if location.starts_with("http://127.0.0.1:53682/") {
            return location;
        }
        url = if location.starts_with('/') {
            format!("{issuer}{location}")
        } else {
            location
        };
    }
    panic!("the provider never sent the browser back to Patchbay");
}

async fn sign_in(data: &std::path::Path, op: &OidcProvider) {
    let mut login = Cli::start(data, &["login", &op.mcp_url()]);
    let prefix = format!("{}/auth?", op.issuer());
    let auth_url = login.wait_for(|l| l.trim().starts_with(&prefix).then(|| l.trim().to_owned()));
    assert!(auth_url.contains("resource="), "{auth_url}");
    assert!(
        auth_url.contains("code_challenge_method=S256"),
        "{auth_url}"
    );
    let location = through_consent(&auth_url, &op.issuer()).await;
    assert_eq!(land(&location).await, 200);
    let (ok, out) = login.finish();
    assert!(ok, "{out}\n--- oidc-provider ---\n{}", op.output());
}

fn stored(data: &std::path::Path, url: &str) -> Value {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("mcp-tokens.json")).unwrap())
            .unwrap();
    v[url].clone()
}

#[tokio::test]
async fn signs_in_calls_refreshes_and_revokes_at_oidc_provider() {
    let _port = port_53682();
    let op = OidcProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = op.mcp_url();
    sign_in(data, &op).await;
    let entry = stored(data, &url);
    assert_eq!(entry["issuer"], op.issuer());
    assert!(entry["refresh_token"].is_string(), "{entry}");

    let o = run(
        data,
        &["call", &url, "echo", r#"{"text":"via oidc-provider"}"#],
    );
    assert!(o.status.success(), "{}\n{}", text(&o), op.output());
    assert!(text(&o).contains("via oidc-provider"));

    // Refresh (with rotation) when the stored token looks expired.
    let path = data.join("mcp-tokens.json");
    let mut all: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    all[&url]["expires_at"] = json!(1);
    std::fs::write(&path, serde_json::to_vec(&all).unwrap()).unwrap();
    let o = run(data, &["tools", &url]);
    assert!(o.status.success(), "{}\n{}", text(&o), op.output());
    let after = stored(data, &url);
    assert_ne!(after["token"], entry["token"]);
    assert_ne!(
        after["refresh_token"], entry["refresh_token"],
        "oidc-provider rotates"
    );

    // Sign-out revokes: the old access token no longer opens the MCP endpoint.
    let old = after["token"].as_str().unwrap().to_owned();
    let o = run(data, &["logout", &url]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("revoked"), "{}", text(&o));
    let r = browser_http()
        .post(&url)
        .bearer_auth(&old)
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a revoked token still works");
}
