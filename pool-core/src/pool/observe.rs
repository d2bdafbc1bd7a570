//! The pool's figures as seen through the `metrics` facade, under the names the pool was
//! built with ([`MetricNames`]).
//!
//! Handles are registered once when the pool is built, so the hot path pays one
//! indirect call per update (nothing at all when no recorder is installed). Install
//! the recorder before building pools. Which name a figure goes by is decided here, once:
//! a figure the chosen names do not export gets a no-op handle, so recording stays one
//! flat list of updates whatever the names.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Unit};

use super::{
    event::Event,
    stats::{CloseReason, Status},
};
use crate::{MetricNames, names, names::otel};

#[derive(Debug)]
pub(crate) struct FacadeMetrics {
    checkouts_direct: Counter,
    checkouts_waited: Counter,
    /// `pool_checkouts_total{outcome=timed_out}`, or `db.client.connection.timeouts`.
    checkouts_timed_out: Counter,
    /// How long waited checkouts took: `pool_acquire_duration_seconds`, or
    /// `db.client.connection.wait_time`.
    wait_seconds: Histogram,
    /// Where a direct checkout's wait of nothing goes: `wait_time` under OpenTelemetry's
    /// names, which times every checkout; nowhere under the pool's, whose histogram
    /// times only checkouts that waited.
    direct_wait_seconds: Histogram,
    slow_acquires: Counter,
    created: Counter,
    create_seconds: Histogram,
    use_seconds: Histogram,
    /// Whether checkouts are timed for `use_seconds` (a clock read each).
    times_use: bool,
    closed: [Counter; 6],
    connect_errors: Counter,
    leaks: Counter,
    recovered: Counter,
    idle: Gauge,
    in_use: Gauge,
    waiting: Gauge,
    max_size: Gauge,
    idle_max: Gauge,
    idle_min: Gauge,
    min_idle: f64,
    limit: Gauge,
}

impl FacadeMetrics {
    pub(crate) fn new(pool: &Arc<str>, names: MetricNames, min_idle: usize) -> Self {
        let pool = pool.to_string();
        // Named alike under both: the conventions have nothing for these.
        let closed = |reason: CloseReason| metrics::counter!(names::CLOSED, "pool" => pool.clone(), "reason" => reason.as_str());
        let closed = [
            closed(CloseReason::Broken),
            closed(CloseReason::Invalid),
            closed(CloseReason::Idle),
            closed(CloseReason::Lifetime),
            closed(CloseReason::Pool),
            closed(CloseReason::Hook),
        ];
        let slow_acquires = metrics::counter!(names::SLOW_ACQUIRES, "pool" => pool.clone());
        let connect_errors = metrics::counter!(names::CONNECT_ERRORS, "pool" => pool.clone());
        let leaks = metrics::counter!(names::LEAKS, "pool" => pool.clone());
        let recovered = metrics::counter!(names::RECOVERED, "pool" => pool.clone());
        let limit = metrics::gauge!(names::LIMIT, "pool" => pool.clone());
        let min_idle = min_idle as f64;
        match names {
            MetricNames::Pool => {
                let checkouts = |outcome: &'static str| metrics::counter!(names::CHECKOUTS, "pool" => pool.clone(), "outcome" => outcome);
                let connections = |state: &'static str| metrics::gauge!(names::CONNECTIONS, "pool" => pool.clone(), "state" => state);
                FacadeMetrics {
                    checkouts_direct: checkouts("direct"),
                    checkouts_waited: checkouts("waited"),
                    checkouts_timed_out: checkouts("timed_out"),
                    wait_seconds: metrics::histogram!(names::ACQUIRE_SECONDS, "pool" => pool.clone()),
                    direct_wait_seconds: Histogram::noop(),
                    slow_acquires,
                    created: metrics::counter!(names::CREATED, "pool" => pool.clone()),
                    create_seconds: Histogram::noop(),
                    use_seconds: Histogram::noop(),
                    times_use: false,
                    closed,
                    connect_errors,
                    leaks,
                    recovered,
                    idle: connections("idle"),
                    in_use: connections("in_use"),
                    waiting: metrics::gauge!(names::WAITING, "pool" => pool.clone()),
                    max_size: metrics::gauge!(names::MAX_SIZE, "pool" => pool),
                    idle_max: Gauge::noop(),
                    idle_min: Gauge::noop(),
                    min_idle,
                    limit,
                }
            }
            MetricNames::OpenTelemetry => {
                describe_open_telemetry_names();
                let key = otel::POOL_NAME_KEY;
                let connections = |state: &'static str| metrics::gauge!(otel::CONNECTION_COUNT, key => pool.clone(), otel::STATE_KEY => state);
                let wait_seconds = metrics::histogram!(otel::WAIT_TIME, key => pool.clone());
                FacadeMetrics {
                    checkouts_direct: Counter::noop(),
                    checkouts_waited: Counter::noop(),
                    checkouts_timed_out: metrics::counter!(otel::TIMEOUTS, key => pool.clone()),
                    direct_wait_seconds: wait_seconds.clone(),
                    wait_seconds,
                    slow_acquires,
                    created: Counter::noop(),
                    create_seconds: metrics::histogram!(otel::CREATE_TIME, key => pool.clone()),
                    use_seconds: metrics::histogram!(otel::USE_TIME, key => pool.clone()),
                    times_use: true,
                    closed,
                    connect_errors,
                    leaks,
                    recovered,
                    idle: connections("idle"),
                    in_use: connections("used"),
                    waiting: metrics::gauge!(otel::PENDING_REQUESTS, key => pool.clone()),
                    max_size: metrics::gauge!(otel::MAX, key => pool.clone()),
                    idle_max: metrics::gauge!(otel::IDLE_MAX, key => pool.clone()),
                    idle_min: metrics::gauge!(otel::IDLE_MIN, key => pool),
                    min_idle,
                    limit,
                }
            }
        }
    }

    /// Whether a checkout must note when it began, for `Event::Used`.
    #[inline]
    pub(crate) fn times_use(&self) -> bool {
        self.times_use
    }

    /// Moves the facade metric of `event` (called only by `Inner::record`).
    #[inline]
    pub(crate) fn record(&self, event: Event) {
        let counter = match event {
            Event::CheckoutDirect => {
                self.direct_wait_seconds.record(0.0);
                &self.checkouts_direct
            }
            Event::CheckoutWaited(waited) => {
                self.wait_seconds.record(waited.as_secs_f64());
                &self.checkouts_waited
            }
            Event::CheckoutTimedOut => &self.checkouts_timed_out,
            Event::SlowAcquire => &self.slow_acquires,
            Event::Created(took) => {
                self.create_seconds.record(took.as_secs_f64());
                &self.created
            }
            Event::Closed(reason) => &self.closed[reason as usize],
            Event::ConnectError => &self.connect_errors,
            Event::Leak => &self.leaks,
            Event::Recovered => &self.recovered,
            Event::Used(held) => {
                self.use_seconds.record(held.as_secs_f64());
                return;
            }
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
        // Any connection may sit idle: the pool keeps no separate cap on idle ones.
        self.idle_max.set(status.max_size as f64);
        self.idle_min.set(self.min_idle);
    }
}

/// Tells the recorder each OpenTelemetry name's unit and meaning (the conventions'
/// `{connection}`, `{request}` and `{timeout}` have no `Unit` of their own: a count).
fn describe_open_telemetry_names() {
    metrics::describe_gauge!(
        otel::CONNECTION_COUNT,
        Unit::Count,
        "Connections now, by state (idle or used)"
    );
    metrics::describe_gauge!(
        otel::IDLE_MAX,
        Unit::Count,
        "The most connections that may sit idle"
    );
    metrics::describe_gauge!(
        otel::IDLE_MIN,
        Unit::Count,
        "The idle connections the pool keeps open"
    );
    metrics::describe_gauge!(otel::MAX, Unit::Count, "The most connections open at once");
    metrics::describe_gauge!(
        otel::PENDING_REQUESTS,
        Unit::Count,
        "Callers waiting for a connection"
    );
    metrics::describe_counter!(
        otel::TIMEOUTS,
        Unit::Count,
        "Checkouts that ran out of time waiting for a connection"
    );
    metrics::describe_histogram!(
        otel::CREATE_TIME,
        Unit::Seconds,
        "How long opening a connection took"
    );
    metrics::describe_histogram!(
        otel::WAIT_TIME,
        Unit::Seconds,
        "How long a checkout took to get a connection"
    );
    metrics::describe_histogram!(
        otel::USE_TIME,
        Unit::Seconds,
        "How long a checkout held its connection"
    );
}
