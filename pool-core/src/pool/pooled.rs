//! `Pooled`: a checked-out connection that goes back to the pool when dropped.

use std::{
    fmt,
    ops::{Deref, DerefMut},
    sync::Arc,
};

use tokio::time::Instant;

use super::{
    event::Event,
    inner::{Inner, Live},
};
use crate::{Classify, ErrorClass, Manager};

/// A connection checked out of a [`Pool`](crate::Pool). Derefs to the connection;
/// returns it to the pool on drop (or closes it, if it broke).
#[must_use = "a checked-out connection goes straight back to the pool if not used"]
pub struct Pooled<M: Manager> {
    /// Always `Some` until `drop` takes it.
    live: Option<Live<M::Connection>>,
    inner: Arc<Inner<M>>,
    leak_key: Option<usize>,
    /// Close it on drop: discarded, or its operation failed with a dead connection.
    discard_on_drop: bool,
    /// An operation began ([`begin_operation`](Self::begin_operation)) and has not
    /// [`finish`](Self::finish)ed: dropped now, it was cancelled mid-flight.
    operation_open: bool,
    /// Set by [`begin_call`](Self::begin_call): when the call started, and its name.
    call: Option<(Instant, &'static str)>,
    /// When it was checked out, for the adaptive limit and for
    /// `db.client.connection.use_time` (`None` when neither is wanted).
    checked_out_at: Option<Instant>,
    /// Its work timed out: congestion for the adaptive limit, not a sample of how long
    /// work takes.
    timed_out: bool,
}

impl<M: Manager> Pooled<M> {
    pub(crate) fn new(
        inner: Arc<Inner<M>>,
        live: Live<M::Connection>,
        leak_key: Option<usize>,
        checked_out_at: Option<Instant>,
    ) -> Self {
        Pooled {
            live: Some(live),
            inner,
            leak_key,
            discard_on_drop: false,
            operation_open: false,
            call: None,
            checked_out_at,
            timed_out: false,
        }
    }

    /// Closes the connection instead of returning it to the pool.
    pub fn discard(mut self) {
        self.discard_on_drop = true;
    }

    /// Marks the start of an operation that must run to its end: if this `Pooled` is
    /// dropped before [`finish`](Self::finish) (the operation's future was cancelled or
    /// timed out mid-query), the connection is never handed to the next caller in an
    /// unknown state. A manager that can make it fit again
    /// ([`Manager::RECOVERS`](crate::Manager::RECOVERS)) gets it back on a task of its
    /// own, off the caller's path, and the pool keeps it if that succeeds within
    /// `check_timeout`; otherwise (or with no runtime to run on) it is closed.
    pub fn begin_operation(&mut self) {
        self.operation_open = true;
    }

    /// Like [`begin_operation`](Self::begin_operation), for the call named `function`
    /// (what `#[pooled]` generates): [`finish`](Self::finish) also warns, and counts in
    /// `pool_slow_calls_total{function}`, when the call took longer than the process-wide
    /// slow-call threshold (1 s unless `set_default_slow_call_threshold` says otherwise).
    pub fn begin_call(&mut self, function: &'static str) {
        self.operation_open = true;
        self.call = Some((Instant::now(), function));
    }

    /// Ends the operation begun by [`begin_operation`](Self::begin_operation) or
    /// [`begin_call`](Self::begin_call): returns the connection to the pool, unless
    /// `outcome` is a `Connection`-class error, which means the connection is dead.
    pub fn finish<T, E: Classify>(mut self, outcome: &Result<T, E>) {
        self.operation_open = false;
        self.discard_on_drop =
            matches!(outcome, Err(error) if error.class() == ErrorClass::Connection);
        if let Err(error) = outcome
            && error.class() == ErrorClass::Timeout
        {
            self.timed_out = true;
            self.inner.congestion();
        }
        if let Some((started, function)) = self.call.take() {
            let elapsed = started.elapsed();
            let threshold = crate::policy::default_slow_call_threshold();
            if elapsed > threshold {
                crate::policy::slow_call::report(function, elapsed, threshold);
            }
        }
    }

    /// The span of a transaction on this connection, labelled with its pool.
    pub(crate) fn transaction_span(&self) -> crate::spans::TransactionSpan {
        crate::spans::TransactionSpan::open(&self.inner.config.name, &self.inner.identity)
    }

    /// The pool's manager and this connection, borrowed together, for the transaction
    /// engine to call one on the other.
    pub(crate) fn split(&mut self) -> (&M, &mut M::Connection) {
        let manager = &self.inner.manager;
        match &mut self.live {
            Some(live) => (manager, &mut live.conn),
            None => unreachable!("a Pooled connection is used after it was returned"),
        }
    }

    fn live(&self) -> &Live<M::Connection> {
        match &self.live {
            Some(live) => live,
            // `live` is only taken in `drop`.
            None => unreachable!("a Pooled connection is used after it was returned"),
        }
    }

    fn live_mut(&mut self) -> &mut Live<M::Connection> {
        match &mut self.live {
            Some(live) => live,
            None => unreachable!("a Pooled connection is used after it was returned"),
        }
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        &self.live().conn
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.live_mut().conn
    }
}

impl<M: Manager> fmt::Debug for Pooled<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool", &self.inner.config.name)
            .field("discard_on_drop", &self.discard_on_drop)
            .field("operation_open", &self.operation_open)
            .finish_non_exhaustive()
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        if let (Some(key), Some(leaks)) = (self.leak_key.take(), &self.inner.leaks) {
            leaks.returned(key, &self.inner.config.name);
        }
        // Only work that ended well is a sample; the limit moves before the slot is
        // released, so a lowered limit takes this very slot.
        let cancelled = self.operation_open && !self.discard_on_drop;
        if let Some(checked_out_at) = self.checked_out_at
            && self.inner.adaptive.is_some()
            && !self.discard_on_drop
            && !cancelled
            && !self.timed_out
        {
            self.inner.work_done(checked_out_at);
        }
        let used_since = self
            .checked_out_at
            .filter(|_| self.inner.facade.times_use());
        match self.live.take() {
            Some(live) if cancelled && M::RECOVERS => {
                if let Some(since) = used_since {
                    self.inner.record(Event::Used(since.elapsed()));
                }
                Inner::recover(&self.inner, live)
            }
            live => self.inner.put_back(
                live,
                self.discard_on_drop || self.operation_open,
                used_since,
            ),
        }
    }
}
