//! Return: a `Pooled` gives back its connection (kept idle or closed) and its slot
//! (parked with the connection, released to waiters, or paid to a shrinking resize).

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::{
    event::Event,
    hooks,
    inner::{Idle, Inner, Live, lock},
    stats::CloseReason,
};
use crate::Manager;

impl<M: Manager> Inner<M> {
    /// Takes back a connection (if it still has one) and the slot of a `Pooled`, and
    /// records how long it was used when `used_since` says from when (the clock read here
    /// serves both). Runs inside `Drop`: no I/O, no await.
    pub(crate) fn put_back(
        &self,
        live: Option<Live<M::Connection>>,
        discard: bool,
        used_since: Option<Instant>,
    ) {
        let Some(mut live) = live else {
            return self.release_slot();
        };
        let now = Instant::now();
        if let Some(since) = used_since {
            self.record(Event::Used(now.saturating_duration_since(since)));
        }
        let broken = discard || self.manager.has_broken(&mut live.conn);
        if let Some(reason) = self.close_on_return(&mut live, broken, now) {
            self.close_now(live, reason);
            return self.release_slot();
        }
        let parked = {
            let mut idle = lock(&self.idle);
            idle.conns.push(Idle {
                live,
                since: now,
                fresh: false,
                checked_after_ms: 0,
            });
            // Park the slot only when no caller waits for one (they are served by the
            // semaphore, in order) and no shrinking resize is owed one.
            let park = self.waiting.load(Ordering::SeqCst) == 0
                && self.slot_debt.load(Ordering::SeqCst) == 0;
            idle.parked += usize::from(park);
            park
        };
        if !parked {
            self.release_slot();
        }
        if self.wanting.load(Ordering::SeqCst) > 0 {
            self.available.notify_waiters();
        }
    }

    /// Why a connection coming back (returned, or recovered after a cancelled operation)
    /// is closed rather than kept idle; `None`: kept. `broken` is what the caller already
    /// knows of its state.
    #[inline]
    pub(super) fn close_on_return(
        &self,
        live: &mut Live<M::Connection>,
        broken: bool,
        now: Instant,
    ) -> Option<CloseReason> {
        if broken {
            Some(CloseReason::Broken)
        } else if self.is_closed() || self.size.load(Ordering::SeqCst) > self.max_size() {
            Some(CloseReason::Pool)
        } else if live.expired(now) {
            Some(CloseReason::Lifetime)
        } else if self
            .hooks
            .after_release
            .as_ref()
            .is_some_and(|hook| !hooks::run_release::<M>(hook, &mut live.conn))
        {
            Some(CloseReason::Hook)
        } else {
            None
        }
    }

    /// Adds a connection that comes without a slot (just opened, or back from its
    /// keepalive check), unless the pool is closed: then it is handed back, for the
    /// caller to close. Closed is read under the idle lock, which `close()` takes after
    /// setting it, so a connection is either refused here or taken and closed there.
    #[must_use = "a refused connection must be closed"]
    pub(super) fn push_idle(&self, idle: Idle<M::Connection>) -> Option<Idle<M::Connection>> {
        let mut stack = lock(&self.idle);
        if self.is_closed() {
            return Some(idle);
        }
        stack.conns.push(idle);
        None
    }

    /// Gives back one free slot (or pays down a shrinking resize).
    pub(crate) fn release_slot(&self) {
        if !self.pay_slot_debt() {
            self.slots.add_permits(1);
        }
    }

    pub(super) fn release_slots(&self, count: usize) {
        for _ in 0..count {
            self.release_slot();
        }
    }

    /// Cancels one permit still owed from a shrinking `resize`; `false` if none is owed.
    pub(super) fn pay_slot_debt(&self) -> bool {
        self.slot_debt
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |debt| {
                debt.checked_sub(1)
            })
            .is_ok()
    }

    /// Closes a connection synchronously (drops it) and gives its room back.
    pub(crate) fn close_now(&self, mut live: Live<M::Connection>, reason: CloseReason) {
        self.before_close(&mut live.conn);
        drop(live);
        self.closed_one(reason);
    }

    /// Closes a connection with the manager's goodbye and gives its room back.
    pub(super) async fn close_politely(&self, mut live: Live<M::Connection>, reason: CloseReason) {
        self.before_close(&mut live.conn);
        self.manager.close(live.conn).await;
        self.closed_one(reason);
    }

    /// Runs the `before_close` hook, if any: every close of a connection the pool kept
    /// goes through `close_now` or `close_politely`, so it sees them all.
    fn before_close(&self, conn: &mut M::Connection) {
        if let Some(hook) = &self.hooks.before_close
            && !hooks::run_close::<M>(hook, conn)
        {
            tracing::warn!(pool = %self.config.name, "before_close panicked; the connection is closed anyway");
        }
    }

    pub(super) fn closed_one(&self, reason: CloseReason) {
        self.record(Event::Closed(reason));
        self.size.fetch_sub(1, Ordering::SeqCst);
        if self.wanting.load(Ordering::SeqCst) > 0 {
            self.available.notify_waiters();
        }
        if self.is_closed() {
            self.size_changed.notify_waiters();
        }
    }
}
