//! Async work that belongs to a component.
//!
//! A request's answer can arrive after the component that asked has gone (the person
//! cancelled a sign-in, a flow closed itself). Touching its signals or callbacks then panics
//! the whole wasm app ("… has already been disposed"). So every task a component starts is
//! owned by that component and is dropped, between two awaits, the moment it is cleaned up:
//! the rest of the task never runs against a disposed value.

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;

/// The tasks of one component. Take it while the component is built (`Tasks::here()`), then
/// spawn from anywhere in it, event handlers included: an event handler's own owner can be
/// shorter-lived (a confirmation's branch, one arm of a match), the component's is not.
#[derive(Clone)]
pub struct Tasks(Option<WeakOwner>);

impl Tasks {
    /// The tasks of the component being built now.
    pub fn here() -> Self {
        Self(Owner::current().map(|o| o.downgrade()))
    }

    /// Runs `task` until it ends or the component goes away, whichever comes first.
    pub fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.spawn_boxed(Box::pin(task));
    }

    /// The one copy of the spawning code in the wasm: Leptos's scoped spawn is generic over
    /// the future, and each task's own type would otherwise get a copy (about 2 KB each).
    fn spawn_boxed(&self, task: Pin<Box<dyn Future<Output = ()>>>) {
        let Some(owner) = self.0.as_ref().and_then(WeakOwner::upgrade) else {
            return;
        };
        owner.with(|| leptos::task::spawn_local_scoped_with_cancellation(task));
    }
}
