//! The Vercel connector through the real router: every flow against the fake Vercel,
//! called in-process, with the real SQL on an in-memory SQLite.

use std::collections::HashMap;

use patchbay_testkit::vercel::FakeRequest;
use serde_json::json;

use crate::testing::{FAKE, ORIGIN, TestEdge, assert_refused, error_of};

const MANUAL_TOKEN: &str = "vercel_manual_token_AbCd";

impl TestEdge {
    /// Connects with a personal token the fake Vercel knows.
    fn connect_manual(&self) {
        self.fake.add_personal_token(MANUAL_TOKEN);
        let (status, body) = self.api("POST", "token", &json!({"token": MANUAL_TOKEN}).to_string());
        assert_eq!(status, 200, "{body}");
    }

    /// `oauth/start`, then the person approves at (fake) Vercel: (state, code).
    fn approve(&self) -> (String, String) {
        let (status, start) = self.api("GET", "oauth/start", "");
        assert_eq!(status, 200, "{start}");
        let url = start["authorize_url"].as_str().unwrap();
        let rest = url.strip_prefix(FAKE).unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        let r = self.fake.handle(FakeRequest {
            method: "GET".into(),
            path: path.into(),
            query: query.into(),
            ..Default::default()
        });
        assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
        let location = r.header("location").unwrap();
        assert!(location.starts_with(&format!("{ORIGIN}/callback?")));
        let q: HashMap<String, String> =
            form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(q["state"], start["state"].as_str().unwrap());
        (q["state"].clone(), q["code"].clone())
    }

    fn connect_oauth(&self) -> serde_json::Value {
        let (state, code) = self.approve();
        let (status, body) = self.api(
            "POST",
            "oauth/exchange",
            &json!({"code": code, "state": state}).to_string(),
        );
        assert_eq!(status, 200, "{body}");
        body
    }

    fn credentials(&self) -> serde_json::Value {
        let (status, body) = self.api("GET", "credentials", "");
        assert_eq!(status, 200, "{body}");
        body
    }

    fn stored(&self) -> String {
        format!(
            "{:?}{:?}{:?}",
            self.store.sql("SELECT * FROM vercel_connection"),
            self.store.sql("SELECT * FROM vercel_client"),
            self.store.sql("SELECT * FROM oauth_states")
        )
    }
}

#[test]
fn a_good_manual_token_is_validated_stored_encrypted_and_never_shown() {
    let t = TestEdge::new();
    t.fake.add_personal_token("vercel_manual_token_AbCd");
    let (status, body) = t.api(
        "POST",
        "token",
        r#"{"token": " vercel_manual_token_AbCd "}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["user"]["username"], "patchbay-tester");
    assert!(!t.stored().contains("vercel_manual_token"));

    let (status, s) = t.api("GET", "status", "");
    assert_eq!(status, 200);
    assert_eq!(
        s,
        json!({"connected": true, "user": {"id": "usr_fake0001", "username": "patchbay-tester",
               "email": "tester@example.com"}, "token_hint": "AbCd", "source": "manual"})
    );
    let creds = t.credentials();
    assert_eq!(creds["vercel"]["token"], "vercel_manual_token_AbCd");
    assert_eq!(creds["vercel"]["source"], "manual");
    assert_eq!(creds["vercel"]["refresh_token"], serde_json::Value::Null);
    assert_eq!(creds["vercel"]["expires_at"], serde_json::Value::Null);
    assert_eq!(creds["vercel"]["token_type"], "Bearer");
    assert_eq!(creds["vercel_client"], serde_json::Value::Null);
}

#[test]
fn a_bad_manual_token_is_refused_and_nothing_is_stored() {
    let t = TestEdge::new();
    let (status, body) = t.api("POST", "token", r#"{"token": "vercel_wrong"}"#);
    assert_eq!(status, 400);
    let (code, message) = error_of(&body);
    assert_eq!(code, "bad_request");
    assert!(message.contains("vercel.com/account/tokens"), "{message}");
    assert!(!message.contains("vercel_wrong"));
    assert_eq!(t.api("GET", "status", "").1, json!({"connected": false}));
    assert_eq!(t.api("POST", "token", r#"{"token": "  "}"#).0, 400);
    assert_eq!(t.api("POST", "token", "not json").0, 400);
}

#[test]
fn disconnecting_a_manual_token_forgets_it_without_revoking_it() {
    let t = TestEdge::new();
    t.connect_manual();
    let (status, body) = t.api("POST", "disconnect", "");
    assert_eq!((status, body), (200, json!({"ok": true, "revoked": false})));
    assert_eq!(t.fake.counters().revocations, 0);
    assert!(t.fake.is_token_valid("vercel_manual_token_AbCd"));
    assert_eq!(t.api("GET", "status", "").1, json!({"connected": false}));
    assert_eq!(t.credentials()["vercel"], serde_json::Value::Null);
    // Disconnecting twice is fine.
    assert_eq!(t.api("POST", "disconnect", "").0, 200);
}

#[test]
fn reconnect_revalidates_and_reports_a_revoked_manual_token() {
    let t = TestEdge::new();
    t.connect_manual();
    let (status, body) = t.api("POST", "reconnect", "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], "usr_fake0001");
    t.fake.expire_access_tokens();
    assert_refused(t.api("POST", "reconnect", ""), 409, "connect Vercel again");
    let fresh = TestEdge::new();
    assert_eq!(fresh.api("POST", "reconnect", "").0, 404);
}

#[test]
fn oauth_start_registers_a_client_once_and_keeps_the_verifier_home() {
    let t = TestEdge::new();
    let (_, a) = t.api("GET", "oauth/start", "");
    let (_, b) = t.api("GET", "oauth/start", "");
    assert_eq!(t.fake.counters().registrations, 1);
    assert_ne!(a["state"], b["state"]);
    let url = a["authorize_url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{FAKE}/oauth/authorize?")));
    let q: HashMap<String, String> =
        form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], format!("{ORIGIN}/callback"));
    assert_eq!(q["state"], a["state"].as_str().unwrap());
    assert!(!q.contains_key("code_verifier"));
    assert!(a["code_verifier_id"].as_str().unwrap().len() >= 16);
    // Only the hash of the state is stored; the verifier only encrypted.
    let stored = t.stored();
    assert!(!stored.contains(a["state"].as_str().unwrap()));
    assert_eq!(t.store.sql("SELECT * FROM oauth_states").len(), 2);
}

#[test]
fn configured_client_skips_registration() {
    let t = TestEdge::with(&[
        ("VERCEL_CLIENT_ID", "cl_configured"),
        ("VERCEL_CLIENT_SECRET", "cs_conf"),
    ]);
    let (status, start) = t.api("GET", "oauth/start", "");
    assert_eq!(status, 200);
    assert!(
        start["authorize_url"]
            .as_str()
            .unwrap()
            .contains("client_id=cl_configured")
    );
    assert_eq!(t.fake.counters().registrations, 0);
    assert_eq!(
        t.credentials()["vercel_client"],
        json!({"client_id": "cl_configured", "client_secret": "cs_conf", "registration": "configured"})
    );
}

#[test]
fn oauth_exchange_connects_and_a_replay_never_exchanges_again() {
    let t = TestEdge::new();
    let (state, code) = t.approve();
    let body = json!({"code": code, "state": state}).to_string();
    let (status, first) = t.api("POST", "oauth/exchange", &body);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["user"]["username"], "patchbay-tester");
    assert_eq!(t.fake.counters().code_exchanges, 1);

    // A replay is the same success with the connected account, without a second exchange.
    let (status, again) = t.api("POST", "oauth/exchange", &body);
    assert_eq!((status, &again), (200, &first));
    let page = t.callback(&format!("code={code}&state={state}"));
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("already used"));
    assert_eq!(t.fake.counters().code_exchanges, 1);
    assert_eq!(t.fake.counters().token_errors, 0);

    let (_, s) = t.api("GET", "status", "");
    assert_eq!(s["connected"], true);
    assert_eq!(s["source"], "oauth");
    assert_eq!(s["expires_at"], t.now.get() + 3600);
    let creds = t.credentials();
    let token = creds["vercel"]["token"].as_str().unwrap();
    assert!(token.starts_with("vca_") && t.fake.is_token_valid(token));
    assert!(!s.to_string().contains(token));
    assert!(!t.stored().contains(token));
    assert_eq!(creds["vercel_client"]["registration"], "dynamic");
    assert!(
        creds["vercel_client"]["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("cs_")
    );
    // The verifier is wiped once used.
    assert_eq!(
        t.store.sql("SELECT code_verifier FROM oauth_states")[0]
            .text("code_verifier")
            .as_deref(),
        Some("")
    );
}

/// The seed's client lets Vercel reach `/callback`, then posts the same code and state to
/// `oauth/exchange`: that answers success with the connected user, and exchanges nothing.
#[test]
fn exchange_after_the_callback_answers_the_connected_user() {
    let t = TestEdge::new();
    let (state, code) = t.approve();
    assert_eq!(
        t.callback(&format!("code={code}&state={state}")).status,
        200
    );
    assert_eq!(t.fake.counters().code_exchanges, 1);
    let body = json!({"code": code, "state": state}).to_string();
    let (status, answer) = t.api("POST", "oauth/exchange", &body);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["user"]["username"], "patchbay-tester");
    assert_eq!(t.fake.counters().code_exchanges, 1);
    assert_eq!(t.fake.counters().token_errors, 0);
    // Disconnected since: the state no longer vouches for an account.
    assert_eq!(t.api("POST", "disconnect", "").0, 200);
    assert_refused(
        t.api("POST", "oauth/exchange", &body),
        409,
        "disconnected since",
    );
    assert_eq!(t.fake.counters().code_exchanges, 1);
}

#[test]
fn the_callback_completes_the_flow_and_reflects_no_input() {
    let t = TestEdge::new();
    let (state, code) = t.approve();
    let r = t.callback(&format!("code={code}&state={state}&x=%3Cscript%3E"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    let html = String::from_utf8(r.body).unwrap();
    assert!(
        html.contains("Patchbay</p><h1>Vercel is connected</h1>"),
        "{html}"
    );
    assert!(html.contains("go back to the Patchbay dashboard"), "{html}");
    assert!(!html.contains(&code) && !html.contains(&state));
    assert_eq!(t.api("GET", "status", "").1["connected"], true);

    let evil = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for q in [
        format!("code={evil}&state={evil}"),
        format!("error={evil}&error_description={evil}&state={evil}"),
        format!("code={evil}"),
        String::new(),
    ] {
        let html = String::from_utf8(t.callback(&q).body).unwrap();
        assert!(
            !html.contains("<script") && !html.contains("alert"),
            "{q}: {html}"
        );
    }
}

#[test]
fn unknown_and_expired_states_are_refused() {
    let t = TestEdge::with(&[("VERCEL_OAUTH_STATE_TTL_SECS", "60")]);
    assert_refused(
        t.api(
            "POST",
            "oauth/exchange",
            r#"{"code":"c","state":"never-issued"}"#,
        ),
        404,
        "unknown",
    );
    assert_eq!(t.callback("code=c&state=never-issued").status, 400);

    let (state, code) = t.approve();
    t.now.set(t.now.get() + 61);
    let body = json!({"code": code, "state": state}).to_string();
    assert_refused(t.api("POST", "oauth/exchange", &body), 404, "expired");
    let html = String::from_utf8(t.callback(&format!("code={code}&state={state}")).body).unwrap();
    assert!(html.contains("expired"));
    assert_eq!(t.fake.counters().code_exchanges, 0);
    assert_eq!(t.fake.counters().token_errors, 0);
}

#[test]
fn a_refused_exchange_is_final_for_its_state() {
    let t = TestEdge::new();
    let (state_a, _code_a) = t.approve();
    let (_state_b, code_b) = t.approve();
    // Code B was issued for B's challenge: with A's verifier, PKCE fails at Vercel.
    let (status, body) = t.api(
        "POST",
        "oauth/exchange",
        &json!({"code": code_b, "state": state_a}).to_string(),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(t.fake.counters().token_errors, 1);
    let html = String::from_utf8(t.callback(&format!("code=x&state={state_a}")).body).unwrap();
    assert!(html.contains("already used"));
    // A replayed exchange fails again, with the first attempt's code and reason.
    let (again_status, again) = t.api(
        "POST",
        "oauth/exchange",
        &json!({"code": code_b, "state": state_a}).to_string(),
    );
    assert_eq!(again_status, 400, "{again}");
    assert_eq!(again["error"], body["error"]);
    let first = body["message"].as_str().unwrap();
    assert_eq!(
        again["message"],
        format!("This sign-in already failed: {first}")
    );
    assert!(first.contains("invalid_grant"), "{first}");
    assert_eq!(t.fake.counters().token_errors, 1);
    assert_eq!(t.api("GET", "status", "").1["connected"], false);
}

#[test]
fn a_denied_sign_in_consumes_the_state() {
    let t = TestEdge::new();
    let (state, _) = t.approve();
    let r = t.callback(&format!("error=access_denied&state={state}"));
    assert_eq!(r.status, 400);
    assert!(
        String::from_utf8(r.body)
            .unwrap()
            .contains("cancelled or refused")
    );
    assert_eq!(t.callback(&format!("code=x&state={state}")).status, 409);
    assert_eq!(
        t.fake.counters().code_exchanges + t.fake.counters().token_errors,
        0
    );
}

#[test]
fn a_failed_sign_in_is_in_the_status_until_the_next_action() {
    let t = TestEdge::with(&[("VERCEL_OAUTH_STATE_TTL_SECS", "60")]);
    let failure = |t: &TestEdge| t.api("GET", "status", "").1["last_failure"].clone();
    assert_eq!(failure(&t), serde_json::Value::Null);

    // Denied at Vercel: the callback's page says so, and so does the status.
    let (state, _) = t.approve();
    let at = t.now.get();
    t.callback(&format!("error=access_denied&state={state}"));
    let f = failure(&t);
    assert_eq!(f["reason"], "denied");
    assert_eq!(f["at"], at);
    assert!(
        f["message"].as_str().unwrap().contains("Sign in again"),
        "{f}"
    );

    // Neither a forged state nor a replay changes it: anyone can open /callback.
    t.now.set(at + 5);
    t.callback("code=x&state=never-issued");
    t.callback(&format!("code=x&state={state}"));
    assert_eq!(failure(&t)["at"], at);

    // A new sign-in forgets it; its code refused at Vercel is the next failure.
    let (state_a, _) = t.approve();
    assert_eq!(failure(&t), serde_json::Value::Null);
    let (_, code_b) = t.approve();
    t.callback(&format!("code={code_b}&state={state_a}"));
    assert_eq!(failure(&t)["reason"], "refused");

    // Expired.
    let (state, code) = t.approve();
    t.now.set(t.now.get() + 61);
    t.callback(&format!("code={code}&state={state}"));
    assert_eq!(failure(&t)["reason"], "expired");

    // A success forgets it, and so do a saved token and a disconnect.
    t.connect_oauth();
    assert_eq!(failure(&t), serde_json::Value::Null);
    let (state, _) = t.approve();
    t.callback(&format!("error=access_denied&state={state}"));
    assert_eq!(failure(&t)["reason"], "denied");
    assert_eq!(t.api("GET", "status", "").1["connected"], true);
    t.connect_manual();
    assert_eq!(failure(&t), serde_json::Value::Null);
    let (state, _) = t.approve();
    t.callback(&format!("error=access_denied&state={state}"));
    assert_eq!(t.api("POST", "disconnect", "").0, 200);
    assert_eq!(failure(&t), serde_json::Value::Null);
}

#[test]
fn reconnect_refreshes_an_expired_token_and_stores_the_rotated_refresh_token() {
    let t = TestEdge::new();
    t.connect_oauth();
    let before = t.credentials();
    let old_refresh = before["vercel"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    t.fake.expire_access_tokens();
    t.now.set(t.now.get() + 3600);
    let (status, body) = t.api("POST", "reconnect", "");
    assert_eq!(status, 200, "{body}");
    assert_eq!(t.fake.counters().refreshes, 1);
    let after = t.credentials();
    let new_refresh = after["vercel"]["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, old_refresh);
    assert!(!t.fake.is_token_valid(&old_refresh));
    assert!(
        t.fake
            .is_token_valid(after["vercel"]["token"].as_str().unwrap())
    );
    assert_eq!(after["vercel"]["expires_at"], t.now.get() + 3600);

    // When Vercel does not rotate, the refresh token we had is kept.
    t.fake.set_rotate_refresh_tokens(false);
    t.fake.expire_access_tokens();
    t.now.set(t.now.get() + 3600);
    assert_eq!(t.api("POST", "reconnect", "").0, 200);
    assert_eq!(t.credentials()["vercel"]["refresh_token"], new_refresh);
    assert_eq!(t.fake.counters().refreshes, 2);
}

#[test]
fn reconnect_refreshes_when_vercel_refuses_a_token_that_looked_valid() {
    let t = TestEdge::new();
    t.connect_oauth();
    t.fake.expire_access_tokens();
    assert_eq!(t.api("POST", "reconnect", "").0, 200);
    assert_eq!(t.fake.counters().refreshes, 1);
}

#[test]
fn credentials_refresh_an_expiring_token_first() {
    let t = TestEdge::new();
    t.connect_oauth();
    let first = t.credentials()["vercel"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    t.now.set(t.now.get() + 3590);
    let second = t.credentials()["vercel"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    assert_eq!(t.fake.counters().refreshes, 1);
}

#[test]
fn disconnect_revokes_oauth_tokens_then_forgets_them() {
    let t = TestEdge::new();
    t.connect_oauth();
    let creds = t.credentials();
    let (status, body) = t.api("POST", "disconnect", "");
    assert_eq!((status, body), (200, json!({"ok": true, "revoked": true})));
    assert_eq!(t.fake.counters().revocations, 2);
    assert!(
        !t.fake
            .is_token_valid(creds["vercel"]["token"].as_str().unwrap())
    );
    assert!(
        !t.fake
            .is_token_valid(creds["vercel"]["refresh_token"].as_str().unwrap())
    );
    assert_eq!(t.api("GET", "status", "").1, json!({"connected": false}));
    // The registered client stays for the next sign-in.
    t.connect_oauth();
    assert_eq!(t.fake.counters().registrations, 1);
}

#[test]
fn a_missing_schema_says_to_run_the_migrations() {
    let t = TestEdge::new();
    t.store.sql("DROP TABLE vercel_connection");
    assert_refused(t.api("GET", "status", ""), 503, "d1 migrations apply");
}

/// The helper, the dashboard and the e2e tests read these answers: their bytes (member
/// order, `null`s, absent members) stay exactly as they are.
#[test]
fn answers_keep_their_exact_bytes() {
    let t = TestEdge::new();
    t.fake.add_personal_token("vercel_manual_token_AbCd");
    let user = r#"{"email":"tester@example.com","id":"usr_fake0001","username":"patchbay-tester"}"#;
    let saved = format!(r#"{{"ok":true,"user":{user}}}"#);
    let token = r#"{"token":"vercel_manual_token_AbCd"}"#;
    assert_eq!(t.api_text("POST", "token", token), (200, saved.clone()));
    assert_eq!(
        t.api_text("GET", "status", ""),
        (
            200,
            r#"{"connected":true,"user":{"id":"usr_fake0001","username":"patchbay-tester","email":"tester@example.com"},"token_hint":"AbCd","source":"manual"}"#.into()
        )
    );
    assert_eq!(t.api_text("POST", "reconnect", ""), (200, saved.clone()));
    assert_eq!(
        t.api_text("GET", "credentials", ""),
        (
            200,
            format!(
                r#"{{"vercel":{{"expires_at":null,"refresh_token":null,"source":"manual","token":"vercel_manual_token_AbCd","token_type":"Bearer","user":{user}}},"vercel_client":null}}"#
            )
        )
    );
    t.store
        .sql("UPDATE vercel_connection SET email = NULL RETURNING id");
    assert_eq!(
        t.api_text("GET", "status", "").1,
        r#"{"connected":true,"user":{"id":"usr_fake0001","username":"patchbay-tester","email":null},"token_hint":"AbCd","source":"manual"}"#
    );
    assert_eq!(
        t.api_text("POST", "disconnect", ""),
        (200, r#"{"ok":true,"revoked":false}"#.into())
    );
    assert_eq!(
        t.api_text("GET", "status", ""),
        (200, r#"{"connected":false}"#.into())
    );
    assert_eq!(
        t.api_text("POST", "reconnect", ""),
        (
            404,
            r#"{"ok":false,"error":"not_found","message":"Vercel is not connected; connect it first."}"#.into()
        )
    );

    let (status, start) = t.api_text("GET", "oauth/start", "");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&start).unwrap();
    let field = |k: &str| v[k].as_str().unwrap().to_owned();
    assert_eq!(
        start,
        format!(
            r#"{{"authorize_url":"{}","state":"{}","code_verifier_id":"{}"}}"#,
            field("authorize_url"),
            field("state"),
            field("code_verifier_id")
        )
    );
    let (state, code) = t.approve();
    let exchange = json!({"code": code, "state": state}).to_string();
    assert_eq!(
        t.api_text("POST", "oauth/exchange", &exchange),
        (200, saved)
    );
    let creds = t.credentials();
    let entry = |k: &str| creds["vercel"][k].clone();
    let client = |k: &str| creds["vercel_client"][k].as_str().unwrap().to_owned();
    let access = entry("token").as_str().unwrap().to_owned();
    let expires_at = entry("expires_at");
    assert_eq!(
        t.api_text("GET", "status", "").1,
        format!(
            r#"{{"connected":true,"user":{{"id":"usr_fake0001","username":"patchbay-tester","email":"tester@example.com"}},"token_hint":"{}","source":"oauth","expires_at":{expires_at}}}"#,
            &access[access.len() - 4..]
        )
    );
    assert_eq!(
        t.api_text("GET", "credentials", "").1,
        format!(
            r#"{{"vercel":{{"expires_at":{expires_at},"refresh_token":{},"source":"oauth","token":"{access}","token_type":"Bearer","user":{user}}},"vercel_client":{{"client_id":"{}","client_secret":"{}","registration":"dynamic"}}}}"#,
            entry("refresh_token"),
            client("client_id"),
            client("client_secret")
        )
    );
}
