//! The shared state of a pool: its fields, how they account for connections and slots,
//! and the snapshot of them. The paths that change them live beside it, one per file:
//! `checkout`, `connect`, `put_back`, `background`, `resize`, `close`.
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
//! - Slots in existence (`slot_total`) are `max_size`, or fewer under the adaptive limit
//!   (`adaptive`): `resize` and the limiter both change them through `set_slot_total`,
//!   which adds permits or withholds them (forgotten from the semaphore, or owed as
//!   `slot_debt` and paid by the next releases).
//! - `idle` is a LIFO stack: hot connections are reused and cold ones age out.
//!
//! No lock is held across an `.await`: the idle mutex guards plain pushes and pops.

use std::{
    sync::{
        Mutex, MutexGuard,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{
    sync::{Notify, Semaphore},
    time::Instant,
};

use super::event::Event;
use super::{
    adaptive::Limiter,
    builder::Config,
    connect::ConnectFailure,
    connect_warnings::ConnectWarnings,
    hooks::Hooks,
    leak::LeakRegistry,
    observe::FacadeMetrics,
    stats::{Counters, Status},
};
use crate::{DatabaseIdentity, Manager};

/// A connection with the facts the pool keeps about it.
#[derive(Debug)]
pub(crate) struct Live<C> {
    pub(crate) conn: C,
    /// When it must be closed (its `max_lifetime`, less jitter).
    pub(super) expires_at: Option<Instant>,
}

#[derive(Debug)]
pub(super) struct Idle<C> {
    pub(super) live: Live<C>,
    /// Idle since: opened or returned by a caller (what `idle_timeout` and validation
    /// read).
    pub(super) since: Instant,
    /// Never handed out yet: just opened, so there is nothing to validate.
    pub(super) fresh: bool,
    /// When, after `since`, it last passed a keepalive check, in milliseconds (0: not
    /// since `since`). Small so that it fits beside `fresh`: every return writes it, and
    /// an idle entry that grew by an `Instant` cost the one-task checkout ~2 %.
    pub(super) checked_after_ms: u32,
}

impl<C> Idle<C> {
    /// A connection just opened at `now`.
    pub(super) fn opened(live: Live<C>, now: Instant) -> Self {
        Idle {
            live,
            since: now,
            fresh: true,
            checked_after_ms: 0,
        }
    }

    /// When it was last known alive: back from a caller, opened, or through a keepalive
    /// check (what `keepalive` counts from).
    pub(super) fn alive_at(&self) -> Instant {
        self.since + Duration::from_millis(u64::from(self.checked_after_ms))
    }
}

/// The idle connections, and how many free slots are parked with them.
#[derive(Debug)]
pub(super) struct IdleStack<C> {
    pub(super) conns: Vec<Idle<C>>,
    /// Free slots held here rather than in the semaphore; never more than `conns.len()`.
    pub(super) parked: usize,
}

impl<C> IdleStack<C> {
    /// Slots parked beyond what the stack can back, after connections left it: the
    /// caller releases them to the semaphore once the lock is dropped.
    pub(super) fn unpark_excess(&mut self) -> usize {
        let excess = self.parked.saturating_sub(self.conns.len());
        self.parked -= excess;
        excess
    }
}

pub(crate) struct Inner<M: Manager> {
    pub(crate) manager: M,
    pub(crate) config: Config,
    pub(super) hooks: Hooks<M>,
    pub(super) max_size: AtomicUsize,
    /// Slots in existence: `max_size`, or the adaptive limit below it.
    pub(super) slot_total: AtomicUsize,
    /// The adaptive limit, when the pool has one.
    pub(super) adaptive: Option<Limiter>,
    pub(super) slots: Semaphore,
    /// Permits to swallow instead of releasing, after a shrinking `resize`.
    pub(super) slot_debt: AtomicUsize,
    pub(super) idle: Mutex<IdleStack<M::Connection>>,
    pub(super) size: AtomicUsize,
    pub(super) connecting: AtomicUsize,
    /// Slot holders waiting for a new connection.
    pub(super) wanting: AtomicUsize,
    /// Callers waiting for a slot.
    pub(super) waiting: AtomicUsize,
    /// An idle connection appeared, a connect ended, or the pool closed.
    pub(super) available: Notify,
    /// `size` went down after the pool was closed.
    pub(super) size_changed: Notify,
    pub(super) closed: AtomicBool,
    pub(super) last_connect_failure: Mutex<Option<ConnectFailure<M::Error>>>,
    pub(super) connect_warnings: ConnectWarnings,
    /// Moved only through `record` (see `event`).
    pub(super) counters: Counters,
    pub(super) facade: FacadeMetrics,
    pub(super) background_started: AtomicBool,
    pub(crate) leaks: Option<LeakRegistry>,
    /// What the spans say of the database (`Manager::identity`, read once).
    pub(crate) identity: DatabaseIdentity,
}

/// `timeout` after `start`, or 30 years after it for a timeout too long to add: a user's
/// `Duration::MAX` (an acquire or connect timeout) means "no limit", not a panic.
pub(super) fn deadline_after(start: Instant, timeout: Duration) -> Instant {
    start
        .checked_add(timeout)
        .unwrap_or_else(|| start + Duration::from_secs(30 * 365 * 24 * 3600))
}

/// Locks a mutex whose data stays consistent even if a holder panicked: every
/// critical section here is a single push, pop or swap.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<M: Manager> Inner<M> {
    pub(crate) fn new(manager: M, max_size: usize, config: Config, hooks: Hooks<M>) -> Self {
        let identity = manager.identity();
        let leaks = config.leak_threshold.map(|_| LeakRegistry::new(max_size));
        let adaptive = config.adaptive_floor.map(Limiter::new);
        let slot_total = adaptive
            .as_ref()
            .map_or(max_size, |limiter| limiter.limit(max_size));
        let inner = Inner {
            manager,
            facade: FacadeMetrics::new(&config.name, config.metric_names, config.min_idle),
            config,
            hooks,
            max_size: AtomicUsize::new(max_size),
            slot_total: AtomicUsize::new(slot_total),
            adaptive,
            slots: Semaphore::new(slot_total),
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
            connect_warnings: ConnectWarnings::default(),
            counters: Counters::default(),
            background_started: AtomicBool::new(false),
            leaks,
            identity,
        };
        inner.record(Event::LimitChanged(slot_total));
        inner
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
            limit: self.slot_total.load(Ordering::SeqCst),
            size,
            idle: idle_count,
            in_use: size.saturating_sub(idle_count),
            waiting: self.waiting.load(Ordering::Relaxed) + self.wanting.load(Ordering::Relaxed),
        }
    }
}

impl<C> Live<C> {
    pub(super) fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}
