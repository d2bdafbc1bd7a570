//! The pool's figures as seen through the `metrics` facade.
//!
//! Handles are registered once when the pool is built, so the hot path pays one
//! indirect call per update (nothing at all when no recorder is installed). Install
//! the recorder before building pools.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram};

use super::{
    event::Event,
    stats::{CloseReason, Status},
};
use crate::names;

#[derive(Debug)]
pub(crate) struct FacadeMetrics {
    checkouts_direct: Counter,
    checkouts_waited: Counter,
    checkouts_timed_out: Counter,
    acquire_seconds: Histogram,
    slow_acquires: Counter,
    created: Counter,
    closed: [Counter; 6],
    connect_errors: Counter,
    leaks: Counter,
    recovered: Counter,
    idle: Gauge,
    in_use: Gauge,
    waiting: Gauge,
    max_size: Gauge,
    limit: Gauge,
}

impl FacadeMetrics {
    pub(crate) fn new(pool: &Arc<str>) -> Self {
        let pool = pool.to_string();
        let checkouts = |outcome: &'static str| metrics::counter!(names::CHECKOUTS, "pool" => pool.clone(), "outcome" => outcome);
        let closed = |reason: CloseReason| metrics::counter!(names::CLOSED, "pool" => pool.clone(), "reason" => reason.as_str());
        let connections = |state: &'static str| metrics::gauge!(names::CONNECTIONS, "pool" => pool.clone(), "state" => state);
        FacadeMetrics {
            checkouts_direct: checkouts("direct"),
            checkouts_waited: checkouts("waited"),
            checkouts_timed_out: checkouts("timed_out"),
            acquire_seconds: metrics::histogram!(names::ACQUIRE_SECONDS, "pool" => pool.clone()),
            slow_acquires: metrics::counter!(names::SLOW_ACQUIRES, "pool" => pool.clone()),
            created: metrics::counter!(names::CREATED, "pool" => pool.clone()),
            closed: [
                closed(CloseReason::Broken),
                closed(CloseReason::Invalid),
                closed(CloseReason::Idle),
                closed(CloseReason::Lifetime),
                closed(CloseReason::Pool),
                closed(CloseReason::Hook),
            ],
            connect_errors: metrics::counter!(names::CONNECT_ERRORS, "pool" => pool.clone()),
            leaks: metrics::counter!(names::LEAKS, "pool" => pool.clone()),
            recovered: metrics::counter!(names::RECOVERED, "pool" => pool.clone()),
            idle: connections("idle"),
            in_use: connections("in_use"),
            waiting: metrics::gauge!(names::WAITING, "pool" => pool.clone()),
            max_size: metrics::gauge!(names::MAX_SIZE, "pool" => pool.clone()),
            limit: metrics::gauge!(names::LIMIT, "pool" => pool),
        }
    }

    /// Moves the facade metric of `event` (called only by `Inner::record`).
    #[inline]
    pub(crate) fn record(&self, event: Event) {
        let counter = match event {
            Event::CheckoutDirect => &self.checkouts_direct,
            Event::CheckoutWaited(waited) => {
                self.acquire_seconds.record(waited.as_secs_f64());
                &self.checkouts_waited
            }
            Event::CheckoutTimedOut => &self.checkouts_timed_out,
            Event::SlowAcquire => &self.slow_acquires,
            Event::Created => &self.created,
            Event::Closed(reason) => &self.closed[reason as usize],
            Event::ConnectError => &self.connect_errors,
            Event::Leak => &self.leaks,
            Event::Recovered => &self.recovered,
            Event::LimitChanged(limit) => {
                self.limit.set(limit as f64);
                return;
            }
        };
        counter.increment(1);
    }

    /// Publishes the gauges (called by the background task and by `status()`).
    pub(crate) fn observe(&self, status: &Status) {
        self.idle.set(status.idle as f64);
        self.in_use.set(status.in_use as f64);
        self.waiting.set(status.waiting as f64);
        self.max_size.set(status.max_size as f64);
    }
}
