//! The connector cards: the overview gives the order and a one-line summary of each; every
//! card then reads its own state, runs its own flows, and keeps them when the helper comes
//! back after an outage (cards are keyed by connector, never rebuilt by a refresh).

mod github;
mod manus;
mod mcp;
mod remotes;
mod vercel;

pub use vercel::PendingExchange;

use leptos::prelude::*;
use leptos::task::spawn_local;
use patchbay_proto::api::{ConnectorId, ConnectorsOverview};

use crate::api::{ApiFailure, HelperClient, Link};

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
}

#[component]
pub fn Dashboard(client: HelperClient) -> impl IntoView {
    let helper = client.base().to_owned();
    let link: Link = client.link;
    let changed = Changed(RwSignal::new(0));
    provide_context(client.clone());
    provide_context(changed);
    let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    client.watch(alive.clone());
    on_cleanup(move || alive.store(false, std::sync::atomic::Ordering::Relaxed));

    let overview = LocalResource::new(move || {
        link.epoch.track();
        changed.0.track();
        let client = client.clone();
        async move { client.get::<ConnectorsOverview>("/api/connectors").await }
    });
    let latest = Memo::new(
        move |prev: Option<&Option<ConnectorsOverview>>| match overview.get() {
            Some(Ok(o)) => Some(o),
            _ => prev.cloned().flatten(),
        },
    );
    let ids = Memo::new(move |_| {
        latest
            .get()
            .map(|o| o.connectors.iter().map(|c| c.id).collect::<Vec<_>>())
            .unwrap_or_default()
    });
    let banner = {
        let helper = helper.clone();
        move || {
            if !link.online.get() {
                return Some(format!(
                    "{} Trying again by itself…",
                    ApiFailure::Unreachable.explain(&helper)
                ));
            }
            match overview.get() {
                Some(Err(e)) if e != ApiFailure::Unreachable => Some(e.explain(&helper)),
                _ => None,
            }
        }
    };

    view! {
        <p class="paired">"Paired with the helper at " <code>{helper.clone()}</code></p>
        <div class="live" role="alert">
            {move || banner().map(|b| view! { <div class="banner error" data-testid="banner">{b}</div> })}
        </div>
        <Show when=move || latest.with(Option::is_some)
            fallback=move || view! {
                <Show when=move || link.online.get()>
                    <p class="loading" role="status">"Loading connectors…"</p>
                </Show>
            }>
            <div class="cards">
                <For each=move || ids.get() key=|id| *id let:id>
                    {card(id, summary_of(latest, id))}
                </For>
            </div>
        </Show>
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
    }
}

/// The signals a card reports its actions through.
#[derive(Clone, Copy)]
pub struct Feedback {
    pub busy: RwSignal<bool>,
    pub problem: RwSignal<Option<String>>,
    pub notice: RwSignal<Option<String>>,
}

impl Default for Feedback {
    fn default() -> Self {
        Self {
            busy: RwSignal::new(false),
            problem: RwSignal::new(None),
            notice: RwSignal::new(None),
        }
    }
}

impl Feedback {
    /// An action starts: the card is busy and the last action's outcome goes away.
    pub fn begin(self) {
        self.busy.set(true);
        self.problem.set(None);
        self.notice.set(None);
    }
}

/// Reconnect or Disconnect a token connector: `POST /api/connectors/{connector}/{what}`,
/// reported on the card, then `refresh`. `accepted`: what a successful reconnect says.
pub fn stored_credential_action(
    client: &HelperClient,
    connector: &'static str,
    what: &'static str,
    (accepted, disconnected): (&'static str, &'static str),
    feedback: Feedback,
    refresh: impl Fn() + 'static,
) {
    let client = client.clone();
    feedback.begin();
    spawn_local(async move {
        let path = format!("/api/connectors/{connector}/{what}");
        let r: Result<serde::de::IgnoredAny, _> = client.post_empty(&path).await;
        feedback.busy.set(false);
        match r {
            Ok(_) if what == "reconnect" => feedback.notice.set(Some(accepted.into())),
            Ok(_) => feedback.notice.set(Some(disconnected.into())),
            Err(e) => feedback.problem.set(e.on_card()),
        }
        refresh();
    });
}

pub fn what_it_connects(id: ConnectorId) -> &'static str {
    match id {
        ConnectorId::Gdrive => "Google Drive folders, mounted through rclone.",
        ConnectorId::Onedrive => "OneDrive folders, mounted through rclone.",
        ConnectorId::Github => "Repositories and issues, with a token or the gh sign-in.",
        ConnectorId::Vercel => "Deployments and projects, with Vercel sign-in or a token.",
        ConnectorId::Manus => "Manus tasks, with an API key.",
        ConnectorId::Mcp => "Any remote MCP server that signs in with OAuth.",
    }
}

/// A card's own state: loaded on mount, again after each change it makes, and again when
/// the helper comes back after an outage. Kept as the answer's text (one resource type for
/// every card keeps the wasm small); [`last_good`] reads it as `T`.
pub fn card_state(
    path: &'static str,
) -> (LocalResource<Result<String, ApiFailure>>, RwSignal<u32>) {
    let client = expect_context::<HelperClient>();
    let reload = RwSignal::new(0u32);
    let link = client.link;
    let resource = LocalResource::new(move || {
        link.epoch.track();
        reload.track();
        let client = client.clone();
        async move { client.get_text(path).await }
    });
    (resource, reload)
}

/// The card's problem line from its state (never for an unreachable helper: the banner
/// says that once for the page).
pub fn state_problem(
    resource: LocalResource<Result<String, ApiFailure>>,
) -> Signal<Option<String>> {
    Signal::derive(move || match resource.get() {
        Some(Err(e)) => e.on_card(),
        _ => None,
    })
}

/// The last good value of the card's state (kept while it reloads or the helper is away).
pub fn last_good<T>(resource: LocalResource<Result<String, ApiFailure>>) -> Memo<Option<T>>
where
    T: serde::de::DeserializeOwned + Clone + PartialEq + Send + Sync + 'static,
{
    Memo::new(move |prev: Option<&Option<T>>| match resource.get() {
        Some(Ok(text)) => serde_json::from_str(&text).ok(),
        Some(Err(ApiFailure::Unreachable)) | None => prev.cloned().flatten(),
        Some(Err(_)) => None,
    })
}
