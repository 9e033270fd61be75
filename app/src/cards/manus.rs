//! Manus: an API key.

use leptos::prelude::*;
use patchbay_proto::api::ConnectorId;
use patchbay_proto::tokens::check_manus_key_shape;

use super::view::{Action, Button, CardBody, CardView};
use super::{Card, Known, Summary, credential_buttons};
use crate::answer::{self, Value};
use crate::ui::TokenForm;

#[component]
pub fn ManusCard(summary: Summary) -> impl IntoView {
    let card = Card::new("/api/connectors/manus/status", Signal::stored(true));
    let feedback = card.feedback;
    let view = card.view(summary, state);
    let replacing = RwSignal::new(false);
    let saved = Callback::new(move |()| {
        replacing.set(false);
        feedback.done("Key saved.");
        card.refresh();
    });
    let keep = Callback::new(move |()| replacing.set(false));
    let on_action = Callback::new(move |(action, _): Action| match action {
        "replace" => {
            feedback.clear();
            replacing.set(true);
        }
        _ => card.credential_action("manus", action, "Manus accepted the stored key."),
    });
    let connected = Signal::derive(move || view.with(|v| v.connected));
    // Without a key, the form is the card; with one, Replace key opens it.
    let open = Signal::derive(move || !connected.get() || replacing.get());
    let flow = move || {
        let cancel = connected.get().then_some(keep);
        view! {
            <TokenForm id="manus" label="Manus API key"
                hint="Find it in Manus → Settings → API keys; it is checked with Manus before it is saved."
                path="/api/connectors/manus/token" button="Save key" check=check_manus_key_shape
                on_saved=saved on_cancel=cancel />
        }
        .into_any()
    };
    view! { <CardBody id=ConnectorId::Manus card summary view on_action open flow /> }
}

/// The card's state from `GET …/manus/status` (proto's `TokenStatus`): an API key names no
/// account, so its last characters are what the account line can show.
fn state(answer: Option<&Value>, known: &Known) -> CardView {
    let connected = answer.map_or(known.connected, |a| answer::flag(a, "connected"));
    let account = answer
        .filter(|_| connected)
        .map(|a| match answer::text(a, "token_hint") {
            Some(hint) => format!("Connected with the API key ending in {hint}"),
            None => "Connected with an API key".to_owned(),
        });
    CardView {
        connected,
        account,
        actions: if connected {
            credential_buttons(
                "Disconnect Manus? Patchbay forgets the stored key.",
                Some(Button::new("Replace key", "replace", "secondary")),
            )
        } else {
            Vec::new()
        },
        ..CardView::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_proto::tokens::TokenStatus;

    fn known(connected: bool) -> Known {
        Known {
            id: ConnectorId::Manus,
            now: 0,
            connected,
            setup: None,
        }
    }

    #[test]
    fn a_stored_key_shows_its_last_characters_and_the_credential_verbs() {
        let status = TokenStatus::<()> {
            connected: true,
            user: None,
            token_hint: Some("a1b2".into()),
            source: Some("manual".into()),
        };
        let view = state(Some(&serde_json::to_value(status).unwrap()), &known(false));
        assert!(view.connected);
        assert_eq!(
            view.account.as_deref(),
            Some("Connected with the API key ending in a1b2")
        );
        let verbs: Vec<_> = view.actions.iter().map(|b| b.action).collect();
        assert_eq!(verbs, ["reconnect", "replace", "disconnect"]);
        let none = serde_json::to_value(TokenStatus::<()>::disconnected()).unwrap();
        let view = state(Some(&none), &known(true));
        assert!(!view.connected && view.account.is_none() && view.actions.is_empty());
    }
}
