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
    console_error_panic_hook::set_once();
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
