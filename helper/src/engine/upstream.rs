//! Calling outside services, and turning their failures into sentences a user can act on.

use std::time::Duration;

use reqwest::{Response, StatusCode};

use crate::ApiError;

/// The one HTTP client of the helper (connection pool shared by every connector).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("patchbay/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("the TLS backend initialises")
}

/// A client for 127.0.0.1 listeners of our own children (rclone's, gh's): a proxy from the
/// environment must never see those requests, and redirects are read, not followed. No
/// connection is kept: each flow's listener is a new process on the same port, and a
/// pooled connection to the previous one would fail the next flow's request.
pub fn loopback_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("the TLS backend initialises")
}

/// What the user was doing, so errors can say what happened to the stored credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Save,
    Revalidate,
}

impl Attempt {
    pub fn consequence(self) -> &'static str {
        match self {
            Attempt::Save => "Nothing was saved.",
            Attempt::Revalidate => "The stored credential was kept.",
        }
    }
}

/// Sends `request` to `service` (at `base_url`): no answer and service trouble (rate limits,
/// outages) become errors that say what to do; every other answer is the caller's to read.
pub async fn send(
    service: &str,
    base_url: &str,
    request: reqwest::RequestBuilder,
    attempt: Attempt,
) -> Result<Response, ApiError> {
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(service, base_url, &e, attempt))?;
    match service_trouble(service, &response, attempt) {
        Some(err) => Err(err),
        None => Ok(response),
    }
}

/// The request never got an HTTP answer.
pub fn unreachable(
    service: &str,
    base_url: &str,
    err: &reqwest::Error,
    attempt: Attempt,
) -> ApiError {
    ApiError::upstream(format!(
        "Cannot reach {service} at {base_url} ({}). Check the network and try again. {}",
        no_answer(err),
        attempt.consequence()
    ))
}

/// Why a request got no HTTP answer, in a few words.
pub fn no_answer(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "the request timed out"
    } else if err.is_connect() {
        "the connection failed"
    } else {
        "the request failed"
    }
}

/// An answer that is neither success nor "your credential is bad": rate limits and outages.
/// Returns `None` for statuses the caller must interpret itself.
pub fn service_trouble(service: &str, response: &Response, attempt: Attempt) -> Option<ApiError> {
    let status = response.status();
    let remaining = header_u64(response, "x-ratelimit-remaining");
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN && remaining == Some(0));
    if rate_limited {
        let when = match header_u64(response, "x-ratelimit-reset") {
            Some(reset) => format!("after {} (UTC)", format_utc(reset)),
            None => match header_u64(response, "retry-after") {
                Some(s) => format!("in {s} seconds"),
                None => "in a few minutes".into(),
            },
        };
        return Some(ApiError::unavailable(format!(
            "{service} is rate-limiting requests; try again {when}. {}",
            attempt.consequence()
        )));
    }
    if status.is_server_error() {
        return Some(ApiError::upstream(format!(
            "{service} answered with an error ({status}); it may be having an outage. Try again \
             in a minute. {}",
            attempt.consequence()
        )));
    }
    None
}

fn header_u64(response: &Response, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `HH:MM` of a Unix time, in UTC.
fn format_utc(unix: u64) -> String {
    let secs_of_day = unix % 86_400;
    format!("{:02}:{:02}", secs_of_day / 3600, (secs_of_day % 3600) / 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_clock() {
        assert_eq!(super::format_utc(86_400 + 3 * 3600 + 7 * 60 + 5), "03:07");
    }
}
