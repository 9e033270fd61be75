//! Google Drive and OneDrive: rclone remotes, added by a guided sign-in, re-authorised in
//! place, disconnected after a confirmation.

use leptos::prelude::*;
use patchbay_proto::api::{ConnectorId, StartRemoteRequest};

use super::view::{Action, Button, CardBody, CardView, Enable, Line, List, Panel, Row, Title};
use super::{Card, Known, Summary};
use crate::answer::{self, Value};
use crate::api::json;
use crate::flow::remote_name_problem;
use crate::session::SignInSteps;
use crate::tasks::Tasks;
use crate::ui::{Field, FieldForm, Problem, When};

#[component]
pub fn RemotesCard(kind: ConnectorId, summary: Summary) -> impl IntoView {
    let id = kind.as_str();
    let path = match kind {
        ConnectorId::Onedrive => "/api/connectors/onedrive/remotes",
        _ => "/api/connectors/gdrive/remotes",
    };
    let card = Card::new(path, Signal::stored(true));
    let feedback = card.feedback;
    let view = card.view(summary, state);
    let panel = RwSignal::new(Panel::Closed);
    let provider = match kind {
        ConnectorId::Onedrive => "Microsoft",
        _ => "Google",
    };
    // Made here, not in the view of one panel: they run while that view is going away.
    let ended = card.on_sign_in_end(move || panel.set(Panel::Closed));
    let closed = Callback::new(move |()| panel.set(Panel::Closed));
    let started = Callback::new(move |(session_id, name): (String, String)| {
        panel.set(Panel::Running {
            session_id,
            what: name,
        })
    });
    let on_action = Callback::new(move |(action, name): Action| match action {
        "disconnect" => {
            let client = card.client();
            let path = format!("/api/connectors/{id}/remotes/{name}");
            card.act(
                async move { client.delete(&path).await.map(|()| String::new()) },
                move |_| format!("Disconnected {name}: (rclone forgot the remote)."),
            );
        }
        // `connect` (a new remote) or `reauth` (this one again, its name fixed).
        _ => {
            feedback.clear();
            let replace = action == "reauth";
            panel.set(Panel::Naming { name, replace });
        }
    });
    let flow = move || match panel.get() {
        Panel::Naming { name, replace } => view! {
            <NameStep kind initial=name locked=replace existing=view
                warning=untrack(|| summary.setup()).map(|s| s.message)
                on_started=started on_cancel=closed />
        }
        .into_any(),
        Panel::Running {
            session_id,
            what: name,
        } => view! {
            <SignInSteps sessions=format!("/api/connectors/{id}/sessions") session_id provider
                done_text=format!("rclone can use the remote {name}: now (try rclone lsd {name}:).")
                on_end=ended on_close=closed />
        }
        .into_any(),
        _ => ().into_any(),
    };
    let open = Signal::derive(move || panel.with(|p| *p != Panel::Closed));
    view! { <CardBody id=kind card summary view on_action open flow /> }
}

/// The card's state from `GET …/remotes` (proto's `RemoteList`): each remote with its
/// account, Sign in again and Disconnect; Connect (anyway, when there is no OAuth client of
/// one's own: the provider would likely refuse rclone's shared one).
fn state(answer: Option<&Value>, known: &Known) -> CardView {
    let remotes = answer
        .map(|a| answer::items(a, "remotes"))
        .unwrap_or_default();
    let connected = answer.map_or(known.connected, |_| !remotes.is_empty());
    let rows: Vec<Row> = remotes
        .iter()
        .filter_map(|r| {
            let name = answer::text(r, "name")?;
            Some(Row {
                key: ("data-remote", name.clone()),
                class: "remote",
                title: Title::Code("remote-name", format!("{name}:")),
                lines: answer::text(r, "account")
                    .map(|a| Line {
                        text: format!("signed in as {a}"),
                        class: "hint account",
                        testid: Some("account"),
                    })
                    .into_iter()
                    .collect(),
                pill: None,
                buttons: vec![
                    Button::new("Sign in again", "reauth", "secondary subtle")
                        .on(name.clone())
                        .enable(Enable::Closed),
                    Button::disconnect(format!("Disconnect {name}:? rclone forgets this remote."))
                        .on(name),
                ],
            })
        })
        .collect();
    let needs_setup = !connected && known.setup.is_some();
    let connect = if needs_setup {
        Button::new("Connect anyway", "connect", "secondary")
    } else if rows.is_empty() {
        Button::new("Connect", "connect", "primary")
    } else {
        Button::new("Add another remote", "connect", "primary")
    };
    CardView {
        connected,
        account: None,
        list: Some(List {
            label: format!("{} remotes", known.id.display_name()),
            class: "items remotes",
            rows,
            empty: None,
        }),
        setup: known.setup.clone().filter(|_| needs_setup),
        actions: vec![connect],
    }
}

/// Step 1: the remote's name, checked as it is typed.
#[component]
fn NameStep(
    kind: ConnectorId,
    initial: String,
    /// Signing in again to an existing remote: the name is fixed and `force` is sent.
    locked: bool,
    /// The card's view: its rows are the remotes there are.
    existing: Memo<CardView>,
    /// Said before anyone is sent to the provider: the sign-in will likely be refused
    /// (no OAuth client of one's own).
    warning: Option<String>,
    on_started: Callback<(String, String)>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let client = expect_context::<crate::api::HelperClient>();
    let tasks = Tasks::here();
    let id = kind.as_str();
    let name = RwSignal::new(initial);
    let touched = RwSignal::new(locked);
    let replace = RwSignal::new(locked);
    let start_problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let names = move || {
        existing.with(|v| {
            v.list
                .iter()
                .flat_map(|l| &l.rows)
                .map(|r| r.key.1.clone())
                .collect::<Vec<_>>()
        })
    };
    let problem = Signal::derive(move || {
        let n = name.get();
        remote_name_problem(n.trim(), &names(), replace.get())
    });
    let exists = move || names().iter().any(|x| *x == name.get().trim());
    let hint = Signal::derive(move || {
        let n = name.get();
        let n = if n.trim().is_empty() {
            "name".to_owned()
        } else {
            n.trim().to_owned()
        };
        format!("rclone will know this account as {n}: (lowercase letters, digits, - and _).")
    });
    let submit = Callback::new(move |()| {
        let body = StartRemoteRequest {
            name: name.get_untracked().trim().to_owned(),
            force: replace.get_untracked(),
        };
        let client = client.clone();
        busy.set(true);
        start_problem.set(None);
        tasks.spawn(async move {
            let r = client
                .post(&format!("/api/connectors/{id}/remotes"), json(&body))
                .await;
            busy.set(false);
            // proto's `SessionStarted`.
            match r.map(|s| answer::text(&s, "session_id").unwrap_or_default()) {
                Ok(session_id) => on_started.run((session_id, body.name)),
                Err(e) => start_problem.set(e.on_card()),
            }
        });
    });
    let field = Field {
        form: "remote-name",
        id: format!("{id}-remote-name"),
        label: "Remote name",
        kind: "text",
        placeholder: "personal",
        readonly: locked,
        check_as_typed: true,
        go: if warning.is_some() {
            "Continue anyway"
        } else {
            "Continue"
        },
    };
    view! {
        <FieldForm field value=name touched problem hint busy=busy.into() on_submit=submit on_cancel
            warning>
            <When when=move || exists() && !locked>
                <label class="check">
                    <input type="checkbox" prop:checked=replace
                        on:change=move |ev| replace.set(event_target_checked(&ev)) />
                    " Sign in again and replace this remote's sign-in"
                </label>
            </When>
            <Problem message=start_problem />
        </FieldForm>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_proto::api::{RemoteList, SetupNeeded};
    use patchbay_proto::rclone::Remote;

    fn known(connected: bool, setup: Option<SetupNeeded>) -> Known {
        Known {
            id: ConnectorId::Gdrive,
            now: 0,
            connected,
            setup,
        }
    }

    fn setup() -> SetupNeeded {
        SetupNeeded {
            message: "Set a Google OAuth client.".into(),
            settings: vec!["PATCHBAY_GDRIVE_CLIENT_ID".into()],
            how: "In the environment of patchbay serve.".into(),
            docs: "google-drive".into(),
        }
    }

    fn remotes(names: &[(&str, Option<&str>)]) -> Value {
        serde_json::to_value(RemoteList {
            remotes: names
                .iter()
                .map(|(name, account)| Remote {
                    name: (*name).into(),
                    kind: "drive".into(),
                    account: account.map(Into::into),
                })
                .collect(),
        })
        .unwrap()
    }

    #[test]
    fn each_remote_is_a_row_with_its_account_and_its_two_verbs() {
        let answer = remotes(&[("personal", Some("a@example.com")), ("work", None)]);
        let view = state(Some(&answer), &known(false, None));
        assert!(view.connected);
        let list = view.list.unwrap();
        assert_eq!(list.label, "Google Drive remotes");
        assert_eq!(list.rows.len(), 2);
        let row = &list.rows[0];
        assert_eq!(row.key, ("data-remote", "personal".to_owned()));
        assert_eq!(row.title, Title::Code("remote-name", "personal:".into()));
        assert_eq!(row.lines[0].text, "signed in as a@example.com");
        assert_eq!(row.lines[0].testid, Some("account"));
        assert!(list.rows[1].lines.is_empty());
        let verbs: Vec<_> = row
            .buttons
            .iter()
            .map(|b| (b.action, b.arg.as_str()))
            .collect();
        assert_eq!(verbs, [("reauth", "personal"), ("disconnect", "personal")]);
        assert_eq!(
            row.buttons[1].ask.as_deref(),
            Some("Disconnect personal:? rclone forgets this remote.")
        );
        assert_eq!(view.actions[0].verb, "Add another remote");
        assert_eq!(view.setup, None);
    }

    #[test]
    fn without_remotes_it_offers_connect_or_warns_first_without_a_client() {
        let none = remotes(&[]);
        let view = state(Some(&none), &known(true, None));
        assert!(!view.connected, "the answer wins over the overview");
        assert_eq!(view.actions[0].verb, "Connect");
        assert_eq!(view.actions[0].class, "primary");
        let view = state(Some(&none), &known(false, Some(setup())));
        assert_eq!(view.setup, Some(setup()));
        assert_eq!(view.actions[0].verb, "Connect anyway");
        assert_eq!(view.actions[0].class, "secondary");
        // Before the first answer, the overview says.
        assert!(state(None, &known(true, None)).connected);
    }
}
