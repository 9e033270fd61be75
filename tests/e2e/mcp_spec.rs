//! The MCP client's newer behaviours through the real `patchbay` binary: step-up at a
//! terminal (a real pty from `script`) and without one, sign-out that revokes, the device
//! flow, the headless proxy that signs in again by itself, client configs written with the
//! binary's absolute path, and Patchbay's Client ID Metadata Document served by the real
//! edge (`wrangler dev`) and fetched by the authorization server.

use std::path::Path;
use std::process::Command;

use patchbay_testkit::mcp::{ADMIN_SCOPE, FakeMcp};
use patchbay_testkit::process::{MachinePort, Running};
use serde_json::{Value, json};

use crate::harness::{Edge, patchbay_bin, port_53682};
use crate::mcp::{Cli, approve, cli_login, land, patchbay_mcp, printed_auth_url, run, text};

/// `patchbay mcp --data-dir DIR <args>` inside a pseudo-terminal (`script`), as a person
/// at a terminal runs it.
fn at_terminal(data_dir: &Path, args: &[&str]) -> Cli {
    let cmd = patchbay_mcp(data_dir, args);
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert!(line.iter().all(|a| !a.contains(['\'', ' '])), "{line:?}");
    let mut script = Command::new("script");
    script.args(["-qfec", &line.join(" "), "/dev/null"]);
    Cli(Running::start_with_stdin("patchbay mcp (pty)", script))
}

/// The port guard, a fake, and a data folder signed in to it through the CLI.
async fn signed_in() -> (MachinePort, FakeMcp, tempfile::TempDir) {
    let port = port_53682();
    let fake = FakeMcp::start();
    let dir = tempfile::tempdir().unwrap();
    cli_login(dir.path(), &fake).await;
    (port, fake, dir)
}

#[tokio::test]
async fn a_step_up_at_a_terminal_signs_in_again_and_retries_once() {
    let (_port, fake, dir) = signed_in().await;
    let data = dir.path();
    let url = fake.mcp_url();

    let mut call = at_terminal(data, &["call", &url, "admin"]);
    let auth_url = printed_auth_url(&mut call, &fake);
    assert!(auth_url.contains("mcp%3Aadmin"), "{auth_url}");
    land(&approve(&auth_url).await).await;
    let (ok, out) = call.finish();
    assert!(ok, "{out}");
    assert!(out.contains("admin done"), "{out}");
    assert!(
        out.contains(ADMIN_SCOPE),
        "the terminal was told why: {out}"
    );
    assert_eq!(fake.counters().insufficient_scope, 1);

    // A server that keeps refusing: one new sign-in, then a clear stop, no loop.
    fake.set_forbid_always(true);
    fake.reset_counters();
    let mut call = at_terminal(data, &["call", &url, "admin"]);
    let auth_url = printed_auth_url(&mut call, &fake);
    land(&approve(&auth_url).await).await;
    let (ok, out) = call.finish();
    assert!(!ok, "{out}");
    assert!(out.contains("still refused"), "{out}");
    let c = fake.counters();
    assert_eq!((c.insufficient_scope, c.authorizations), (2, 1), "{c:?}");
}

#[tokio::test]
async fn a_step_up_without_a_terminal_names_the_scope_and_a_later_login_asks_for_it() {
    let (_port, fake, dir) = signed_in().await;
    let data = dir.path();
    let url = fake.mcp_url();
    let o = run(data, &["call", &url, "admin"]);
    assert!(!o.status.success());
    let said = text(&o);
    assert!(said.contains(ADMIN_SCOPE), "{said}");
    assert!(
        said.contains(&format!("patchbay mcp login {url}")),
        "{said}"
    );
    assert_eq!(
        fake.counters().authorizations,
        1,
        "no sign-in without a terminal"
    );

    cli_login(data, &fake).await;
    let scope = fake.last_scope().unwrap();
    assert!(
        scope.contains(ADMIN_SCOPE) && scope.contains("mcp:tools"),
        "{scope}"
    );
    let o = run(data, &["call", &url, "admin"]);
    assert!(o.status.success(), "{}", text(&o));
}

#[tokio::test]
async fn logout_revokes_at_the_authorization_server_and_says_so() {
    let (_port, fake, dir) = signed_in().await;
    let data = dir.path();
    let o = run(data, &["logout", &fake.mcp_url()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("revoked"), "{}", text(&o));
    let c = fake.counters();
    assert_eq!((c.revoked_refresh, c.revoked_access), (1, 1), "{c:?}");
    assert_eq!(fake.live_tokens(), (0, 0));

    cli_login(data, &fake).await;
    fake.set_revocation_outage(true);
    let o = run(data, &["logout", &fake.mcp_url()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("failed"), "{}", text(&o));
    let o = run(data, &["tools", &fake.mcp_url()]);
    assert!(!o.status.success(), "the local sign-in must be gone");
}

#[tokio::test]
async fn device_login_needs_no_port() {
    // No port guard: the device flow never listens.
    let fake = FakeMcp::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut login = Cli::start(data, &["login", &fake.mcp_url(), "--device"]);
    let link = login.wait_for(|l| {
        l.trim()
            .strip_prefix("(or open ")
            .and_then(|r| r.split(',').next())
            .map(str::to_owned)
    });
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
    assert!(out.contains("enter the code"), "{out}");
    assert_eq!(fake.counters().device_grants, 1);
    let o = run(data, &["tools", &fake.mcp_url()]);
    assert!(o.status.success(), "{}", text(&o));
}

#[tokio::test]
async fn the_proxy_signs_in_again_by_itself_and_holds_requests_meanwhile() {
    let (_port, fake, dir) = signed_in().await;
    let data = dir.path();
    // The grant dies at the server.
    fake.revoke_refresh_tokens();
    fake.expire_access_tokens();
    let path = data.join("mcp-tokens.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v[fake.mcp_url()]["expires_at"] = json!(1);
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();

    let mut proxy = Cli::start(data, &["proxy", &fake.mcp_url()]);
    proxy.initialize();
    let auth_url = proxy.wait_for(|l| {
        l.trim()
            .starts_with(&format!("{}/as/authorize?", fake.base_url()))
            .then(|| l.trim().to_owned())
    });
    land(&approve(&auth_url).await).await;
    let init = proxy.answer(1);
    assert_eq!(init["result"]["serverInfo"]["name"], "fake-mcp", "{init}");
    let tools = proxy.list_tools();
    assert_eq!(tools[0]["name"], "echo", "{tools}");
    proxy.close_stdin();
    let mut running = proxy.0;
    running.wait_exit(crate::mcp::WAIT).unwrap();
    // stdout carried JSON-RPC only; the sign-in talked on stderr.
    let stdout: Vec<String> = running
        .lines()
        .into_iter()
        .filter(|l| l.stdout)
        .map(|l| l.text)
        .collect();
    assert!(!stdout.is_empty());
    for line in &stdout {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON-RPC on stdout: {line}"));
        assert_eq!(v["jsonrpc"], "2.0", "{line}");
    }
    assert_eq!(fake.counters().code_exchanges, 2);
}

#[tokio::test]
async fn add_writes_each_clients_config_with_the_absolute_path_and_remove_takes_it_out() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let url = "https://mcp.example.com/mcp";
    let exe = std::fs::canonicalize(patchbay_bin()).unwrap();
    let in_home = |args: &[&str]| {
        let mut cmd = patchbay_mcp(&data, args);
        cmd.env("HOME", home.path())
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("CODEX_HOME");
        cmd.output().unwrap()
    };
    // Entries someone already has are kept.
    std::fs::write(
        home.path().join(".claude.json"),
        r#"{"theme": "dark", "mcpServers": {"mine": {"command": "x"}}}"#,
    )
    .unwrap();
    std::fs::create_dir_all(home.path().join(".codex")).unwrap();
    std::fs::write(
        home.path().join(".codex/config.toml"),
        "# mine\n[mcp_servers.docs]\ncommand = \"npx\"\n",
    )
    .unwrap();
    let files = [
        ("claude-code", ".claude.json", "mcpServers"),
        (
            "claude-desktop",
            ".config/Claude/claude_desktop_config.json",
            "mcpServers",
        ),
        ("cursor", ".cursor/mcp.json", "mcpServers"),
        ("vscode", ".config/Code/User/mcp.json", "servers"),
        ("codex", ".codex/config.toml", "mcp_servers"),
    ];
    for (client, file, key) in files {
        let path = home.path().join(file);
        let before = std::fs::read_to_string(&path).ok();
        let o = in_home(&["add", url, "--client", client, "--print"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains(&exe.display().to_string()),
            "{}",
            text(&o)
        );
        assert_eq!(
            std::fs::read_to_string(&path).ok(),
            before,
            "--print wrote {file}"
        );

        let o = in_home(&["add", url, "--client", client]);
        assert!(o.status.success(), "{}", text(&o));
        let written = std::fs::read_to_string(&path).unwrap();
        let entry = if client == "codex" {
            assert!(
                written.contains("# mine") && written.contains("[mcp_servers.docs]"),
                "{written}"
            );
            assert!(
                written.contains("[mcp_servers.mcp-example-com]"),
                "{written}"
            );
            assert!(
                written.contains(&format!("command = \"{}\"", exe.display())),
                "{written}"
            );
            None
        } else {
            let v: Value = serde_json::from_str(&written).unwrap();
            Some(v[key]["mcp-example-com"].clone())
        };
        if let Some(e) = entry {
            assert_eq!(
                e["command"],
                exe.display().to_string(),
                "{client}: {written}"
            );
            assert_eq!(e["args"], json!(["mcp", "proxy", url]), "{client}");
        }
        if client == "claude-code" {
            let v: Value = serde_json::from_str(&written).unwrap();
            assert_eq!(v["theme"], "dark");
            assert_eq!(v["mcpServers"]["mine"]["command"], "x");
        }
        let o = in_home(&["remove", url, "--client", client]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            !std::fs::read_to_string(&path)
                .unwrap()
                .contains("mcp-example-com")
        );
        let o = in_home(&["remove", url, "--client", client]);
        assert!(!o.status.success(), "a second remove has nothing to remove");
    }
    assert_eq!(
        std::fs::read_to_string(home.path().join(".codex/config.toml")).unwrap(),
        "# mine\n[mcp_servers.docs]\ncommand = \"npx\"\n"
    );
}

#[tokio::test]
async fn the_authorization_server_fetches_patchbays_metadata_document_from_the_edge() {
    let _port = port_53682();
    let edge = Edge::builder().start();
    let fake = FakeMcp::start();
    fake.set_cimd(true);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut cmd = patchbay_mcp(data, &["login", &fake.mcp_url()]);
    cmd.env("PATCHBAY_EDGE_URL", edge.origin());
    let mut login = Cli(Running::start_with_stdin("patchbay mcp login", cmd));
    let auth_url = printed_auth_url(&mut login, &fake);
    land(&approve(&auth_url).await).await;
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
    let c = fake.counters();
    assert_eq!((c.metadata_documents, c.registrations), (1, 0), "{c:?}");
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("mcp-tokens.json")).unwrap())
            .unwrap();
    assert_eq!(
        stored[fake.mcp_url()]["client_id"],
        format!("{}/oauth/client-metadata.json", edge.origin())
    );
}

#[tokio::test]
async fn a_pre_registered_client_with_its_options_from_the_command_line() {
    let _port = port_53682();
    let fake = FakeMcp::start();
    fake.set_dcr(false);
    fake.preregister("hand-made", Some("s3cret-from-env"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = fake.mcp_url();
    let args = [
        "login",
        &url,
        "--client-id",
        "hand-made",
        "--client-secret-env",
        "PB_E2E_CLIENT_SECRET",
        "--header",
        "X-Team:${PB_E2E_TEAM}",
        "--no-resource",
    ];
    let mut cmd = patchbay_mcp(data, &args);
    cmd.env("PB_E2E_CLIENT_SECRET", "s3cret-from-env")
        .env("PB_E2E_TEAM", "team-7");
    let mut login = Cli(Running::start_with_stdin("patchbay mcp login", cmd));
    let auth_url = printed_auth_url(&mut login, &fake);
    assert!(!auth_url.contains("resource="), "{auth_url}");
    land(&approve(&auth_url).await).await;
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
    assert!(!out.contains("s3cret-from-env"), "{out}");
    let stored = std::fs::read_to_string(data.join("mcp-tokens.json")).unwrap();
    assert!(
        stored.contains("${PB_E2E_TEAM}") && !stored.contains("team-7"),
        "{stored}"
    );

    let mut call = patchbay_mcp(data, &["call", &url, "echo", r#"{"text":"x"}"#]);
    call.env("PB_E2E_TEAM", "team-7");
    let o = call.output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        fake.last_extra_headers()
            .contains(&("x-team".into(), "team-7".into())),
        "{:?}",
        fake.last_extra_headers()
    );
    assert_eq!(fake.last_resource(), None);
    // Without the variable the request is not sent, and the sentence says what to set.
    let o = run(data, &["call", &url, "echo", r#"{"text":"x"}"#]);
    assert!(!o.status.success());
    assert!(text(&o).contains("PB_E2E_TEAM"), "{}", text(&o));
}

#[tokio::test]
async fn the_client_secret_is_asked_for_at_the_terminal_without_echo() {
    let _port = port_53682();
    let fake = FakeMcp::start();
    fake.set_dcr(false);
    fake.preregister("hand-made", Some("typed-s3cret"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let mut login = at_terminal(
        data,
        &["login", &fake.mcp_url(), "--client-id", "hand-made"],
    );
    login.wait_for(|l| l.contains("Client secret for hand-made").then_some(()));
    login.write_line("typed-s3cret");
    let auth_url = printed_auth_url(&mut login, &fake);
    land(&approve(&auth_url).await).await;
    let (ok, out) = login.finish();
    assert!(ok, "{out}");
    assert!(
        !out.contains("typed-s3cret"),
        "the secret was echoed: {out}"
    );
    let clients = std::fs::read_to_string(data.join("mcp-clients.json")).unwrap();
    assert!(clients.contains("pre_registered"), "{clients}");
    assert_eq!(fake.counters().registrations, 0);
}
