//! Small pieces every card uses: the card frame with its badge, error and notice lines, a
//! button that asks before it destroys, a token form, a copy button.

use leptos::prelude::*;
use leptos::task::spawn_local;
use patchbay_proto::tokens::SaveTokenBody;

use crate::api::{ApiFailure, HelperClient};

/// The frame of one connector card: title, badge, who it is connected as, then the body.
#[component]
pub fn CardFrame(
    id: &'static str,
    title: &'static str,
    /// `None` until the first answer: the overview's value is shown meanwhile.
    #[prop(into)]
    connected: Signal<bool>,
    /// "Connected as …", when known.
    #[prop(into)]
    account: Signal<Option<String>>,
    #[prop(into)] detail: Signal<String>,
    children: Children,
) -> impl IntoView {
    let title_id = format!("card-{id}-title");
    let labelled_by = title_id.clone();
    let state = move || {
        if connected.get() {
            "connected"
        } else {
            "disconnected"
        }
    };
    view! {
        <article class="card" data-connector=id aria-labelledby=labelled_by>
            <header>
                <h2 id=title_id>{title}</h2>
                <span class=move || format!("badge {}", state()) data-state=state role="status" aria-live="polite">
                    {move || if connected.get() { "Connected" } else { "Not connected" }}
                </span>
            </header>
            <p class="detail">{move || detail.get()}</p>
            {move || account.get().map(|a| view! { <p class="account" data-testid="account">{a}</p> })}
            {children()}
        </article>
    }
}

/// A problem to show on a card (`role=alert`, so screen readers announce it at once).
#[component]
pub fn Problem(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        {move || message.get().map(|m| view! { <p class="problem" role="alert" data-testid="problem">{m}</p> })}
    }
}

/// Good news to show on a card (polite live region).
#[component]
pub fn Notice(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <p class="notice" role="status" aria-live="polite" data-testid="notice">{move || message.get()}</p>
    }
}

/// A button that asks "Really?" in place before it runs `on_confirm`.
#[component]
pub fn ConfirmButton(
    #[prop(into)] label: String,
    /// The question, e.g. "Delete the remote personal?".
    #[prop(into)]
    question: String,
    #[prop(into)] yes: String,
    #[prop(optional, into)] busy: Signal<bool>,
    on_confirm: Callback<()>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let yes_ref = NodeRef::<leptos::html::Button>::new();
    let ask_ref = NodeRef::<leptos::html::Button>::new();
    // Keyboard users land on the question's answer, and back on the button after "Keep".
    Effect::new(move |was: Option<bool>| {
        let now = asking.get();
        let target = if now {
            yes_ref.get()
        } else if was == Some(true) {
            ask_ref.get()
        } else {
            None
        };
        if let Some(b) = target {
            let _ = b.focus();
        }
        now
    });
    let label2 = label.clone();
    view! {
        <Show
            when=move || asking.get()
            fallback=move || view! {
                <button type="button" class="danger subtle" node_ref=ask_ref data-action="ask"
                    disabled=move || busy.get() on:click=move |_| asking.set(true)>{label2.clone()}</button>
            }
        >
            <span class="confirm" role="group" aria-label=label.clone()>
                <span class="question">{question.clone()}</span>
                <button type="button" class="danger" node_ref=yes_ref data-action="confirm"
                    disabled=move || busy.get()
                    on:click=move |_| { asking.set(false); on_confirm.run(()) }>{yes.clone()}</button>
                <button type="button" class="secondary" data-action="keep"
                    on:click=move |_| asking.set(false)>"Keep"</button>
            </span>
        </Show>
    }
}

/// A form that saves a token (`POST path {token}`), with a label, a hint on where to find
/// the token, a shape check before anything is sent, and the helper's answer on failure.
#[component]
pub fn TokenForm(
    /// Distinguishes this form's ids on the page.
    id: &'static str,
    #[prop(into)] label: String,
    /// Where to find the token, in one sentence.
    #[prop(into)]
    hint: String,
    #[prop(into)] path: String,
    #[prop(into)] button: String,
    /// A check on the token's shape; its error is shown without sending anything.
    check: fn(&str) -> Result<(), String>,
    on_saved: Callback<()>,
    /// Shown when the form can be put away ("Use a token" toggles it).
    #[prop(default = None)]
    on_cancel: Option<Callback<()>>,
) -> impl IntoView {
    let client = expect_context::<HelperClient>();
    let token = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let input_id = format!("{id}-token");
    let hint_id = format!("{id}-token-hint");
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let value = token.get_untracked().trim().to_owned();
        if let Err(e) = check(&value) {
            problem.set(Some(e));
            return;
        }
        let client = client.clone();
        let path = path.clone();
        busy.set(true);
        problem.set(None);
        spawn_local(async move {
            let r: Result<serde::de::IgnoredAny, ApiFailure> =
                client.post(&path, &SaveTokenBody { token: &value }).await;
            busy.set(false);
            match r {
                Ok(_) => {
                    token.set(String::new());
                    on_saved.run(());
                }
                Err(e) => problem.set(e.on_card()),
            }
        });
    };
    view! {
        <form class="token-form" data-form=id on:submit=submit>
            <label for=input_id.clone()>{label}</label>
            <input id=input_id type="password" autocomplete="off" spellcheck="false"
                aria-describedby=hint_id.clone()
                aria-invalid=move || if problem.get().is_some() { "true" } else { "false" }
                bind:value=token />
            <p class="hint" id=hint_id>{hint}</p>
            <Problem message=problem />
            <div class="actions">
                <button type="submit" class="primary" disabled=move || busy.get()>
                    {move || if busy.get() { "Checking…".to_owned() } else { button.clone() }}
                </button>
                {on_cancel.map(|c| view! {
                    <button type="button" class="secondary" on:click=move |_| c.run(())>"Cancel"</button>
                })}
            </div>
        </form>
    }
}

/// Copies `text` to the clipboard and says so.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, #[prop(into)] what: String) -> impl IntoView {
    let said = RwSignal::new(None::<&'static str>);
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let promise = window
            .navigator()
            .clipboard()
            .write_text(&text.get_untracked());
        spawn_local(async move {
            let ok = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            said.set(Some(if ok {
                "Copied"
            } else {
                "Could not copy: select it and copy by hand"
            }));
        });
    };
    view! {
        <button type="button" class="secondary" data-action="copy" aria-label=format!("Copy {what}") on:click=copy>
            {move || said.get().unwrap_or("Copy")}
        </button>
    }
}

/// Runs `f` once when the browser tab or window gets the focus back (the person returns
/// from a sign-in page in another tab), until the calling component goes away.
pub fn on_return(f: impl Fn() + 'static) {
    let focus = window_event_listener(leptos::ev::focus, move |_| f());
    on_cleanup(move || focus.remove());
}
