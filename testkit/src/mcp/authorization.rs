//! The authorization server: metadata, registration (DCR and CIMD), authorize, token
//! (code, refresh, device), revocation and device authorization.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{ADMIN_SCOPE, Device, Grant, Shared, St, TOOLS_SCOPE, lock, now, oauth_error, random};
use crate::fake::loopback_get;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The metadata document (RFC 8414 and OpenID Connect share these members); `served` says
/// whether the requested path is where the switches publish it.
pub(crate) fn metadata(s: &Shared, served: bool) -> Response {
    let mut st = lock(s);
    st.counters.server_metadata += 1;
    if !served {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    let methods = if st.s256 {
        json!(["S256"])
    } else {
        json!(["plain"])
    };
    let base = st.base.clone();
    let mut doc = json!({
        "issuer": st.issuer(),
        "authorization_endpoint": format!("{base}/as/authorize"),
        "token_endpoint": format!("{base}/as/token"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", DEVICE_GRANT],
        "code_challenge_methods_supported": methods,
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
        "scopes_supported": [TOOLS_SCOPE, ADMIN_SCOPE, "offline_access"],
        "authorization_response_iss_parameter_supported": st.iss_supported,
        "client_id_metadata_document_supported": st.cimd,
    });
    if st.dcr {
        doc["registration_endpoint"] = json!(format!("{base}/as/register"));
    }
    if st.revocation {
        doc["revocation_endpoint"] = json!(format!("{base}/as/revoke"));
    }
    if st.device {
        doc["device_authorization_endpoint"] = json!(format!("{base}/as/device"));
    }
    axum::Json(doc).into_response()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn loopback_or_https(u: &str) -> bool {
    u.starts_with("http://127.0.0.1:")
        || u.starts_with("http://localhost:")
        || u.starts_with("https://")
}

pub(crate) async fn register(State(s): State<Shared>, body: Bytes) -> Response {
    let mut st = lock(&s);
    st.counters.registrations += 1;
    if !st.dcr {
        return (StatusCode::NOT_FOUND, "no registration here").into_response();
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_client_metadata");
    };
    st.last_registration = Some(req.clone());
    let uris = strings(&req["redirect_uris"]);
    if uris.is_empty()
        || !uris.iter().all(|u| loopback_or_https(u))
        || req["client_name"].as_str().is_none()
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri");
    }
    let client_id = random("client-");
    st.clients.insert(client_id.clone(), uris.clone());
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "client_id": client_id,
            "client_name": req["client_name"],
            "redirect_uris": uris,
            "token_endpoint_auth_method": "none",
        })),
    )
        .into_response()
}

/// A URL `client_id`: fetch its metadata document (loopback only, as a test fake) and check
/// it the way CIMD requires: the document's `client_id` is its URL, the redirect is listed.
async fn metadata_document(s: &Shared, client_id: &str) -> Result<Vec<String>, Response> {
    lock(s).counters.metadata_documents += 1;
    let refuse =
        |why: &str| (StatusCode::BAD_REQUEST, format!("invalid_client: {why}")).into_response();
    let (status, body) = loopback_get(client_id).await.map_err(|e| refuse(&e))?;
    if status != 200 {
        return Err(refuse(&format!("metadata document answered {status}")));
    }
    let doc: Value = serde_json::from_slice(&body).map_err(|_| refuse("not JSON"))?;
    if doc["client_id"].as_str() != Some(client_id) || doc["client_name"].as_str().is_none() {
        return Err(refuse("client_id does not match the document URL"));
    }
    Ok(strings(&doc["redirect_uris"]))
}

pub(crate) async fn authorize(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let client_id = get("client_id");
    let redirect_uri = get("redirect_uri");
    let cimd = {
        let mut st = lock(&s);
        st.counters.authorizations += 1;
        st.last_scope = q.get("scope").cloned();
        st.cimd && client_id.starts_with("http")
    };
    if cimd {
        match metadata_document(&s, &client_id).await {
            Ok(uris) => {
                lock(&s).clients.insert(client_id.clone(), uris);
            }
            Err(r) => return r,
        }
    }
    let mut st = lock(&s);
    let Some(uris) = st.clients.get(&client_id) else {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    };
    let preregistered = uris.is_empty() && redirect_uri.starts_with("http://127.0.0.1:");
    if !preregistered && !uris.contains(&redirect_uri) {
        return (StatusCode::BAD_REQUEST, "redirect_uri not registered").into_response();
    }
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() != 43
    {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let code = random("code-");
    st.codes.insert(
        code.clone(),
        Grant {
            client_id,
            redirect_uri: redirect_uri.clone(),
            challenge: get("code_challenge"),
            resource: q.get("resource").cloned(),
            scope: get("scope"),
        },
    );
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    if st.iss_supported {
        query.append_pair("iss", &st.issuer());
    }
    let location = format!("{redirect_uri}?{}", query.finish());
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn form_of(headers: &HeaderMap, body: &[u8]) -> Option<HashMap<String, String>> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    is_form.then(|| form_urlencoded::parse(body).into_owned().collect())
}

/// The client authentication of a token-endpoint request: a known id, and its secret when
/// it has one.
fn client_ok(st: &St, form: &HashMap<String, String>) -> bool {
    let id = form.get("client_id").map(String::as_str).unwrap_or("");
    st.clients.contains_key(id)
        && st
            .secrets
            .get(id)
            .is_none_or(|s| form.get("client_secret") == Some(s))
}

pub(crate) async fn token(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = form_of(&headers, &body);
    let delay = {
        let mut st = lock(&s);
        let Some(form) = form.as_ref() else {
            st.counters.token_errors += 1;
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        st.last_resource = form.get("resource").cloned();
        if st.token_outage {
            st.counters.token_errors += 1;
            return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
        }
        if !client_ok(&st, form) {
            st.counters.token_errors += 1;
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        st.refresh_delay
    };
    let form = form.unwrap_or_default();
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    match get("grant_type").as_str() {
        "authorization_code" => {
            let mut st = lock(&s);
            let Some(grant) = st.codes.remove(&get("code")) else {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier")));
            if grant.client_id != get("client_id")
                || grant.redirect_uri != get("redirect_uri")
                || grant.challenge != challenge
                || grant.resource != form.get("resource").cloned()
            {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            st.counters.code_exchanges += 1;
            issue(&mut st, grant.client_id, grant.resource, grant.scope, true)
        }
        "refresh_token" => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let mut st = lock(&s);
            let old = get("refresh_token");
            let Some((client_id, resource, scope)) = st.refresh.get(&old).cloned() else {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            if client_id != get("client_id") {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            st.counters.refreshes += 1;
            let rotate = st.rotate_refresh;
            if rotate {
                // Rotation: the old refresh token dies with this use.
                st.refresh.remove(&old);
            }
            issue(&mut st, client_id, resource, scope, rotate)
        }
        DEVICE_GRANT => {
            let mut st = lock(&s);
            let code = get("device_code");
            let slow = std::mem::take(&mut st.device_slow_down_once);
            let Some(device) = st.devices.get(&code) else {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "expired_token");
            };
            if device.client_id != get("client_id") {
                st.counters.token_errors += 1;
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            if slow || !device.approved {
                st.counters.token_errors += 1;
                let error = if slow {
                    "slow_down"
                } else {
                    "authorization_pending"
                };
                return oauth_error(StatusCode::BAD_REQUEST, error);
            }
            let device = st.devices.remove(&code).expect("looked up above");
            st.counters.device_grants += 1;
            issue(
                &mut st,
                device.client_id,
                device.resource,
                device.scope,
                true,
            )
        }
        _ => {
            lock(&s).counters.token_errors += 1;
            oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type")
        }
    }
}

fn issue(
    st: &mut St,
    client_id: String,
    resource: Option<String>,
    scope: String,
    with_refresh: bool,
) -> Response {
    st.seq += 1;
    let access = random(&format!("at{}-", st.seq));
    let lifetime = st.access_lifetime;
    st.access
        .insert(access.clone(), (now() + lifetime, scope.clone()));
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": scope,
    });
    if with_refresh {
        let refresh = random(&format!("rt{}-", st.seq));
        st.refresh
            .insert(refresh.clone(), (client_id, resource, scope.clone()));
        body["refresh_token"] = json!(refresh);
    }
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response()
}

/// RFC 7009: the token dies (whatever its type; the hint is only counted). 200 even for an
/// unknown token, as §2.2 says.
pub(crate) async fn revoke(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = lock(&s);
    if st.revocation_outage {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    let Some(form) = form_of(&headers, &body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if !client_ok(&st, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    match form.get("token_type_hint").map(String::as_str) {
        Some("refresh_token") => st.counters.revoked_refresh += 1,
        _ => st.counters.revoked_access += 1,
    }
    let token = form.get("token").cloned().unwrap_or_default();
    st.access.remove(&token);
    st.refresh.remove(&token);
    StatusCode::OK.into_response()
}

/// RFC 8628 §3.1.
pub(crate) async fn device_authorization(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = lock(&s);
    st.counters.device_authorizations += 1;
    let Some(form) = form_of(&headers, &body) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if !st.device {
        return (StatusCode::NOT_FOUND, "no device flow here").into_response();
    }
    if !client_ok(&st, &form) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    st.last_scope = form.get("scope").cloned();
    let device_code = random("dc-");
    let user_code = format!("{}-{}", &random("")[..4], &random("")[..4]).to_uppercase();
    st.devices.insert(
        device_code.clone(),
        Device {
            client_id: form.get("client_id").cloned().unwrap_or_default(),
            user_code: user_code.clone(),
            scope: form.get("scope").cloned().unwrap_or_default(),
            resource: form.get("resource").cloned(),
            approved: false,
        },
    );
    let verify = format!("{}/as/device/verify", st.base);
    axum::Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verify,
        "verification_uri_complete": format!("{verify}?user_code={user_code}"),
        "expires_in": 600,
        "interval": st.device_interval,
    }))
    .into_response()
}

/// The page a person opens to approve a device code: approves at once.
pub(crate) async fn device_verify(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut st = lock(&s);
    let code = q.get("user_code").cloned().unwrap_or_default();
    match st.devices.values_mut().find(|d| d.user_code == code) {
        Some(d) => {
            d.approved = true;
            (StatusCode::OK, "Approved. You can close this tab.").into_response()
        }
        None => (StatusCode::BAD_REQUEST, "unknown code").into_response(),
    }
}
