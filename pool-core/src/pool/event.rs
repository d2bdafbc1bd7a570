//! What happens in a pool, as one value, and the one place that records it.
//!
//! Every counter `metrics()` reports and every facade metric the pool exports moves
//! through [`Inner::record`], so the two cannot drift apart (bb8's `StatsKind` is the
//! model). An event is a small `Copy` value and recording it is an inlined match, so a
//! direct checkout pays what it paid when both updates were written out at the site: one
//! relaxed increment and one facade counter update, and no clock read.

use std::time::Duration;

use super::{inner::Inner, stats::CloseReason};
use crate::Manager;

/// Something that happened to a pool, as far as its metrics care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// A checkout served at once (it read no clock, so it carries no duration).
    CheckoutDirect,
    /// A checkout that waited this long.
    CheckoutWaited(Duration),
    /// A checkout that ran out of time.
    CheckoutTimedOut,
    /// A checkout that waited longer than `slow_acquire_threshold` (recorded besides
    /// its `CheckoutWaited`).
    SlowAcquire,
    /// A connection was opened; its connect (and `after_connect`) took this long.
    Created(Duration),
    /// A connection was closed, for this reason.
    Closed(CloseReason),
    /// A connect attempt failed or timed out (in the background or at an eager start).
    ConnectError,
    /// A checkout was held past the leak threshold.
    Leak,
    /// A connection whose operation its caller cancelled was made fit again and kept.
    Recovered,
    /// A checkout ended (its connection returned, discarded or cancelled) after holding
    /// its connection this long. Recorded only when the facade times uses
    /// ([`FacadeMetrics::times_use`](super::observe::FacadeMetrics::times_use)), so
    /// the default names cost a checkout no clock read for it.
    Used(Duration),
    /// The number of slots (connections that may be handed out at once) is now this:
    /// `max_size`, or the adaptive limit.
    LimitChanged(usize),
}

impl<M: Manager> Inner<M> {
    /// Records `event` in the pool's counters and in the facade metrics.
    #[inline]
    pub(crate) fn record(&self, event: Event) {
        self.counters.record(event);
        self.facade.record(event);
    }
}
