//! The connector cards: the overview gives the order and a one-line summary of each; every
//! card then reads its own state, runs its own flows, and keeps them when the helper comes
//! back after an outage (cards are keyed by connector, never rebuilt by a refresh).

mod agents;
mod github;
mod manus;
mod mcp;
mod remotes;
mod vercel;
mod view;

pub use vercel::PendingExchange;

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, SetupNeeded};

use crate::answer::{self, Value};
use crate::api::{ApiFailure, HelperClient, Link};
use crate::flow::{CANCELLED, offline_advice, served_by_helper};
use crate::session::Ended;
use crate::tasks::Tasks;
use crate::ui::{Feedback, TokenForm, When};
use view::{Button, CardView, Enable, Panel};

/// Bumped by a card after it changed something, so the overview (and its summary lines)
/// reloads.
#[derive(Clone, Copy)]
pub struct Changed(pub RwSignal<u32>);

impl Changed {
    pub fn bump(self) {
        self.0.update(|n| *n += 1);
    }
}

/// What the overview says about one connector; cards show it until their own state loads.
/// Read through methods (tracked), not signals of their own: fewer signal types in the wasm.
#[derive(Clone, Copy)]
pub struct Summary {
    pub id: ConnectorId,
    overview: Memo<Option<Vec<Overview>>>,
}

impl Summary {
    fn entry<T>(self, f: impl FnOnce(Option<&Overview>) -> T) -> T {
        self.overview
            .with(|o| f(o.iter().flatten().find(|c| c.id == self.id)))
    }

    pub fn connected(self) -> bool {
        self.entry(|c| c.is_some_and(|c| c.connected))
    }

    /// The overview's line about the connector, else what it connects.
    pub fn detail(self) -> String {
        self.entry(|c| c.and_then(|c| c.detail.clone()))
            .unwrap_or_else(|| what_it_connects(self.id).to_owned())
    }

    /// What the connector lacks before a sign-in can work (no OAuth client, no edge).
    pub fn setup(self) -> Option<SetupNeeded> {
        self.entry(|c| c.and_then(|c| c.setup.clone()))
    }
}

#[component]
pub fn Dashboard(client: HelperClient) -> impl IntoView {
    let helper = client.base().to_owned();
    let link: Link = client.link;
    let changed = Changed(RwSignal::new(0));
    provide_context(client.clone());
    provide_context(changed);
    client.watch(&Tasks::here());
    let same_origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .is_some_and(|origin| served_by_helper(&origin, &helper));

    // Read again after each change a card makes (and when the helper comes back).
    let overview = client.follow("/api/connectors", Signal::stored(true), changed.0);
    let latest = Memo::new(
        move |prev: Option<&Option<Vec<Overview>>>| match overview.get() {
            Some(Ok(o)) if answer::has_list(&o, "connectors") => Some(overview_of(&o)),
            _ => prev.cloned().flatten(),
        },
    );
    let refused = {
        let helper = helper.clone();
        move || match overview.get() {
            Some(Err(e)) if e != ApiFailure::Unreachable => Some(e.explain(&helper)),
            Some(Ok(o)) if !answer::has_list(&o, "connectors") => {
                Some(ApiFailure::Garbled("no connectors".into()).explain(&helper))
            }
            _ => None,
        }
    };
    let offline = {
        let helper = helper.clone();
        move || {
            (!link.online.get()).then(|| {
                view! {
                    <div class="banner error" data-testid="banner">
                        "Cannot reach the Patchbay helper at " <code>{helper.clone()}</code>
                        ". Check that " <code>"patchbay serve"</code> " is running. "
                        {offline_advice(same_origin)}
                        " Trying again by itself…"
                    </div>
                }
            })
        }
    };

    view! {
        <p class="paired">"Paired with the helper at " <code>{helper.clone()}</code></p>
        <div class="live" role="alert">
            {offline}
            {move || link.online.get().then(&refused).flatten()
                .map(|b| view! { <div class="banner error" data-testid="banner">{b}</div> })}
        </div>
        <When when=move || latest.with(Option::is_some)
            fallback=move || view! {
                <When when=move || link.online.get()>
                    <p class="loading" role="status">"Loading connectors…"</p>
                </When>
            }>
            // Built once, from the first overview: the connectors never change while the
            // page lives, and a later refresh must never rebuild a card (its flow would go).
            <div class="cards">
                {latest.get_untracked().unwrap_or_default().into_iter()
                    .map(|c| card(c.id, summary_of(latest, c.id))).collect_view()}
            </div>
        </When>
    }
}

/// One connector of `GET /api/connectors` (proto's `ConnectorSummary`), as far as the
/// dashboard reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Overview {
    pub id: ConnectorId,
    pub connected: bool,
    pub detail: Option<String>,
    pub setup: Option<SetupNeeded>,
}

/// The connectors of `GET /api/connectors`, in its order (ids this dashboard does not know
/// are left out).
pub fn overview_of(answer: &Value) -> Vec<Overview> {
    answer::items(answer, "connectors")
        .iter()
        .filter_map(|c| {
            Some(Overview {
                id: ConnectorId::parse(&answer::text(c, "id")?)?,
                connected: answer::flag(c, "connected"),
                detail: answer::text(c, "detail"),
                setup: answer::object(c, "setup").as_ref().map(setup_of),
            })
        })
        .collect()
}

/// proto's `SetupNeeded`, read from an answer.
pub fn setup_of(setup: &Value) -> SetupNeeded {
    SetupNeeded {
        message: answer::text(setup, "message").unwrap_or_default(),
        settings: answer::words(setup, "settings"),
        how: answer::text(setup, "how").unwrap_or_default(),
        docs: answer::text(setup, "docs").unwrap_or_default(),
    }
}

fn summary_of(overview: Memo<Option<Vec<Overview>>>, id: ConnectorId) -> Summary {
    Summary { id, overview }
}

fn card(id: ConnectorId, summary: Summary) -> AnyView {
    match id {
        ConnectorId::Gdrive | ConnectorId::Onedrive => {
            view! { <remotes::RemotesCard kind=id summary /> }.into_any()
        }
        ConnectorId::Github => view! { <github::GithubCard summary /> }.into_any(),
        ConnectorId::Vercel => view! { <vercel::VercelCard summary /> }.into_any(),
        ConnectorId::Manus => view! { <manus::ManusCard summary /> }.into_any(),
        ConnectorId::Mcp => view! { <mcp::McpCard summary /> }.into_any(),
        ConnectorId::Agents => view! { <agents::AgentsCard summary /> }.into_any(),
    }
}

pub fn what_it_connects(id: ConnectorId) -> &'static str {
    match id {
        ConnectorId::Gdrive => "Google Drive folders, mounted through rclone.",
        ConnectorId::Onedrive => "OneDrive folders, mounted through rclone.",
        ConnectorId::Github => "Repositories and issues, with a token or the gh sign-in.",
        ConnectorId::Vercel => "Deployments and projects, with Vercel sign-in or a token.",
        ConnectorId::Manus => "Manus tasks, with an API key.",
        ConnectorId::Mcp => "Any remote MCP server that signs in with OAuth.",
        ConnectorId::Agents => {
            "Hosted agents (Claude, ChatGPT, Cursor) using this workspace through the edge's /mcp."
        }
    }
}

/// What every card stands on: its own state from the helper, the outcome lines of its
/// actions, and its tasks (which end with the card). Copy, so handlers just capture it.
#[derive(Clone, Copy)]
pub struct Card {
    /// The card's status route's answer (one signal type for every card keeps the wasm
    /// small).
    pub state: ReadSignal<Option<Result<Value, ApiFailure>>>,
    reload: RwSignal<u32>,
    changed: Changed,
    pub feedback: Feedback,
    /// Its tasks and the helper's client, stored together (one stored type fewer).
    parts: StoredValue<(Tasks, HelperClient)>,
}

impl Card {
    /// A card reading `path`: on mount, after each change it makes, and when the helper comes
    /// back after an outage. Nothing is asked while `enabled` is false (the connector needs
    /// setup first, and the route could only refuse).
    pub fn new(path: &'static str, enabled: Signal<bool>) -> Self {
        let client = expect_context::<HelperClient>();
        let reload = RwSignal::new(0u32);
        let state = client.follow(path, enabled, reload);
        Self {
            state,
            reload,
            changed: expect_context::<Changed>(),
            feedback: Feedback::new(),
            parts: StoredValue::new((Tasks::here(), client)),
        }
    }

    pub fn client(self) -> HelperClient {
        self.parts.with_value(|(_, client)| client.clone())
    }

    /// Runs `task` for this card; it stops if the card goes away.
    pub fn spawn(self, task: impl Future<Output = ()> + 'static) {
        self.parts.with_value(|(tasks, _)| tasks.spawn(task));
    }

    /// Reads the card's state again (a sign-in may have finished elsewhere).
    pub fn reload(self) {
        self.reload.update(|n| *n += 1);
    }

    /// The card changed something: read it again, and the overview too.
    pub fn refresh(self) {
        self.reload();
        self.changed.bump();
    }

    /// One action on this card: the last outcome goes, `request` runs, then the card says
    /// `done(answer)` or what went wrong, and reloads.
    pub fn act(
        self,
        request: impl Future<Output = Result<String, ApiFailure>> + 'static,
        done: impl FnOnce(&str) -> String + 'static,
    ) {
        self.act_boxed(Box::pin(request), Box::new(done));
    }

    /// One copy of the action's steps in the wasm, whatever the request and message types.
    fn act_boxed(
        self,
        request: Pin<Box<dyn Future<Output = Result<String, ApiFailure>>>>,
        done: Box<dyn FnOnce(&str) -> String>,
    ) {
        self.feedback.begin();
        self.spawn(async move {
            match request.await {
                Ok(answer) => self.feedback.done(done(&answer)),
                Err(e) => self.feedback.failed(&e),
            }
            self.refresh();
        });
    }

    /// What the card does when a sign-in ends, the same on every card: it reloads, and a
    /// cancelled one closes its steps (`close`) and says [`CANCELLED`]. Made where the card
    /// is built: it runs while the steps' own view is going away.
    pub fn on_sign_in_end(self, close: impl Fn() + Send + Sync + 'static) -> Callback<Ended> {
        Callback::new(move |how: Ended| {
            self.refresh();
            if how == Ended::Cancelled {
                close();
                self.feedback.done(CANCELLED);
            }
        })
    }

    /// The card's problem line from its state (never for an unreachable helper: the banner
    /// says that once for the page).
    pub fn state_problem(self) -> Signal<Option<String>> {
        let state = self.state;
        Signal::derive(move || match state.get() {
            Some(Err(e)) => e.on_card(),
            _ => None,
        })
    }

    /// The card's answer, when the last read got one.
    pub fn answer(self) -> Option<Value> {
        self.state
            .with(|s| s.as_ref().and_then(|r| r.as_ref().ok()).cloned())
    }

    /// What the card shows: `state` of its answer (none yet, or refused: what the overview
    /// says), read again when either changes. While the helper is away the card keeps what
    /// it showed (the last good answer).
    pub fn view(
        self,
        summary: Summary,
        state: fn(Option<&Value>, &Known) -> CardView,
    ) -> Memo<CardView> {
        let answer = self.state;
        Memo::new(move |prev: Option<&CardView>| {
            let known = Known {
                id: summary.id,
                now: (js_sys::Date::now() / 1000.0) as u64,
                connected: summary.connected(),
                setup: summary.setup(),
            };
            answer.with(|a| match (a, prev) {
                (Some(Err(ApiFailure::Unreachable)), Some(shown)) => shown.clone(),
                // A route not asked (the connector needs setup) answers nothing.
                (Some(Ok(a)), _) => state(Some(a).filter(|a| !answer::is_nothing(a)), &known),
                _ => state(None, &known),
            })
        })
    }

    /// A token connector's Reconnect (the helper checks the credential with the provider
    /// again, and says `accepted`) and Disconnect; `connector` is the path segment.
    pub fn credential_action(
        self,
        connector: &'static str,
        action: &'static str,
        accepted: &'static str,
    ) {
        let done = match action {
            "reconnect" => accepted.to_owned(),
            _ => {
                let name =
                    ConnectorId::parse(connector).map_or(connector, ConnectorId::display_name);
                format!("Disconnected from {name}.")
            }
        };
        let client = self.client();
        let path = format!("/api/connectors/{connector}/{action}");
        self.act(async move { client.post_text(&path).await }, move |_| done);
    }
}

/// What a token connector's form says, and where it saves (`POST path {token}`).
#[derive(Clone, Copy)]
pub struct TokenFormSpec {
    pub id: &'static str,
    pub label: &'static str,
    /// Where to find the token, in one sentence.
    pub hint: &'static str,
    pub path: &'static str,
    /// The token's shape, checked before anything is sent.
    pub check: fn(&str) -> Result<(), String>,
}

impl Card {
    /// The card's token form, drawn while `panel` is [`Panel::Token`]: saving closes it, says
    /// "Token saved." and reloads; Cancel closes it. Its callbacks are made here, where the
    /// card is built (they run while the form is going away).
    pub fn token_form(
        self,
        panel: RwSignal<Panel>,
        spec: TokenFormSpec,
    ) -> impl Fn() -> AnyView + Copy {
        let saved = Callback::new(move |()| {
            panel.set(Panel::Closed);
            self.feedback.done("Token saved.");
            self.refresh();
        });
        let closed = Callback::new(move |()| panel.set(Panel::Closed));
        move || {
            let TokenFormSpec {
                id,
                label,
                hint,
                path,
                check,
            } = spec;
            view! {
                <TokenForm id label hint path button="Save token" check
                    on_saved=saved on_cancel=Some(closed) />
            }
            .into_any()
        }
    }
}

/// What the overview says about a connector, for a card whose own state has not loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub id: ConnectorId,
    /// Unix seconds, for "approved 3 days ago".
    pub now: u64,
    pub connected: bool,
    pub setup: Option<SetupNeeded>,
}

/// A stored credential's buttons: Reconnect, `extra`, then Disconnect (asking `question`).
pub fn credential_buttons(question: &str, extra: Option<Button>) -> Vec<Button> {
    let mut buttons = vec![Button::new("Reconnect", "reconnect", "secondary").enable(Enable::Idle)];
    buttons.extend(extra);
    buttons.push(Button::disconnect(question.to_owned()));
    buttons
}

/// A card that lacks configuration shows only what to set up (`None`: it lacks nothing).
pub fn setup_only(known: &Known) -> Option<CardView> {
    Some(CardView {
        connected: known.connected,
        setup: Some(known.setup.clone()?),
        ..CardView::default()
    })
}

/// A sign-in connector's view (GitHub, Vercel): connected, its credential's buttons
/// (Disconnect asks `question`); else its own sign-in (`action`, `label`) or a token.
pub fn sign_in_card(
    connected: bool,
    account: Option<String>,
    question: &str,
    (action, label): (&'static str, &'static str),
) -> CardView {
    CardView {
        connected,
        account,
        actions: if connected {
            credential_buttons(question, None)
        } else {
            sign_in_or_token(action, label)
        },
        ..CardView::default()
    }
}

/// A token connector's sign-in choices: its own sign-in (`action`, `label`), or a token
/// pasted by hand (`use-token`).
pub fn sign_in_or_token(action: &'static str, label: &'static str) -> Vec<Button> {
    vec![
        Button::new(label, action, "primary").enable(Enable::Idle),
        Button::new("Use a token", "use-token", "secondary"),
    ]
}

/// What the cards' tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use patchbay_proto::api::SetupNeeded;

    /// The setup an edge-backed card (Vercel, Agents) needs without an edge.
    pub fn edge_setup() -> SetupNeeded {
        SetupNeeded {
            message: "Deploy the edge.".into(),
            settings: vec!["PATCHBAY_EDGE_URL".into()],
            how: "…".into(),
            docs: "edge".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_proto::api::{ConnectorSummary, ConnectorsOverview};

    #[test]
    fn the_overview_reads_as_proto_wrote_it() {
        let mut vercel = ConnectorSummary::new(ConnectorId::Vercel, false, None);
        vercel.setup = Some(SetupNeeded {
            message: "Deploy the edge.".into(),
            settings: vec!["PATCHBAY_EDGE_URL".into(), "PATCHBAY_EDGE_TOKEN".into()],
            how: "Set them for patchbay serve.".into(),
            docs: "deploying-the-edge-to-cloudflare".into(),
        });
        let overview = ConnectorsOverview {
            connectors: vec![
                ConnectorSummary::new(ConnectorId::Gdrive, true, Some("2 remotes".into())),
                vercel.clone(),
            ],
        };
        let read = overview_of(&serde_json::to_value(&overview).unwrap());
        assert_eq!(
            read,
            [
                Overview {
                    id: ConnectorId::Gdrive,
                    connected: true,
                    detail: Some("2 remotes".into()),
                    setup: None,
                },
                Overview {
                    id: ConnectorId::Vercel,
                    connected: false,
                    detail: None,
                    setup: vercel.setup,
                },
            ]
        );
        // A connector this dashboard does not know is left out, not a failure.
        let newer = serde_json::json!({"connectors": [{"id": "dropbox", "connected": true}]});
        assert!(overview_of(&newer).is_empty());
    }

    #[test]
    fn credential_buttons_put_disconnect_last_and_ask_first() {
        let extra = Button::new("Replace key", "replace", "secondary");
        let buttons = credential_buttons("Disconnect X?", Some(extra));
        let verbs: Vec<_> = buttons.iter().map(|b| b.verb).collect();
        assert_eq!(verbs, ["Reconnect", "Replace key", "Disconnect"]);
        assert_eq!(buttons[2].ask.as_deref(), Some("Disconnect X?"));
    }
}
