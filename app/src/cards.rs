//! The connector cards.

use std::time::Duration;

use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, ConnectorSummary};

use crate::api::{ApiFailure, HelperClient};

/// How long to wait before trying an unreachable helper again.
const RETRY_AFTER: Duration = Duration::from_secs(3);

#[component]
pub fn Dashboard(client: HelperClient) -> impl IntoView {
    let helper = client.base().to_owned();
    let overview = LocalResource::new(move || {
        let client = client.clone();
        async move { client.overview().await }
    });

    // An unreachable helper is usually one that is starting or restarting: try again by
    // itself, so the page recovers without a reload.
    Effect::new(move |_| {
        if let Some(Err(ApiFailure::Unreachable)) = overview.get() {
            set_timeout(move || overview.refetch(), RETRY_AFTER);
        }
    });

    view! {
        <p class="paired">"Paired with the helper at " <code>{helper.clone()}</code></p>
        <div role="status" aria-live="polite" class="live">
            {move || match overview.get() {
                Some(Err(e)) => view! { <div class="banner error" data-testid="banner">{e.explain(&helper)}</div> }.into_any(),
                _ => ().into_any(),
            }}
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading connectors…"</p> }>
            {move || overview.get().and_then(Result::ok).map(|o| view! {
                <div class="cards">
                    {o.connectors.into_iter().map(|summary| view! { <Card summary /> }).collect_view()}
                </div>
            })}
        </Transition>
    }
}

#[component]
fn Card(summary: ConnectorSummary) -> impl IntoView {
    let id = summary.id.as_str();
    let (state, label) = if summary.connected {
        ("connected", "Connected")
    } else {
        ("disconnected", "Not connected")
    };
    let detail = summary
        .detail
        .unwrap_or_else(|| what_it_connects(summary.id).to_owned());
    let title_id = format!("card-{id}-title");
    let labelled_by = title_id.clone();
    view! {
        <article class="card" data-connector=id aria-labelledby=labelled_by>
            <header>
                <h2 id=title_id>{summary.name}</h2>
                <span class=format!("badge {state}") data-state=state>{label}</span>
            </header>
            <p class="detail">{detail}</p>
        </article>
    }
}

fn what_it_connects(id: ConnectorId) -> &'static str {
    match id {
        ConnectorId::Gdrive => "Google Drive folders, mounted through rclone.",
        ConnectorId::Onedrive => "OneDrive folders, mounted through rclone.",
        ConnectorId::Github => "Repositories and issues, with a token or the gh sign-in.",
        ConnectorId::Vercel => "Deployments and projects, with Vercel sign-in or a token.",
        ConnectorId::Manus => "Manus tasks, with an API key.",
        ConnectorId::Mcp => "Any remote MCP server that signs in with OAuth.",
    }
}
