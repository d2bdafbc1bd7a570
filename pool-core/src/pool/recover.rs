//! Recovery: the connection of an operation cancelled mid-flight is made fit again off the
//! caller's path (by a manager that can, [`Manager::RECOVERS`]), or closed.

use std::{
    cell::Cell,
    sync::{Arc, atomic::Ordering},
};

use tokio::time::Instant;

use super::{
    event::Event,
    inner::{Idle, Inner, Live},
    stats::CloseReason,
};
use crate::Manager;

thread_local! {
    /// Set while a policy's timeout drops the call it cut short (on this thread: drops
    /// run synchronously where they are called).
    static CUT_BY_TIMEOUT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `drop_call`, which drops a call a timeout cut short: a connection whose operation
/// it ends is closed, not recovered. A timeout says the server is slow or stalled; waiting
/// on it to answer would hold the connection's room in the pool while it stays so.
pub(crate) fn cut_by_timeout(drop_call: impl FnOnce()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            CUT_BY_TIMEOUT.set(false);
        }
    }
    CUT_BY_TIMEOUT.set(true);
    let _reset = Reset;
    drop_call();
}

impl<M: Manager> Inner<M> {
    /// Takes back the connection of a cancelled operation. Runs inside `Drop`: the slot
    /// goes back at once (its caller is gone), and the connection, still counted in
    /// `size` so nothing opens in its place, goes to the manager's `recover` on a task of
    /// its own. Closed at once instead: when a timeout cut the operation, when it is
    /// dropped by a panic's unwinding (the body's state is unknown), when the manager's
    /// synchronous test already finds it broken (a transaction left open), or when there
    /// is no runtime to recover it on.
    pub(crate) fn recover(inner: &Arc<Self>, mut live: Live<M::Connection>) {
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime)
                if !CUT_BY_TIMEOUT.get()
                    && !std::thread::panicking()
                    && !inner.manager.has_broken(&mut live.conn) =>
            {
                runtime
            }
            _ => {
                inner.close_now(live, CloseReason::Broken);
                return inner.release_slot();
            }
        };
        inner.release_slot();
        let recovering = Recovering {
            inner: Arc::clone(inner),
            live: Some(live),
        };
        runtime.spawn(recovering.run());
    }
}

/// A connection under recovery: closed if its task is dropped first (the runtime shutting
/// down), so `size` never counts a connection nobody holds.
struct Recovering<M: Manager> {
    inner: Arc<Inner<M>>,
    live: Option<Live<M::Connection>>,
}

impl<M: Manager> Recovering<M> {
    async fn run(mut self) {
        let inner = Arc::clone(&self.inner);
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let recovered = matches!(
            tokio::time::timeout(
                inner.config.check_timeout,
                inner.manager.recover(&mut live.conn)
            )
            .await,
            Ok(true)
        ) && !inner.manager.has_broken(&mut live.conn);
        let Some(mut live) = self.live.take() else {
            return;
        };
        if !recovered {
            tracing::debug!(pool = %inner.config.name, "a cancelled operation's connection could not be recovered");
        }
        // Then the checks of a return: it rejoins the idle set only as a connection
        // returned in good order would.
        let now = Instant::now();
        if let Some(reason) = inner.close_on_return(&mut live, !recovered, now) {
            return inner.close_politely(live, reason).await;
        }
        let idle = Idle {
            live,
            since: now,
            fresh: false,
            checked_after_ms: 0,
        };
        if let Some(refused) = inner.push_idle(idle) {
            return inner.close_politely(refused.live, CloseReason::Pool).await;
        }
        inner.record(Event::Recovered);
        if inner.wanting.load(Ordering::SeqCst) > 0 {
            inner.available.notify_waiters();
        }
    }
}

impl<M: Manager> Drop for Recovering<M> {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            self.inner.close_now(live, CloseReason::Broken);
        }
    }
}
