//! Small pieces every card uses: the card frame with its logo and badge, the "needs setup"
//! block, the outcome lines of an action, a button that asks before it destroys, a token
//! form, a copy button.

use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, SetupNeeded};
use patchbay_proto::tokens::SaveTokenBody;

use crate::api::{ApiFailure, HelperClient, json};
use crate::flow::{Badge, badge};
use crate::tasks::Tasks;

/// Where the steps of a README section are: the README, as a page with section anchors,
/// ships with the dashboard (`cargo xtask docs`), so the link works on every origin that
/// serves it.
const DOCS: &str = "docs.html";
/// How long a success notice stays before it fades (problems stay until the next action).
const NOTICE_MS: u64 = 6_000;

/// The frame of one connector card: logo, title, badge, who it is connected as, then the body.
#[component]
pub fn CardFrame(
    id: ConnectorId,
    #[prop(into)] connected: Signal<bool>,
    /// The card shows what the connector still lacks: the neutral badge.
    #[prop(into)]
    needs_setup: Signal<bool>,
    /// "Connected as …", when known.
    #[prop(into)]
    account: Signal<Option<String>>,
    #[prop(into)] detail: Signal<String>,
    children: Children,
) -> impl IntoView {
    let slug = id.as_str();
    let title_id = format!("card-{slug}-title");
    let labelled_by = title_id.clone();
    // Not a memo: a `Memo<Badge>` would be one more copy of the memo code for four reads.
    let shown = move || badge(connected.get(), needs_setup.get());
    view! {
        <article class="card" data-connector=slug aria-labelledby=labelled_by>
            <header>
                <svg class="logo" aria-hidden="true"><use href=format!("#logo-{slug}")></use></svg>
                <h2 id=title_id>{id.display_name()}</h2>
                <span class=move || format!("badge {}", shown().class())
                    data-state=move || shown().state()
                    data-setup=move || (shown() == Badge::NeedsSetup).then_some("needed")
                    role="status" aria-live="polite">
                    {move || shown().words()}
                </span>
            </header>
            <p class="detail">{detail}</p>
            {move || account.get().map(|a| view! { <p class="account" data-testid="account">{a}</p> })}
            {children()}
        </article>
    }
}

/// What a connector needs before it can sign anyone in: one sentence, the docs, and the
/// settings folded away.
#[component]
pub fn SetupNote(setup: SetupNeeded) -> impl IntoView {
    let SetupNeeded {
        message,
        settings,
        how,
        docs,
    } = setup;
    view! {
        <div class="setup" data-testid="setup">
            <p>{message}" "
                <a href=format!("{DOCS}#{docs}") target="_blank" rel="noopener">
                    "How to set it up"<span class="sr-only">" (opens in a new tab)"</span>
                </a>
            </p>
            <details>
                <summary>"Settings"</summary>
                <ul class="settings">
                    {settings.into_iter().map(|s| view! { <li><code>{s}</code></li> }).collect_view()}
                </ul>
                <p class="hint">{how}</p>
            </details>
        </div>
    }
}

/// How a card reports its actions: busy while one runs, then either a problem (kept until
/// the next action) or a notice (fades by itself). Starting an action clears both, so two
/// outcomes never stand side by side.
#[derive(Clone, Copy)]
pub struct Feedback {
    pub busy: RwSignal<bool>,
    pub problem: RwSignal<Option<String>>,
    pub notice: RwSignal<Option<String>>,
    /// Counts notices, so a fading one never takes a newer one with it.
    shown: StoredValue<u32>,
}

impl Feedback {
    pub fn new() -> Self {
        Self {
            busy: RwSignal::new(false),
            problem: RwSignal::new(None),
            notice: RwSignal::new(None),
            shown: StoredValue::new(0),
        }
    }

    /// An action starts: the card is busy and the last outcome goes away.
    pub fn begin(self) {
        self.busy.set(true);
        self.clear();
    }

    /// Forgets the last outcome (a new step of a flow begins).
    pub fn clear(self) {
        self.problem.set(None);
        self.notice.set(None);
    }

    /// The action worked: say so for a few seconds.
    pub fn done(self, message: impl Into<String>) {
        self.busy.set(false);
        self.problem.set(None);
        self.notice.set(Some(message.into()));
        let Some(n) = self.shown.try_update_value(|n| {
            *n += 1;
            *n
        }) else {
            return;
        };
        let (shown, notice) = (self.shown, self.notice);
        set_timeout(
            move || {
                if shown.try_get_value() == Some(n) {
                    notice.set(None);
                }
            },
            std::time::Duration::from_millis(NOTICE_MS),
        );
    }

    /// The action failed: say what to do (nothing when the page-wide banner says it).
    pub fn failed(self, failure: &ApiFailure) {
        self.busy.set(false);
        self.notice.set(None);
        self.problem.set(failure.on_card());
    }
}

/// The outcome lines of a card's actions.
#[component]
pub fn FeedbackLines(feedback: Feedback) -> impl IntoView {
    view! {
        <Problem message=feedback.problem />
        <Notice message=feedback.notice />
    }
}

/// `children` while `when` holds, else `fallback`: Leptos's `<Show>`, but not generic. Each
/// `<Show>` is its own copy of a memo, a render effect and an either-view in the wasm; this is
/// one copy for every use.
#[component]
pub fn When(
    #[prop(into)] when: Signal<bool>,
    children: ChildrenFn,
    #[prop(optional, into)] fallback: ViewFn,
) -> impl IntoView {
    let shown = Memo::new(move |_| when.get());
    move || {
        if shown.get() {
            children()
        } else {
            fallback.run()
        }
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
        <p class="notice" role="status" aria-live="polite" data-testid="notice">{message}</p>
    }
}

/// A button that asks "Really?" in place before it runs `on_confirm`. Its label is the one
/// verb for "forget these credentials" on every card: Disconnect.
#[component]
pub fn ConfirmButton(
    /// The question, e.g. "Disconnect personal:? rclone forgets this remote.".
    #[prop(into)]
    question: String,
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
    view! {
        <When
            when=asking
            fallback=move || view! {
                <button type="button" class="danger subtle" node_ref=ask_ref data-action="ask"
                    disabled=busy on:click=move |_| asking.set(true)>"Disconnect"</button>
            }
        >
            <span class="confirm" role="group" aria-label="Disconnect">
                <span class="question">{question.clone()}</span>
                <button type="button" class="danger" node_ref=yes_ref data-action="confirm"
                    disabled=busy
                    on:click=move |_| { asking.set(false); on_confirm.run(()) }>"Disconnect"</button>
                <button type="button" class="secondary" data-action="keep"
                    on:click=move |_| asking.set(false)>"Keep"</button>
            </span>
        </When>
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
    let tasks = Tasks::here();
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
        tasks.spawn(async move {
            let r = client
                .post(&path, json(&SaveTokenBody { token: &value }))
                .await;
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
                prop:value=token
                on:input=move |ev| token.set(event_target_value(&ev)) />
            <p class="hint" id=hint_id>{hint}</p>
            <Problem message=problem />
            <div class="actions">
                <button type="submit" class="primary" disabled=busy>
                    {move || if busy.get() { "Checking…".to_owned() } else { button.clone() }}
                </button>
                // Not while saving: the answer must reach the card.
                {on_cancel.map(|c| self::button("secondary", None, "Cancel", busy.into(), c))}
            </div>
        </form>
    }
}

/// What a one-field form asks for (a remote's name, a server's address).
pub struct Field {
    /// The form's `data-form`.
    pub form: &'static str,
    /// The input's id; its message line's is `{id}-msg`.
    pub id: String,
    pub label: &'static str,
    /// The input's `type`.
    pub kind: &'static str,
    pub placeholder: &'static str,
    pub readonly: bool,
    /// Typing shows a problem at once (else leaving the field or submitting does).
    pub check_as_typed: bool,
    /// The submit button's verb.
    pub go: &'static str,
}

/// A form of one field checked as it is used: the field gets the keyboard, its message line
/// says the problem (once the field is touched) or `hint`, and `on_submit` runs only without
/// a problem. `warning` goes first, `children` between the message and the buttons. One
/// copy for both such forms (the remote's name, the MCP server's address).
#[component]
pub fn FieldForm(
    field: Field,
    value: RwSignal<String>,
    touched: RwSignal<bool>,
    /// The value's problem, if any.
    problem: Signal<Option<String>>,
    /// What the message line says while there is no problem.
    hint: Signal<String>,
    busy: Signal<bool>,
    on_submit: Callback<()>,
    on_cancel: Callback<()>,
    #[prop(default = None)] warning: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(i) = input.get() {
            let _ = i.focus();
        }
    });
    let shown = move || problem.get().filter(|_| touched.get());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        touched.set(true);
        if problem.get_untracked().is_none() {
            on_submit.run(());
        }
    };
    let Field {
        form,
        id,
        label,
        kind,
        placeholder,
        readonly,
        check_as_typed,
        go,
    } = field;
    let msg_id = format!("{id}-msg");
    view! {
        <form class="name-step" data-form=form on:submit=submit novalidate>
            {warning.map(|w| view! { <p class="caution" data-testid="setup-warning">{w}</p> })}
            <label for=id.clone()>{label}</label>
            <input id=id node_ref=input type=kind autocomplete="off" spellcheck="false"
                autocapitalize="none" placeholder=placeholder readonly=readonly
                aria-invalid=move || if shown().is_some() { "true" } else { "false" }
                aria-describedby=msg_id.clone()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    if check_as_typed { touched.set(true) }
                }
                on:change=move |_| touched.set(true)
                prop:value=value />
            <p id=msg_id class=move || if shown().is_some() { "problem inline" } else { "hint" }
                aria-live="polite" data-testid="name-message">
                {move || shown().unwrap_or_else(|| hint.get())}
            </p>
            {children.map(|c| c())}
            <div class="actions">
                <button type="submit" class="primary" disabled=busy>
                    {move || if busy.get() { "Starting…" } else { go }}
                </button>
                // Not while starting: a sign-in the card no longer follows would hold the port.
                {button("secondary", None, "Cancel", busy, on_cancel)}
            </div>
        </form>
    }
}

/// Copies `text` to the clipboard and says so.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, #[prop(into)] what: String) -> impl IntoView {
    let tasks = Tasks::here();
    let said = RwSignal::new(None::<String>);
    let copy = move |_| {
        let Some(window) = web_sys::window() else {
            return;
        };
        let promise = window
            .navigator()
            .clipboard()
            .write_text(&text.get_untracked());
        tasks.spawn(async move {
            let ok = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            said.set(Some(
                if ok {
                    "Copied"
                } else {
                    "Could not copy: select it and copy by hand"
                }
                .to_owned(),
            ));
        });
    };
    view! {
        <button type="button" class="secondary" data-action="copy" aria-label=format!("Copy {what}") on:click=copy>
            {move || said.get().unwrap_or_else(|| "Copy".to_owned())}
        </button>
    }
}

/// A button (`data-action` when tests or the card's handler name it). One copy for every
/// plain button on the page.
pub fn button(
    class: &'static str,
    action: Option<&'static str>,
    verb: &'static str,
    disabled: Signal<bool>,
    on_click: Callback<()>,
) -> AnyView {
    view! {
        <button type="button" class=class data-action=action disabled=disabled
            on:click=move |_| on_click.run(())>{verb}</button>
    }
    .into_any()
}

/// A page to open in a new tab (a sign-in page), as the primary button; `link` lets the flow
/// put the keyboard on it. One copy for every flow's link.
pub fn new_tab_button(
    href: String,
    testid: &'static str,
    label: String,
    link: NodeRef<leptos::html::A>,
) -> AnyView {
    view! {
        <a class="button primary" href=href target="_blank" rel="noopener noreferrer" data-testid=testid node_ref=link>
            {label}<span class="sr-only">" (opens in a new tab)"</span>
        </a>
    }
    .into_any()
}

/// A flow that failed: what went wrong, and Close (the card reloads either way).
pub fn failed_view(message: String, on_close: Callback<()>) -> AnyView {
    view! {
        <div data-step="failed">
            <p class="problem" role="alert" data-testid="problem">{message}</p>
            {button("secondary", None, "Close", Signal::stored(false), on_close)}
        </div>
    }
    .into_any()
}

/// A flow waiting for something (`data-step` when the step has a name).
pub fn waiting_view(words: &'static str, step: Option<&'static str>) -> AnyView {
    view! {
        <p class="waiting" role="status" aria-live="polite" data-step=step>
            <span class="spinner" aria-hidden="true"></span>
            {words}
        </p>
    }
    .into_any()
}

/// Runs `f` once when the browser tab or window gets the focus back (the person returns
/// from a sign-in page in another tab), until the calling component goes away.
pub fn on_return(f: impl Fn() + 'static) {
    let focus = window_event_listener(leptos::ev::focus, move |_| f());
    on_cleanup(move || focus.remove());
}
