//! Every connector flow as a person runs it: the built dashboard in headless Chromium,
//! served by the real helper on its own origin (`--dashboard-dir dist`), against the fakes.
//! Each test leaves `target/screenshots/<test>-failure.png` when it fails.

use patchbay_testkit::github::FakeGithub;
use patchbay_testkit::manus::FakeManus;
use patchbay_testkit::mcp::FakeMcp;
use patchbay_testkit::oauth::{ACCOUNT_EMAIL, FakeOAuth};
use reqwest::Method;
use serde_json::json;

use crate::harness::{
    Browser, Helper, HelperBuilder, UI_TIMEOUT, VercelEdge, browser_http, dashboard_helper,
    port_53682, redirect_of, secret,
};
use crate::pages::{Card, Dashboard};

const CLIENT_ID: &str = "patchbay-dash-client";
const CLIENT_SECRET: &str = "patchbay-dash-client-secret";

async fn open<'a>(browser: &'a Browser, helper: &Helper) -> Dashboard<'a> {
    let page = Dashboard::open(browser, &helper.pairing_link(&helper.origin())).await;
    page.cards(7).await;
    page
}

/// A dashboard helper whose Drive and OneDrive sign-ins go to `provider`.
fn rclone_helper(provider: &FakeOAuth) -> HelperBuilder {
    secret(CLIENT_SECRET);
    dashboard_helper().envs(provider.helper_env())
}

/// The person approves at the provider in a browser that cannot reach this machine's port
/// 53682: where the provider sends them is what they copy from the address bar.
async fn approve_elsewhere(auth_url: &str) -> String {
    let (status, location) = redirect_of(auth_url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status, 303, "the provider should redirect");
    location
}

#[tokio::test(flavor = "multi_thread")]
async fn drive_connects_by_pasting_the_redirect_address_and_deletes_with_confirmation() {
    let _port = port_53682();
    let provider = FakeOAuth::start(CLIENT_ID, CLIENT_SECRET);
    let helper = rclone_helper(&provider).start();
    let browser = Browser::start("dashboard-drive").await;
    let page = open(&browser, &helper).await;
    let drive = page.card("gdrive");
    drive.wait_state("disconnected").await;
    drive.snap("disconnected").await;

    // The name is checked as it is typed.
    drive.connect().await;
    let message = drive.type_name("My Drive", "lowercase").await;
    assert!(message.contains("1 to 32"), "{message}");
    drive.snap("name-refused").await;
    let message = drive.type_name("personal", "personal:").await;
    assert!(message.contains("rclone will know"), "{message}");

    // A sign-in can be cancelled: the card goes back to where it was.
    drive.type_name("scratch", "scratch:").await;
    drive.continue_().await;
    drive.auth_link().await;
    drive.cancel_flow().await;
    drive.wait_idle().await;

    drive.connect().await;
    drive.type_name("personal", "personal:").await;
    drive.continue_().await;
    let auth_url = drive.auth_link().await;
    assert!(auth_url.starts_with(&provider.auth_url()), "{auth_url}");
    assert!(auth_url.contains(CLIENT_ID), "{auth_url}");
    drive.snap("sign-in-link").await;

    // Garbage in the paste box is refused with what to paste instead; the real address works.
    drive.paste_redirect("not a url at all").await;
    drive.problem("Paste the whole address").await;
    drive.snap("paste-refused").await;
    let redirect = approve_elsewhere(&auth_url).await;
    assert!(redirect.contains(":53682/"), "{redirect}");
    drive.paste_redirect(&redirect).await;
    let done = drive.completed().await;
    assert!(done.contains("personal:"), "{done}");
    drive.wait_state("connected").await;
    drive.wait_remotes(&["personal"]).await;
    // As whom, from Drive's `about` at sign-in.
    let account = drive.account(ACCOUNT_EMAIL).await;
    assert!(account.contains("signed in as"), "{account}");
    drive.snap("completed").await;
    let conf = std::fs::read_to_string(helper.data_dir().join("rclone.conf")).unwrap();
    assert!(conf.contains("[personal]"), "{conf}");
    assert!(!conf.contains("[scratch]"), "{conf}");
    assert!(
        !conf.contains(ACCOUNT_EMAIL),
        "rclone.conf stays rclone's: {conf}"
    );
    drive.done().await;
    drive.snap("connected").await;

    let question = drive.delete_remote("personal").await;
    assert!(question.contains("Disconnect personal:"), "{question}");
    drive.wait_remotes(&[]).await;
    drive.wait_state("disconnected").await;
    let conf = std::fs::read_to_string(helper.data_dir().join("rclone.conf")).unwrap();
    assert!(!conf.contains("[personal]"), "{conf}");
    let accounts =
        std::fs::read_to_string(helper.data_dir().join("rclone-accounts.json")).unwrap_or_default();
    assert!(
        !accounts.contains(ACCOUNT_EMAIL),
        "the account is forgotten too: {accounts}"
    );
    browser.close().await;
}

/// Cancel's answer and the long-poll's race; when the long-poll's came after the steps had
/// closed, it used to touch their disposed callbacks and the wasm app panicked (the race is
/// timing-bound: here it rarely lost). Cancelling again and again must leave a page that
/// still answers, every time with the same notice, whichever answer comes first.
#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_sign_in_again_and_again_leaves_a_working_page() {
    let _port = port_53682();
    let provider = FakeOAuth::start(CLIENT_ID, CLIENT_SECRET);
    let helper = rclone_helper(&provider).start();
    let browser = Browser::start("dashboard-cancel-again").await;
    let page = open(&browser, &helper).await;
    let drive = page.card("gdrive");
    for round in 0..6 {
        drive.connect().await;
        drive.type_name(&format!("scratch{round}"), "scratch").await;
        drive.continue_().await;
        drive.auth_link().await;
        drive.cancel_flow().await;
        drive.notice("Sign-in cancelled").await;
        drive.wait_idle().await;
    }
    // Still alive: the name step opens and checks what is typed.
    drive.connect().await;
    drive.type_name("Still Alive", "lowercase").await;
    let conf = std::fs::read_to_string(helper.data_dir().join("rclone.conf")).unwrap_or_default();
    assert!(!conf.contains("[scratch"), "{conf}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_port_is_explained_in_plain_words_on_the_card() {
    let _port = port_53682();
    let provider = FakeOAuth::start(CLIENT_ID, CLIENT_SECRET);
    let helper = rclone_helper(&provider).start();
    // Someone else's Drive sign-in holds port 53682.
    let (status, started) = helper
        .post(
            "/api/connectors/gdrive/remotes",
            json!({"name": "elsewhere"}),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let browser = Browser::start("dashboard-busy-port").await;
    let page = open(&browser, &helper).await;
    let onedrive = page.card("onedrive");
    onedrive.connect().await;
    onedrive.type_name("work", "work:").await;
    onedrive.continue_().await;
    let problem = onedrive.problem("53682").await;
    assert!(problem.contains("Finish or cancel it"), "{problem}");
    assert!(!problem.contains("409"), "{problem}");
    onedrive.snap("port-busy").await;
    let id = started["session_id"].as_str().unwrap();
    helper
        .call(
            Method::POST,
            &format!("/api/connectors/gdrive/sessions/{id}/cancel"),
            None,
        )
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn manus_key_and_github_token_forms() {
    let github = FakeGithub::start();
    let pat = secret("ghp_fake_dashboard_token_0000000001");
    github.add_token(&pat, "octocat", 1, "repo");
    let manus = FakeManus::start();
    let key = secret("manus_dash_key_cccccccccccc");
    let wrong = secret("manus_dash_wrong_dddddddd");
    manus.add_key(&key);
    let helper = dashboard_helper()
        .envs(github.helper_env())
        .envs(manus.helper_env())
        .start();
    let browser = Browser::start("dashboard-tokens").await;
    let page = open(&browser, &helper).await;
    page.card("gdrive").needs_setup().await;
    page.card("vercel").needs_setup().await;
    page.snap("first-run").await;
    for (connector, state) in [
        ("gdrive", "needs-setup"),
        ("onedrive", "needs-setup"),
        ("github", "disconnected"),
        ("vercel", "needs-setup"),
        ("manus", "disconnected"),
        ("mcp", "disconnected"),
        ("agents", "needs-setup"),
    ] {
        page.card(connector).snap(state).await;
    }

    // Manus: a key Manus refuses is explained; the right one connects; disconnect asks first.
    let card = page.card("manus");
    card.wait_state("disconnected").await;
    card.save_token("short").await;
    card.problem("does not look like a Manus API key").await;
    card.snap("key-refused").await;
    assert_eq!(manus.calls(), 0, "a malformed key was sent");
    card.save_token(&wrong).await;
    let problem = card.problem("").await;
    assert!(
        !problem.is_empty() && !problem.contains(&wrong),
        "{problem}"
    );
    card.save_token(&key).await;
    card.wait_state("connected").await;
    let account = card.account("API key").await;
    assert!(
        account.contains("cccc") && !account.contains(&key),
        "{account}"
    );
    card.snap("connected").await;
    card.disconnect().await;
    card.wait_state("disconnected").await;

    // GitHub with a personal access token.
    let card = page.card("github");
    card.use_token().await;
    card.save_token("abc").await;
    card.problem("not a GitHub token").await;
    card.snap("token-refused").await;
    card.save_token(&pat).await;
    card.wait_state("connected").await;
    card.account("Connected as @octocat").await;
    card.snap("connected-by-token").await;

    // No edge configured: the Vercel card says what to set up instead of offering a sign-in
    // or showing an error.
    let vercel = page.card("vercel");
    let (sentence, settings) = vercel.needs_setup().await;
    assert!(sentence.contains("edge"), "{sentence}");
    assert!(settings.contains("PATCHBAY_EDGE_URL"), "{settings}");
    assert!(vercel.problems_now().await.is_empty());
    // So does the Agents card: the edge is their authorization server.
    let agents = page.card("agents");
    let (sentence, settings) = agents.needs_setup().await;
    assert!(sentence.contains("hosted agents"), "{sentence}");
    assert!(settings.contains("PATCHBAY_EDGE_TOKEN"), "{settings}");
    assert!(agents.problems_now().await.is_empty());
    // Its link opens the README's section as a page, on the origin that served the dashboard.
    let docs = vercel.setup_docs().await;
    let section = "deploying-the-edge-to-cloudflare";
    assert_eq!(docs, format!("{}/docs.html#{section}", helper.origin()));
    let answer = reqwest::get(&docs).await.unwrap();
    assert_eq!(answer.status(), 200);
    let kind = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    let page = answer.text().await.unwrap();
    assert!(
        page.contains(&format!("<h2 id=\"{section}\">")),
        "no such section"
    );
    // The README's pictures load beside the page, as on a forge.
    let pictures: Vec<&str> = page
        .split("<img src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(!pictures.is_empty(), "the page shows the dashboard");
    for picture in pictures {
        let answer = reqwest::get(format!("{}/{picture}", helper.origin()))
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{picture}");
        assert_eq!(answer.headers()["content-type"], "image/png", "{picture}");
    }

    let html = browser.client.source().await.unwrap();
    for s in [&pat, &key, &wrong, &helper.token] {
        assert!(!html.contains(s.as_str()), "a secret is in the page");
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn github_device_code_is_shown_large_with_a_link_and_a_countdown() {
    let github = FakeGithub::start();
    let helper = dashboard_helper().envs(github.gh_env()).start();
    let browser = Browser::start("dashboard-device").await;
    let page = open(&browser, &helper).await;
    let card = page.card("github");

    // A started sign-in can be cancelled: the card offers it again.
    card.start_device_flow().await;
    let first = card.device_code().await;
    card.cancel_flow().await;
    card.start_device_flow().await;
    let code = wait_new_code(&browser, &card, &first).await;
    assert!(github.user_codes().contains(&code), "{code}");
    // The address gh printed (the helper waits for gh's URL line before answering).
    let link = card.verification_link().await;
    assert_eq!(link, "http://github.localhost/login/device");
    let countdown = card.countdown().await;
    assert!(
        countdown.contains("expires in 14:") || countdown.contains("expires in 15:00"),
        "{countdown}"
    );
    card.snap("device-code").await;

    // Approval at GitHub shows at once (long-poll), with the account.
    secret(&github.approve(&code, "octocat", 583231));
    card.wait_state("connected").await;
    card.account("Connected as @octocat").await;
    card.notice("Signed in to GitHub as @octocat").await;
    card.snap("connected").await;
    browser.close().await;
}

/// The code shown once it is not `old` any more.
async fn wait_new_code(browser: &Browser, card: &Card<'_>, old: &str) -> String {
    browser
        .wait_for(&format!("a new code after {old}"), || async {
            let code = card.device_code().await;
            (code != old).then_some(code)
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn vercel_token_form_and_oauth_through_the_edge_callback() {
    let vercel = VercelEdge::start(&[]);
    let (fake, server) = (&vercel.fake, &vercel.server);
    let helper = dashboard_helper().envs(vercel.helper_env()).start();
    let browser = Browser::start("dashboard-vercel").await;
    let page = open(&browser, &helper).await;
    let card = page.card("vercel");
    card.wait_state("disconnected").await;
    card.snap("disconnected").await;

    // Token form: a refused token is explained; a good one connects.
    let personal = secret("vercel_dash_personal_token_0123456789");
    fake.add_personal_token(&personal);
    card.use_token().await;
    card.save_token("bad_token_value_xyz").await;
    let problem = card.problem("").await;
    assert!(!problem.contains("bad_token_value_xyz"), "{problem}");
    card.snap("token-refused").await;
    card.save_token(&personal).await;
    card.wait_state("connected").await;
    card.account("Connected as").await;
    card.disconnect().await;
    card.wait_state("disconnected").await;

    // OAuth: the link opens Vercel in a new tab, Vercel sends the browser to the edge's
    // /callback, and the card sees the result when asked.
    card.start_oauth().await;
    let authorize = card.auth_link().await;
    assert!(authorize.starts_with(&server.url()), "{authorize}");
    card.snap("approve-in-vercel").await;
    card.open_auth_link().await;
    let deadline = std::time::Instant::now() + UI_TIMEOUT;
    loop {
        card.check_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if card.problems_now().await.is_empty() && card.is_state("connected").await {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Vercel sign-in did not complete"
        );
    }
    card.account("Vercel sign-in").await;
    card.snap("connected").await;
    let tokens: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(helper.data_dir().join("mcp-tokens.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(tokens["vercel"]["source"], "oauth", "{tokens}");
    secret(tokens["vercel"]["token"].as_str().unwrap());
    card.disconnect().await;
    card.wait_state("disconnected").await;

    // Refused at Vercel: the sign-in ends on the edge's /callback, out of the dashboard's
    // sight; the edge remembers why, and "check now" brings it to the card, where it stays
    // until the next action.
    card.start_oauth().await;
    let authorize = reqwest::Url::parse(&card.auth_link().await).unwrap();
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    let denied = format!(
        "{}?error=access_denied&state={}",
        query["redirect_uri"], query["state"]
    );
    let answer = browser_http().get(&denied).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    card.check_now().await;
    let problem = card.problem("cancelled or refused at Vercel").await;
    assert!(!problem.contains(&query["state"]), "{problem}");
    card.snap("sign-in-failed").await;
    card.wait_state("disconnected").await;
    card.start_oauth().await;
    card.auth_link().await;
    assert!(card.problems_now().await.is_empty());
    card.cancel_flow().await;

    // Vercel may also send the person back to the dashboard itself (`?code=…&state=…`):
    // the page exchanges the code and takes it out of the address bar.
    let (status, start) = helper.get("/api/connectors/vercel/oauth/start").await;
    assert_eq!(status, 200, "{start}");
    let (_, callback) = redirect_of(start["authorize_url"].as_str().unwrap())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let query = callback
        .split_once('?')
        .expect("code and state")
        .1
        .to_owned();
    let link = helper.pairing_link(&helper.origin());
    let (base, fragment) = link.split_once('#').unwrap();
    let page = Dashboard::open(&browser, &format!("{base}?{query}#{fragment}")).await;
    page.cards(7).await;
    let card = page.card("vercel");
    card.notice("Signed in to Vercel").await;
    card.wait_state("connected").await;
    let url = page.current_url().await;
    assert!(!url.contains("code=") && !url.contains('#'), "{url}");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mcp_server_added_by_url_signs_in_and_is_listed() {
    let _port = port_53682();
    let fake = FakeMcp::start();
    let helper = dashboard_helper().start();
    let browser = Browser::start("dashboard-mcp").await;
    let page = open(&browser, &helper).await;
    let card = page.card("mcp");
    card.wait_state("disconnected").await;
    let message = card
        .type_server_url("http://mcp.example.com/mcp", "https://")
        .await;
    assert!(message.contains("plain http"), "{message}");
    card.snap("url-refused").await;
    card.add_server(&fake.mcp_url()).await;
    card.auth_link().await;
    card.snap("sign-in-link").await;
    // This browser reaches the helper's listener on 127.0.0.1:53682 itself: no paste needed.
    card.open_auth_link().await;
    card.completed().await;
    card.wait_state("connected").await;
    card.done().await;
    card.snap("connected").await;
    let servers = card.servers().await;
    assert_eq!(
        servers,
        [(fake.mcp_url(), "Signed in".to_owned())],
        "{servers:?}"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn losing_the_helper_shows_a_banner_that_clears_when_it_returns() {
    let first = dashboard_helper().start();
    let (addr, token) = (first.addr, first.token.clone());
    let browser = Browser::start("dashboard-reconnect").await;
    let page = open(&browser, &first).await;
    page.card("manus").wait_state("disconnected").await;

    let mut first = first;
    assert!(first.stop());
    let banner = page.banner().await;
    assert!(
        banner.contains("Cannot reach the Patchbay helper"),
        "{banner}"
    );
    page.snap("helper-lost").await;
    drop(first);

    // A helper comes back at the same address (a restart): the page recovers by itself and
    // reads the new helper's state.
    let _second = dashboard_helper()
        .listen(addr)
        .token(&token)
        .file(
            "mcp-tokens.json",
            r#"{"manus": {"token": "manus_restarted_key_0000"}}"#,
        )
        .start();
    page.banner_cleared().await;
    page.card("manus").wait_state("connected").await;
    assert_eq!(page.cards(7).await.len(), 7);
    browser.close().await;
}

/// Not a check: the whole dashboard with every card connected (or mid-flow), light and
/// dark, wide and phone-width, for a person to look at and for the README
/// (`cargo test -p patchbay-e2e -- --ignored dashboard_screenshots`; copies in docs/).
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn dashboard_screenshots() {
    let _port = port_53682();
    let provider = FakeOAuth::start(CLIENT_ID, CLIENT_SECRET);
    let github = FakeGithub::start();
    let helper = rclone_helper(&provider)
        .envs(github.gh_env())
        .file(
            "rclone.conf",
            "[personal]\ntype = drive\n\n[work]\ntype = drive\n",
        )
        .file(
            "mcp-tokens.json",
            r#"{"manus": {"token": "manus_shot_key_abcd"}}"#,
        )
        .start();
    for (width, height) in [(1280, 1000), (390, 2400)] {
        let browser = Browser::builder(&format!("dashboard-{width}"))
            .arg(&format!("--window-size={width},{height}"))
            .start()
            .await;
        let page = open(&browser, &helper).await;
        page.card("onedrive").connect().await;
        page.card("onedrive")
            .type_name("Work Drive", "lowercase")
            .await;
        page.card("github").start_device_flow().await;
        page.card("github").device_code().await;
        page.card("gdrive")
            .wait_remotes(&["personal", "work"])
            .await;
        page.snap(&format!("in-use-{width}")).await;
        browser.close().await;
    }
}
