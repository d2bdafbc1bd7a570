//! Every `tracing` span this crate opens, by name, and the one place each is made.
//!
//! A service that exports its traces (`tracing-opentelemetry`, or any subscriber) sees a
//! database call as a tree: the `#[resilient]` call, one child per attempt, and inside an
//! attempt the checkout and the transaction. Field names follow OpenTelemetry's database
//! conventions where one exists; the rest are ours, under `pool.`. No field ever holds a
//! password, a URL or a bound value: the server's address is its host name alone.
//!
//! | span | level | parent | fields |
//! |---|---|---|---|
//! | `pool.call` | INFO | the caller's current span | `code.function.name` (the call site's label), `pool.attempts` (attempts run), `pool.outcome` (`ok`, `error`, `rejected`), `error.type` (see below) |
//! | `pool.attempt` | INFO | its `pool.call` | `pool.attempt` (1, 2, …), `pool.backoff_ms` (the delay slept before it: 0 for the first), `pool.breaker.state` (`closed`, `half_open`, …; absent without a breaker), `pool.outcome` (`ok`, `error`, `rejected`), `error.type`, `pool.delivery` (`not_sent`, `unknown`, `rejected`: the failure's [`Delivery`]) |
//! | `pool.acquire` | DEBUG | the current span (the attempt, inside `#[resilient]`) | `db.client.connection.pool.name`, `db.system.name`, `db.namespace`, `server.address`, `server.port` (those the manager knows: [`DatabaseIdentity`]), `pool.waited` (`false`: served at once), `pool.wait_ms`, `pool.outcome` (`direct`, `waited`, `timed_out`, `closed`, `connect_failed`), `error.type` |
//! | `pool.transaction` | INFO | the current span (the attempt) | `db.client.connection.pool.name`, `db.system.name`, `db.namespace`, `server.address`, `server.port`, `pool.outcome` (`committed`, `rolled_back`, `begin_failed`, `commit_failed`, `commit_outcome_unknown`, `cancelled`), `error.type` |
//!
//! `error.type` is the failure's [`ErrorClass`](crate::ErrorClass) (`transient`,
//! `connection`, `timeout`, `permanent`) or, for a call a policy stopped, the
//! [`Rejected::reason`](crate::Rejected::reason) (`breaker_open`, `timeout`, …).
//! `commit_outcome_unknown` is a `COMMIT` whose answer was lost: the transaction may have
//! been applied. `cancelled` is a transaction whose attempt was dropped before `COMMIT`
//! was sent: the server rolls it back.
//!
//! Besides the spans, a breaker's state change is an event (target `pool_core::breaker`:
//! WARN when it opens, INFO otherwise, with `breaker`, `from`, `to`, `reason`), and a
//! retried failure is one (target `pool_core::retry`, INFO) inside its attempt's span.
//!
//! When no subscriber wants a span's level (none is installed, or its filter is
//! stricter), the span costs one relaxed load and a compare, once per checkout and once
//! per call: no `Span` is made, carried or dropped, and its fields are not computed. A
//! direct checkout opens and closes its span at the instant it hands the connection
//! out, so its future carries none. BENCHMARKS.md has the figures.

use std::{sync::Arc, time::Duration};

use tracing::{Level, Span, field::Empty};

use crate::{Classify, Delivery, PoolError, Rejected};

/// The span of one `#[resilient]` call (or [`Resilience::call`](crate::Resilience::call)).
pub const CALL: &str = "pool.call";
/// The span of one attempt of a call.
pub const ATTEMPT: &str = "pool.attempt";
/// The span of one checkout.
pub const ACQUIRE: &str = "pool.acquire";
/// The span of one transaction: `BEGIN` to `COMMIT` or `ROLLBACK`.
pub const TRANSACTION: &str = "pool.transaction";

/// Every span name above.
pub const ALL: [&str; 4] = [CALL, ATTEMPT, ACQUIRE, TRANSACTION];

/// What a manager knows of the database it connects to, for the spans' OpenTelemetry
/// fields ([`Manager::identity`](crate::Manager::identity)). Each part is optional: a
/// manager leaves out what it does not know, and the field is then absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DatabaseIdentity {
    /// `db.system.name`: `postgresql`, `mysql`, `mariadb`, `sqlite`, … (OpenTelemetry's
    /// registered values).
    pub system: Option<&'static str>,
    /// `db.namespace`: the database's name.
    pub namespace: Option<Arc<str>>,
    /// `server.address`: the host name or address, never a URL.
    pub address: Option<Arc<str>>,
    /// `server.port`.
    pub port: Option<u16>,
}

impl DatabaseIdentity {
    /// An identity naming only the database system.
    pub fn new(system: &'static str) -> Self {
        DatabaseIdentity {
            system: Some(system),
            ..DatabaseIdentity::default()
        }
    }

    /// With `db.namespace`.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<Arc<str>>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// With `server.address` and `server.port`.
    #[must_use]
    pub fn server(mut self, address: impl Into<Arc<str>>, port: Option<u16>) -> Self {
        self.address = Some(address.into());
        self.port = port;
        self
    }

    fn record_on(&self, span: &Span) {
        if let Some(system) = self.system {
            span.record("db.system.name", system);
        }
        if let Some(namespace) = &self.namespace {
            span.record("db.namespace", &**namespace);
        }
        if let Some(address) = &self.address {
            span.record("server.address", &**address);
        }
        if let Some(port) = self.port {
            span.record("server.port", port);
        }
    }
}

/// Whether a subscriber may want a span at `level`: tracing's own first test, the
/// compile-time ceiling then one relaxed load of the most verbose live subscriber's
/// level. When it fails no span is made at all: the checkout and the attempt carry
/// `None`, which costs nothing to move, record on or drop, where even a disabled `Span`
/// would be carried through every state of their futures and dropped at the end.
#[inline(always)]
fn wanted(level: Level) -> bool {
    level <= tracing::level_filters::STATIC_MAX_LEVEL
        && level <= tracing::level_filters::LevelFilter::current()
}

/// Opens a call's span, when a subscriber may want it.
#[inline(always)]
pub(crate) fn call(label: &'static str) -> Option<Span> {
    wanted(Level::INFO).then(|| open_call(label))
}

// The spans are opened out of line: the happy path with nobody listening keeps only the
// level test, and its futures do not grow by the span's field set.
#[inline(never)]
fn open_call(label: &'static str) -> Span {
    tracing::info_span!(
        CALL,
        code.function.name = label,
        pool.attempts = Empty,
        pool.outcome = Empty,
        error.type = Empty,
    )
}

/// Opens the span of attempt `number`, which slept `backoff` before it, under `call`: only
/// when the call has a span, so a call nobody traces tests the level once, not per attempt.
#[inline(always)]
pub(crate) fn attempt(call: Option<&Span>, number: u32, backoff: Duration) -> Option<Span> {
    call.map(|call| open_attempt(call, number, backoff))
}

#[inline(never)]
fn open_attempt(call: &Span, number: u32, backoff: Duration) -> Span {
    tracing::info_span!(
        parent: call,
        ATTEMPT,
        pool.attempt = number,
        pool.backoff_ms = backoff.as_millis() as u64,
        pool.breaker.state = Empty,
        pool.outcome = Empty,
        error.type = Empty,
        pool.delivery = Empty,
    )
}

/// Ends a call's and its last attempt's spans with success.
#[inline]
pub(crate) fn call_ok(call: Option<&Span>, attempt: Option<&Span>, attempts: u32) {
    if let Some(attempt) = attempt {
        attempt.record("pool.outcome", "ok");
    }
    if let Some(call) = call {
        call.record("pool.outcome", "ok");
        call.record("pool.attempts", attempts);
    }
}

/// Records an attempt's failure; and the call's, when it ends the call.
#[cold]
pub(crate) fn attempt_failed<E: Classify>(
    call: Option<&Span>,
    attempt: Option<&Span>,
    error: &E,
    attempts: u32,
    ends_call: bool,
) {
    let class = error.class().as_str();
    if let Some(attempt) = attempt {
        attempt.record("pool.outcome", "error");
        attempt.record("error.type", class);
        attempt.record("pool.delivery", delivery(error.delivery()));
    }
    if let Some(call) = call.filter(|_| ends_call) {
        call.record("pool.outcome", "error");
        call.record("error.type", class);
        call.record("pool.attempts", attempts);
    }
}

/// Records a call stopped by a policy before its attempt ran.
#[cold]
pub(crate) fn rejected(
    call: Option<&Span>,
    attempt: Option<&Span>,
    rejected: &Rejected,
    attempts: u32,
) {
    let reason = rejected.reason();
    if let Some(attempt) = attempt {
        attempt.record("pool.outcome", "rejected");
        attempt.record("error.type", reason);
    }
    if let Some(call) = call {
        call.record("pool.outcome", "rejected");
        call.record("error.type", reason);
        call.record("pool.attempts", attempts);
    }
}

/// Records the breaker's state as an attempt asks it.
#[inline]
pub(crate) fn breaker_state(attempt: Option<&Span>, breaker: &crate::CircuitBreaker) {
    if let Some(attempt) = attempt.filter(|attempt| !attempt.is_disabled()) {
        attempt.record("pool.breaker.state", breaker.state().as_str());
    }
}

fn delivery(delivery: Delivery) -> &'static str {
    match delivery {
        Delivery::NotSent => "not_sent",
        Delivery::Unknown => "unknown",
        Delivery::Rejected => "rejected",
    }
}

/// Opens a span labelled with its pool and database: the fields `pool.acquire` and
/// `pool.transaction` share, then the span's own (`Empty` until recorded).
macro_rules! pool_span {
    ($level:expr, $name:expr, $pool:expr, $identity:expr, $($own:ident = Empty),* $(,)?) => {{
        let span = tracing::span!(
            $level,
            $name,
            db.client.connection.pool.name = $pool,
            db.system.name = Empty,
            db.namespace = Empty,
            server.address = Empty,
            server.port = Empty,
            $(pool.$own = Empty,)*
            error.type = Empty,
        );
        if !span.is_disabled() {
            $identity.record_on(&span);
        }
        span
    }};
}

/// Opens a checkout's span, when a subscriber may want it.
#[inline(always)]
pub(crate) fn acquire(pool: &str, identity: &DatabaseIdentity) -> Option<Span> {
    wanted(Level::DEBUG).then(|| open_acquire(pool, identity))
}

#[inline(never)]
fn open_acquire(pool: &str, identity: &DatabaseIdentity) -> Span {
    pool_span!(
        Level::DEBUG,
        ACQUIRE,
        pool,
        identity,
        waited = Empty,
        wait_ms = Empty,
        outcome = Empty
    )
}

/// A checkout that handed out a parked connection at once: its span opened and closed
/// at that instant, so the direct path carries none.
#[inline(always)]
pub(crate) fn checked_out_at_once(pool: &str, identity: &DatabaseIdentity) {
    if wanted(Level::DEBUG) {
        acquired(Some(&open_acquire(pool, identity)), None);
    }
}

/// Records a checkout that handed out a connection, after `waited` (`None`: at once).
#[inline]
pub(crate) fn acquired(span: Option<&Span>, waited: Option<Duration>) {
    let Some(span) = span else {
        return;
    };
    match waited {
        None => {
            span.record("pool.waited", false);
            span.record("pool.outcome", "direct");
        }
        Some(waited) => {
            span.record("pool.waited", true);
            span.record("pool.wait_ms", waited.as_secs_f64() * 1e3);
            span.record("pool.outcome", "waited");
        }
    }
}

/// Records a checkout that failed with `error`, after `waited`.
#[cold]
pub(crate) fn acquire_failed<E: Classify>(
    span: Option<&Span>,
    error: &PoolError<E>,
    waited: Option<Duration>,
) {
    let Some(span) = span else {
        return;
    };
    let outcome = match error {
        PoolError::Timeout { .. } => "timed_out",
        PoolError::Connect(_) => "connect_failed",
        _ => "closed",
    };
    span.record("pool.waited", waited.is_some());
    if let Some(waited) = waited {
        span.record("pool.wait_ms", waited.as_secs_f64() * 1e3);
    }
    span.record("pool.outcome", outcome);
    span.record("error.type", error.class().as_str());
}

/// The span of one transaction, ended by [`TransactionSpan::end`] or, if its attempt is
/// dropped first, by its `Drop` (`cancelled`, or `commit_outcome_unknown` when `COMMIT`
/// was in flight).
#[derive(Debug)]
pub(crate) struct TransactionSpan {
    span: Span,
    committing: bool,
    ended: bool,
}

impl TransactionSpan {
    pub(crate) fn open(pool: &str, identity: &DatabaseIdentity) -> Self {
        let span = pool_span!(Level::INFO, TRANSACTION, pool, identity, outcome = Empty);
        TransactionSpan {
            span,
            committing: false,
            ended: false,
        }
    }

    /// `work`, instrumented with this span: what the driver logs while it runs is inside.
    pub(crate) fn in_scope<F: std::future::Future>(
        &self,
        work: F,
    ) -> tracing::instrument::Instrumented<F> {
        tracing::Instrument::instrument(work, self.span.clone())
    }

    /// `COMMIT` is about to be sent.
    pub(crate) fn committing(&mut self) {
        self.committing = true;
    }

    /// `COMMIT` answered (either way).
    pub(crate) fn answered(&mut self) {
        self.committing = false;
    }

    /// Ends the span with `outcome`, and the failure's class if there is one.
    pub(crate) fn end(mut self, outcome: &'static str, error: Option<&dyn ClassOf>) {
        self.ended = true;
        if self.span.is_disabled() {
            return;
        }
        self.span.record("pool.outcome", outcome);
        if let Some(error) = error {
            self.span.record("error.type", error.class_str());
        }
    }
}

impl Drop for TransactionSpan {
    fn drop(&mut self) {
        if self.ended || self.span.is_disabled() {
            return;
        }
        if self.committing {
            self.span.record("pool.outcome", "commit_outcome_unknown");
            self.span
                .record("error.type", crate::ErrorClass::Timeout.as_str());
        } else {
            self.span.record("pool.outcome", "cancelled");
        }
    }
}

/// An error's class as a field value, object-safe so [`TransactionSpan::end`] is one
/// function whatever the error type.
pub(crate) trait ClassOf {
    /// The class's name.
    fn class_str(&self) -> &'static str;
}

impl<E: Classify> ClassOf for E {
    fn class_str(&self) -> &'static str {
        self.class().as_str()
    }
}
