//! Manus: an API key.

use leptos::prelude::*;
use patchbay_proto::api::ConnectorId;
use patchbay_proto::tokens::{TokenStatus, check_manus_key_shape};

use super::{Card, CredentialActions, Summary};
use crate::ui::{CardFrame, FeedbackLines, Problem, TokenForm};

#[component]
pub fn ManusCard(summary: Summary) -> impl IntoView {
    let card = Card::new("/api/connectors/manus/status", Signal::stored(true));
    let feedback = card.feedback;
    let status = card.last_good::<TokenStatus<serde::de::IgnoredAny>>();
    let connected = Signal::derive(move || {
        status
            .get()
            .map(|s| s.connected)
            .unwrap_or_else(|| summary.connected.get())
    });
    // An API key names no account; its last characters are what can be shown.
    let account = Signal::derive(move || {
        let s = status.get().filter(|s| s.connected)?;
        Some(match s.token_hint {
            Some(hint) => format!("Connected with the API key ending in {hint}"),
            None => "Connected with an API key".to_owned(),
        })
    });
    let replacing = RwSignal::new(false);
    let saved = Callback::new(move |()| {
        replacing.set(false);
        feedback.done("Key saved.");
        card.refresh();
    });
    let keep = Callback::new(move |()| replacing.set(false));
    let form = move |cancel: Option<Callback<()>>| {
        view! {
            <TokenForm id="manus" label="Manus API key"
                hint="Find it in Manus → Settings → API keys; it is checked with Manus before it is saved."
                path="/api/connectors/manus/token" button="Save key" check=check_manus_key_shape
                on_saved=saved on_cancel=cancel />
        }
    };
    view! {
        <CardFrame id=ConnectorId::Manus connected setup=summary.setup account detail=summary.detail>
            <Problem message=card.state_problem() />
            <FeedbackLines feedback />
            {move || {
                if !connected.get() {
                    form(None).into_any()
                } else if replacing.get() {
                    form(Some(keep)).into_any()
                } else {
                    view! {
                        <CredentialActions card connector="manus" accepted="Manus accepted the stored key."
                            question="Disconnect Manus? Patchbay forgets the stored key.">
                            <button type="button" class="secondary" data-action="replace"
                                on:click=move |_| { feedback.clear(); replacing.set(true) }>"Replace key"</button>
                        </CredentialActions>
                    }.into_any()
                }
            }}
        </CardFrame>
    }
}
