//! Vercel as the dashboard uses it: through the real helper, which forwards to the real
//! Worker (wrangler dev) and copies the credentials into mcp-tokens.json.

use serde_json::{Value, json};

use crate::harness::{Helper, VercelEdge, helper, secret};

fn tokens(helper: &Helper) -> Value {
    std::fs::read_to_string(helper.data_dir().join("mcp-tokens.json"))
        .map(|s| serde_json::from_str(&s).unwrap())
        .unwrap_or(json!({}))
}

#[tokio::test(flavor = "multi_thread")]
async fn vercel_through_the_helper_reaches_mcp_tokens_json() {
    let vercel = VercelEdge::start(&[]);
    let helper = helper().envs(vercel.helper_env()).start();
    let fake = &vercel.fake;

    // Manual token: forwarded, validated by the edge, copied for downstream tools.
    let personal = secret("vercel_e2e_personal_token_0123456789");
    fake.add_personal_token(&personal);
    let (status, body) = helper
        .post(
            "/api/connectors/vercel/token",
            json!({"token": "bad_token_value_xyz"}),
        )
        .await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(tokens(&helper).get("vercel").is_none());
    let (status, body) = helper
        .post("/api/connectors/vercel/token", json!({"token": personal}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(tokens(&helper)["vercel"]["token"], personal.as_str());
    let (status, body) = helper.get("/api/connectors/vercel/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["connected"], true, "{body}");
    assert!(
        !body.to_string().contains(&personal),
        "status leaked the token"
    );

    // OAuth: start through the helper, approve at Vercel, land on the edge's /callback.
    let (status, start) = helper.get("/api/connectors/vercel/oauth/start").await;
    assert_eq!(status, 200, "{start}");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    let page = browser
        .get(start["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.url().path().starts_with("/callback"), "{}", page.url());
    // The dashboard checks the status after the person comes back: that copies the new token.
    let (_, body) = helper.get("/api/connectors/vercel/status").await;
    assert_eq!(body["connected"], true);
    let stored = tokens(&helper);
    assert_eq!(stored["vercel"]["source"], "oauth", "{stored}");
    assert!(stored["vercel"]["refresh_token"].is_string());
    assert!(stored["vercel_client"]["client_id"].is_string());
    secret(stored["vercel"]["token"].as_str().unwrap());
    secret(stored["vercel"]["refresh_token"].as_str().unwrap());

    let (status, _) = helper
        .post("/api/connectors/vercel/disconnect", json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(tokens(&helper).get("vercel").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn vercel_without_an_edge_is_a_503_that_says_what_to_set() {
    let helper = helper().start();
    let (status, body) = helper.get("/api/connectors/vercel/status").await;
    assert_eq!(status, 503);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("PATCHBAY_EDGE_URL")
    );
}
