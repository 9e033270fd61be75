//! The Patchbay dashboard (Leptos, client-side rendered).

mod answer;
mod api;
mod cards;
mod flow;
mod pairing;
mod session;
mod tasks;
mod ui;

use leptos::prelude::*;

fn main() {
    // A panic is a bug: say what and where on the console (the Chromium tests fail on any
    // console error). Not `console_error_panic_hook`: its message and JS stack were 0.3 KiB
    // more of the gzipped wasm, and a release wasm's stack names no function anyway.
    std::panic::set_hook(Box::new(|info| {
        let what = info.payload_as_str().unwrap_or("a panic");
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        web_sys::console::error_1(&format!("Patchbay: {what}{at}").into());
    }));
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let pairing = RwSignal::new(pairing::take_pairing());
    // A pairing link opened in a tab that already shows the dashboard only changes the
    // fragment: no reload happens, so pair on `hashchange` too.
    let listener = window_event_listener(leptos::ev::hashchange, move |_| {
        if let Some(p) = pairing::take_pairing() {
            pairing.set(Some(p));
        }
    });
    on_cleanup(move || listener.remove());
    // Vercel sent the person back here with `?code=…&state=…`: the Vercel card finishes it.
    provide_context(cards::PendingExchange::new(pairing::take_oauth_return()));
    let link = api::Link::new();
    view! {
        <header class="top">
            <h1>"Patchbay"</h1>
            <p class="tagline">"The accounts your agents use, connected in one place."</p>
        </header>
        <main>
            {move || match pairing.get() {
                Some(p) => view! { <cards::Dashboard client=api::HelperClient::new(p, link) /> }.into_any(),
                None => view! { <pairing::HowToPair /> }.into_any(),
            }}
        </main>
    }
}
