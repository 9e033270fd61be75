//! The engine behind every long-running flow (rclone, gh device flow, MCP login).
//!
//! A session is an id, a status anyone may read any number of times (reading never consumes
//! the result), a TTL after which the reaper removes it, and a cancel token the flow's task
//! obeys (killing its child process). Status changes go through a `watch` channel, so a
//! long-poll (`?wait=SECONDS`) answers the moment the status changes.
//!
//! Connectors supply only what differs: their status type and the task that drives the flow.
//! Each table runs its own reaper, started with its first session and ended with the table,
//! so no connector starts or stops one.
//!
//! A finished session keeps only its status until its TTL: the flow's task lets go of its
//! own handle as it ends (a tokio task's allocation is sized for the whole flow's future,
//! kilobytes, and lives as long as its `JoinHandle`), and at most [`MAX_FINISHED`] finished
//! sessions are kept, the oldest going first, so a thousand sign-ins in ten minutes cost
//! what a few hundred do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use patchbay_proto::api::{FlowStatus, SessionStarted};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::text::{plural, quote_input};
use crate::ApiError;

/// The longest a client may hold a long-poll open.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Finished sessions kept per table (each until its TTL). A client reads its outcome
/// within seconds; only a burst of this many newer sign-ins ending first can push it out.
pub const MAX_FINISHED: usize = 256;

/// The `?wait=SECONDS&since=STATUS` parameters of a session poll: long-poll until the status
/// changes (at most [`MAX_WAIT`]); `since` is the status the client last saw, so a change
/// that happened between two polls is answered at once instead of after the wait.
pub fn poll_params(
    query: &HashMap<String, String>,
) -> Result<(Option<Duration>, Option<String>), ApiError> {
    Ok((wait_param(query)?, query.get("since").cloned()))
}

/// The `?wait=SECONDS` query parameter alone.
pub fn wait_param(query: &HashMap<String, String>) -> Result<Option<Duration>, ApiError> {
    match query.get("wait") {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .map_err(|_| bad_wait())
            .and_then(wait_for)
            .map(Some),
    }
}

/// A client's wait in seconds (a query parameter or a body field), capped at [`MAX_WAIT`].
pub fn wait_for(seconds: f64) -> Result<Duration, ApiError> {
    if seconds.is_finite() && seconds >= 0.0 {
        // Capped before converting: a huge number of seconds does not fit a Duration.
        Ok(Duration::from_secs_f64(seconds.min(MAX_WAIT.as_secs_f64())))
    } else {
        Err(bad_wait())
    }
}

fn bad_wait() -> ApiError {
    ApiError::bad_request("wait must be a number of seconds (0 to 60).")
}

/// The answer to a start: 202 with the new session's id, still `pending`.
pub type Started = (StatusCode, Json<SessionStarted>);

pub fn started(session_id: String) -> Started {
    (
        StatusCode::ACCEPTED,
        Json(SessionStarted {
            session_id,
            status: FlowStatus::Pending,
        }),
    )
}

/// Statuses a session can end in; the reaper and cancel need to know.
pub trait SessionStatus: Clone + PartialEq + Send + Sync + 'static {
    /// Completed, failed or cancelled: nothing will change any more.
    fn is_finished(&self) -> bool;

    /// The status word a client sees (`pending`, `awaiting_oauth`, …) and sends back as
    /// `since`.
    fn label(&self) -> &'static str;
}

struct Slot<S> {
    status: watch::Sender<S>,
    expires_at: Instant,
    cancel: CancellationToken,
    /// The running flow, for shutdown to wait on; `None` once it has ended.
    task: Option<JoinHandle<()>>,
}

impl<S: SessionStatus> Slot<S> {
    fn is_finished(&self) -> bool {
        self.status.borrow().is_finished()
    }
}

/// All sessions of one kind. Clones share the sessions.
pub struct SessionTable<S> {
    shared: Arc<Shared<S>>,
}

struct Shared<S> {
    slots: Mutex<HashMap<String, Slot<S>>>,
    ttl: Duration,
    prefix: &'static str,
    /// Who runs these sessions ("Google Drive"), for the message about an unknown id.
    service: &'static str,
    /// Set once the reaper runs (it starts with the first session, inside the runtime).
    reaper: OnceLock<()>,
}

impl<S> Clone for SessionTable<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

/// What a flow's task holds: the way to publish its status and to learn it must stop.
pub struct SessionCtl<S> {
    pub id: String,
    status: watch::Sender<S>,
    pub cancel: CancellationToken,
}

impl<S: SessionStatus> SessionCtl<S> {
    /// Publishes a new status (wakes every long-poll).
    pub fn set(&self, status: S) {
        self.status.send_replace(status);
    }

    /// Changes the status in place.
    pub fn update(&self, change: impl FnOnce(&mut S)) {
        self.status.send_modify(change);
    }

    pub fn current(&self) -> S {
        self.status.borrow().clone()
    }
}

impl<S: SessionStatus> SessionTable<S> {
    /// Sessions of `service`'s sign-in whose ids start with `prefix` (`gdrive-…`) and live
    /// `ttl` from creation.
    pub fn new(prefix: &'static str, service: &'static str, ttl: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                slots: Mutex::default(),
                ttl,
                prefix,
                service,
                reaper: OnceLock::new(),
            }),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.shared.ttl
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot<S>>> {
        self.shared.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new session and starts its flow: `run` gets the control handle and is
    /// spawned at once. The session stays readable until its TTL, whatever `run` does (once
    /// finished, unless [`MAX_FINISHED`] newer sessions finish first).
    pub fn start<F, Fut>(&self, initial: S, run: F) -> String
    where
        F: FnOnce(SessionCtl<S>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.shared.reaper.get_or_init(|| self.spawn_reaper());
        let id = format!(
            "{}-{}",
            self.shared.prefix,
            patchbay_proto::secret::random_urlsafe(12)
        );
        let (tx, _) = watch::channel(initial);
        let cancel = CancellationToken::new();
        let ctl = SessionCtl {
            id: id.clone(),
            status: tx.clone(),
            cancel: cancel.clone(),
        };
        let flow = run(ctl);
        let (table, ended) = (Arc::downgrade(&self.shared), id.clone());
        let mut slots = self.slots();
        // Held until the slot is in: the task cannot end (and let go of it) before that.
        let task = tokio::spawn(async move {
            flow.await;
            if let Some(shared) = table.upgrade() {
                SessionTable { shared }.ended(&ended);
            }
        });
        slots.insert(
            id.clone(),
            Slot {
                status: tx,
                expires_at: Instant::now() + self.shared.ttl,
                cancel,
                task: Some(task),
            },
        );
        id
    }

    /// Session `id`'s flow has returned: its task's handle goes (and with it the task's
    /// memory), and the oldest finished sessions beyond [`MAX_FINISHED`].
    fn ended(&self, id: &str) {
        let mut slots = self.slots();
        if let Some(slot) = slots.get_mut(id) {
            slot.task = None;
        }
        let mut finished: Vec<(Instant, &String)> = slots
            .iter()
            .filter(|(_, slot)| slot.task.is_none() && slot.is_finished())
            .map(|(id, slot)| (slot.expires_at, id))
            .collect();
        if finished.len() <= MAX_FINISHED {
            return;
        }
        finished.sort_unstable();
        let excess = finished.len() - MAX_FINISHED;
        let oldest: Vec<String> = finished[..excess]
            .iter()
            .map(|(_, id)| (*id).clone())
            .collect();
        for id in oldest {
            slots.remove(&id);
        }
    }

    /// The 404 for an id this table does not hold: never issued, or removed after its TTL.
    /// It quotes the id only as far as it is plain text (see [`quote_input`]).
    pub fn unknown(&self, id: &str) -> ApiError {
        ApiError::not_found(format!(
            "There is no {} sign-in session “{}”: it may have expired (sessions last {}) or \
             the helper restarted. Start the sign-in again.",
            self.shared.service,
            quote_input(id),
            ttl_for_people(self.shared.ttl)
        ))
    }

    pub fn get(&self, id: &str) -> Option<S> {
        self.slots().get(id).map(|s| s.status.borrow().clone())
    }

    /// Answers a client's poll of session `id`: `?wait=` and `?since=` as in
    /// [`poll_params`], [`SessionTable::unknown`] when there is no such session.
    pub async fn poll(&self, id: &str, query: &HashMap<String, String>) -> Result<S, ApiError> {
        let (wait, since) = poll_params(query)?;
        self.wait_since(id, wait, since.as_deref())
            .await
            .ok_or_else(|| self.unknown(id))
    }

    /// The status now, or, if `wait` is given, as soon as it differs from now (or when
    /// `wait` runs out, whichever comes first). `None`: no such session.
    pub async fn wait(&self, id: &str, wait: Option<Duration>) -> Option<S> {
        self.wait_since(id, wait, None).await
    }

    /// Like [`SessionTable::wait`], but answers at once when the status's label is not
    /// `since` (the client missed a change between two polls).
    pub async fn wait_since(
        &self,
        id: &str,
        wait: Option<Duration>,
        since: Option<&str>,
    ) -> Option<S> {
        let mut rx = self.slots().get(id)?.status.subscribe();
        let now = rx.borrow_and_update().clone();
        let Some(wait) = wait.map(|w| w.min(MAX_WAIT)) else {
            return Some(now);
        };
        if now.is_finished() || since.is_some_and(|s| s != now.label()) {
            return Some(now);
        }
        match tokio::time::timeout(wait, rx.changed()).await {
            Ok(Ok(())) => Some(rx.borrow().clone()),
            // Timed out, or the session was reaped while we waited.
            _ => self.get(id),
        }
    }

    /// Asks the flow to stop. Returns the status, or `None` for an unknown session.
    pub fn cancel(&self, id: &str) -> Option<S> {
        let slots = self.slots();
        let slot = slots.get(id)?;
        slot.cancel.cancel();
        Some(slot.status.borrow().clone())
    }

    /// Cancels session `id` and waits (at most `settle`) until its flow has ended, so that a
    /// new flow can start right after the answer. Returns the status then.
    pub async fn cancel_and_settle(&self, id: &str, settle: Duration) -> Result<S, ApiError> {
        let now = self.cancel(id).ok_or_else(|| self.unknown(id))?;
        if now.is_finished() {
            return Ok(now);
        }
        self.wait(id, Some(settle))
            .await
            .ok_or_else(|| self.unknown(id))
    }

    /// Whether any session is still running (not finished).
    pub fn any_running(&self) -> bool {
        self.slots()
            .values()
            .any(|s| !s.status.borrow().is_finished())
    }

    /// Removes expired sessions, cancelling their flows. Returns how many went.
    fn reap(&self) -> usize {
        let now = Instant::now();
        let mut slots = self.slots();
        let before = slots.len();
        slots.retain(|_, slot| {
            let keep = slot.expires_at > now;
            if !keep {
                slot.cancel.cancel();
            }
            keep
        });
        before - slots.len()
    }

    /// The task that reaps expired sessions for as long as the table lives: it holds the
    /// table weakly, so it ends once every clone of the table is gone.
    fn spawn_reaper(&self) {
        let shared = Arc::downgrade(&self.shared);
        let tick = (self.shared.ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(table) = Weak::upgrade(&shared).map(|shared| SessionTable { shared })
                else {
                    return;
                };
                let gone = table.reap();
                if gone > 0 {
                    tracing::debug!(
                        gone,
                        prefix = table.shared.prefix,
                        "expired sessions removed"
                    );
                }
            }
        });
    }

    /// Cancels every flow and waits for their tasks (which kill their children) to end.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            self.slots()
                .values_mut()
                .filter_map(|s| {
                    s.cancel.cancel();
                    s.task.take()
                })
                .collect()
        };
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// `600 s` → "10 minutes", `1 s` → "1 second".
fn ttl_for_people(ttl: Duration) -> String {
    let secs = ttl.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum St {
        Pending,
        Waiting,
        Done,
        Cancelled,
    }
    impl SessionStatus for St {
        fn is_finished(&self) -> bool {
            matches!(self, St::Done | St::Cancelled)
        }
        fn label(&self) -> &'static str {
            match self {
                St::Pending => "pending",
                St::Waiting => "waiting",
                St::Done => "done",
                St::Cancelled => "cancelled",
            }
        }
    }

    #[tokio::test]
    async fn long_poll_wakes_on_change_and_reading_never_consumes() {
        let table = SessionTable::new("t", "Test", Duration::from_secs(60));
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let id = table.start(St::Pending, |ctl| async move {
            ctl.set(St::Waiting);
            let _ = go_rx.await;
            ctl.set(St::Done);
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(table.get(&id), Some(St::Waiting));
        let waiter = {
            let table = table.clone();
            let id = id.clone();
            tokio::spawn(async move { table.wait(&id, Some(Duration::from_secs(30))).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        go_tx.send(()).unwrap();
        assert_eq!(waiter.await.unwrap(), Some(St::Done));
        assert!(started.elapsed() < Duration::from_secs(5));
        for _ in 0..3 {
            assert_eq!(table.get(&id), Some(St::Done));
        }
        assert_eq!(
            table.wait(&id, Some(Duration::from_secs(30))).await,
            Some(St::Done)
        );
    }

    #[tokio::test]
    async fn a_change_missed_between_polls_is_answered_at_once() {
        let table = SessionTable::new("t", "Test", Duration::from_secs(60));
        let id = table.start(St::Waiting, |ctl| async move {
            ctl.cancel.cancelled().await;
        });
        let started = std::time::Instant::now();
        let got = table
            .wait_since(&id, Some(Duration::from_secs(30)), Some("pending"))
            .await;
        assert_eq!(got, Some(St::Waiting));
        assert!(started.elapsed() < Duration::from_secs(5), "it waited");
        let got = table
            .wait_since(&id, Some(Duration::from_millis(50)), Some("waiting"))
            .await;
        assert_eq!(got, Some(St::Waiting), "unchanged: waits, then answers");
    }

    #[tokio::test]
    async fn wait_times_out_with_the_unchanged_status() {
        let table = SessionTable::new("t", "Test", Duration::from_secs(60));
        let id = table.start(St::Waiting, |ctl| async move {
            ctl.cancel.cancelled().await;
        });
        let got = table.wait(&id, Some(Duration::from_millis(50))).await;
        assert_eq!(got, Some(St::Waiting));
        assert_eq!(table.wait("t-nope", None).await, None);
    }

    #[tokio::test]
    async fn cancel_and_reaper_stop_the_flow() {
        let table = SessionTable::new("t", "Test", Duration::from_millis(200));
        let id = table.start(St::Waiting, |ctl| async move {
            ctl.cancel.cancelled().await;
            ctl.set(St::Cancelled);
        });
        assert_eq!(table.cancel(&id), Some(St::Waiting));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(table.get(&id), Some(St::Cancelled));

        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel();
        let id2 = table.start(St::Waiting, |ctl| async move {
            ctl.cancel.cancelled().await;
            let _ = stopped_tx.send(());
        });
        tokio::time::timeout(Duration::from_secs(5), stopped_rx)
            .await
            .expect("the reaper cancelled the flow")
            .unwrap();
        assert_eq!(table.get(&id2), None);
        assert_eq!(table.get(&id), None);
    }

    #[tokio::test]
    async fn an_unknown_id_is_a_404_that_quotes_only_plain_text() {
        let table = SessionTable::<St>::new("t", "Test", Duration::from_secs(600));
        let err = table.unknown("t-abc");
        assert_eq!(err.code, patchbay_proto::ErrorCode::NotFound);
        assert!(err.message.contains("“t-abc”"), "{}", err.message);
        assert!(err.message.contains("10 minutes"), "{}", err.message);

        let hostile = format!("t-\u{1b}[2J\r\nSet-Cookie: x\u{7}{}", "a".repeat(5000));
        let err = table.unknown(&hostile);
        assert!(
            !err.message.chars().any(char::is_control),
            "a control character was echoed: {:?}",
            err.message
        );
        assert!(err.message.len() < 400, "a long id was echoed whole");
        assert!(!err.message.contains(&"a".repeat(100)));

        let query = HashMap::from([("wait".to_owned(), "0".to_owned())]);
        let err = table.poll(&hostile, &query).await.unwrap_err();
        assert!(!err.message.chars().any(char::is_control));
        let err = table
            .cancel_and_settle(&hostile, Duration::from_millis(10))
            .await
            .unwrap_err();
        assert_eq!(err.code, patchbay_proto::ErrorCode::NotFound);
    }

    #[test]
    fn wait_is_bounded_and_never_panics() {
        let query = |v: &str| HashMap::from([("wait".to_owned(), v.to_owned())]);
        assert_eq!(wait_param(&HashMap::new()).unwrap(), None);
        assert_eq!(
            wait_param(&query("2.5")).unwrap(),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(wait_param(&query("1e300")).unwrap(), Some(MAX_WAIT));
        for bad in ["-1", "NaN", "inf", "soon", ""] {
            assert!(wait_param(&query(bad)).is_err(), "{bad}");
        }
        assert_eq!(wait_for(f64::MAX).unwrap(), MAX_WAIT);
        assert!(wait_for(f64::NAN).is_err());
    }

    #[test]
    fn ttls_read_as_people_say_them() {
        assert_eq!(ttl_for_people(Duration::from_secs(600)), "10 minutes");
        assert_eq!(ttl_for_people(Duration::from_secs(60)), "1 minute");
        assert_eq!(ttl_for_people(Duration::from_secs(90)), "90 seconds");
        assert_eq!(ttl_for_people(Duration::from_secs(1)), "1 second");
    }

    /// Waits until every session's flow has returned.
    async fn all_ended(table: &SessionTable<St>) {
        all_ended_but(table, "").await;
    }

    #[tokio::test]
    async fn a_finished_flow_lets_go_of_its_task_and_keeps_its_status() {
        let table = SessionTable::new("t", "Test", Duration::from_secs(60));
        let id = table.start(St::Pending, |ctl| async move { ctl.set(St::Done) });
        all_ended(&table).await;
        assert_eq!(table.get(&id), Some(St::Done));
        assert!(table.slots()[&id].task.is_none());
        // Ended without finishing (a flow that returned early): kept as it is, until its TTL.
        let early = table.start(St::Waiting, |_| async {});
        all_ended(&table).await;
        assert_eq!(table.get(&early), Some(St::Waiting));
    }

    #[tokio::test]
    async fn finished_sessions_are_bounded_the_oldest_going_first() {
        let table = SessionTable::new("t", "Test", Duration::from_secs(60));
        let running = table.start(St::Waiting, |ctl| async move {
            ctl.cancel.cancelled().await;
        });
        let extra = 10;
        let mut ids = Vec::new();
        for _ in 0..MAX_FINISHED + extra {
            ids.push(table.start(St::Pending, |ctl| async move { ctl.set(St::Done) }));
            // One at a time, as sign-ins end: each end trims the oldest.
            all_ended_but(&table, &running).await;
        }
        assert_eq!(table.slots().len(), MAX_FINISHED + 1);
        for gone in &ids[..extra] {
            assert_eq!(table.get(gone), None, "an old finished session was kept");
        }
        for kept in &ids[extra..] {
            assert_eq!(table.get(kept), Some(St::Done));
        }
        assert_eq!(table.get(&running), Some(St::Waiting), "a running one went");
        table.shutdown().await;
    }

    /// Waits until every flow but `running`'s has returned.
    async fn all_ended_but(table: &SessionTable<St>, running: &str) {
        for _ in 0..5000 {
            if table
                .slots()
                .iter()
                .all(|(id, s)| id == running || s.task.is_none())
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("the flows did not end");
    }

    #[tokio::test]
    async fn the_reaper_starts_with_the_first_session_and_ends_with_the_table() {
        let table = SessionTable::new("t", "Test", Duration::from_millis(100));
        assert!(table.shared.reaper.get().is_none());
        table.start(St::Done, |_| async {});
        assert!(table.shared.reaper.get().is_some());
        let weak = Arc::downgrade(&table.shared);
        drop(table);
        // The reaper wakes every 50 ms; at its next tick it finds the table gone and stops,
        // and it never holds the table between ticks.
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(weak.upgrade().is_none(), "the reaper keeps the table alive");
    }
}
