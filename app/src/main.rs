//! The Patchbay dashboard (Leptos, client-side rendered).

mod api;
mod cards;
mod pairing;

use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

#[component]
fn App() -> impl IntoView {
    let pairing = pairing::take_pairing();
    view! {
        <header class="top">
            <h1>"Patchbay"</h1>
            <p class="tagline">"The accounts your agents use, connected in one place."</p>
        </header>
        <main>
            {match pairing {
                Some(p) => view! { <cards::Dashboard client=api::HelperClient::new(p) /> }.into_any(),
                None => view! { <pairing::HowToPair /> }.into_any(),
            }}
        </main>
    }
}
