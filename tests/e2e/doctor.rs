//! `patchbay doctor` against the real edge under `wrangler dev` (workerd, local D1): a
//! migrated edge with the right bearer passes all three edge lines; a wrong bearer, an edge
//! without its D1 tables, no edge at all and a server that is not an edge each fail with
//! their fix. `wrangler dev` sends no `Date` header (Cloudflare adds one in front of a
//! deployed Worker), so the clock is compared against a server that does.

use std::process::Command;

use patchbay_testkit::process::free_port;
use serde_json::Value;

use crate::harness::{Edge, VercelEdge, patchbay_bin};

/// `patchbay doctor --json` with only this edge configured, in a temporary HOME: its exit
/// status and checks by id.
fn doctor(edge_url: &str, token: &str) -> (bool, Vec<Value>) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(patchbay_bin())
        .args(["doctor", "--json"])
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("PATCHBAY_LISTEN", format!("127.0.0.1:{}", free_port()))
        .env("PATCHBAY_EDGE_URL", edge_url)
        .env("PATCHBAY_EDGE_TOKEN", token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(token),
        "doctor printed the edge token:\n{stdout}"
    );
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["ok"], out.status.success());
    (
        out.status.success(),
        report["checks"].as_array().unwrap().clone(),
    )
}

/// `(status, fix)` of check `id`, or `None` when it was not reported.
fn check<'a>(checks: &'a [Value], id: &str) -> Option<(&'a str, &'a str)> {
    let c = checks.iter().find(|c| c["id"] == id)?;
    Some((
        c["status"].as_str().unwrap(),
        c["fix"].as_str().unwrap_or(""),
    ))
}

#[test]
fn the_edge_is_reachable_accepts_the_bearer_and_is_migrated_or_says_what_to_fix() {
    let vercel = VercelEdge::start(&[]);
    let origin = vercel.edge.origin();

    let (_, checks) = doctor(&origin, VercelEdge::TOKEN);
    for id in ["edge", "edge-bearer", "edge-d1"] {
        assert_eq!(
            check(&checks, id).map(|c| c.0),
            Some("ok"),
            "{id}: {checks:#?}"
        );
    }
    assert_eq!(check(&checks, "clock").unwrap().0, "info", "{checks:#?}");

    // The fake Vercel answers as any HTTP server does, with a Date header, and not as an
    // edge: the clock is compared, the API is not Patchbay's.
    let (ok, checks) = doctor(&vercel.server.url(), VercelEdge::TOKEN);
    assert!(!ok);
    assert_eq!(check(&checks, "clock").unwrap().0, "ok", "{checks:#?}");
    let (status, fix) = check(&checks, "edge-api").unwrap();
    assert_eq!(status, "fail");
    assert!(fix.contains("PATCHBAY_EDGE_URL"), "{fix}");

    let (ok, checks) = doctor(&origin, "not-the-edge-token-0123456789");
    assert!(!ok);
    assert_eq!(check(&checks, "edge").unwrap().0, "ok");
    let (status, fix) = check(&checks, "edge-bearer").unwrap();
    assert_eq!(status, "fail");
    assert!(fix.contains("PATCHBAY_EDGE_TOKEN"), "{fix}");
    assert_eq!(
        check(&checks, "edge-d1"),
        None,
        "D1 cannot be told without the bearer"
    );

    let (ok, checks) = doctor(
        &format!("http://127.0.0.1:{}", free_port()),
        VercelEdge::TOKEN,
    );
    assert!(!ok);
    let (status, fix) = check(&checks, "edge").unwrap();
    assert_eq!(status, "fail");
    assert!(fix.contains("wrangler dev"), "{fix}");
}

#[test]
fn an_edge_without_its_d1_tables_is_told_to_apply_the_migrations() {
    let edge = Edge::builder()
        .secret("PATCHBAY_EDGE_TOKEN", VercelEdge::TOKEN)
        .secret("PATCHBAY_ENCRYPTION_KEY", VercelEdge::KEY)
        .without_migrations()
        .start();
    let (ok, checks) = doctor(&edge.origin(), VercelEdge::TOKEN);
    assert!(!ok);
    assert_eq!(check(&checks, "edge-bearer").unwrap().0, "ok");
    let (status, fix) = check(&checks, "edge-d1").unwrap();
    assert_eq!(status, "fail", "{checks:#?}");
    assert_eq!(
        fix,
        "in edge/: npx wrangler d1 migrations apply DB --remote"
    );
}
