//! Checkout: a slot (parked with an idle connection, free in the semaphore, or waited
//! for in FIFO order), then a connection for it (idle and valid, or newly opened).

use std::{
    panic::Location,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{sync::TryAcquireError, time::Instant};
use tracing::Span;

use super::{
    Pooled,
    connect::{ConnectFailure, FailedConnect},
    event::Event,
    hooks::{self, AsyncHook, HookOutcome},
    inner::{Idle, Inner, Live, deadline_after, lock},
    stats::CloseReason,
};
use crate::{Classify, Manager, PoolError, TimeoutPhase, Validation, spans};

/// The deadline of one checkout, started lazily so the direct path never reads the clock,
/// and its span (`pool.acquire`), which every path that ends the checkout records on.
#[derive(Debug)]
pub(super) struct Clock {
    timeout: Duration,
    start: Option<Instant>,
    /// `None` when no subscriber wanted it.
    span: Option<Span>,
}

impl Clock {
    fn new(timeout: Duration, span: Option<Span>) -> Self {
        Clock {
            timeout,
            start: None,
            span,
        }
    }

    /// Records the checkout's failure on its span, and passes the error on.
    #[cold]
    fn failed<E: Classify>(&self, error: PoolError<E>) -> PoolError<E> {
        spans::acquire_failed(self.span.as_ref(), &error, self.elapsed());
        error
    }

    fn start(&mut self) -> Instant {
        *self.start.get_or_insert_with(Instant::now)
    }

    fn deadline(&mut self) -> Instant {
        deadline_after(self.start(), self.timeout)
    }

    fn elapsed(&self) -> Option<Duration> {
        self.start.map(|start| start.elapsed())
    }
}

/// Counts itself in a gauge for as long as it lives (so a dropped future uncounts itself).
struct Gauge<'a>(&'a AtomicUsize);

impl<'a> Gauge<'a> {
    fn enter(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Gauge(counter)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A held slot not yet handed to a `Pooled`: released if the checkout fails or is dropped.
struct SlotGuard<'a, M: Manager>(&'a Inner<M>);

impl<M: Manager> Drop for SlotGuard<'_, M> {
    fn drop(&mut self) {
        self.0.release_slot();
    }
}

/// What `ready_at_once` found.
enum Ready<C> {
    /// May be handed out now: found ready at this instant (a clock read the checkout
    /// reuses to time its use).
    Now(Live<C>, Instant),
    /// Was expired, and is closed.
    Closed,
    /// Needs `Manager::check` or `before_acquire` first.
    AfterChecks(Idle<C>),
}

/// An idle connection under validation or in `before_acquire`: closed, for `reason`,
/// if the checkout is dropped or the check fails.
struct Validating<'a, M: Manager> {
    inner: &'a Inner<M>,
    live: Option<Live<M::Connection>>,
    reason: CloseReason,
}

impl<M: Manager> Drop for Validating<'_, M> {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            self.inner.close_now(live, self.reason);
        }
    }
}

impl<M: Manager> Inner<M> {
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        caller: &'static Location<'static>,
    ) -> Result<Pooled<M>, PoolError<M::Error>> {
        self.start_background();
        if self.is_closed() {
            return Err(self.clock().failed(PoolError::Closed));
        }
        // The common case first, decided before any future is awaited or any span or
        // clock carried: a slot parked with a connection that may be handed out at once.
        let parked = match self.take_parked().map(|idle| self.ready_at_once(idle)) {
            Some(Ready::Now(live, ready_at)) => {
                spans::checked_out_at_once(&self.config.name, &self.identity);
                return Ok(self.hand_out(live, None, Some(ready_at), caller));
            }
            // The slot stays held: a connection for it is popped or opened below.
            Some(Ready::Closed) => Some(None),
            Some(Ready::AfterChecks(idle)) => Some(Some(idle)),
            None => None,
        };
        let mut clock = self.clock();
        let first = match parked {
            Some(first) => first,
            None => match self.slots.try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    None
                }
                Err(TryAcquireError::Closed) => return Err(clock.failed(PoolError::Closed)),
                Err(TryAcquireError::NoPermits) => self
                    .wait_for_slot(&mut clock)
                    .await
                    .map_err(|error| clock.failed(error))?,
            },
        };
        let slot = SlotGuard(self);
        let (live, ready_at) = self
            .connection_for_slot(first, &mut clock)
            .await
            .map_err(|error| clock.failed(error))?;
        std::mem::forget(slot);
        let waited = clock.elapsed();
        spans::acquired(clock.span.as_ref(), waited);
        Ok(self.hand_out(live, waited, ready_at, caller))
    }

    /// The deadline and span of a checkout that did not end at once.
    fn clock(&self) -> Clock {
        Clock::new(
            self.config.acquire_timeout,
            spans::acquire(&self.config.name, &self.identity),
        )
    }

    /// Hands `live` out, checked out after `waited` (`None`: at once), found ready at
    /// `ready_at` (`None`: a check ran since).
    #[inline]
    fn hand_out(
        self: &Arc<Self>,
        live: Live<M::Connection>,
        waited: Option<Duration>,
        ready_at: Option<Instant>,
        caller: &'static Location<'static>,
    ) -> Pooled<M> {
        match waited {
            None => self.record(Event::CheckoutDirect),
            Some(waited) => self.record_waited(waited, caller),
        }
        let leak_key = self.leaks.as_ref().map(|leaks| leaks.checked_out(caller));
        // The adaptive limit times the work, and OpenTelemetry's names how long it holds
        // the connection: from the instant it was found ready, when no check ran since
        // (the direct path reads no clock for them); a fixed pool under the pool's own
        // names reads none here.
        let checked_out_at = (self.adaptive.is_some() || self.facade.times_use())
            .then(|| ready_at.unwrap_or_else(Instant::now));
        Pooled::new(Arc::clone(self), live, leak_key, checked_out_at)
    }

    fn record_waited(&self, waited: Duration, caller: &'static Location<'static>) {
        self.record(Event::CheckoutWaited(waited));
        if self
            .config
            .slow_acquire_threshold
            .is_some_and(|threshold| waited > threshold)
        {
            self.record(Event::SlowAcquire);
            tracing::warn!(
                pool = %self.config.name,
                waited_ms = waited.as_millis() as u64,
                caller = %caller,
                "slow connection checkout"
            );
        }
    }

    /// Waits for a free slot; returns it, with an idle connection when it was parked
    /// with one.
    async fn wait_for_slot(
        &self,
        clock: &mut Clock,
    ) -> Result<Option<Idle<M::Connection>>, PoolError<M::Error>> {
        let _waiting = Gauge::enter(&self.waiting);
        // A return that looked before we counted ourselves may have parked its slot:
        // look again now that returns see us (both look under the idle lock).
        if let Some(idle) = self.take_parked() {
            return Ok(Some(idle));
        }
        let deadline = clock.deadline();
        match tokio::time::timeout_at(deadline, self.slots.acquire()).await {
            Ok(Ok(permit)) => {
                permit.forget();
                Ok(None)
            }
            Ok(Err(_closed)) => Err(PoolError::Closed),
            Err(_elapsed) => Err(self.timed_out(TimeoutPhase::WaitingForSlot, clock)),
        }
    }

    /// The timeout error, with the connect failure that explains it: while waiting for a
    /// new connection, the last failure if no connect has succeeded since (between two
    /// attempts the connect backoff can leave a whole acquire timeout without one, and
    /// "timed out" alone would hide that the server is down); otherwise only a failure
    /// during this checkout.
    fn timed_out(&self, phase: TimeoutPhase, clock: &mut Clock) -> PoolError<M::Error> {
        self.record(Event::CheckoutTimedOut);
        let started = clock.start();
        let (last_connect_error, connect_timed_out_after) = match lock(&self.last_connect_failure)
            .as_ref()
            .filter(|failure| phase == TimeoutPhase::Connecting || failure.at >= started)
            .map(|failure| &failure.what)
        {
            Some(FailedConnect::Error { error, .. }) => (Some(Arc::clone(error)), None),
            Some(FailedConnect::TimedOut) => (None, Some(self.config.connect_timeout)),
            None => (None, None),
        };
        PoolError::Timeout {
            phase,
            waited: started.elapsed(),
            last_connect_error,
            connect_timed_out_after,
        }
    }

    /// A connection for the slot held, with the instant it was found ready when that
    /// took no check (`None` after validation or `before_acquire`).
    async fn connection_for_slot(
        self: &Arc<Self>,
        mut first: Option<Idle<M::Connection>>,
        clock: &mut Clock,
    ) -> Result<(Live<M::Connection>, Option<Instant>), PoolError<M::Error>> {
        loop {
            let idle = match first.take().or_else(|| self.pop_idle()) {
                Some(idle) => idle,
                None => self.wait_for_new_connection(clock).await?,
            };
            match self.ready_at_once(idle) {
                Ready::Now(live, ready_at) => return Ok((live, Some(ready_at))),
                Ready::Closed => {}
                Ready::AfterChecks(idle) => {
                    if let Some(live) = self.validate(idle, clock).await? {
                        return Ok((live, None));
                    }
                }
            }
        }
    }

    /// Whether an idle connection may be handed out at once (not expired, no check due, no
    /// `before_acquire` to run), decided without entering the async validation: each
    /// nested future the checkout awaits costs it ~30 instructions of state moves
    /// (callgrind), and this is the common case.
    #[inline]
    fn ready_at_once(&self, idle: Idle<M::Connection>) -> Ready<M::Connection> {
        let now = Instant::now();
        if idle.live.expired(now) {
            self.close_now(idle.live, CloseReason::Lifetime);
            return Ready::Closed;
        }
        let hook_due = self.hooks.before_acquire.is_some() && !idle.fresh;
        if hook_due || self.check_due(&idle, now) {
            Ready::AfterChecks(idle)
        } else {
            Ready::Now(idle.live, now)
        }
    }

    /// Whether the validation setting asks for `Manager::check` on this idle connection.
    #[inline]
    fn check_due(&self, idle: &Idle<M::Connection>, now: Instant) -> bool {
        match self.config.validation {
            _ if idle.fresh => false,
            Validation::Never => false,
            Validation::Always => true,
            Validation::IdleLongerThan(limit) => now.duration_since(idle.since) > limit,
        }
    }

    /// Takes a free slot parked with an idle connection, and the connection.
    fn take_parked(&self) -> Option<Idle<M::Connection>> {
        let mut idle = lock(&self.idle);
        if idle.parked == 0 {
            return None;
        }
        idle.parked -= 1;
        idle.conns.pop()
    }

    /// Takes an idle connection for a caller that already holds a slot.
    pub(super) fn pop_idle(&self) -> Option<Idle<M::Connection>> {
        let (popped, excess) = {
            let mut idle = lock(&self.idle);
            let popped = idle.conns.pop();
            (popped, idle.unpark_excess())
        };
        self.release_slots(excess);
        popped
    }

    /// Returns the connection if it may be handed out, `None` if it was closed (too
    /// old, failed validation, or rejected by `before_acquire`).
    async fn validate(
        &self,
        idle: Idle<M::Connection>,
        clock: &mut Clock,
    ) -> Result<Option<Live<M::Connection>>, PoolError<M::Error>> {
        let fresh = idle.fresh;
        let Some(live) = self.check_idle(idle, clock).await? else {
            return Ok(None);
        };
        match &self.hooks.before_acquire {
            // A connection just opened has just passed `after_connect`.
            Some(hook) if !fresh => self.before_acquire(hook, live, clock).await,
            _ => Ok(Some(live)),
        }
    }

    /// Runs `before_acquire`, bounded by the checkout's deadline; the connection is
    /// closed (as `hook`) if the hook fails, panics or the checkout is dropped meanwhile.
    async fn before_acquire(
        &self,
        hook: &AsyncHook<M>,
        live: Live<M::Connection>,
        clock: &mut Clock,
    ) -> Result<Option<Live<M::Connection>>, PoolError<M::Error>> {
        let mut guard = Validating {
            inner: self,
            live: Some(live),
            reason: CloseReason::Hook,
        };
        let Some(live) = guard.live.as_mut() else {
            return Ok(None);
        };
        let deadline = clock.deadline();
        match tokio::time::timeout_at(deadline, hooks::run_async::<M>(hook, &mut live.conn)).await {
            Ok(HookOutcome::Passed) => Ok(guard.live.take()),
            Ok(HookOutcome::Failed(error)) => {
                tracing::debug!(pool = %self.config.name, %error, "before_acquire rejected a connection");
                Ok(None)
            }
            Ok(HookOutcome::Panicked) => {
                tracing::warn!(pool = %self.config.name, "before_acquire panicked; the connection was closed");
                Ok(None)
            }
            Err(_elapsed) => Err(self.timed_out(TimeoutPhase::Validating, clock)),
        }
    }

    /// The built-in check of an idle connection: `Manager::check`, when the validation
    /// setting asks for it.
    async fn check_idle(
        &self,
        idle: Idle<M::Connection>,
        clock: &mut Clock,
    ) -> Result<Option<Live<M::Connection>>, PoolError<M::Error>> {
        // Expiry was looked at by `ready_at_once` an instant ago.
        let now = Instant::now();
        if !self.check_due(&idle, now) {
            return Ok(Some(idle.live));
        }
        let mut guard = Validating {
            inner: self,
            live: Some(idle.live),
            reason: CloseReason::Invalid,
        };
        let acquire_deadline = clock.deadline();
        let deadline = acquire_deadline.min(now + self.config.check_timeout);
        let Some(live) = guard.live.as_mut() else {
            return Ok(None);
        };
        match tokio::time::timeout_at(deadline, self.manager.check(&mut live.conn)).await {
            Ok(Ok(())) => Ok(guard.live.take()),
            Ok(Err(error)) => {
                tracing::debug!(pool = %self.config.name, %error, "idle connection failed validation");
                Ok(None)
            }
            Err(_elapsed) if deadline == acquire_deadline => {
                Err(self.timed_out(TimeoutPhase::Validating, clock))
            }
            Err(_elapsed) => {
                tracing::debug!(pool = %self.config.name, "idle connection validation timed out");
                Ok(None)
            }
        }
    }

    /// Waits, holding a slot, until a connection lands in the idle stack, starting a
    /// connect when fewer are in flight than slot holders want.
    async fn wait_for_new_connection(
        self: &Arc<Self>,
        clock: &mut Clock,
    ) -> Result<Idle<M::Connection>, PoolError<M::Error>> {
        let started = clock.start();
        let deadline = clock.deadline();
        let _wanting = Gauge::enter(&self.wanting);
        loop {
            let notified = self.available.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(idle) = self.pop_idle() {
                return Ok(idle);
            }
            if self.is_closed() {
                return Err(PoolError::Closed);
            }
            if let Some(error) = self.permanent_failure_since(started) {
                return Err(PoolError::Connect(error));
            }
            if self.connecting.load(Ordering::SeqCst) < self.wanting.load(Ordering::SeqCst) {
                self.try_spawn_connect();
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(self.timed_out(TimeoutPhase::Connecting, clock));
            }
        }
    }

    fn permanent_failure_since(&self, started: Instant) -> Option<Arc<M::Error>> {
        match lock(&self.last_connect_failure).as_ref() {
            Some(ConnectFailure {
                what:
                    FailedConnect::Error {
                        error,
                        permanent: true,
                    },
                at,
            }) if *at >= started => Some(Arc::clone(error)),
            _ => None,
        }
    }
}
