//! The state machines of the guided flows, as plain values and functions: what the person
//! sees next follows from the helper's answer alone. No Leptos, no browser, so they are
//! unit-tested natively (`cargo test -p patchbay-app`).

use patchbay_proto::api::{EndReason, FlowStatus};
use patchbay_proto::rclone::is_valid_remote_name;
use patchbay_proto::tokens::{DevicePoll, DeviceStatus};

use crate::answer::{self, Value};

/// One step of a sign-in that ends with an authorization page (Drive, OneDrive, MCP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The helper is getting the sign-in ready (rclone starting, MCP discovery).
    Preparing,
    /// Open `auth_url`, approve, and (if the browser could not get back by itself) paste
    /// the address the provider sent it to. `note`: what the helper warns about already
    /// (e.g. no OAuth client of one's own), shown before anyone follows the link.
    Authorize {
        auth_url: String,
        note: Option<String>,
    },
    /// Done; `note` is something the person should know about the result.
    Completed {
        note: Option<String>,
    },
    /// Failed, with the helper's sentence.
    Failed(String),
    Cancelled,
}

impl Step {
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            Step::Completed { .. } | Step::Failed(_) | Step::Cancelled
        )
    }
}

/// What both session kinds say, reduced to what the flow needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub status: FlowStatus,
    pub auth_url: Option<String>,
    pub error: Option<String>,
    /// Why it ended without completing (the status is then `error`).
    pub reason: Option<EndReason>,
    pub note: Option<String>,
}

impl SessionView {
    /// A session's answer (proto's `RemoteSession` or `McpSession`); `None` when it is not one.
    pub fn read(answer: &Value) -> Option<Self> {
        Some(Self {
            status: answer::flow_status(answer, "status")?,
            auth_url: answer::text(answer, "auth_url"),
            error: answer::text(answer, "error"),
            reason: answer::end_reason(answer, "reason"),
            note: answer::text(answer, "note"),
        })
    }
}

#[cfg(test)]
impl From<patchbay_proto::api::RemoteSession> for SessionView {
    fn from(s: patchbay_proto::api::RemoteSession) -> Self {
        Self {
            status: s.status,
            auth_url: s.auth_url,
            error: s.error,
            reason: s.reason,
            note: s.note,
        }
    }
}

#[cfg(test)]
impl From<patchbay_proto::mcp::McpSession> for SessionView {
    fn from(s: patchbay_proto::mcp::McpSession) -> Self {
        Self {
            status: s.status,
            auth_url: s.auth_url,
            error: s.error,
            reason: s.reason,
            note: None,
        }
    }
}

/// The step a session's status puts the person at.
pub fn step_of(s: &SessionView) -> Step {
    match s.status {
        FlowStatus::Pending => Step::Preparing,
        FlowStatus::AwaitingOauth => match &s.auth_url {
            Some(url) => Step::Authorize {
                auth_url: url.clone(),
                note: s.note.clone(),
            },
            None => Step::Preparing,
        },
        FlowStatus::Completed => Step::Completed {
            note: s.note.clone(),
        },
        FlowStatus::Error => match s.reason {
            Some(EndReason::Cancelled) => Step::Cancelled,
            Some(EndReason::Expired) => Step::Failed(
                "This sign-in took too long and expired. Start it again when you are ready.".into(),
            ),
            Some(EndReason::Failed) | None => Step::Failed(s.error.clone().unwrap_or_else(|| {
                "The sign-in failed without saying why. Start it again.".to_owned()
            })),
        },
    }
}

/// The inline message for a remote name as it is typed; `None` when it can be used.
/// `existing` are the remotes already configured (any type: rclone names are global).
pub fn remote_name_problem(name: &str, existing: &[String], replace: bool) -> Option<String> {
    if name.is_empty() {
        return Some("Give the remote a name, like personal or work.".into());
    }
    if !is_valid_remote_name(name) {
        let hint = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            " Use lowercase letters."
        } else if name.contains(' ') {
            " Use - or _ instead of spaces."
        } else if name.len() > 32 {
            " Make it shorter."
        } else {
            ""
        };
        return Some(format!(
            "A remote name is 1 to 32 lowercase letters, digits, - or _.{hint}"
        ));
    }
    if existing.iter().any(|e| e == name) && !replace {
        return Some(format!(
            "A remote called {name} already exists. Pick another name, or tick \
             \"Sign in again\" to replace its sign-in."
        ));
    }
    None
}

/// The inline message for an MCP server URL; `None` when it can be used.
pub fn server_url_problem(url: &str) -> Option<String> {
    use patchbay_proto::oauth::{UrlError, check_url};
    let url = url.trim();
    if url.is_empty() {
        return Some("Enter the server's address, like https://mcp.example.com/mcp.".into());
    }
    match check_url(url) {
        Ok(_) => None,
        Err(UrlError::NotHttpUrl) => Some(
            "That is not a web address. It should start with https:// (for example \
             https://mcp.example.com/mcp)."
                .into(),
        ),
        Err(UrlError::InsecureHttp) => Some(
            "Use https://: plain http is only allowed for servers on this machine \
             (127.0.0.1 or localhost)."
                .into(),
        ),
    }
}

/// The inline message for what was pasted into a redirect box; `None` when it can be sent.
pub fn paste_problem(pasted: &str) -> Option<String> {
    patchbay_proto::redirect::parse_pasted_redirect(pasted)
        .err()
        .map(|e| e.message())
}

/// `m:ss` (or `h:mm:ss`) for a countdown.
pub fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// How long ago `then` was, in words ("just now", "5 minutes ago", "3 days ago"); both in
/// Unix seconds.
pub fn ago(now: u64, then: u64) -> String {
    let secs = now.saturating_sub(then);
    let (n, unit) = match secs {
        0..60 => return "just now".into(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    let s = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{s} ago")
}

/// What approving an agent's request does, said on the card beside the button.
pub fn approve_consequence(client: &str, scopes: &[String]) -> String {
    let can: Vec<&str> = scopes
        .iter()
        .map(|s| patchbay_proto::agents::scope_description(s))
        .collect();
    format!(
        "Approve: {client} can {} until you disconnect it here.",
        can.join(" and ")
    )
}

/// What denying an agent's request does.
pub fn deny_consequence(client: &str) -> String {
    format!("Deny: {client} is told no; nothing is shared.")
}

/// When an approved agent was approved and last used, in one line.
pub fn agent_times(now: u64, approved_at: u64, last_used_at: Option<u64>) -> String {
    let used = match last_used_at {
        Some(t) => format!("last used {}", ago(now, t)),
        None => "not used yet".into(),
    };
    format!("approved {} · {used}", ago(now, approved_at))
}

/// What every card says when a sign-in was cancelled, whoever cancelled it: the flow closes
/// and this notice shows for a moment.
pub const CANCELLED: &str = "Sign-in cancelled. Nothing was changed.";

/// The sentence for a failed device flow (GitHub); `None` while it waits, once approved, and
/// when cancelled (which every card reports the same way: [`CANCELLED`]). A flow that can no
/// longer be approved is `expired`; its `reason` tells a failure from a timeout.
pub fn device_failure(poll: &DevicePoll) -> Option<String> {
    let or = |default: &str| poll.message.clone().unwrap_or_else(|| default.into());
    match (poll.status, poll.reason) {
        (DeviceStatus::Pending | DeviceStatus::Approved, _) => None,
        (DeviceStatus::Expired, Some(EndReason::Cancelled)) => None,
        (DeviceStatus::Expired, Some(EndReason::Failed)) => {
            Some(or("GitHub sign-in failed. Try again."))
        }
        (DeviceStatus::Expired, Some(EndReason::Expired) | None) => Some(or(
            "The code expired before it was approved. Get a new code and enter it at GitHub.",
        )),
    }
}

/// The words for an MCP server's token state.
pub fn token_state_words(state: patchbay_proto::mcp::TokenState) -> (&'static str, &'static str) {
    use patchbay_proto::mcp::TokenState::*;
    match state {
        Valid => ("ok", "Signed in"),
        Expired => ("ok", "Signed in (token refreshes on next use)"),
        ReauthorizationRequired => ("warn", "Sign in again"),
        Missing => ("warn", "Not signed in"),
    }
}

/// What a card's badge says. "Needs setup" is neutral: nothing is wrong, something is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Badge {
    Connected,
    NeedsSetup,
    NotConnected,
}

/// A connected card says so even when a setting is missing (its credentials still work);
/// otherwise a missing setting comes before "not connected".
pub fn badge(connected: bool, needs_setup: bool) -> Badge {
    match (connected, needs_setup) {
        (true, _) => Badge::Connected,
        (false, true) => Badge::NeedsSetup,
        (false, false) => Badge::NotConnected,
    }
}

impl Badge {
    /// `data-state`: whether credentials are there, whatever else the badge says.
    pub fn state(self) -> &'static str {
        match self {
            Badge::Connected => "connected",
            _ => "disconnected",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Badge::Connected => "connected",
            Badge::NeedsSetup => "setup",
            Badge::NotConnected => "disconnected",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Badge::Connected => "Connected",
            Badge::NeedsSetup => "Needs setup",
            Badge::NotConnected => "Not connected",
        }
    }
}

/// Whether this page is served by the helper itself (`patchbay serve --dashboard-dir`): then
/// no browser permission stands between them, and advice about one would mislead.
pub fn served_by_helper(page_origin: &str, helper: &str) -> bool {
    page_origin
        .trim_end_matches('/')
        .eq_ignore_ascii_case(helper.trim_end_matches('/'))
}

/// The offline banner's advice after "check that the helper is running": Chrome's Local
/// Network Access prompt applies only to a page on another origin than the helper's.
pub fn offline_advice(served_by_helper: bool) -> Option<&'static str> {
    (!served_by_helper).then_some(
        "If the browser asked whether this site may access devices on your local network, \
         choose Allow, then reload.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_proto::api::RemoteSession;
    use patchbay_proto::mcp::McpSession;

    #[test]
    fn ago_says_the_largest_whole_unit() {
        assert_eq!(ago(1_000, 1_000), "just now");
        assert_eq!(ago(1_000, 2_000), "just now", "a clock a little behind");
        assert_eq!(ago(1_000 + 59, 1_000), "just now");
        assert_eq!(ago(1_000 + 60, 1_000), "1 minute ago");
        assert_eq!(ago(1_000 + 150, 1_000), "2 minutes ago");
        assert_eq!(ago(7_200, 0), "2 hours ago");
        assert_eq!(ago(86_400 * 3 + 5, 0), "3 days ago");
    }

    #[test]
    fn agent_consequences_name_the_client_and_what_it_gets() {
        let scopes = vec!["connections:read".to_owned(), "vercel:read".to_owned()];
        let approve = approve_consequence("Claude", &scopes);
        assert!(
            approve.starts_with("Approve: Claude can see which accounts"),
            "{approve}"
        );
        assert!(
            approve.contains(" and read the connected Vercel"),
            "{approve}"
        );
        assert!(
            approve.ends_with("until you disconnect it here."),
            "{approve}"
        );
        assert_eq!(
            deny_consequence("Claude"),
            "Deny: Claude is told no; nothing is shared."
        );
        assert_eq!(
            agent_times(7_200, 0, None),
            "approved 2 hours ago · not used yet"
        );
        assert_eq!(
            agent_times(7_200, 0, Some(7_100)),
            "approved 2 hours ago · last used 1 minute ago"
        );
    }

    fn view(status: FlowStatus) -> SessionView {
        SessionView {
            status,
            auth_url: Some("https://accounts.example/auth?x=1".into()),
            error: None,
            reason: None,
            note: None,
        }
    }

    #[test]
    fn steps_follow_the_status() {
        assert_eq!(step_of(&view(FlowStatus::Pending)), Step::Preparing);
        assert_eq!(
            step_of(&view(FlowStatus::AwaitingOauth)),
            Step::Authorize {
                auth_url: "https://accounts.example/auth?x=1".into(),
                note: None,
            }
        );
        let mut warned = view(FlowStatus::AwaitingOauth);
        warned.note = Some("No Google OAuth client is configured.".into());
        assert!(matches!(
            step_of(&warned),
            Step::Authorize { note: Some(n), .. } if n.contains("OAuth client")
        ));
        let mut no_url = view(FlowStatus::AwaitingOauth);
        no_url.auth_url = None;
        assert_eq!(step_of(&no_url), Step::Preparing);
        let mut failed = view(FlowStatus::Error);
        failed.error = Some("rclone exited".into());
        assert_eq!(step_of(&failed), Step::Failed("rclone exited".into()));
        failed.reason = Some(EndReason::Failed);
        assert_eq!(step_of(&failed), Step::Failed("rclone exited".into()));
        // The contract's `error`, with the detail beside it.
        let mut cancelled = view(FlowStatus::Error);
        cancelled.error = Some("The sign-in was cancelled.".into());
        cancelled.reason = Some(EndReason::Cancelled);
        assert_eq!(step_of(&cancelled), Step::Cancelled);
        let mut expired = view(FlowStatus::Error);
        expired.reason = Some(EndReason::Expired);
        assert!(matches!(step_of(&expired), Step::Failed(m) if m.contains("expired")));
        assert!(!step_of(&view(FlowStatus::AwaitingOauth)).is_finished());
        let mut done = view(FlowStatus::Completed);
        done.note = Some("drive looked up".into());
        assert_eq!(
            step_of(&done),
            Step::Completed {
                note: Some("drive looked up".into())
            }
        );
    }

    #[test]
    fn sessions_of_both_kinds_read_into_one_view() {
        let rclone: RemoteSession = serde_json::from_str(
            r#"{"status":"awaiting_oauth","auth_url":"u","needs_manual_code":true,"remote_name":"p","error":null}"#,
        )
        .unwrap();
        let read = SessionView::read(&serde_json::to_value(&rclone).unwrap()).unwrap();
        assert_eq!(read, SessionView::from(rclone));
        assert_eq!(read.auth_url.as_deref(), Some("u"));
        let mcp: McpSession = serde_json::from_str(
            r#"{"status":"error","auth_url":null,"server_url":"https://m","issuer":null,"error":"no","reason":"failed"}"#,
        )
        .unwrap();
        let read = SessionView::read(&serde_json::to_value(&mcp).unwrap()).unwrap();
        assert_eq!(read, SessionView::from(mcp));
        assert_eq!(step_of(&read), Step::Failed("no".into()));
        assert_eq!(
            SessionView::read(&serde_json::json!({"status": "later"})),
            None
        );
    }

    #[test]
    fn remote_names_say_what_is_wrong() {
        assert_eq!(remote_name_problem("personal", &[], false), None);
        assert!(
            remote_name_problem("", &[], false)
                .unwrap()
                .contains("Give the remote a name")
        );
        assert!(
            remote_name_problem("My Drive", &[], false)
                .unwrap()
                .contains("lowercase")
        );
        assert!(
            remote_name_problem("my drive", &[], false)
                .unwrap()
                .contains("instead of spaces")
        );
        assert!(
            remote_name_problem(&"a".repeat(33), &[], false)
                .unwrap()
                .contains("shorter")
        );
        let existing = vec!["work".to_owned()];
        assert!(
            remote_name_problem("work", &existing, false)
                .unwrap()
                .contains("already exists")
        );
        assert_eq!(remote_name_problem("work", &existing, true), None);
    }

    #[test]
    fn server_urls_and_pastes() {
        assert_eq!(server_url_problem("https://mcp.example.com/mcp"), None);
        assert_eq!(server_url_problem("http://127.0.0.1:9000/mcp"), None);
        assert!(
            server_url_problem("http://mcp.example.com")
                .unwrap()
                .contains("https://")
        );
        assert!(
            server_url_problem("mcp.example.com")
                .unwrap()
                .contains("web address")
        );
        assert!(server_url_problem("  ").is_some());
        assert_eq!(
            paste_problem("http://127.0.0.1:53682/?state=s&code=4%2F0abc"),
            None
        );
        assert!(paste_problem("").unwrap().contains("Nothing was pasted"));
        assert!(paste_problem("http://127.0.0.1:53682/?state=s").is_some());
    }

    #[test]
    fn badges_put_connected_first_then_setup() {
        assert_eq!(badge(true, true), Badge::Connected);
        assert_eq!(badge(false, true), Badge::NeedsSetup);
        assert_eq!(badge(false, false), Badge::NotConnected);
        assert_eq!(Badge::NeedsSetup.state(), "disconnected");
        assert_eq!(Badge::NeedsSetup.words(), "Needs setup");
    }

    #[test]
    fn local_network_advice_only_for_pages_on_another_origin() {
        assert!(served_by_helper(
            "http://127.0.0.1:7878",
            "http://127.0.0.1:7878/"
        ));
        assert!(!served_by_helper(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:7878"
        ));
        assert!(!served_by_helper(
            "http://localhost:7878",
            "http://127.0.0.1:7878"
        ));
        assert_eq!(offline_advice(true), None);
        let advice = offline_advice(false).unwrap();
        assert!(
            advice.contains("Allow") && !advice.contains('`'),
            "{advice}"
        );
    }

    #[test]
    fn clocks_and_outcomes() {
        assert_eq!(clock(900), "15:00");
        assert_eq!(clock(61), "1:01");
        assert_eq!(clock(0), "0:00");
        assert_eq!(clock(3725), "1:02:05");
        let poll = |status, reason, message: Option<&str>| DevicePoll {
            status,
            reason,
            message: message.map(str::to_owned),
            user: None,
        };
        assert_eq!(
            device_failure(&poll(DeviceStatus::Pending, None, None)),
            None
        );
        let cancelled = poll(
            DeviceStatus::Expired,
            Some(EndReason::Cancelled),
            Some("by you"),
        );
        assert_eq!(device_failure(&cancelled), None);
        assert!(
            device_failure(&poll(DeviceStatus::Expired, None, None))
                .unwrap()
                .contains("expired")
        );
        let failed = poll(
            DeviceStatus::Expired,
            Some(EndReason::Failed),
            Some("gh is not installed"),
        );
        assert_eq!(
            device_failure(&failed).as_deref(),
            Some("gh is not installed")
        );
    }
}
