//! The connector cards: the overview gives the order and a one-line summary of each; every
//! card then reads its own state, runs its own flows, and keeps them when the helper comes
//! back after an outage (cards are keyed by connector, never rebuilt by a refresh).

mod agents;
mod github;
mod manus;
mod mcp;
mod remotes;
mod vercel;

pub use vercel::PendingExchange;

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, ConnectorsOverview, SetupNeeded};

use crate::api::{ApiFailure, HelperClient, Link};
use crate::flow::{CANCELLED, offline_advice, served_by_helper};
use crate::session::Ended;
use crate::tasks::Tasks;
use crate::ui::{ConfirmButton, Feedback, When};

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
#[derive(Clone, Copy)]
pub struct Summary {
    pub connected: Signal<bool>,
    pub detail: Signal<String>,
    /// What the connector lacks before a sign-in can work (no OAuth client, no edge).
    pub setup: Signal<Option<SetupNeeded>>,
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
    let latest = Memo::new(move |prev: Option<&Option<ConnectorsOverview>>| {
        match overview
            .get()
            .map(|r| r.map(|text| serde_json::from_str(&text)))
        {
            Some(Ok(Ok(o))) => Some(o),
            _ => prev.cloned().flatten(),
        }
    });
    let refused = {
        let helper = helper.clone();
        move || match overview.get() {
            Some(Err(e)) if e != ApiFailure::Unreachable => Some(e.explain(&helper)),
            Some(Ok(text)) => serde_json::from_str::<ConnectorsOverview>(&text)
                .err()
                .map(|e| ApiFailure::Garbled(e.to_string()).explain(&helper)),
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
                {latest.get_untracked().map(|o| o.connectors).unwrap_or_default().into_iter()
                    .map(|c| card(c.id, summary_of(latest, c.id))).collect_view()}
            </div>
        </When>
    }
}

fn summary_of(latest: Memo<Option<ConnectorsOverview>>, id: ConnectorId) -> Summary {
    let find = move || {
        latest
            .get()
            .and_then(|o| o.connectors.into_iter().find(|c| c.id == id))
    };
    Summary {
        connected: Signal::derive(move || find().is_some_and(|c| c.connected)),
        detail: Signal::derive(move || {
            find()
                .and_then(|c| c.detail)
                .unwrap_or_else(|| what_it_connects(id).to_owned())
        }),
        setup: Memo::new(move |_| find().and_then(|c| c.setup)).into(),
    }
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
    /// The card's status route's answer, kept as text (one signal type for every card
    /// keeps the wasm small); [`Card::last_good`] reads it as `T`.
    pub state: ReadSignal<Option<Result<String, ApiFailure>>>,
    reload: RwSignal<u32>,
    changed: Changed,
    pub feedback: Feedback,
    tasks: StoredValue<Tasks>,
    client: StoredValue<HelperClient>,
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
            tasks: StoredValue::new(Tasks::here()),
            client: StoredValue::new(client),
        }
    }

    pub fn client(self) -> HelperClient {
        self.client.get_value()
    }

    /// Runs `task` for this card; it stops if the card goes away.
    pub fn spawn(self, task: impl Future<Output = ()> + 'static) {
        self.tasks.with_value(|t| t.spawn(task));
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

    /// The last good value of the card's state (kept while it reloads or the helper is away).
    pub fn last_good<T>(self) -> Memo<Option<T>>
    where
        T: serde::de::DeserializeOwned + Clone + PartialEq + Send + Sync + 'static,
    {
        let state = self.state;
        Memo::new(move |prev: Option<&Option<T>>| match state.get() {
            Some(Ok(text)) => serde_json::from_str(&text).ok(),
            Some(Err(ApiFailure::Unreachable)) | None => prev.cloned().flatten(),
            Some(Err(_)) => None,
        })
    }
}

/// A stored credential's actions: Reconnect (the helper checks it again with the provider)
/// and Disconnect (asks first); `children` go between them.
#[component]
pub fn CredentialActions(
    card: Card,
    /// The path segment: `github`, `vercel`, `manus`.
    connector: &'static str,
    /// What a good reconnect says.
    accepted: &'static str,
    /// The confirmation's question.
    question: &'static str,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let act = move |what: &'static str, done: String| {
        let client = card.client();
        let path = format!("/api/connectors/{connector}/{what}");
        card.act(async move { client.post_text(&path).await }, move |_| done);
    };
    let name = ConnectorId::parse(connector).map_or(connector, ConnectorId::display_name);
    let busy = card.feedback.busy;
    view! {
        <div class="actions">
            <button type="button" class="secondary" data-action="reconnect" disabled=busy
                on:click=move |_| act("reconnect", accepted.to_owned())>"Reconnect"</button>
            {children.map(|c| c())}
            <ConfirmButton busy question
                on_confirm=Callback::new(move |()| act("disconnect", format!("Disconnected from {name}."))) />
        </div>
    }
}

/// Sign-in choices of a token connector: its own sign-in (`action` is the button's
/// `data-action`), or a token pasted by hand.
#[component]
pub fn SignInOrToken(
    card: Card,
    action: &'static str,
    label: &'static str,
    on_sign_in: Callback<()>,
    on_token: Callback<()>,
) -> impl IntoView {
    let busy = card.feedback.busy;
    view! {
        <div class="actions">
            <button type="button" class="primary" data-action=action disabled=busy
                on:click=move |_| on_sign_in.run(())>{label}</button>
            <button type="button" class="secondary" data-action="use-token"
                on:click=move |_| { card.feedback.clear(); on_token.run(()) }>"Use a token"</button>
        </div>
    }
}
