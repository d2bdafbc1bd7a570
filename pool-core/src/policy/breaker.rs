//! The circuit breaker: closed, open, half-open, plus forced-open and disabled.
//!
//! - **Closed**: every call is admitted (one atomic load of the state). Outcomes go into a
//!   [`SlidingWindow`]; once it holds `minimum_calls`, a failure rate or slow-call rate at or
//!   above its threshold opens the breaker. Rates are evaluated when a failure or slow call is
//!   recorded, so a healthy breaker's record is two atomic operations.
//! - **Open**: every call is rejected with [`Rejected::BreakerOpen`] until `wait_in_open`
//!   has passed (growing by `open_backoff_multiplier` each time the breaker re-opens without
//!   closing in between, up to `max_wait_in_open`); the next call then moves it to half-open.
//! - **Half-open**: exactly `permitted_calls_in_half_open` probes are admitted, every other
//!   call is rejected. When all probes have ended, the breaker closes if their rates are
//!   below the thresholds and opens again otherwise. If the probes have not all ended within
//!   `max_wait_in_half_open` (a hung probe), it opens again.
//! - **Forced open** ([`force_open`](CircuitBreaker::force_open)) rejects everything and
//!   **disabled** ([`disable`](CircuitBreaker::disable)) admits everything and records
//!   nothing, until [`reset`](CircuitBreaker::reset).
//!
//! Each transition is sent to [`subscribe`](CircuitBreaker::subscribe)rs, logged with
//! `tracing` (target `pool_core::breaker`) and counted through `metrics`
//! (`pool_breaker_state{breaker}`, `pool_breaker_transitions_total{breaker,from,to}`).

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{sync::broadcast, time::Instant};

use super::window::{Outcome, SlidingWindow, Window};
use crate::{ConfigError, Rejected, names};

/// A circuit breaker's configuration. Field names and defaults follow resilience4j
/// (`failureRateThreshold` 50, `slowCallRateThreshold` 100, `slowCallDurationThreshold`
/// 60 s, `permittedNumberOfCallsInHalfOpenState` 10, `minimumNumberOfCalls` 100,
/// `slidingWindowSize` 100 calls, `waitDurationInOpenState` 60 s), with these differences
/// for a database:
///
/// - `max_wait_in_half_open` is 60 s, not resilience4j's 0 (wait for ever): a probe stuck on
///   a hung connection must not hold the breaker half-open, rejecting everything else, for
///   ever.
/// - Failures classified [`Permanent`](crate::ErrorClass::Permanent) (bad SQL, constraint
///   violations) are neither failures nor successes: the database answered, so they say
///   nothing about its health, and a wave of unique-key violations must not open the
///   breaker (resilience4j counts every exception unless told otherwise).
/// - `open_backoff_multiplier` (1: a constant wait, as resilience4j's default) can grow the
///   wait while a database stays down, up to `max_wait_in_open` (10 min).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// Failure rate, in percent, at or above which the breaker opens. In `(0, 100]`.
    pub failure_rate_threshold: f32,
    /// Slow-call rate, in percent, at or above which the breaker opens. In `(0, 100]`.
    pub slow_call_rate_threshold: f32,
    /// A call that takes this long or longer is slow. Greater than zero.
    pub slow_call_duration_threshold: Duration,
    /// Probes admitted in half-open; every other call is rejected. At least 1.
    pub permitted_calls_in_half_open: u32,
    /// Calls the window must hold before rates count (capped at a count window's size).
    /// At least 1.
    pub minimum_calls: u32,
    /// What the window counts: the last N calls or the last N seconds.
    pub sliding_window: SlidingWindow,
    /// How long the breaker stays open before letting probes through. Greater than zero.
    pub wait_in_open: Duration,
    /// Each re-opening without closing in between multiplies the wait by this. At least 1.
    pub open_backoff_multiplier: f64,
    /// The longest wait in open, however often it re-opened. At least `wait_in_open` when
    /// `open_backoff_multiplier` is above 1 (otherwise unused).
    pub max_wait_in_open: Duration,
    /// How long half-open may wait for its probes before opening again. Greater than zero.
    pub max_wait_in_half_open: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_threshold: Duration::from_secs(60),
            permitted_calls_in_half_open: 10,
            minimum_calls: 100,
            sliding_window: SlidingWindow::Count(100),
            wait_in_open: Duration::from_secs(60),
            open_backoff_multiplier: 1.0,
            max_wait_in_open: Duration::from_secs(600),
            max_wait_in_half_open: Duration::from_secs(60),
        }
    }
}

impl BreakerConfig {
    /// Checks every setting; the error names the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn percent(setting: &'static str, value: f32) -> Result<(), ConfigError> {
            if value > 0.0 && value <= 100.0 {
                Ok(())
            } else {
                Err(ConfigError::new(
                    setting,
                    format!("must be in (0, 100], got {value}"),
                ))
            }
        }
        fn positive(setting: &'static str, value: Duration) -> Result<(), ConfigError> {
            if value.is_zero() {
                Err(ConfigError::new(setting, "must be greater than zero"))
            } else {
                Ok(())
            }
        }
        percent("failure_rate_threshold", self.failure_rate_threshold)?;
        percent("slow_call_rate_threshold", self.slow_call_rate_threshold)?;
        positive(
            "slow_call_duration_threshold",
            self.slow_call_duration_threshold,
        )?;
        positive("wait_in_open", self.wait_in_open)?;
        positive("max_wait_in_half_open", self.max_wait_in_half_open)?;
        if self.permitted_calls_in_half_open == 0 {
            return Err(ConfigError::new(
                "permitted_calls_in_half_open",
                "must be at least 1",
            ));
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::new("minimum_calls", "must be at least 1"));
        }
        match self.sliding_window {
            SlidingWindow::Count(0) | SlidingWindow::Time(0) => {
                return Err(ConfigError::new("sliding_window", "must not be empty"));
            }
            _ => {}
        }
        if !self.open_backoff_multiplier.is_finite() || self.open_backoff_multiplier < 1.0 {
            return Err(ConfigError::new(
                "open_backoff_multiplier",
                format!("must be at least 1, got {}", self.open_backoff_multiplier),
            ));
        }
        if self.open_backoff_multiplier > 1.0 && self.max_wait_in_open < self.wait_in_open {
            return Err(ConfigError::new(
                "max_wait_in_open",
                format!(
                    "({:?}) must be at least wait_in_open ({:?})",
                    self.max_wait_in_open, self.wait_in_open
                ),
            ));
        }
        Ok(())
    }

    /// The wait in open after `reopenings` consecutive re-openings.
    fn open_duration(&self, reopenings: u32) -> Duration {
        if self.open_backoff_multiplier <= 1.0 || reopenings == 0 {
            return self.wait_in_open;
        }
        let exponent = i32::try_from(reopenings).unwrap_or(i32::MAX);
        let secs = self.wait_in_open.as_secs_f64() * self.open_backoff_multiplier.powi(exponent);
        if !secs.is_finite() || secs >= self.max_wait_in_open.as_secs_f64() {
            self.max_wait_in_open
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls pass; outcomes are recorded.
    Closed,
    /// Calls are rejected until the wait in open has passed.
    Open,
    /// A limited number of probes pass; the rest are rejected.
    HalfOpen,
    /// Every call is rejected until [`CircuitBreaker::reset`].
    ForcedOpen,
    /// Every call passes and nothing is recorded until [`CircuitBreaker::reset`].
    Disabled,
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;
const FORCED_OPEN: u8 = 3;
const DISABLED: u8 = 4;

impl BreakerState {
    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::ForcedOpen => "forced_open",
            BreakerState::Disabled => "disabled",
        }
    }

    /// The value of the `pool_breaker_state` gauge: 0 closed, 1 open, 2 half-open,
    /// 3 forced open, 4 disabled.
    pub fn gauge_value(self) -> f64 {
        f64::from(self.code())
    }

    fn code(self) -> u8 {
        match self {
            BreakerState::Closed => CLOSED,
            BreakerState::Open => OPEN,
            BreakerState::HalfOpen => HALF_OPEN,
            BreakerState::ForcedOpen => FORCED_OPEN,
            BreakerState::Disabled => DISABLED,
        }
    }

    fn from_code(code: u8) -> Self {
        match code {
            CLOSED => BreakerState::Closed,
            OPEN => BreakerState::Open,
            HALF_OPEN => BreakerState::HalfOpen,
            FORCED_OPEN => BreakerState::ForcedOpen,
            _ => BreakerState::Disabled,
        }
    }
}

/// A state change, as sent to [`CircuitBreaker::subscribe`]rs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerEvent {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state it left.
    pub from: BreakerState,
    /// The state it entered.
    pub to: BreakerState,
}

/// What the breaker's window holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BreakerSnapshot {
    /// The state.
    pub state: BreakerState,
    /// Calls in the window (closed) or probes ended (half-open).
    pub calls: u64,
    /// Failures among them.
    pub failures: u64,
    /// Slow calls among them.
    pub slow_calls: u64,
}

/// A circuit breaker; share it as `Arc<CircuitBreaker>` (see [`breakers`](crate::breakers)).
#[derive(Debug)]
pub struct CircuitBreaker {
    name: Arc<str>,
    config: BreakerConfig,
    state: AtomicU8,
    /// Bumped on every transition; a permit from an older generation records nothing.
    generation: AtomicU64,
    /// Nanoseconds (breaker clock) at which open may turn half-open.
    open_until: AtomicU64,
    half_open_since: AtomicU64,
    probes_left: AtomicI64,
    probes_done: AtomicU32,
    probe_failures: AtomicU32,
    probe_slow: AtomicU32,
    /// Re-openings since the breaker last closed (only changed under `transition`).
    reopenings: AtomicU32,
    window: Window,
    min_calls: u64,
    time_window: bool,
    origin: Instant,
    transition: Mutex<()>,
    events: broadcast::Sender<BreakerEvent>,
    state_gauge: metrics::Gauge,
}

impl CircuitBreaker {
    /// A closed breaker called `name`; fails if `config` does not [`validate`](BreakerConfig::validate).
    pub fn new(name: impl Into<Arc<str>>, config: BreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let name = name.into();
        let (min_calls, time_window) = match config.sliding_window {
            SlidingWindow::Count(n) => (config.minimum_calls.min(n), false),
            SlidingWindow::Time(_) => (config.minimum_calls, true),
        };
        let state_gauge = metrics::gauge!(names::BREAKER_STATE, "breaker" => name.to_string());
        state_gauge.set(BreakerState::Closed.gauge_value());
        let (events, _) = broadcast::channel(64);
        Ok(CircuitBreaker {
            window: Window::new(config.sliding_window),
            min_calls: u64::from(min_calls),
            time_window,
            name,
            config,
            state: AtomicU8::new(CLOSED),
            generation: AtomicU64::new(0),
            open_until: AtomicU64::new(0),
            half_open_since: AtomicU64::new(0),
            probes_left: AtomicI64::new(0),
            probes_done: AtomicU32::new(0),
            probe_failures: AtomicU32::new(0),
            probe_slow: AtomicU32::new(0),
            reopenings: AtomicU32::new(0),
            origin: Instant::now(),
            transition: Mutex::new(()),
            events,
            state_gauge,
        })
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The breaker's name, shared.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// Its configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.config
    }

    /// The state now. An open breaker whose wait has passed reports `Open` until the next
    /// call moves it to half-open.
    pub fn state(&self) -> BreakerState {
        BreakerState::from_code(self.state.load(Ordering::Acquire))
    }

    /// The state and what the window holds.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let state = self.state();
        if state == BreakerState::HalfOpen {
            return BreakerSnapshot {
                state,
                calls: u64::from(self.probes_done.load(Ordering::Acquire)),
                failures: u64::from(self.probe_failures.load(Ordering::Acquire)),
                slow_calls: u64::from(self.probe_slow.load(Ordering::Acquire)),
            };
        }
        let totals = self.window.totals(self.now_ns());
        BreakerSnapshot {
            state,
            calls: totals.calls,
            failures: totals.failures,
            slow_calls: totals.slow,
        }
    }

    /// A receiver of every state change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<BreakerEvent> {
        self.events.subscribe()
    }

    /// Asks to run one call. `Err` is [`Rejected::BreakerOpen`]; `Ok` is a permit through
    /// which the caller reports the outcome (dropping it unreported gives a half-open probe
    /// back).
    #[inline]
    pub fn try_acquire(&self) -> Result<BreakerPermit<'_>, Rejected> {
        // The closed state inline (the hot path: two loads); every other state out of line.
        let generation = self.generation.load(Ordering::Acquire);
        if self.state.load(Ordering::Acquire) == CLOSED {
            return Ok(self.permit(generation, PermitKind::Closed));
        }
        self.try_acquire_not_closed()
    }

    #[inline(never)]
    fn try_acquire_not_closed(&self) -> Result<BreakerPermit<'_>, Rejected> {
        // At most: open -> half-open, then take a probe.
        for _ in 0..3 {
            let generation = self.generation.load(Ordering::Acquire);
            match self.state.load(Ordering::Acquire) {
                CLOSED => return Ok(self.permit(generation, PermitKind::Closed)),
                DISABLED => return Ok(self.permit(generation, PermitKind::Disabled)),
                OPEN => {
                    let now = self.now_ns();
                    if now < self.open_until.load(Ordering::Acquire) {
                        return Err(self.rejection());
                    }
                    self.open_to_half_open(now);
                }
                HALF_OPEN => {
                    let taken = self
                        .probes_left
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                            (left > 0).then_some(left - 1)
                        })
                        .is_ok();
                    if taken {
                        return Ok(self.permit(generation, PermitKind::Probe));
                    }
                    let now = self.now_ns();
                    let since = self.half_open_since.load(Ordering::Acquire);
                    let max_wait = duration_ns(self.config.max_wait_in_half_open);
                    if now.saturating_sub(since) >= max_wait {
                        self.trip(generation, now, "probes did not end in time");
                        continue;
                    }
                    return Err(self.rejection());
                }
                _ => return Err(self.rejection()),
            }
        }
        Err(self.rejection())
    }

    /// Forces the breaker open: every call is rejected until [`reset`](Self::reset).
    pub fn force_open(&self) {
        let _guard = self.lock();
        self.set_state(FORCED_OPEN, "forced open");
    }

    /// Disables the breaker: every call passes, nothing is recorded, until [`reset`](Self::reset).
    pub fn disable(&self) {
        let _guard = self.lock();
        self.set_state(DISABLED, "disabled");
    }

    /// Closes the breaker with an empty window and forgets past re-openings.
    pub fn reset(&self) {
        let _guard = self.lock();
        self.window.reset();
        self.reopenings.store(0, Ordering::Release);
        self.set_state(CLOSED, "reset");
    }

    fn permit(&self, generation: u64, kind: PermitKind) -> BreakerPermit<'_> {
        BreakerPermit {
            breaker: self,
            generation,
            kind,
        }
    }

    #[cold]
    fn rejection(&self) -> Rejected {
        Rejected::BreakerOpen {
            name: Arc::clone(&self.name),
        }
    }

    fn now_ns(&self) -> u64 {
        duration_ns(self.origin.elapsed())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.transition
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    #[inline]
    fn record(&self, generation: u64, kind: PermitKind, failure: bool, elapsed: Duration) {
        let slow = elapsed >= self.config.slow_call_duration_threshold;
        if self.generation.load(Ordering::Acquire) != generation {
            // The state changed while the call ran: its outcome belongs to no current period.
            return;
        }
        match kind {
            PermitKind::Disabled => {}
            PermitKind::Closed => {
                let now = if self.time_window { self.now_ns() } else { 0 };
                self.window.record(Outcome { failure, slow }, now);
                if failure || slow {
                    self.evaluate_closed(generation, now);
                }
            }
            PermitKind::Probe => {
                if failure {
                    self.probe_failures.fetch_add(1, Ordering::AcqRel);
                }
                if slow {
                    self.probe_slow.fetch_add(1, Ordering::AcqRel);
                }
                let done = self.probes_done.fetch_add(1, Ordering::AcqRel) + 1;
                if done >= self.config.permitted_calls_in_half_open {
                    self.evaluate_half_open(generation, done);
                }
            }
        }
    }

    #[cold]
    fn evaluate_closed(&self, generation: u64, now: u64) {
        let now = if self.time_window { now } else { self.now_ns() };
        let totals = self.window.totals(now);
        if totals.calls < self.min_calls || totals.calls == 0 {
            return;
        }
        if let Some(reason) = self.over_threshold(totals.calls, totals.failures, totals.slow) {
            self.trip(generation, now, reason);
        }
    }

    #[cold]
    fn evaluate_half_open(&self, generation: u64, done: u32) {
        let failures = u64::from(self.probe_failures.load(Ordering::Acquire));
        let slow = u64::from(self.probe_slow.load(Ordering::Acquire));
        let now = self.now_ns();
        match self.over_threshold(u64::from(done), failures, slow) {
            Some(reason) => self.trip(generation, now, reason),
            None => {
                let _guard = self.lock();
                if self.generation.load(Ordering::Acquire) == generation
                    && self.state.load(Ordering::Acquire) == HALF_OPEN
                {
                    self.window.reset();
                    self.reopenings.store(0, Ordering::Release);
                    self.set_state(CLOSED, "probes succeeded");
                }
            }
        }
    }

    fn over_threshold(&self, calls: u64, failures: u64, slow: u64) -> Option<&'static str> {
        let rate = |n: u64| n as f64 * 100.0 / calls as f64;
        if rate(failures) >= f64::from(self.config.failure_rate_threshold) {
            Some("failure rate over threshold")
        } else if rate(slow) >= f64::from(self.config.slow_call_rate_threshold) {
            Some("slow-call rate over threshold")
        } else {
            None
        }
    }

    /// Opens the breaker if it is still in the closed or half-open period `generation`.
    fn trip(&self, generation: u64, now: u64, reason: &'static str) {
        let _guard = self.lock();
        let state = self.state.load(Ordering::Acquire);
        if self.generation.load(Ordering::Acquire) != generation
            || !(state == CLOSED || state == HALF_OPEN)
        {
            return;
        }
        let reopenings = self.reopenings.load(Ordering::Acquire);
        let wait = self.config.open_duration(reopenings);
        self.reopenings
            .store(reopenings.saturating_add(1), Ordering::Release);
        self.open_until
            .store(now.saturating_add(duration_ns(wait)), Ordering::Release);
        self.set_state(OPEN, reason);
    }

    fn open_to_half_open(&self, now: u64) {
        let _guard = self.lock();
        if self.state.load(Ordering::Acquire) != OPEN
            || now < self.open_until.load(Ordering::Acquire)
        {
            return;
        }
        self.probes_done.store(0, Ordering::Release);
        self.probe_failures.store(0, Ordering::Release);
        self.probe_slow.store(0, Ordering::Release);
        self.half_open_since.store(now, Ordering::Release);
        self.probes_left.store(
            i64::from(self.config.permitted_calls_in_half_open),
            Ordering::Release,
        );
        self.set_state(HALF_OPEN, "wait in open passed");
    }

    /// Moves to `to`; call with the transition lock held.
    fn set_state(&self, to: u8, reason: &'static str) {
        let from = BreakerState::from_code(self.state.load(Ordering::Acquire));
        let to = BreakerState::from_code(to);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.state.store(to.code(), Ordering::Release);
        if from == to {
            return;
        }
        self.state_gauge.set(to.gauge_value());
        metrics::counter!(
            names::BREAKER_TRANSITIONS,
            "breaker" => self.name.to_string(),
            "from" => from.as_str(),
            "to" => to.as_str(),
        )
        .increment(1);
        if matches!(to, BreakerState::Open | BreakerState::ForcedOpen) {
            tracing::warn!(
                target: "pool_core::breaker",
                breaker = %self.name, from = from.as_str(), to = to.as_str(), reason,
                "circuit breaker opened"
            );
        } else {
            tracing::info!(
                target: "pool_core::breaker",
                breaker = %self.name, from = from.as_str(), to = to.as_str(), reason,
                "circuit breaker state changed"
            );
        }
        let _ = self.events.send(BreakerEvent {
            breaker: Arc::clone(&self.name),
            from,
            to,
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PermitKind {
    Closed,
    Probe,
    Disabled,
}

/// Admission of one call by a [`CircuitBreaker`]: report how it ended with
/// [`success`](Self::success), [`failure`](Self::failure) or [`ignore`](Self::ignore).
/// Dropping it unreported is `ignore`.
#[derive(Debug)]
#[must_use = "report the call's outcome through the permit"]
pub struct BreakerPermit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    kind: PermitKind,
}

impl BreakerPermit<'_> {
    /// The call succeeded after `elapsed` (slow if at or over the slow-call threshold).
    #[inline]
    pub fn success(self, elapsed: Duration) {
        self.finish(false, elapsed);
    }

    /// The call failed (in a way that says the database is unhealthy) after `elapsed`.
    pub fn failure(self, elapsed: Duration) {
        self.finish(true, elapsed);
    }

    /// The call ended in a way that says nothing about health (a permanent error, a
    /// cancellation): not counted; a half-open probe is given back.
    pub fn ignore(self) {
        drop(self);
    }

    #[inline]
    fn finish(self, failure: bool, elapsed: Duration) {
        let this = std::mem::ManuallyDrop::new(self);
        this.breaker
            .record(this.generation, this.kind, failure, elapsed);
    }
}

impl Drop for BreakerPermit<'_> {
    fn drop(&mut self) {
        if self.kind == PermitKind::Probe
            && self.breaker.generation.load(Ordering::Acquire) == self.generation
        {
            self.breaker.probes_left.fetch_add(1, Ordering::AcqRel);
        }
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::advance;

    const MS: Duration = Duration::from_millis(1);

    fn config(window: SlidingWindow) -> BreakerConfig {
        BreakerConfig {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_threshold: Duration::from_secs(1),
            permitted_calls_in_half_open: 2,
            minimum_calls: 4,
            sliding_window: window,
            wait_in_open: Duration::from_secs(10),
            open_backoff_multiplier: 1.0,
            max_wait_in_open: Duration::from_secs(60),
            max_wait_in_half_open: Duration::from_secs(30),
        }
    }

    fn ok(b: &CircuitBreaker) {
        b.try_acquire().unwrap().success(MS);
    }
    fn fail(b: &CircuitBreaker) {
        b.try_acquire().unwrap().failure(MS);
    }
    fn is_rejected(b: &CircuitBreaker) -> bool {
        matches!(b.try_acquire(), Err(Rejected::BreakerOpen { .. }))
    }

    /// Closed -> open -> half-open -> open -> half-open -> closed, for one window kind.
    async fn walk_every_transition(window: SlidingWindow) {
        let b = CircuitBreaker::new("walk", config(window)).unwrap();
        let mut events = b.subscribe();
        // Three failures out of three: under minimum_calls, still closed.
        fail(&b);
        fail(&b);
        ok(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        // Fourth call: 2 failures of 4 = 50% >= 50%: open.
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(is_rejected(&b));
        advance(Duration::from_secs(9)).await;
        assert!(is_rejected(&b), "still open before wait_in_open");
        advance(Duration::from_secs(1)).await;
        // Wait passed: the next call moves to half-open and is a probe.
        let p1 = b.try_acquire().unwrap();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let p2 = b.try_acquire().unwrap();
        assert!(is_rejected(&b), "only two probes");
        p1.success(MS);
        p2.failure(MS);
        // 1 failure of 2 = 50%: open again.
        assert_eq!(b.state(), BreakerState::Open);
        advance(Duration::from_secs(10)).await;
        ok(&b);
        ok(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        assert_eq!(b.snapshot().calls, 0, "window emptied on closing");
        let mut seen = Vec::new();
        while let Ok(e) = events.try_recv() {
            seen.push((e.from, e.to));
        }
        use BreakerState::*;
        assert_eq!(
            seen,
            vec![
                (Closed, Open),
                (Open, HalfOpen),
                (HalfOpen, Open),
                (Open, HalfOpen),
                (HalfOpen, Closed)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn count_window_walks_every_transition() {
        walk_every_transition(SlidingWindow::Count(10)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn time_window_walks_every_transition() {
        walk_every_transition(SlidingWindow::Time(10)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn count_window_forgets_old_failures() {
        let b = CircuitBreaker::new("count-forgets", config(SlidingWindow::Count(4))).unwrap();
        fail(&b);
        for _ in 0..4 {
            ok(&b);
        }
        // The failure left the 4-call window: 1 of 4 now would be 25%.
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open, "2 of the last 4 failed");
    }

    #[tokio::test(start_paused = true)]
    async fn time_window_forgets_failures_older_than_the_window() {
        let b = CircuitBreaker::new("time-forgets", config(SlidingWindow::Time(5))).unwrap();
        fail(&b);
        fail(&b);
        advance(Duration::from_secs(6)).await;
        ok(&b);
        ok(&b);
        ok(&b);
        fail(&b);
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "the early failures expired: 1 of 4"
        );
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open, "3 of 6 within the window");
    }

    #[tokio::test(start_paused = true)]
    async fn slow_calls_open_the_breaker_in_both_windows() {
        for window in [SlidingWindow::Count(10), SlidingWindow::Time(10)] {
            let b = CircuitBreaker::new("slow", config(window)).unwrap();
            for _ in 0..3 {
                b.try_acquire().unwrap().success(Duration::from_secs(2));
                assert_eq!(b.state(), BreakerState::Closed);
            }
            b.try_acquire().unwrap().success(Duration::from_secs(2));
            assert_eq!(b.state(), BreakerState::Open, "{window:?}: 100% slow");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn slow_probes_reopen_the_breaker() {
        let b = CircuitBreaker::new("slow-probe", config(SlidingWindow::Count(4))).unwrap();
        b.force_open();
        b.reset();
        for _ in 0..4 {
            fail(&b);
        }
        advance(Duration::from_secs(10)).await;
        for _ in 0..2 {
            b.try_acquire().unwrap().success(Duration::from_secs(5));
        }
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn open_wait_grows_exponentially_to_its_cap() {
        let mut c = config(SlidingWindow::Count(4));
        c.open_backoff_multiplier = 2.0;
        c.max_wait_in_open = Duration::from_secs(30);
        c.permitted_calls_in_half_open = 1;
        let b = CircuitBreaker::new("grows", c).unwrap();
        for _ in 0..4 {
            fail(&b);
        }
        // Waits: 10 s, 20 s, 30 s (capped), 30 s.
        for wait in [10, 20, 30, 30] {
            advance(Duration::from_secs(wait - 1)).await;
            assert!(is_rejected(&b), "still open before {wait} s");
            advance(Duration::from_secs(1)).await;
            fail(&b); // the probe fails: open again
            assert_eq!(b.state(), BreakerState::Open);
        }
        advance(Duration::from_secs(30)).await;
        ok(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        for _ in 0..4 {
            fail(&b);
        }
        advance(Duration::from_secs(10)).await;
        assert!(
            b.try_acquire().is_ok(),
            "closing forgot the re-openings: back to 10 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn hung_probe_cannot_hold_half_open_for_ever() {
        for window in [SlidingWindow::Count(4), SlidingWindow::Time(10)] {
            let b = CircuitBreaker::new("hung", config(window)).unwrap();
            for _ in 0..4 {
                fail(&b);
            }
            advance(Duration::from_secs(10)).await;
            let hung1 = b.try_acquire().unwrap();
            let hung2 = b.try_acquire().unwrap();
            assert!(is_rejected(&b));
            advance(Duration::from_secs(30)).await;
            assert!(is_rejected(&b));
            assert_eq!(
                b.state(),
                BreakerState::Open,
                "{window:?}: max wait in half-open passed"
            );
            hung1.success(MS);
            hung2.success(MS);
            assert_eq!(b.state(), BreakerState::Open, "late probes do not close it");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_probe_is_given_back() {
        let b = CircuitBreaker::new("dropped", config(SlidingWindow::Count(4))).unwrap();
        for _ in 0..4 {
            fail(&b);
        }
        advance(Duration::from_secs(10)).await;
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        assert!(is_rejected(&b));
        drop(p2);
        let p3 = b.try_acquire().unwrap();
        p1.success(MS);
        p3.success(MS);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn force_open_disable_and_reset() {
        for window in [SlidingWindow::Count(4), SlidingWindow::Time(10)] {
            let b = CircuitBreaker::new("manual", config(window)).unwrap();
            let mut events = b.subscribe();
            b.force_open();
            assert_eq!(b.state(), BreakerState::ForcedOpen);
            advance(Duration::from_secs(3600)).await;
            assert!(is_rejected(&b), "forced open never turns half-open");
            b.disable();
            for _ in 0..10 {
                fail(&b);
            }
            assert_eq!(
                b.state(),
                BreakerState::Disabled,
                "disabled records nothing"
            );
            b.reset();
            assert_eq!(b.state(), BreakerState::Closed);
            assert_eq!(b.snapshot().calls, 0);
            // Reset also closes a breaker that opened by itself, with an empty window.
            for _ in 0..4 {
                fail(&b);
            }
            assert_eq!(b.state(), BreakerState::Open);
            b.reset();
            assert_eq!(b.state(), BreakerState::Closed);
            fail(&b);
            assert_eq!(
                b.state(),
                BreakerState::Closed,
                "{window:?}: window emptied"
            );
            let mut seen = Vec::new();
            while let Ok(e) = events.try_recv() {
                seen.push(e.to);
            }
            use BreakerState::*;
            assert_eq!(seen, vec![ForcedOpen, Disabled, Closed, Open, Closed]);
        }
    }

    #[test]
    fn invalid_configs_are_errors_naming_the_setting() {
        let bad = |f: fn(&mut BreakerConfig)| {
            let mut c = BreakerConfig::default();
            f(&mut c);
            CircuitBreaker::new("bad", c).unwrap_err().setting
        };
        assert_eq!(
            bad(|c| c.failure_rate_threshold = 0.0),
            "failure_rate_threshold"
        );
        assert_eq!(
            bad(|c| c.failure_rate_threshold = 101.0),
            "failure_rate_threshold"
        );
        assert_eq!(
            bad(|c| c.slow_call_rate_threshold = f32::NAN),
            "slow_call_rate_threshold"
        );
        assert_eq!(
            bad(|c| c.permitted_calls_in_half_open = 0),
            "permitted_calls_in_half_open"
        );
        assert_eq!(
            bad(|c| c.sliding_window = SlidingWindow::Time(0)),
            "sliding_window"
        );
        assert_eq!(
            bad(|c| c.open_backoff_multiplier = 0.5),
            "open_backoff_multiplier"
        );
        assert_eq!(
            bad(|c| {
                c.open_backoff_multiplier = 2.0;
                c.max_wait_in_open = Duration::from_secs(1);
            }),
            "max_wait_in_open"
        );
        assert!(BreakerConfig::default().validate().is_ok());
    }
}
