//! The helper's front door: who may talk to it at all.
//!
//! - **Host** must name this helper's own loopback address. A DNS-rebinding page (evil.com
//!   resolving to 127.0.0.1) sends `Host: evil.com:7878` and is refused before any handler.
//! - **Origin**, when a browser sends one, must be on the allowlist; anything else is refused
//!   outright (not merely left without CORS headers), so a foreign page cannot even trigger
//!   side effects with a "simple" request.
//! - **CORS** preflights, including Private Network Access, are answered for allowed origins.
//! - **Pairing token**: every `/api` route but `/api/health` needs `Authorization: Bearer`.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, ORIGIN};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

use crate::{ApiError, AppState, Config};

/// A web origin (scheme, host, port), normalised the way browsers send it in `Origin`:
/// lowercase, and without the scheme's default port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: Option<u16>,
}

impl Origin {
    /// Parses `scheme://host[:port]` (a trailing `/` is tolerated). Paths, queries, userinfo
    /// and non-http schemes are refused, as is the opaque origin `null`.
    pub fn parse(s: &str) -> Option<Origin> {
        let uri: Uri = s.trim().trim_end_matches('/').parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return None;
        }
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let default_port = if scheme == "https" { 443 } else { 80 };
        Some(Origin {
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().filter(|p| *p != default_port),
            scheme,
        })
    }

    /// The origins a page served by the helper itself would send.
    pub fn own_origins(bound: SocketAddr) -> Vec<Origin> {
        own_hostnames(bound)
            .into_iter()
            .map(|host| Origin {
                scheme: "http".into(),
                host,
                port: Some(bound.port()).filter(|p| *p != 80),
            })
            .collect()
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Names under which a local client legitimately reaches a helper bound at `bound`.
fn own_hostnames(bound: SocketAddr) -> Vec<String> {
    let ip = match bound {
        SocketAddr::V4(a) => a.ip().to_string(),
        SocketAddr::V6(a) => format!("[{}]", a.ip()),
    };
    let mut names = vec![
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
        "[::1]".to_owned(),
    ];
    if !names.contains(&ip) {
        names.push(ip);
    }
    names
}

/// Whether a `Host` header value names this helper (DNS-rebinding defence).
pub fn host_is_ours(host: &str, bound: SocketAddr) -> bool {
    let Ok(authority) = host.parse::<Authority>() else {
        return false;
    };
    // A browser always sends the port for a non-default one, and the helper never runs on 80.
    if authority.port_u16() != Some(bound.port()) || authority.as_str().contains('@') {
        return false;
    }
    let name = authority.host().to_ascii_lowercase();
    own_hostnames(bound).contains(&name)
}

/// Why a request's target host cannot be read (RFC 9112 §3.2: answered with 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostProblem {
    Missing,
    Repeated,
    Invalid,
}

/// The host a request is addressed to, as RFC 9112 §3.2 reads it: the request target's own
/// authority when it is in absolute form (`GET http://host:port/… HTTP/1.1`; the Host
/// header is then ignored, §3.2.3), else the one Host header. A request without one, with
/// two, or with one that is not an authority is malformed.
pub fn target_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Result<&'a str, HostProblem> {
    let mut hosts = headers.get_all(HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(HostProblem::Repeated);
    }
    if let Some(authority) = uri.authority() {
        return Ok(authority.as_str());
    }
    let value = first.ok_or(HostProblem::Missing)?;
    value
        .to_str()
        .ok()
        .filter(|v| v.parse::<Authority>().is_ok())
        .ok_or(HostProblem::Invalid)
}

impl HostProblem {
    fn into_error(self, listen: SocketAddr) -> ApiError {
        let what = match self {
            HostProblem::Missing => "has no Host header",
            HostProblem::Repeated => "has more than one Host header",
            HostProblem::Invalid => "has a Host header that is not host:port",
        };
        ApiError::bad_request(format!(
            "This request {what}. Send exactly one: Host: {listen} (RFC 9112 §3.2)."
        ))
    }
}

/// Refuses foreign `Host` and `Origin` values before anything else runs.
pub async fn guard_host_and_origin(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let config = state.config();
    let host = match target_host(req.uri(), req.headers()) {
        Ok(host) => host,
        Err(problem) => return problem.into_error(config.listen).into_response(),
    };
    if !host_is_ours(host, config.listen) {
        return ApiError::forbidden(format!(
            "This helper only answers requests addressed to http://{} (this one is addressed \
             to another site).",
            config.listen
        ))
        .into_response();
    }
    if let Some(origin) = req.headers().get(ORIGIN) {
        let allowed = origin
            .to_str()
            .ok()
            .and_then(Origin::parse)
            .is_some_and(|o| config.allowed_origins.contains(&o));
        if !allowed {
            return ApiError::forbidden(
                "This web page's origin may not call the Patchbay helper. If you trust it, \
                 restart the helper with --allow-origin <its origin>.",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Requires `Authorization: Bearer <pairing token>`, compared in constant time.
pub async fn require_pairing_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_credentials);
    match presented {
        Some(token) if state.pairing_token().matches(token) => next.run(req).await,
        Some(_) => ApiError::unauthorized(
            "The pairing token is not this helper's. Open the dashboard link that \
             `patchbay serve` printed to pair again.",
        )
        .into_response(),
        None => ApiError::unauthorized(
            "This route needs the pairing token (Authorization: Bearer …). Open the dashboard \
             link that `patchbay serve` printed.",
        )
        .into_response(),
    }
}

/// The credentials of a `Bearer` authorization header (the scheme is case-insensitive).
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
        .filter(|c| !c.is_empty())
}

/// CORS for allowed origins only; includes the Private Network Access opt-in that Chrome
/// asks for before a public page may call a loopback address.
pub fn cors_layer(config: &Config) -> CorsLayer {
    let origins: Vec<HeaderValue> = config
        .allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(&o.to_string()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        .allow_private_network(true)
        .max_age(Duration::from_secs(600))
}

/// The built dashboard, with unknown paths answered by `index.html` (client-side routing).
pub fn dashboard_files(dir: &Path) -> ServeDir<ServeFile> {
    ServeDir::new(dir).fallback(ServeFile::new(dir.join("index.html")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound() -> SocketAddr {
        "127.0.0.1:7878".parse().unwrap()
    }

    #[test]
    fn own_host_names_pass_and_others_fail() {
        for ok in [
            "127.0.0.1:7878",
            "localhost:7878",
            "LOCALHOST:7878",
            "[::1]:7878",
        ] {
            assert!(host_is_ours(ok, bound()), "{ok}");
        }
        for bad in [
            "evil.example:7878",
            "127.0.0.1:7879",
            "127.0.0.1",
            "localhost",
            "127.0.0.1.nip.io:7878",
            "user@127.0.0.1:7878",
            "",
        ] {
            assert!(!host_is_ours(bad, bound()), "{bad}");
        }
    }

    #[test]
    fn the_target_host_is_the_absolute_uris_then_the_one_host_header() {
        let headers = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(HOST, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let origin_form: Uri = "/api/health".parse().unwrap();
        let absolute: Uri = "http://evil.example:7878/api/health".parse().unwrap();
        let ours = headers(&["127.0.0.1:7878"]);
        assert_eq!(target_host(&origin_form, &ours), Ok("127.0.0.1:7878"));
        // RFC 9112 §3.2.3: the request target's host wins over the Host header.
        assert_eq!(target_host(&absolute, &ours), Ok("evil.example:7878"));
        let own_absolute: Uri = "http://127.0.0.1:7878/x".parse().unwrap();
        let foreign = headers(&["evil.example:7878"]);
        assert_eq!(target_host(&own_absolute, &foreign), Ok("127.0.0.1:7878"));
        let two = headers(&["127.0.0.1:7878", "127.0.0.1:7878"]);
        assert_eq!(target_host(&origin_form, &two), Err(HostProblem::Repeated));
        assert_eq!(target_host(&own_absolute, &two), Err(HostProblem::Repeated));
        let none = HeaderMap::new();
        assert_eq!(target_host(&origin_form, &none), Err(HostProblem::Missing));
        let bad = headers(&["127.0.0.1:7878/x"]);
        assert_eq!(target_host(&origin_form, &bad), Err(HostProblem::Invalid));
    }

    #[test]
    fn origins_normalise_like_browsers_send_them() {
        assert_eq!(
            Origin::parse("HTTPS://App.Example.com:443/"),
            Origin::parse("https://app.example.com")
        );
        assert_eq!(
            Origin::parse("http://127.0.0.1:8080").unwrap().to_string(),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "null",
            "app.example.com",
            "ftp://x",
            "https://x/path",
            "https://u@x",
        ] {
            assert_eq!(Origin::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_credentials("Bearer abc"), Some("abc"));
        assert_eq!(bearer_credentials("bearer  abc "), Some("abc"));
        assert_eq!(bearer_credentials("Basic abc"), None);
        assert_eq!(bearer_credentials("Bearer "), None);
        assert_eq!(bearer_credentials("Bearerabc"), None);
    }
}
