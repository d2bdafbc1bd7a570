//! The shared state of a pool and the checkout, return, connect and reap paths.
//!
//! Accounting, in one place:
//! - A slot is the right to hold a connection: `max_size` of them, minus what a
//!   shrinking resize still owes. Every checkout holds one until its `Pooled` drops.
//!   Free slots live in `slots` (a FIFO semaphore) or are *parked* with idle
//!   connections: a connection returned while nobody waits keeps its slot, so the next
//!   checkout takes both with one lock and never touches the semaphore. While callers
//!   wait, returns release slots to the semaphore instead, which serves them in order.
//! - `size` counts connections open *or being opened*; it is reserved with a
//!   compare-and-swap below `max_size` before any connect starts, so the limit holds
//!   under any interleaving.
//! - `idle` is a LIFO stack: hot connections are reused and cold ones age out.
//!
//! No lock is held across an `.await`: the idle mutex guards plain pushes and pops.

use std::{
    panic::Location,
    sync::{
        Arc, Mutex, MutexGuard, Weak,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Notify, Semaphore, TryAcquireError},
    time::Instant,
};

use super::{
    Pooled,
    builder::{Config, START_ATTEMPTS},
    leak::LeakRegistry,
    observe::FacadeMetrics,
    stats::{CloseReason, Counters, Status},
};
use crate::{Classify, ErrorClass, Manager, PoolError, TimeoutPhase, Validation};

/// A connection with the facts the pool keeps about it.
#[derive(Debug)]
pub(crate) struct Live<C> {
    pub(crate) conn: C,
    /// When it must be closed (its `max_lifetime`, less jitter).
    expires_at: Option<Instant>,
}

#[derive(Debug)]
struct Idle<C> {
    live: Live<C>,
    since: Instant,
    /// Never handed out yet: just opened, so there is nothing to validate.
    fresh: bool,
}

/// The idle connections, and how many free slots are parked with them.
#[derive(Debug)]
struct IdleStack<C> {
    conns: Vec<Idle<C>>,
    /// Free slots held here rather than in the semaphore; never more than `conns.len()`.
    parked: usize,
}

impl<C> IdleStack<C> {
    /// Slots parked beyond what the stack can back, after connections left it: the
    /// caller releases them to the semaphore once the lock is dropped.
    fn unpark_excess(&mut self) -> usize {
        let excess = self.parked.saturating_sub(self.conns.len());
        self.parked -= excess;
        excess
    }
}

#[derive(Debug)]
struct ConnectFailure<E> {
    error: Arc<E>,
    at: Instant,
    permanent: bool,
}

/// The deadline of one checkout, started lazily so the direct path never reads the clock.
#[derive(Debug)]
pub(crate) struct Clock {
    timeout: Duration,
    start: Option<Instant>,
}

impl Clock {
    fn new(timeout: Duration) -> Self {
        Clock {
            timeout,
            start: None,
        }
    }

    fn start(&mut self) -> Instant {
        *self.start.get_or_insert_with(Instant::now)
    }

    fn deadline(&mut self) -> Instant {
        self.start() + self.timeout
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

/// An idle connection under validation: closed as invalid if the checkout is dropped.
struct Validating<'a, M: Manager> {
    inner: &'a Inner<M>,
    live: Option<Live<M::Connection>>,
}

impl<M: Manager> Drop for Validating<'_, M> {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            self.inner.close_now(live, CloseReason::Invalid);
        }
    }
}

pub(crate) struct Inner<M: Manager> {
    pub(crate) manager: M,
    pub(crate) config: Config,
    max_size: AtomicUsize,
    slots: Semaphore,
    /// Permits to swallow instead of releasing, after a shrinking `resize`.
    slot_debt: AtomicUsize,
    idle: Mutex<IdleStack<M::Connection>>,
    size: AtomicUsize,
    connecting: AtomicUsize,
    /// Slot holders waiting for a new connection.
    wanting: AtomicUsize,
    /// Callers waiting for a slot.
    waiting: AtomicUsize,
    /// An idle connection appeared, a connect ended, or the pool closed.
    available: Notify,
    /// `size` went down after the pool was closed.
    size_changed: Notify,
    closed: AtomicBool,
    last_connect_failure: Mutex<Option<ConnectFailure<M::Error>>>,
    pub(crate) counters: Counters,
    pub(crate) facade: FacadeMetrics,
    background_started: AtomicBool,
    pub(crate) leaks: Option<LeakRegistry>,
}

/// Locks a mutex whose data stays consistent even if a holder panicked: every
/// critical section here is a single push, pop or swap.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<M: Manager> Inner<M> {
    pub(crate) fn new(manager: M, max_size: usize, config: Config) -> Self {
        let leaks = config.leak_threshold.map(|_| LeakRegistry::new(max_size));
        Inner {
            manager,
            facade: FacadeMetrics::new(&config.name),
            config,
            max_size: AtomicUsize::new(max_size),
            slots: Semaphore::new(max_size),
            slot_debt: AtomicUsize::new(0),
            idle: Mutex::new(IdleStack {
                conns: Vec::with_capacity(max_size),
                parked: 0,
            }),
            size: AtomicUsize::new(0),
            connecting: AtomicUsize::new(0),
            wanting: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
            available: Notify::new(),
            size_changed: Notify::new(),
            closed: AtomicBool::new(false),
            last_connect_failure: Mutex::new(None),
            counters: Counters::default(),
            background_started: AtomicBool::new(false),
            leaks,
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size.load(Ordering::Relaxed)
    }

    pub(crate) fn status(&self) -> Status {
        let idle = lock(&self.idle);
        let size = self.size.load(Ordering::SeqCst);
        let idle_count = idle.conns.len();
        drop(idle);
        Status {
            max_size: self.max_size(),
            size,
            idle: idle_count,
            in_use: size.saturating_sub(idle_count),
            waiting: self.waiting.load(Ordering::Relaxed) + self.wanting.load(Ordering::Relaxed),
        }
    }

    // ---- checkout -------------------------------------------------------------------

    pub(crate) async fn acquire(
        self: &Arc<Self>,
        caller: &'static Location<'static>,
    ) -> Result<Pooled<M>, PoolError<M::Error>> {
        self.start_background();
        if self.is_closed() {
            return Err(PoolError::Closed);
        }
        let mut clock = Clock::new(self.config.acquire_timeout);
        let first = match self.take_parked() {
            Some(idle) => Some(idle),
            None => match self.slots.try_acquire() {
                Ok(permit) => {
                    permit.forget();
                    None
                }
                Err(TryAcquireError::Closed) => return Err(PoolError::Closed),
                Err(TryAcquireError::NoPermits) => self.wait_for_slot(&mut clock).await?,
            },
        };
        let slot = SlotGuard(self);
        let live = self.connection_for_slot(first, &mut clock).await?;
        std::mem::forget(slot);
        match clock.elapsed() {
            None => {
                self.counters
                    .checkouts_direct
                    .fetch_add(1, Ordering::Relaxed);
                self.facade.checkouts_direct.increment(1);
            }
            Some(waited) => self.record_waited(waited, caller),
        }
        let leak_key = self.leaks.as_ref().map(|leaks| leaks.checked_out(caller));
        Ok(Pooled::new(Arc::clone(self), live, leak_key))
    }

    fn record_waited(&self, waited: Duration, caller: &'static Location<'static>) {
        self.counters
            .checkouts_waited
            .fetch_add(1, Ordering::Relaxed);
        self.counters.waited_latency.record(waited);
        self.facade.checkouts_waited.increment(1);
        self.facade.acquire_seconds.record(waited.as_secs_f64());
        if self
            .config
            .slow_acquire_threshold
            .is_some_and(|threshold| waited > threshold)
        {
            self.facade.slow_acquires.increment(1);
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

    fn timed_out(&self, phase: TimeoutPhase, clock: &mut Clock) -> PoolError<M::Error> {
        self.counters
            .checkouts_timed_out
            .fetch_add(1, Ordering::Relaxed);
        self.facade.checkouts_timed_out.increment(1);
        let started = clock.start();
        let last_connect_error = lock(&self.last_connect_failure)
            .as_ref()
            .filter(|failure| failure.at >= started)
            .map(|failure| Arc::clone(&failure.error));
        PoolError::Timeout {
            phase,
            waited: started.elapsed(),
            last_connect_error,
        }
    }

    async fn connection_for_slot(
        self: &Arc<Self>,
        mut first: Option<Idle<M::Connection>>,
        clock: &mut Clock,
    ) -> Result<Live<M::Connection>, PoolError<M::Error>> {
        loop {
            let idle = match first.take().or_else(|| self.pop_idle()) {
                Some(idle) => idle,
                None => self.wait_for_new_connection(clock).await?,
            };
            if let Some(live) = self.validate(idle, clock).await? {
                return Ok(live);
            }
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
    fn pop_idle(&self) -> Option<Idle<M::Connection>> {
        let (popped, excess) = {
            let mut idle = lock(&self.idle);
            let popped = idle.conns.pop();
            (popped, idle.unpark_excess())
        };
        self.release_slots(excess);
        popped
    }

    /// Returns the connection if it may be handed out, `None` if it was closed
    /// (too old, or failed validation).
    async fn validate(
        &self,
        idle: Idle<M::Connection>,
        clock: &mut Clock,
    ) -> Result<Option<Live<M::Connection>>, PoolError<M::Error>> {
        let now = Instant::now();
        if idle.live.expired(now) {
            self.close_now(idle.live, CloseReason::Lifetime);
            return Ok(None);
        }
        let needs_check = match self.config.validation {
            _ if idle.fresh => false,
            Validation::Never => false,
            Validation::Always => true,
            Validation::IdleLongerThan(limit) => now.duration_since(idle.since) > limit,
        };
        if !needs_check {
            return Ok(Some(idle.live));
        }
        let mut guard = Validating {
            inner: self,
            live: Some(idle.live),
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
        lock(&self.last_connect_failure)
            .as_ref()
            .filter(|failure| failure.permanent && failure.at >= started)
            .map(|failure| Arc::clone(&failure.error))
    }

    // ---- connect --------------------------------------------------------------------

    /// Reserves room for one more connection; `false` when the pool is full.
    fn try_reserve(&self) -> bool {
        let max = self.max_size();
        self.size
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |size| {
                (size < max).then_some(size + 1)
            })
            .is_ok()
    }

    /// Starts a connect in a task of its own, if there is room. The task outlives any
    /// waiter: its connection lands in the idle stack for whoever needs it next.
    fn try_spawn_connect(self: &Arc<Self>) -> bool {
        if !self.try_reserve() {
            return false;
        }
        self.connecting.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(Arc::clone(self).connect_task());
        true
    }

    async fn connect_task(self: Arc<Self>) {
        let mut failures: u32 = 0;
        let connection = loop {
            if self.is_closed() {
                break None;
            }
            match tokio::time::timeout(self.config.connect_timeout, self.manager.connect()).await {
                Ok(Ok(conn)) => break Some(conn),
                Ok(Err(error)) => {
                    let permanent = error.class() == ErrorClass::Permanent;
                    self.record_connect_failure(error, permanent);
                    if permanent {
                        break None;
                    }
                }
                Err(_elapsed) => {
                    self.counters.connect_errors.fetch_add(1, Ordering::Relaxed);
                    self.facade.connect_errors.increment(1);
                    tracing::warn!(
                        pool = %self.config.name,
                        timeout_ms = self.config.connect_timeout.as_millis() as u64,
                        "connect timed out"
                    );
                    self.available.notify_waiters();
                }
            }
            if !self.connection_still_wanted() {
                break None;
            }
            failures = failures.saturating_add(1);
            tokio::time::sleep(self.connect_backoff(failures)).await;
            // The waiters may have given up while this task slept.
            if !self.connection_still_wanted() {
                break None;
            }
        };
        match connection {
            Some(conn) => {
                self.counters.created.fetch_add(1, Ordering::Relaxed);
                self.facade.created.increment(1);
                let live = Live {
                    conn,
                    expires_at: self.lifetime_deadline(),
                };
                if self.is_closed() {
                    self.connecting.fetch_sub(1, Ordering::SeqCst);
                    self.close_now(live, CloseReason::Pool);
                } else {
                    self.push_idle(live, Instant::now(), true);
                    self.connecting.fetch_sub(1, Ordering::SeqCst);
                    self.available.notify_waiters();
                }
            }
            None => {
                self.connecting.fetch_sub(1, Ordering::SeqCst);
                self.size.fetch_sub(1, Ordering::SeqCst);
                self.available.notify_waiters();
                self.size_changed.notify_waiters();
            }
        }
    }

    fn connection_still_wanted(&self) -> bool {
        !self.is_closed()
            && (self.wanting.load(Ordering::SeqCst) > 0
                || self.size.load(Ordering::SeqCst) <= self.config.min_idle)
    }

    fn record_connect_failure(&self, error: M::Error, permanent: bool) {
        self.counters.connect_errors.fetch_add(1, Ordering::Relaxed);
        self.facade.connect_errors.increment(1);
        tracing::warn!(
            pool = %self.config.name,
            %error,
            class = error.class().as_str(),
            "connect failed"
        );
        *lock(&self.last_connect_failure) = Some(ConnectFailure {
            error: Arc::new(error),
            at: Instant::now(),
            permanent,
        });
        self.available.notify_waiters();
    }

    /// Exponential backoff with equal jitter, so retrying pools do not connect in step.
    fn connect_backoff(&self, failures: u32) -> Duration {
        let base = self.config.connect_backoff_base;
        let max = self.config.connect_backoff_max;
        let exponent = failures.saturating_sub(1).min(20);
        let delay = base.saturating_mul(1 << exponent).min(max);
        let half = delay / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// `max_lifetime` less up to 2.5 % (at most 30 s), so connections opened together
    /// do not all expire together.
    fn lifetime_deadline(&self) -> Option<Instant> {
        let lifetime = self.config.max_lifetime?;
        let spread = (lifetime / 40).min(Duration::from_secs(30));
        Some(Instant::now() + lifetime - spread.mul_f64(fastrand::f64()))
    }

    /// Opens connections until `count` are idle, for `build_and_connect`: a few
    /// attempts with backoff, then the real error.
    pub(crate) async fn warm_up(self: &Arc<Self>, count: usize) -> Result<(), PoolError<M::Error>> {
        for _ in 0..count {
            if !self.try_reserve() {
                break;
            }
            let mut attempt = 0;
            let conn = loop {
                attempt += 1;
                let error =
                    match tokio::time::timeout(self.config.connect_timeout, self.manager.connect())
                        .await
                    {
                        Ok(Ok(conn)) => break conn,
                        Ok(Err(error)) => Some(error),
                        Err(_elapsed) => None,
                    };
                let permanent = error
                    .as_ref()
                    .is_some_and(|error| error.class() == ErrorClass::Permanent);
                if permanent || attempt >= START_ATTEMPTS {
                    self.size.fetch_sub(1, Ordering::SeqCst);
                    self.counters.connect_errors.fetch_add(1, Ordering::Relaxed);
                    return Err(match error {
                        Some(error) => PoolError::Connect(Arc::new(error)),
                        None => PoolError::Timeout {
                            phase: TimeoutPhase::Connecting,
                            waited: self.config.connect_timeout,
                            last_connect_error: None,
                        },
                    });
                }
                self.counters.connect_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.connect_backoff(attempt)).await;
            };
            self.counters.created.fetch_add(1, Ordering::Relaxed);
            self.facade.created.increment(1);
            let live = Live {
                conn,
                expires_at: self.lifetime_deadline(),
            };
            self.push_idle(live, Instant::now(), true);
        }
        Ok(())
    }

    // ---- return ---------------------------------------------------------------------

    /// Takes back a connection (if it still has one) and the slot of a `Pooled`. Runs
    /// inside `Drop`: no I/O, no await.
    pub(crate) fn put_back(&self, live: Option<Live<M::Connection>>, discard: bool) {
        let Some(mut live) = live else {
            return self.release_slot();
        };
        let now = Instant::now();
        let reason = if discard || self.manager.has_broken(&mut live.conn) {
            Some(CloseReason::Broken)
        } else if self.is_closed() || self.size.load(Ordering::SeqCst) > self.max_size() {
            Some(CloseReason::Pool)
        } else if live.expired(now) {
            Some(CloseReason::Lifetime)
        } else {
            None
        };
        if let Some(reason) = reason {
            self.close_now(live, reason);
            return self.release_slot();
        }
        let parked = {
            let mut idle = lock(&self.idle);
            idle.conns.push(Idle {
                live,
                since: now,
                fresh: false,
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

    /// Adds a just-opened connection, which comes without a slot.
    fn push_idle(&self, live: Live<M::Connection>, since: Instant, fresh: bool) {
        lock(&self.idle).conns.push(Idle { live, since, fresh });
    }

    /// Gives back one free slot (or pays down a shrinking resize).
    pub(crate) fn release_slot(&self) {
        if !self.pay_slot_debt() {
            self.slots.add_permits(1);
        }
    }

    fn release_slots(&self, count: usize) {
        for _ in 0..count {
            self.release_slot();
        }
    }

    /// Cancels one permit still owed from a shrinking `resize`; `false` if none is owed.
    fn pay_slot_debt(&self) -> bool {
        self.slot_debt
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |debt| {
                debt.checked_sub(1)
            })
            .is_ok()
    }

    /// Closes a connection synchronously (drops it) and gives its room back.
    pub(crate) fn close_now(&self, live: Live<M::Connection>, reason: CloseReason) {
        drop(live);
        self.closed_one(reason);
    }

    fn closed_one(&self, reason: CloseReason) {
        self.counters.closed(reason);
        self.facade.closed(reason);
        self.size.fetch_sub(1, Ordering::SeqCst);
        if self.wanting.load(Ordering::SeqCst) > 0 {
            self.available.notify_waiters();
        }
        if self.is_closed() {
            self.size_changed.notify_waiters();
        }
    }

    // ---- background -----------------------------------------------------------------

    pub(crate) fn start_background(self: &Arc<Self>) {
        if self.background_started.load(Ordering::Relaxed)
            || self.background_started.swap(true, Ordering::AcqRel)
        {
            return;
        }
        if let Some(interval) = self.reaper_interval() {
            tokio::spawn(background(Arc::downgrade(self), interval));
        }
    }

    fn reaper_interval(&self) -> Option<Duration> {
        if let Some(interval) = self.config.reaper_interval {
            return Some(interval);
        }
        let config = &self.config;
        let candidates = [
            config.idle_timeout.map(|d| d / 2),
            config.max_lifetime.map(|d| d / 2),
            config.leak_threshold.map(|d| d / 2),
            (config.min_idle > 0).then_some(Duration::from_secs(1)),
        ];
        candidates
            .into_iter()
            .flatten()
            .min()
            .map(|d| d.clamp(Duration::from_millis(100), Duration::from_secs(30)))
    }

    /// Closes expired idle connections and tops the pool up to `min_idle`.
    async fn maintain(self: &Arc<Self>) {
        let now = Instant::now();
        let mut expired = Vec::new();
        let excess = {
            let mut idle = lock(&self.idle);
            let size = self.size.load(Ordering::SeqCst);
            // The front of the stack is the least recently used.
            let mut index = 0;
            while index < idle.conns.len() {
                let entry = &idle.conns[index];
                let reason = if entry.live.expired(now) {
                    Some(CloseReason::Lifetime)
                } else if self
                    .config
                    .idle_timeout
                    .is_some_and(|limit| now.duration_since(entry.since) > limit)
                    && size - expired.len() > self.config.min_idle
                {
                    Some(CloseReason::Idle)
                } else {
                    None
                };
                match reason {
                    Some(reason) => expired.push((idle.conns.remove(index).live, reason)),
                    None => index += 1,
                }
            }
            idle.unpark_excess()
        };
        self.release_slots(excess);
        for (live, reason) in expired {
            self.manager.close(live.conn).await;
            self.closed_one(reason);
        }
        while !self.is_closed()
            && self.size.load(Ordering::SeqCst) < self.config.min_idle
            && self.try_spawn_connect()
        {}
        if let (Some(leaks), Some(threshold)) = (&self.leaks, self.config.leak_threshold) {
            leaks.scan(threshold, &self.config.name, &self.counters, &self.facade);
        }
        self.facade.observe(&self.status());
    }

    // ---- resize and close -----------------------------------------------------------

    pub(crate) fn resize(&self, new_max: usize) {
        let old_max = self.max_size.swap(new_max, Ordering::SeqCst);
        if new_max > old_max {
            let mut grow = new_max - old_max;
            // First cancel permits still owed from an earlier shrink.
            while grow > 0 && self.pay_slot_debt() {
                grow -= 1;
            }
            self.slots.add_permits(grow);
        } else if new_max < old_max {
            let shrink = old_max - new_max;
            let forgotten = self.slots.forget_permits(shrink);
            self.slot_debt
                .fetch_add(shrink - forgotten, Ordering::SeqCst);
            // Idle connections above the new limit go now; checked-out ones on return.
            loop {
                if self.size.load(Ordering::SeqCst) <= new_max {
                    break;
                }
                let Some(idle) = self.pop_idle() else { break };
                self.close_now(idle.live, CloseReason::Pool);
            }
        }
    }

    pub(crate) async fn close(&self, timeout: Duration) -> (usize, usize) {
        self.closed.store(true, Ordering::Release);
        self.slots.close();
        self.available.notify_waiters();
        let idle = {
            let mut idle = lock(&self.idle);
            idle.parked = 0;
            std::mem::take(&mut idle.conns)
        };
        let closed_idle = idle.len();
        for entry in idle {
            self.manager.close(entry.live.conn).await;
            self.closed_one(CloseReason::Pool);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let changed = self.size_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let size = self.size.load(Ordering::SeqCst);
            if size == 0 || tokio::time::timeout_at(deadline, changed).await.is_err() {
                break;
            }
        }
        (closed_idle, self.size.load(Ordering::SeqCst))
    }
}

impl<C> Live<C> {
    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

async fn background<M: Manager>(pool: Weak<Inner<M>>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = pool.upgrade() else { return };
        if inner.is_closed() {
            return;
        }
        inner.maintain().await;
    }
}
