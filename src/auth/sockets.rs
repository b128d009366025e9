//! This instance's live WebSockets, by session (contract §11): what closes
//! them when their session ends or the process shuts down. The
//! [`RevocationList`](super::revocation::RevocationList) tells it every
//! session it learns has ended, whichever way that arrived (this
//! instance's own revocation, another instance's `NOTIFY`, the poll), so a
//! socket closes as soon as its session's access tokens are refused.
//!
//! It holds no socket: a [`Registration`] is the receiving end of a
//! one-shot channel that the socket's pump waits on beside its traffic,
//! and dropping it (the socket closed) removes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// Why a live socket must close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// Its session ended (logout, reuse, revocation, a disabled user).
    SessionEnded,
    /// The process is shutting down.
    ShuttingDown,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Sockets by session, each with the sender that closes it.
    by_session: HashMap<String, Vec<(u64, oneshot::Sender<Closing>)>>,
    shutting_down: bool,
}

/// The registry; shared behind an `Arc`.
#[derive(Default)]
pub struct LiveSockets {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for LiveSockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSockets")
            .field("count", &self.count())
            .finish()
    }
}

impl LiveSockets {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a socket of `session_id`; it is told when to close. Once
    /// the process is shutting down, the registration is told at once.
    pub fn register(self: &Arc<Self>, session_id: &str) -> Registration {
        let (tx, rx) = oneshot::channel();
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id;
        if inner.shutting_down {
            let _ = tx.send(Closing::ShuttingDown);
        } else {
            inner
                .by_session
                .entry(session_id.to_owned())
                .or_default()
                .push((id, tx));
        }
        Registration {
            id,
            session_id: session_id.to_owned(),
            registry: self.clone(),
            closing: rx,
        }
    }

    /// Tells every socket of these sessions to close.
    pub fn end_sessions<'a>(&self, session_ids: impl IntoIterator<Item = &'a str>) {
        let mut inner = self.lock();
        if inner.by_session.is_empty() {
            return;
        }
        for id in session_ids {
            for (_, tx) in inner.by_session.remove(id).into_iter().flatten() {
                let _ = tx.send(Closing::SessionEnded);
            }
        }
    }

    /// Tells every socket to close, now and from now on.
    pub fn shut_down(&self) {
        let mut inner = self.lock();
        inner.shutting_down = true;
        for (_, tx) in inner.by_session.drain().flat_map(|(_, v)| v) {
            let _ = tx.send(Closing::ShuttingDown);
        }
    }

    /// How many sockets are registered.
    pub fn count(&self) -> usize {
        self.lock().by_session.values().map(Vec::len).sum()
    }

    fn remove(&self, session_id: &str, id: u64) {
        let mut inner = self.lock();
        if let Some(sockets) = inner.by_session.get_mut(session_id) {
            sockets.retain(|(other, _)| *other != id);
            if sockets.is_empty() {
                inner.by_session.remove(session_id);
            }
        }
    }
}

/// One live socket's place in the registry; dropping it leaves.
pub struct Registration {
    id: u64,
    session_id: String,
    registry: Arc<LiveSockets>,
    closing: oneshot::Receiver<Closing>,
}

impl Registration {
    /// Resolves when the socket must close, and why.
    pub async fn closing(&mut self) -> Closing {
        match (&mut self.closing).await {
            Ok(why) => why,
            // the registry never drops a sender without sending
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.remove(&self.session_id, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ending_a_session_closes_its_sockets_and_no_others() {
        let live = Arc::new(LiveSockets::default());
        let mut a1 = live.register("a");
        let mut a2 = live.register("a");
        let b = live.register("b");
        assert_eq!(live.count(), 3);
        live.end_sessions(["a", "unknown"]);
        assert_eq!(a1.closing().await, Closing::SessionEnded);
        assert_eq!(a2.closing().await, Closing::SessionEnded);
        assert_eq!(live.count(), 1);
        drop(b);
        assert_eq!(live.count(), 0, "a dropped registration leaves");
    }

    #[tokio::test]
    async fn shutting_down_closes_every_socket_and_each_new_one() {
        let live = Arc::new(LiveSockets::default());
        let mut a = live.register("a");
        live.shut_down();
        assert_eq!(a.closing().await, Closing::ShuttingDown);
        let mut late = live.register("b");
        assert_eq!(late.closing().await, Closing::ShuttingDown);
        assert_eq!(live.count(), 0);
    }
}
