//! The pool's figures as seen through the `metrics` facade.
//!
//! Handles are registered once when the pool is built, so the hot path pays one
//! indirect call per update (nothing at all when no recorder is installed). Install
//! the recorder before building pools.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram};

use super::stats::{CloseReason, Status};

/// Metric names, stable and documented in the README.
pub(crate) mod names {
    pub(crate) const CHECKOUTS: &str = "pool_checkouts_total";
    pub(crate) const ACQUIRE_SECONDS: &str = "pool_acquire_duration_seconds";
    pub(crate) const SLOW_ACQUIRES: &str = "pool_slow_acquires_total";
    pub(crate) const CREATED: &str = "pool_connections_created_total";
    pub(crate) const CLOSED: &str = "pool_connections_closed_total";
    pub(crate) const CONNECT_ERRORS: &str = "pool_connect_errors_total";
    pub(crate) const LEAKS: &str = "pool_leaks_total";
    pub(crate) const CONNECTIONS: &str = "pool_connections";
    pub(crate) const WAITING: &str = "pool_waiting";
    pub(crate) const MAX_SIZE: &str = "pool_max_size";
}

#[derive(Debug)]
pub(crate) struct FacadeMetrics {
    pub(crate) checkouts_direct: Counter,
    pub(crate) checkouts_waited: Counter,
    pub(crate) checkouts_timed_out: Counter,
    pub(crate) acquire_seconds: Histogram,
    pub(crate) slow_acquires: Counter,
    pub(crate) created: Counter,
    closed: [Counter; 5],
    pub(crate) connect_errors: Counter,
    pub(crate) leaks: Counter,
    idle: Gauge,
    in_use: Gauge,
    waiting: Gauge,
    max_size: Gauge,
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
            ],
            connect_errors: metrics::counter!(names::CONNECT_ERRORS, "pool" => pool.clone()),
            leaks: metrics::counter!(names::LEAKS, "pool" => pool.clone()),
            idle: connections("idle"),
            in_use: connections("in_use"),
            waiting: metrics::gauge!(names::WAITING, "pool" => pool.clone()),
            max_size: metrics::gauge!(names::MAX_SIZE, "pool" => pool),
        }
    }

    pub(crate) fn closed(&self, reason: CloseReason) {
        self.closed[reason as usize].increment(1);
    }

    /// Publishes the gauges (called by the background task and by `status()`).
    pub(crate) fn observe(&self, status: &Status) {
        self.idle.set(status.idle as f64);
        self.in_use.set(status.in_use as f64);
        self.waiting.set(status.waiting as f64);
        self.max_size.set(status.max_size as f64);
    }
}
