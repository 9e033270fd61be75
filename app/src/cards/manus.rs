//! Manus: an API key.

use leptos::prelude::*;
use patchbay_proto::tokens::{TokenStatus, check_manus_key_shape};

use super::{
    Changed, Feedback, Summary, card_state, last_good, state_problem, stored_credential_action,
};
use crate::api::HelperClient;
use crate::ui::{CardFrame, ConfirmButton, Notice, Problem, TokenForm};

#[component]
pub fn ManusCard(summary: Summary) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let changed = expect_context::<Changed>();
    let (state, reload) = card_state("/api/connectors/manus/status");
    let status = last_good::<TokenStatus<serde::de::IgnoredAny>>(state);
    let connected = Signal::derive(move || {
        status
            .get()
            .map(|s| s.connected)
            .unwrap_or_else(|| summary.connected.get())
    });
    let account = Signal::derive(move || {
        let s = status.get().filter(|s| s.connected)?;
        Some(match s.token_hint {
            Some(hint) => format!("Connected with the API key ending in {hint}"),
            None => "Connected with an API key".to_owned(),
        })
    });
    let replacing = RwSignal::new(false);
    let feedback = Feedback::default();
    let Feedback {
        busy,
        problem,
        notice,
    } = feedback;
    let refresh = move || {
        reload.update(|n| *n += 1);
        changed.bump();
    };
    let act = {
        let client = client.clone();
        move |what: &'static str| {
            let messages = ("Manus accepted the stored key.", "Disconnected from Manus.");
            stored_credential_action(&client, "manus", what, messages, feedback, refresh)
        }
    };
    let form = move |cancel: Option<Callback<()>>| {
        view! {
            <TokenForm id="manus" label="Manus API key"
                hint="Find it in Manus → Settings → API keys; it is checked with Manus before it is saved."
                path="/api/connectors/manus/token" button="Save key" check=check_manus_key_shape
                on_saved=Callback::new(move |_| {
                    replacing.set(false);
                    notice.set(Some("Key saved.".into()));
                    refresh();
                })
                on_cancel=cancel />
        }
    };
    view! {
        <CardFrame id="manus" title="Manus" connected account detail=summary.detail>
            <Problem message=state_problem(state) />
            <Problem message=problem />
            <Notice message=notice />
            {move || {
                let act = act.clone();
                let act2 = act.clone();
                if !connected.get() {
                    view! { {form(None)} }.into_any()
                } else if replacing.get() {
                    form(Some(Callback::new(move |_| replacing.set(false)))).into_any()
                } else {
                    view! {
                        <div class="actions">
                            <button type="button" class="secondary" data-action="reconnect"
                                disabled=move || busy.get() on:click=move |_| act("reconnect")>"Reconnect"</button>
                            <button type="button" class="secondary" data-action="replace"
                                on:click=move |_| replacing.set(true)>"Replace key"</button>
                            <ConfirmButton label="Disconnect" yes="Disconnect" busy
                                question="Forget the stored Manus key?"
                                on_confirm=Callback::new(move |_| act2("disconnect")) />
                        </div>
                    }.into_any()
                }
            }}
        </CardFrame>
    }
}
