//! Talking to the paired helper, and knowing whether it can be reached.

use gloo_net::http::{Request, Response};
use leptos::prelude::*;
use leptos::task::spawn_local;
use patchbay_proto::Secret;
use patchbay_proto::pairing::Pairing;
use serde::Serialize;

use crate::answer::{self, Value};
use crate::tasks::Tasks;

/// How long a long-poll asks the helper to hold the answer (seconds; the helper caps at 60).
pub const LONG_POLL_SECS: u32 = 25;

/// Whether the helper answers, shared by every card. Any request that gets no answer marks
/// it lost; a probe of `/api/health` (with back-off) marks it back, and bumps `epoch`, which
/// every card's data depends on, so the whole page refreshes itself.
#[derive(Clone, Copy)]
pub struct Link {
    pub online: RwSignal<bool>,
    pub epoch: RwSignal<u32>,
}

impl Link {
    pub fn new() -> Self {
        Self {
            online: RwSignal::new(true),
            epoch: RwSignal::new(0),
        }
    }
}

#[derive(Clone)]
pub struct HelperClient {
    base: String,
    token: Secret,
    pub link: Link,
}

/// What went wrong, in terms a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiFailure {
    /// No HTTP answer at all: helper not running, or the browser blocked the request
    /// (Chrome's Local Network Access permission, CORS).
    Unreachable,
    /// The helper answered 401: the pairing is stale.
    Unpaired(String),
    /// Any other error answer, with the helper's own sentence.
    Refused { status: u16, message: String },
    /// An answer this dashboard does not understand (version mismatch).
    Garbled(String),
}

impl ApiFailure {
    pub fn explain(&self, helper: &str) -> String {
        match self {
            ApiFailure::Unreachable => format!(
                "Cannot reach the Patchbay helper at {helper}. Check that patchbay serve is \
                 running."
            ),
            ApiFailure::Unpaired(m) => format!(
                "The helper did not accept this pairing: {m} Open the dashboard link the \
                 helper printed when it started again."
            ),
            ApiFailure::Refused { message, .. } => message.clone(),
            ApiFailure::Garbled(m) => format!(
                "The helper's answer was not understood ({m}). Are the dashboard and helper \
                 the same version?"
            ),
        }
    }

    /// What a card shows for this failure. `None` when the page-wide banner already says it
    /// (the helper is unreachable), so six cards do not repeat one problem.
    pub fn on_card(&self) -> Option<String> {
        match self {
            ApiFailure::Unreachable => None,
            other => Some(other.explain("")),
        }
    }
}

impl HelperClient {
    pub fn new(pairing: Pairing, link: Link) -> Self {
        Self {
            base: pairing.helper,
            token: pairing.token,
            link,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A GET; the answer read as JSON (see [`crate::answer`]).
    pub async fn get(&self, path: &str) -> Result<Value, ApiFailure> {
        decode(&self.call(Method::Get, path, None).await?)
    }

    /// A POST with a JSON body (see [`json`]); the answer read as JSON.
    pub async fn post(&self, path: &str, body: String) -> Result<Value, ApiFailure> {
        decode(&self.post_json(path, body).await?)
    }

    /// A POST with a JSON body (see [`json`]); the answer's text.
    pub async fn post_json(&self, path: &str, body: String) -> Result<String, ApiFailure> {
        self.call(Method::Post, path, Some(body)).await
    }

    /// A POST without a body (`disconnect`, `reconnect`, `cli/start`).
    pub async fn post_empty(&self, path: &str) -> Result<Value, ApiFailure> {
        decode(&self.post_text(path).await?)
    }

    /// A POST without a body; the answer's text.
    pub async fn post_text(&self, path: &str) -> Result<String, ApiFailure> {
        self.call(Method::Post, path, Some("{}".into())).await
    }

    /// A DELETE answered with 204 or `{"ok": true}`.
    pub async fn delete(&self, path: &str) -> Result<(), ApiFailure> {
        self.call(Method::Delete, path, None).await.map(|_| ())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every API call goes through here (one copy of the request code in the wasm, not one
    /// per answer type): the answer's text on success, else what went wrong.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<String, ApiFailure> {
        let url = self.url(path);
        let request = match method {
            Method::Get => Request::get(&url),
            Method::Post => Request::post(&url),
            Method::Delete => Request::delete(&url),
        }
        .header("Authorization", &format!("Bearer {}", self.token.expose()));
        let sent = match body {
            Some(b) => match request.header("Content-Type", "application/json").body(b) {
                Ok(r) => r.send().await,
                // A text body always makes a request; the error's own words would pull
                // gloo-net's messages into the wasm for nothing.
                Err(_) => return Err(ApiFailure::Garbled("the request could not be made".into())),
            },
            None => request.send().await,
        };
        let response = sent.map_err(|_| {
            self.lost();
            ApiFailure::Unreachable
        })?;
        if response.ok() {
            return response
                .text()
                .await
                .map_err(|_| ApiFailure::Garbled("the answer could not be read".into()));
        }
        Err(failure(response).await)
    }

    /// The helper stopped answering: say so, and probe until it answers again.
    fn lost(&self) {
        let link = self.link;
        if !link.online.get_untracked() {
            return;
        }
        link.online.set(false);
        let health = self.url("/api/health");
        spawn_local(async move {
            let mut delay = 500;
            loop {
                sleep(delay).await;
                if let Ok(r) = Request::get(&health).send().await
                    && r.ok()
                {
                    link.online.set(true);
                    link.epoch.update(|e| *e += 1);
                    return;
                }
                delay = (delay * 2).min(5_000);
            }
        });
    }

    /// Notices a helper that went away while nothing was asking it anything: a cheap,
    /// unauthenticated `/api/health` every few seconds while the page is visible (and at
    /// once when it becomes visible again), for as long as `tasks`' component lives. Flows
    /// never poll on a timer; they long-poll.
    pub fn watch(&self, tasks: &Tasks) {
        let client = self.clone();
        tasks.spawn(async move {
            loop {
                sleep(HEARTBEAT_MS).await;
                client.check().await;
            }
        });
        let client = self.clone();
        let tasks = tasks.clone();
        let visible = window_event_listener(leptos::ev::focus, move |_| {
            let client = client.clone();
            tasks.spawn(async move { client.check().await });
        });
        on_cleanup(move || visible.remove());
    }

    async fn check(&self) {
        if !self.link.online.get_untracked() || document_hidden() {
            return;
        }
        let health = self.url("/api/health");
        if Request::get(&health).send().await.is_err() {
            self.lost();
        }
    }

    /// `path`'s answer, read now, again whenever `again` is bumped or the helper comes
    /// back after an outage, and never while `enabled` is false (then it reads as empty).
    /// An answer that arrives after a newer read started is dropped, and the last answer
    /// stays while a new one loads. Every card's data and the overview come through this
    /// one function, so the wasm holds one copy of the loading code.
    pub fn follow(
        &self,
        path: &'static str,
        enabled: Signal<bool>,
        again: RwSignal<u32>,
    ) -> ReadSignal<Option<Result<Value, ApiFailure>>> {
        let answer = RwSignal::new(None);
        let tasks = Tasks::here();
        let latest = StoredValue::new(0u32);
        let (client, epoch) = (self.clone(), self.link.epoch);
        Effect::new(move |_| {
            epoch.track();
            again.track();
            let enabled = enabled.get();
            let Some(run) = latest.try_update_value(|n| {
                *n += 1;
                *n
            }) else {
                return;
            };
            let client = client.clone();
            tasks.spawn(async move {
                let r = if enabled {
                    client.get(path).await
                } else {
                    Ok(answer::nothing())
                };
                if latest.try_get_value() == Some(run) {
                    answer.set(Some(r));
                }
            });
        });
        answer.read_only()
    }

    /// Waits until the helper answers again (after a failed long-poll, say).
    pub async fn until_online(&self) {
        while !self.link.online.get_untracked() {
            sleep(250).await;
        }
    }
}

#[derive(Clone, Copy)]
enum Method {
    Get,
    Post,
    Delete,
}

/// A request body as JSON. Serialized before the request, so the request code is one copy
/// for every body type (an async function generic over the body was one per type). In the
/// browser the body becomes a JavaScript object that the browser's `JSON.stringify` writes
/// (serde_json's writer was 1.5 KiB more of the gzipped wasm); natively, for the tests,
/// serde_json writes it. proto's request types are plain structs of strings: this cannot
/// fail.
#[cfg(target_arch = "wasm32")]
pub fn json(body: &impl Serialize) -> String {
    serde_wasm_bindgen::to_value(body)
        .ok()
        .and_then(|v| js_sys::JSON::stringify(&v).ok())
        .map(String::from)
        .unwrap_or_default()
}

#[cfg(not(target_arch = "wasm32"))]
pub fn json(body: &impl Serialize) -> String {
    serde_json::to_string(body).unwrap_or_default()
}

/// An answer's text as JSON; an empty answer (204) reads as `null`.
pub fn decode(text: &str) -> Result<Value, ApiFailure> {
    let text = if text.trim().is_empty() { "null" } else { text };
    // Which byte was wrong does not help the person (a version mismatch does).
    answer::parse(text).ok_or_else(|| ApiFailure::Garbled("not JSON".into()))
}

async fn failure(response: Response) -> ApiFailure {
    let status = response.status();
    // The one error shape (proto's `ErrorBody`): its `message` says what to do.
    let body = response.text().await.ok().and_then(|t| decode(&t).ok());
    let message = match body.as_ref().and_then(|b| answer::text(b, "message")) {
        Some(m) if !m.is_empty() => m,
        _ => plain_status(status).to_owned(),
    };
    if status == 401 {
        ApiFailure::Unpaired(message)
    } else {
        ApiFailure::Refused { status, message }
    }
}

/// What an error status means when the answer carried no sentence of its own.
pub fn plain_status(status: u16) -> &'static str {
    match status {
        400 => "The helper did not accept that request. Check what you entered and try again.",
        401 => "The helper did not accept this dashboard's pairing.",
        403 => {
            "The helper refused this page's origin. Start it with --allow-origin for this address."
        }
        404 => "The helper does not know this (it may have restarted, or be an older version).",
        409 => "Another sign-in is in progress. Finish or cancel it, then try again.",
        502 => "The outside service did not answer properly. Try again in a moment.",
        503 => "The helper cannot do this right now: a program or setting it needs is missing.",
        _ => "Something went wrong in the helper. Try again; if it persists, check its log.",
    }
}

/// How often an idle page checks that the helper is still there.
const HEARTBEAT_MS: i32 = 4_000;

fn document_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_is_for_the_banner_not_the_cards() {
        assert_eq!(ApiFailure::Unreachable.on_card(), None);
        let refused = ApiFailure::Refused {
            status: 409,
            message: "Port 53682 is used by the gdrive sign-in.".into(),
        };
        assert_eq!(
            refused.on_card().as_deref(),
            Some("Port 53682 is used by the gdrive sign-in.")
        );
    }

    #[test]
    fn every_status_has_words() {
        for s in [400, 401, 403, 404, 409, 418, 500, 502, 503] {
            let words = plain_status(s);
            assert!(words.len() > 20 && !words.contains(&s.to_string()), "{s}");
        }
    }
}
