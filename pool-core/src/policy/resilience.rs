//! The composed policy one call site runs under, and the attempt loop `#[resilient]` drives.
//!
//! Order, outermost first: Retry( CircuitBreaker( Bulkhead( Timeout( call )))). Each
//! attempt asks the breaker, then takes a bulkhead place, then runs under the per-attempt
//! timeout (bounded by the total deadline); its outcome is recorded in the breaker, and the
//! retry decision is made from its [`Classify`] answers, by the table in the
//! [`policy`](crate::policy) module documentation (its one copy: `pool-core/delivery.md`).
//!
//! A retry also needs the user predicate (if any) to agree, attempts left, time left before
//! the deadline for the backoff delay, and a token from the retry budget (if any). When one
//! is missing, the last failure is returned as it is.

use std::{
    future::Future,
    ops::ControlFlow,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use super::{
    backoff::{Backoff, BackoffSchedule, Jitter},
    breaker::CircuitBreaker,
    budget::RetryBudget,
    bulkhead::Bulkhead,
    registry::{DeclaredBreaker, breakers},
};
use crate::{ConfigError, Rejected, ResilientError, names, rejected::RejectionKind};

static DEFAULT_SLOW_CALL_NS: AtomicU64 = AtomicU64::new(1_000_000_000);

/// Sets the process-wide slow-call threshold (1 s unless set): an attempt that takes longer
/// logs a `tracing` warning and counts in `pool_slow_calls_total`, unless its call site sets
/// its own [`slow_call_threshold`](ResilienceBuilder::slow_call_threshold).
pub fn set_default_slow_call_threshold(threshold: Duration) {
    DEFAULT_SLOW_CALL_NS.store(
        u64::try_from(threshold.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
}

/// The process-wide slow-call threshold.
pub fn default_slow_call_threshold() -> Duration {
    Duration::from_nanos(DEFAULT_SLOW_CALL_NS.load(Ordering::Relaxed))
}

#[derive(Debug)]
enum BreakerSource {
    None,
    Named {
        name: &'static str,
        resolved: OnceLock<Arc<CircuitBreaker>>,
    },
    Declared(&'static DeclaredBreaker),
    Shared(Arc<CircuitBreaker>),
}

/// The metric handles of one call site, registered when it is built.
#[derive(Debug)]
struct SiteMetrics {
    ok: metrics::Counter,
    error: metrics::Counter,
    rejected: metrics::Counter,
    retries: metrics::Counter,
    rejections: [metrics::Counter; RejectionKind::ALL.len()],
}

impl SiteMetrics {
    fn new(label: &'static str) -> Self {
        let calls =
            |outcome| metrics::counter!(names::CALLS, "function" => label, "outcome" => outcome);
        SiteMetrics {
            ok: calls("ok"),
            error: calls("error"),
            rejected: calls("rejected"),
            retries: metrics::counter!(names::RETRIES, "function" => label),
            rejections: RejectionKind::ALL.map(|kind| {
                metrics::counter!(names::REJECTIONS, "function" => label, "reason" => kind.as_str())
            }),
        }
    }

    fn rejection(&self, rejected: &Rejected) -> &metrics::Counter {
        &self.rejections[rejected.kind() as usize]
    }
}

/// The policy of one call site: built once, then shared by every call.
#[derive(Debug)]
pub struct Resilience {
    label: &'static str,
    max_attempts: u32,
    schedule: BackoffSchedule,
    timeout: Option<Duration>,
    deadline: Option<Duration>,
    breaker: BreakerSource,
    bulkhead: Option<Bulkhead>,
    idempotent: bool,
    budget: Option<Arc<RetryBudget>>,
    seed: Option<u64>,
    slow_call_threshold: Option<Duration>,
    metrics: SiteMetrics,
}

/// Builds a [`Resilience`]. Defaults: no retry, exponential backoff from 100 ms with full
/// jitter capped at 5 s, no timeout, no deadline, no breaker, no bulkhead, not idempotent,
/// no retry budget.
#[derive(Debug)]
#[must_use]
pub struct ResilienceBuilder {
    label: &'static str,
    retries: u32,
    schedule: BackoffSchedule,
    timeout: Option<Duration>,
    deadline: Option<Duration>,
    breaker: BreakerSource,
    bulkhead: Option<(usize, Duration)>,
    idempotent: bool,
    budget: Option<Arc<RetryBudget>>,
    seed: Option<u64>,
    slow_call_threshold: Option<Duration>,
}

impl Resilience {
    /// Starts a policy for the call site named `label` (used in metrics and logs).
    pub fn builder(label: &'static str) -> ResilienceBuilder {
        ResilienceBuilder {
            label,
            retries: 0,
            schedule: BackoffSchedule::default(),
            timeout: None,
            deadline: None,
            breaker: BreakerSource::None,
            bulkhead: None,
            idempotent: false,
            budget: None,
            seed: None,
            slow_call_threshold: None,
        }
    }

    /// The call site's label.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// The breaker this site uses, if it has one and it is declared.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.resolve_breaker().ok().flatten()
    }

    /// Starts one call: the returned state runs attempts until one ends the call.
    #[inline]
    pub fn begin(&self) -> Attempts<'_> {
        Attempts::new(self)
    }

    /// Runs `op` under this policy; `op` is called once per attempt.
    pub async fn call<T, E, F, Fut>(&self, mut op: F) -> Result<T, E>
    where
        E: ResilientError,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempts = self.begin();
        loop {
            if let ControlFlow::Break(result) = attempts.run(op()).await {
                return result;
            }
        }
    }

    #[inline]
    fn resolve_breaker(&self) -> Result<Option<&CircuitBreaker>, Rejected> {
        match &self.breaker {
            BreakerSource::None => Ok(None),
            BreakerSource::Shared(b) => Ok(Some(b)),
            BreakerSource::Named { name, resolved } => {
                if let Some(b) = resolved.get() {
                    return Ok(Some(b));
                }
                let found = breakers().resolve(name)?;
                Ok(Some(resolved.get_or_init(|| found)))
            }
            BreakerSource::Declared(declared) => Ok(Some(declared.breaker()?)),
        }
    }
}

impl ResilienceBuilder {
    /// How many times a failed attempt may be retried (attempts = retries + 1).
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }
    /// How the delay between attempts grows.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.schedule.backoff = backoff;
        self
    }
    /// The first backoff delay.
    pub fn base(mut self, base: Duration) -> Self {
        self.schedule.base = base;
        self
    }
    /// The growth factor of exponential backoff (2 unless set; at least 1).
    pub fn factor(mut self, factor: f64) -> Self {
        self.schedule.factor = factor;
        self
    }
    /// The largest backoff delay, after jitter.
    pub fn max_delay(mut self, max_delay: Duration) -> Self {
        self.schedule.max_delay = max_delay;
        self
    }
    /// The randomness applied to each delay.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.schedule.jitter = jitter;
        self
    }
    /// Seeds the jitter's random numbers, so every call of this site sees the same delays
    /// (for tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    /// The time limit of one attempt. The attempt's future is dropped when it runs out and
    /// the attempt fails with [`Rejected::Timeout`] (an ambiguous failure).
    ///
    /// The limit counts from the attempt's first suspension (its first `Pending`), not from
    /// its first poll: an attempt ready on its first poll never starts a timer nor reads the
    /// clock, and the synchronous work before an attempt first waits is not counted.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// The time limit of the whole call, attempts and delays together. An attempt cut by it
    /// fails with [`Rejected::DeadlineExceeded`]; no retry starts that could not begin before it.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }
    /// The breaker declared under `name` (see [`breakers()`]). If nobody declared it, calls
    /// fail with [`Rejected::BreakerNotDeclared`].
    pub fn breaker(mut self, name: &'static str) -> Self {
        self.breaker = BreakerSource::Named {
            name,
            resolved: OnceLock::new(),
        };
        self
    }
    /// The breaker declared as a static.
    pub fn breaker_ref(mut self, breaker: &'static DeclaredBreaker) -> Self {
        self.breaker = BreakerSource::Declared(breaker);
        self
    }
    /// A breaker held directly.
    pub fn circuit_breaker(mut self, breaker: Arc<CircuitBreaker>) -> Self {
        self.breaker = BreakerSource::Shared(breaker);
        self
    }
    /// At most `max_concurrent` calls of this site in flight at once; others are rejected
    /// with [`Rejected::BulkheadFull`] at once unless [`bulkhead_wait`](Self::bulkhead_wait)
    /// is set.
    pub fn bulkhead(mut self, max_concurrent: usize) -> Self {
        let wait = self.bulkhead.map_or(Duration::ZERO, |(_, w)| w);
        self.bulkhead = Some((max_concurrent, wait));
        self
    }
    /// How long a call waits for a bulkhead place (zero unless set).
    pub fn bulkhead_wait(mut self, max_wait: Duration) -> Self {
        let max = self.bulkhead.map_or(usize::MAX, |(m, _)| m);
        self.bulkhead = Some((max, max_wait));
        self
    }
    /// Whether a failure after the work may have reached the server can be retried
    /// (`false` unless set: see the module documentation).
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }
    /// A retry budget (shared with other sites when given as an `Arc`).
    pub fn budget(mut self, budget: impl Into<Arc<RetryBudget>>) -> Self {
        self.budget = Some(budget.into());
        self
    }
    /// This site's slow-call threshold (else [`default_slow_call_threshold`]).
    ///
    /// An attempt's duration, compared with this threshold and recorded in the breaker's
    /// slow-call rate, is measured from its first suspension to its end; an attempt ready on
    /// its first poll did no waiting and counts as taking no time.
    pub fn slow_call_threshold(mut self, threshold: Duration) -> Self {
        self.slow_call_threshold = Some(threshold);
        self
    }

    /// Checks the settings; the error names the first one at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::new("timeout", "must be greater than zero"));
        }
        if self.deadline.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::new("deadline", "must be greater than zero"));
        }
        if self.bulkhead.is_some_and(|(m, _)| m == 0) {
            return Err(ConfigError::new("bulkhead", "must allow at least 1 call"));
        }
        let factor = self.schedule.factor;
        if !factor.is_finite() || factor < 1.0 {
            return Err(ConfigError::new(
                "factor",
                format!("must be at least 1, got {factor}"),
            ));
        }
        if self.schedule.base > self.schedule.max_delay {
            return Err(ConfigError::new(
                "base",
                format!(
                    "({:?}) must not exceed max_delay ({:?})",
                    self.schedule.base, self.schedule.max_delay
                ),
            ));
        }
        Ok(())
    }

    /// Finishes the policy, or says which setting is invalid.
    pub fn try_build(self) -> Result<Resilience, ConfigError> {
        self.validate()?;
        Ok(self.finish())
    }

    /// Finishes the policy. An invalid setting is logged as a `tracing` error and replaced
    /// by a working value (a zero timeout or deadline by none, a zero bulkhead by 1, a bad
    /// factor by 2, a base above `max_delay` by `max_delay`); use
    /// [`try_build`](Self::try_build) to get the error instead.
    pub fn build(mut self) -> Resilience {
        if let Err(error) = self.validate() {
            tracing::error!(function = self.label, %error, "invalid resilience policy; using a corrected one");
            self.timeout = self.timeout.filter(|t| !t.is_zero());
            self.deadline = self.deadline.filter(|d| !d.is_zero());
            self.bulkhead = self.bulkhead.map(|(m, w)| (m.max(1), w));
            if !self.schedule.factor.is_finite() || self.schedule.factor < 1.0 {
                self.schedule.factor = 2.0;
            }
            self.schedule.base = self.schedule.base.min(self.schedule.max_delay);
        }
        self.finish()
    }

    fn finish(self) -> Resilience {
        Resilience {
            label: self.label,
            max_attempts: self.retries.saturating_add(1),
            schedule: self.schedule,
            timeout: self.timeout,
            deadline: self.deadline,
            breaker: self.breaker,
            bulkhead: self
                .bulkhead
                .map(|(max, wait)| Bulkhead::new(self.label, max, wait)),
            idempotent: self.idempotent,
            budget: self.budget,
            seed: self.seed,
            slow_call_threshold: self.slow_call_threshold,
            metrics: SiteMetrics::new(self.label),
        }
    }
}

/// The attempt loop's door to the one slow-call report.
fn slow_call(policy: &Resilience, elapsed: Duration, threshold: Duration) {
    super::slow_call::report(policy.label, elapsed, threshold);
}

mod attempt;
#[cfg(test)]
mod tests;

pub use attempt::Attempts;
