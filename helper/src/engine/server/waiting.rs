//! Which open connections are waiting for a request head, and since when.
//!
//! When the connection cap is reached, the newcomer is not the one to lose: the connection
//! that has waited longest for a request (a stalled head, or a kept-alive connection idle
//! since its last answer) is closed to make room, as the header-read timeout would soon
//! close it anyway. A connection whose request is being answered is never chosen, so the
//! cap's 503 is left for a helper whose every connection has a request in flight.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use hyper::body::{Frame, SizeHint};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The open connections of one server.
#[derive(Debug, Default)]
pub struct Waiting {
    connections: Mutex<HashMap<u64, State>>,
    next: AtomicU64,
}

#[derive(Debug)]
struct State {
    /// Since when it waits for a request head; `None` while a request is answered.
    since: Option<Instant>,
    close: CancellationToken,
}

impl Waiting {
    fn connections(&self) -> MutexGuard<'_, HashMap<u64, State>> {
        self.connections.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection that has just been accepted (waiting for its first request).
    pub fn open(self: &Arc<Self>) -> Entry {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let close = CancellationToken::new();
        self.connections().insert(
            id,
            State {
                since: Some(Instant::now()),
                close: close.clone(),
            },
        );
        Entry {
            id,
            close,
            table: self.clone(),
        }
    }

    /// Closes the connection that has waited longest for a request head. `false` when
    /// every open connection has a request in flight (nothing may be closed).
    pub fn close_longest_waiting(&self) -> bool {
        let mut connections = self.connections();
        let Some(id) = connections
            .iter()
            .filter_map(|(id, e)| Some((e.since?, *id)))
            .min()
            .map(|(_, id)| id)
        else {
            return false;
        };
        // Out of the table at once, so the next newcomer picks another one.
        if let Some(entry) = connections.remove(&id) {
            entry.close.cancel();
        }
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.connections().len()
    }
}

/// One open connection's place in [`Waiting`]; leaves it when dropped.
#[derive(Debug)]
pub struct Entry {
    id: u64,
    close: CancellationToken,
    table: Arc<Waiting>,
}

impl Entry {
    /// Cancelled when the connection was chosen to make room.
    pub fn closed(&self) -> CancellationToken {
        self.close.clone()
    }

    /// A request head has arrived: not to be closed until its answer has been written.
    pub fn answering(&self) -> Answering {
        self.set_since(None);
        Answering {
            id: self.id,
            table: self.table.clone(),
        }
    }

    fn set_since(&self, since: Option<Instant>) {
        set_since(&self.table, self.id, since);
    }
}

fn set_since(table: &Waiting, id: u64, since: Option<Instant>) {
    if let Some(entry) = table.connections().get_mut(&id) {
        entry.since = since;
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.table.connections().remove(&self.id);
    }
}

/// Held from a request's head until its answer's last byte is written (it travels in the
/// answer's body, [`Answering::body`]): then the connection waits for a request again.
#[derive(Debug)]
pub struct Answering {
    id: u64,
    table: Arc<Waiting>,
}

impl Answering {
    /// `body`, holding this mark until hyper drops it (once it is written, or the
    /// connection is gone).
    pub fn body(self, body: Body) -> Body {
        Body::new(AnswerBody {
            body,
            _answering: self,
        })
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        set_since(&self.table, self.id, Some(Instant::now()));
    }
}

struct AnswerBody {
    body: Body,
    _answering: Answering,
}

impl HttpBody for AnswerBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_longest_waiting_goes_first_and_one_answering_never() {
        let second = std::time::Duration::from_secs(1);
        let table = Arc::new(Waiting::default());
        let oldest = table.open();
        tokio::time::advance(second).await;
        let middle = table.open();
        tokio::time::advance(second).await;
        let newest = table.open();

        // The oldest is answering a request: of those waiting, the middle one waited longest.
        let busy = oldest.answering();
        assert!(table.close_longest_waiting());
        assert!(middle.closed().is_cancelled());
        assert!(!oldest.closed().is_cancelled() && !newest.closed().is_cancelled());
        assert_eq!(table.len(), 2);

        // Everyone left is answering: nothing may be closed.
        let _newest_busy = newest.answering();
        assert!(!table.close_longest_waiting());

        // Its answer written, the oldest waits again and may go.
        tokio::time::advance(second).await;
        drop(busy);
        assert!(table.close_longest_waiting());
        assert!(oldest.closed().is_cancelled());
        assert!(!newest.closed().is_cancelled());

        drop((oldest, middle, newest));
        assert_eq!(table.len(), 0);
    }
}
