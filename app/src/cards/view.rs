//! What a card shows, as plain data, and the one component that draws it.
//!
//! Each card turns its answer into a [`CardView`] with a plain function (`state`, unit-tested
//! natively) and says what its buttons do in one action handler; [`CardBody`] draws every
//! card. One renderer means one copy of each view shape in the wasm: a `view!` of its own
//! per card and per panel was the largest part of the dashboard's code (Leptos compiles each
//! shape, its attributes and its reactive closures separately).

use leptos::attr::custom::custom_attribute;
use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, SetupNeeded};

use super::{Card, Summary};
use crate::ui::{CardFrame, ConfirmButton, FeedbackLines, Problem, SetupNote, button};

/// A card's state: badge, account line, its list, what it lacks, its buttons.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CardView {
    pub connected: bool,
    /// "Connected as …", when the credentials say.
    pub account: Option<String>,
    pub list: Option<List>,
    /// Shown above the buttons (the connector lacks configuration).
    pub setup: Option<SetupNeeded>,
    /// The card's buttons while no flow is open.
    pub actions: Vec<Button>,
}

/// The rows of a card (remotes, servers, agents).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct List {
    /// The list's accessible name.
    pub label: String,
    /// `items remotes`, `items servers`.
    pub class: &'static str,
    pub rows: Vec<Row>,
    /// Said instead of the list when it has no rows (`data-testid`, sentence).
    pub empty: Option<(&'static str, &'static str)>,
}

/// One row of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The row's data attribute and value (`data-remote="personal"`), how tests find it.
    pub key: (&'static str, String),
    /// `remote` or `server` (the block holding the title and lines).
    pub class: &'static str,
    pub title: Title,
    pub lines: Vec<Line>,
    pub pill: Option<Pill>,
    pub buttons: Vec<Button>,
}

/// A row's name: `<code class=…>` for an address or a remote, else a `<strong>` name.
#[derive(Debug, Clone, PartialEq)]
pub enum Title {
    Code(&'static str, String),
    Name(String),
}

/// A line under a row's title.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    /// `hint`, `hint account`.
    pub class: &'static str,
    pub testid: Option<&'static str>,
}

impl Line {
    pub fn hint(text: String) -> Self {
        Self {
            text,
            class: "hint",
            testid: None,
        }
    }

    pub fn tagged(text: String, testid: &'static str) -> Self {
        Self {
            testid: Some(testid),
            ..Self::hint(text)
        }
    }
}

/// A row's state word in a coloured pill (`data-token-state`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pill {
    pub tone: &'static str,
    pub words: &'static str,
}

/// A button: its verb, the action it runs (`data-action`, and what the card's handler is
/// given with `arg`), its look, and whether it asks first.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub verb: &'static str,
    pub action: &'static str,
    /// Which row it acts on (a remote's name, a server's id); empty for the card's own.
    pub arg: String,
    /// `primary`, `secondary`, `secondary subtle`.
    pub class: &'static str,
    pub enable: Enable,
    /// Asks this question in place first (the verb is then *Disconnect*, see
    /// [`ConfirmButton`]).
    pub ask: Option<String>,
}

/// When a button can be pressed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Enable {
    Always,
    /// Not while the card's action runs.
    Idle,
    /// Not while one of the card's flows is open.
    Closed,
    /// Neither.
    IdleClosed,
}

impl Button {
    pub fn new(verb: &'static str, action: &'static str, class: &'static str) -> Self {
        Self {
            verb,
            action,
            arg: String::new(),
            class,
            enable: Enable::Always,
            ask: None,
        }
    }

    /// The one destructive verb: asks `question` first.
    pub fn disconnect(question: String) -> Self {
        Self {
            ask: Some(question),
            enable: Enable::Idle,
            ..Self::new("Disconnect", "disconnect", "danger subtle")
        }
    }

    pub fn on(mut self, arg: impl Into<String>) -> Self {
        self.arg = arg.into();
        self
    }

    pub fn enable(mut self, enable: Enable) -> Self {
        self.enable = enable;
        self
    }
}

/// Which of its flows a card shows instead of its buttons (one type for every card: one
/// copy of the signal code).
#[derive(Debug, Clone, PartialEq)]
pub enum Panel {
    Closed,
    /// A token form.
    Token,
    /// Choosing a remote's name (pre-filled and locked when signing in again to an existing
    /// remote).
    Naming {
        name: String,
        replace: bool,
    },
    /// Entering an MCP server's address.
    Adding,
    /// A guided sign-in: the helper's session, and what it connects (a remote, a server).
    Running {
        session_id: String,
        what: String,
    },
    /// GitHub's device code.
    Device(patchbay_proto::tokens::DeviceStart),
    /// Waiting for the person to approve in the provider's tab.
    OAuth {
        authorize_url: String,
    },
}

/// What a card's handler is told: the button's `action` and `arg`.
pub type Action = (&'static str, String);

/// Every card: the frame, its state's problem, its list, the outcome lines, then either its
/// open flow (`flow`, while `open`) or its buttons.
#[component]
pub fn CardBody(
    id: ConnectorId,
    card: Card,
    summary: Summary,
    view: Memo<CardView>,
    on_action: Callback<Action>,
    /// Whether one of the card's flows replaces its buttons now.
    #[prop(optional, into)]
    open: Signal<bool>,
    /// The open flow's view.
    #[prop(optional, into)]
    flow: ViewFn,
) -> impl IntoView {
    let connected = Signal::derive(move || view.with(|v| v.connected));
    let account = Signal::derive(move || view.with(|v| v.account.clone()));
    // The badge says "needs setup" exactly while the card shows what to set up.
    let needs_setup = Signal::derive(move || view.with(|v| v.setup.is_some()));
    // Each part redrawn only when it changes; as `CardView`s, so the wasm has one memo type.
    let list = Memo::new(move |_| CardView {
        list: view.with(|v| v.list.clone()),
        ..CardView::default()
    });
    let actions = Memo::new(move |_| {
        view.with(|v| CardView {
            setup: v.setup.clone(),
            actions: v.actions.clone(),
            ..CardView::default()
        })
    });
    let press = Press {
        card,
        open,
        on_action,
    };
    view! {
        <CardFrame id connected needs_setup account detail=Signal::derive(move || summary.detail())>
            <Problem message=card.state_problem() />
            {move || list.get().list.map(|l| list_view(l, press))}
            <FeedbackLines feedback=card.feedback />
            {move || if open.get() {
                flow.run()
            } else {
                let CardView { setup, actions: buttons, .. } = actions.get();
                view! {
                    {setup.map(|setup| view! { <SetupNote setup /> })}
                    {(!buttons.is_empty()).then(|| view! {
                        <div class="actions">{buttons_view(buttons, press)}</div>
                    })}
                }.into_any()
            }}
        </CardFrame>
    }
}

/// What a button needs to run: the card (busy), whether a flow is open, the handler.
#[derive(Clone, Copy)]
struct Press {
    card: Card,
    open: Signal<bool>,
    on_action: Callback<Action>,
}

fn list_view(list: List, press: Press) -> AnyView {
    if list.rows.is_empty() {
        return list
            .empty
            .map(|(testid, text)| view! { <p class="hint" data-testid=testid>{text}</p> })
            .into_any();
    }
    let rows = list
        .rows
        .into_iter()
        .map(|row| row_view(row, press))
        .collect_view();
    view! { <ul class=list.class aria-label=list.label>{rows}</ul> }.into_any()
}

fn row_view(row: Row, press: Press) -> AnyView {
    let Row {
        key: (attr, key),
        class,
        title,
        lines,
        pill,
        buttons,
    } = row;
    let title = match title {
        Title::Code(class, text) => view! { <code class=class>{text}</code> }.into_any(),
        Title::Name(text) => view! { <strong data-testid="client-name">{text}</strong> }.into_any(),
    };
    let lines = lines
        .into_iter()
        .map(|l| view! { <span class=l.class data-testid=l.testid>{l.text}</span> })
        .collect_view();
    let pill = pill.map(|p| {
        view! { <span class=format!("pill {}", p.tone) data-token-state=p.words>{p.words}</span> }
    });
    view! {
        <li {..custom_attribute(attr, key)}>
            <div class=class>{title}{lines}{pill}</div>
            <span class="row-actions">{buttons_view(buttons, press)}</span>
        </li>
    }
    .into_any()
}

fn buttons_view(buttons: Vec<Button>, press: Press) -> AnyView {
    buttons
        .into_iter()
        .map(|b| button_view(b, press))
        .collect_view()
        .into_any()
}

fn button_view(b: Button, press: Press) -> AnyView {
    let Press {
        card,
        open,
        on_action,
    } = press;
    let busy = card.feedback.busy;
    let enable = b.enable;
    let disabled = Signal::derive(move || match enable {
        Enable::Always => false,
        Enable::Idle => busy.get(),
        Enable::Closed => open.get(),
        Enable::IdleClosed => busy.get() || open.get(),
    });
    let (action, arg) = (b.action, b.arg);
    match b.ask {
        Some(question) => view! {
            <ConfirmButton busy=disabled question
                on_confirm=Callback::new(move |()| on_action.run((action, arg.clone()))) />
        }
        .into_any(),
        None => button(
            b.class,
            Some(action),
            b.verb,
            disabled,
            Callback::new(move |()| on_action.run((action, arg.clone()))),
        ),
    }
}
