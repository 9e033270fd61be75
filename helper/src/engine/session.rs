//! The engine behind every long-running flow (rclone, gh device flow, MCP login).
//!
//! A session is an id, a status anyone may read any number of times (reading never consumes
//! the result), a TTL after which the reaper removes it, and a cancel token the flow's task
//! obeys (killing its child process). Status changes go through a `watch` channel, so a
//! long-poll (`?wait=SECONDS`) answers the moment the status changes.
//!
//! Connectors supply only what differs: their status type and the task that drives the flow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest a client may hold a long-poll open.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// The `?wait=SECONDS&since=STATUS` parameters of a session poll: long-poll until the status
/// changes (at most [`MAX_WAIT`]); `since` is the status the client last saw, so a change
/// that happened between two polls is answered at once instead of after the wait.
pub fn poll_params(
    query: &std::collections::HashMap<String, String>,
) -> Result<(Option<Duration>, Option<String>), crate::ApiError> {
    Ok((wait_param(query)?, query.get("since").cloned()))
}

/// The `?wait=SECONDS` query parameter alone.
pub fn wait_param(
    query: &std::collections::HashMap<String, String>,
) -> Result<Option<Duration>, crate::ApiError> {
    match query.get("wait") {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Some(Duration::from_secs_f64(s).min(MAX_WAIT)))
            .ok_or_else(|| {
                crate::ApiError::bad_request("wait must be a number of seconds (0 to 60).")
            }),
    }
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
    task: Option<JoinHandle<()>>,
}

/// All sessions of one kind.
pub struct SessionTable<S> {
    slots: Arc<Mutex<HashMap<String, Slot<S>>>>,
    ttl: Duration,
    prefix: &'static str,
}

impl<S> Clone for SessionTable<S> {
    fn clone(&self) -> Self {
        Self {
            slots: self.slots.clone(),
            ttl: self.ttl,
            prefix: self.prefix,
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
    /// Sessions whose ids start with `prefix` (`gdrive-…`) and live `ttl` from creation.
    pub fn new(prefix: &'static str, ttl: Duration) -> Self {
        Self {
            slots: Arc::default(),
            ttl,
            prefix,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Registers a new session and starts its flow: `run` gets the control handle and is
    /// spawned at once. The session stays readable until its TTL, whatever `run` does.
    pub fn start<F, Fut>(&self, initial: S, run: F) -> String
    where
        F: FnOnce(SessionCtl<S>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = format!(
            "{}-{}",
            self.prefix,
            patchbay_proto::secret::random_urlsafe(12)
        );
        let (tx, _) = watch::channel(initial);
        let cancel = CancellationToken::new();
        let ctl = SessionCtl {
            id: id.clone(),
            status: tx.clone(),
            cancel: cancel.clone(),
        };
        let mut slots = self.slots.lock().unwrap();
        let task = tokio::spawn(run(ctl));
        slots.insert(
            id.clone(),
            Slot {
                status: tx,
                expires_at: Instant::now() + self.ttl,
                cancel,
                task: Some(task),
            },
        );
        id
    }

    pub fn get(&self, id: &str) -> Option<S> {
        let slots = self.slots.lock().unwrap();
        slots.get(id).map(|s| s.status.borrow().clone())
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
        let mut rx = {
            let slots = self.slots.lock().unwrap();
            slots.get(id)?.status.subscribe()
        };
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
        let slots = self.slots.lock().unwrap();
        let slot = slots.get(id)?;
        slot.cancel.cancel();
        Some(slot.status.borrow().clone())
    }

    /// Whether any session is still running (not finished).
    pub fn any_running(&self) -> bool {
        let slots = self.slots.lock().unwrap();
        slots.values().any(|s| !s.status.borrow().is_finished())
    }

    /// Removes expired sessions, cancelling their flows. Returns how many went.
    pub fn reap(&self) -> usize {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap();
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

    /// A task that reaps expired sessions for as long as the table lives.
    pub fn spawn_reaper(&self) -> JoinHandle<()> {
        let table = self.clone();
        let tick = (self.ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let gone = table.reap();
                if gone > 0 {
                    tracing::debug!(gone, prefix = table.prefix, "expired sessions removed");
                }
            }
        })
    }

    /// Cancels every flow and waits for their tasks (which kill their children) to end.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut slots = self.slots.lock().unwrap();
            slots
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
        let table = SessionTable::new("t", Duration::from_secs(60));
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
        let table = SessionTable::new("t", Duration::from_secs(60));
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
        let table = SessionTable::new("t", Duration::from_secs(60));
        let id = table.start(St::Waiting, |ctl| async move {
            ctl.cancel.cancelled().await;
        });
        let got = table.wait(&id, Some(Duration::from_millis(50))).await;
        assert_eq!(got, Some(St::Waiting));
        assert_eq!(table.wait("t-nope", None).await, None);
    }

    #[tokio::test]
    async fn cancel_and_reaper_stop_the_flow() {
        let table = SessionTable::new("t", Duration::from_millis(200));
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
        let _reaper = table.spawn_reaper();
        tokio::time::timeout(Duration::from_secs(5), stopped_rx)
            .await
            .expect("the reaper cancelled the flow")
            .unwrap();
        assert_eq!(table.get(&id2), None);
        assert_eq!(table.get(&id), None);
    }
}
