//! Pairing with a helper: read the fragment `patchbay serve` printed, keep it for this
//! browser session, and take it out of the address bar (and so out of history and
//! screenshots).

use leptos::prelude::*;
use patchbay_proto::Secret;
use patchbay_proto::pairing::Pairing;
use patchbay_proto::tokens::OAuthExchangeRequest;

const HELPER_KEY: &str = "patchbay.helper";
const TOKEN_KEY: &str = "patchbay.token";

/// The pairing from the URL fragment if there is one (saving it), else from this session.
pub fn take_pairing() -> Option<Pairing> {
    let window = web_sys::window()?;
    let storage = window.session_storage().ok().flatten();
    let hash = window.location().hash().unwrap_or_default();
    if let Some(pairing) = Pairing::from_fragment(&hash) {
        if let Some(s) = &storage {
            let _ = s.set_item(HELPER_KEY, &pairing.helper);
            let _ = s.set_item(TOKEN_KEY, pairing.token.expose());
        }
        strip_fragment(&window);
        return Some(pairing);
    }
    let s = storage?;
    let helper = s.get_item(HELPER_KEY).ok().flatten()?;
    let token = s.get_item(TOKEN_KEY).ok().flatten()?;
    Some(Pairing {
        helper,
        token: Secret::new(token),
    })
}

/// `?code=…&state=…` in the address (an OAuth provider sent the person back to the
/// dashboard): taken out of the address bar at once, and returned for the exchange.
pub fn take_oauth_return() -> Option<OAuthExchangeRequest> {
    let window = web_sys::window()?;
    let search = window.location().search().ok()?;
    if !search.contains("code=") {
        return None;
    }
    let parsed = patchbay_proto::redirect::parse_pasted_redirect(&search);
    let location = window.location();
    let path = location.pathname().unwrap_or_else(|_| "/".into());
    let hash = location.hash().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("{path}{hash}")),
        );
    }
    let response = parsed.ok()?;
    Some(OAuthExchangeRequest {
        code: response.code,
        state: response.state?,
    })
}

fn strip_fragment(window: &web_sys::Window) {
    let location = window.location();
    let path = location.pathname().unwrap_or_else(|_| "/".into());
    let search = location.search().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("{path}{search}")),
        );
    }
}

#[component]
pub fn HowToPair() -> impl IntoView {
    view! {
        <section class="pairing" aria-labelledby="pair-title">
            <h2 id="pair-title">"Pair this dashboard with your Patchbay helper"</h2>
            <p>
                "The helper runs on your machine and keeps your credentials. "
                "This page needs its address and pairing token, which it prints when it starts."
            </p>
            <ol>
                <li>"In a terminal, run " <code>"patchbay serve"</code> "."</li>
                <li>"Open the link it prints (it starts with this page's address and contains " <code>"#helper=…&token=…"</code> ")."</li>
                <li>"The link pairs this browser tab; the token is removed from the address bar right away."</li>
            </ol>
            <p class="hint">"Keep that link private: anyone with it can use your connected accounts."</p>
        </section>
    }
}
