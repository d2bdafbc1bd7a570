//! The composed policy one call site runs under, and the attempt loop `#[resilient]` drives.
//!
//! Order, outermost first: Retry( CircuitBreaker( Bulkhead( Timeout( call )))).

use std::{future::Future, ops::ControlFlow, time::Duration};

use crate::{Classify, Rejected};

/// How the delay between attempts grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay (`base`) every time.
    Fixed,
    /// `base * 2^n`, capped at `max_delay`.
    Exponential,
    /// AWS's decorrelated jitter: a random delay between `base` and three times the last one.
    Decorrelated,
}

/// How much randomness is applied to each backoff delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// The computed delay, exactly.
    None,
    /// A uniformly random delay between zero and the computed delay.
    Full,
    /// Half the computed delay plus a random share of the other half.
    Equal,
}

/// A circuit breaker declared as a static, so that `#[resilient(breaker = PATH)]` is
/// checked by the compiler.
#[derive(Debug)]
pub struct DeclaredBreaker {
    name: &'static str,
}

impl DeclaredBreaker {
    /// Declares a breaker called `name`.
    pub const fn new(name: &'static str) -> Self {
        DeclaredBreaker { name }
    }

    /// The breaker's name.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The policy of one call site: built once, then shared by every call.
#[derive(Debug)]
pub struct Resilience {
    label: &'static str,
}

/// Builds a [`Resilience`].
#[derive(Debug)]
#[must_use]
pub struct ResilienceBuilder {
    label: &'static str,
}

impl Resilience {
    /// Starts a policy for the call site named `label` (used in metrics and logs).
    pub fn builder(label: &'static str) -> ResilienceBuilder {
        ResilienceBuilder { label }
    }

    /// The call site's label.
    pub fn label(&self) -> &'static str {
        self.label
    }

    /// Starts one call: the returned state runs attempts until one ends the call.
    pub fn begin(&self) -> Attempts<'_> {
        Attempts { policy: self }
    }

    /// Runs `op` under this policy; `op` is called once per attempt.
    pub async fn call<T, E, F, Fut>(&self, mut op: F) -> Result<T, E>
    where
        E: Classify + From<Rejected>,
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
}

impl ResilienceBuilder {
    /// How many times a failed attempt may be retried (attempts = retries + 1).
    pub fn retries(self, _retries: u32) -> Self {
        self
    }
    /// How the delay between attempts grows.
    pub fn backoff(self, _backoff: Backoff) -> Self {
        self
    }
    /// The first backoff delay.
    pub fn base(self, _base: Duration) -> Self {
        self
    }
    /// The largest backoff delay, after jitter.
    pub fn max_delay(self, _max_delay: Duration) -> Self {
        self
    }
    /// The randomness applied to each delay.
    pub fn jitter(self, _jitter: Jitter) -> Self {
        self
    }
    /// The time limit of one attempt.
    pub fn timeout(self, _timeout: Duration) -> Self {
        self
    }
    /// The time limit of the whole call, attempts and delays together.
    pub fn deadline(self, _deadline: Duration) -> Self {
        self
    }
    /// The breaker declared under `name` (see `breakers()`).
    pub fn breaker(self, _name: &'static str) -> Self {
        self
    }
    /// The breaker declared as a static.
    pub fn breaker_ref(self, _breaker: &'static DeclaredBreaker) -> Self {
        self
    }
    /// At most `max_concurrent` calls of this site in flight at once.
    pub fn bulkhead(self, _max_concurrent: usize) -> Self {
        self
    }
    /// Whether a failure after the work may have reached the server can be retried.
    pub fn idempotent(self, _idempotent: bool) -> Self {
        self
    }
    /// Finishes the policy.
    pub fn build(self) -> Resilience {
        Resilience { label: self.label }
    }
}

/// The state of one call across its attempts.
#[derive(Debug)]
pub struct Attempts<'a> {
    policy: &'a Resilience,
}

impl Attempts<'_> {
    /// Runs one attempt. `Break` carries the call's result; `Continue` means the
    /// attempt failed, the backoff delay has been slept, and the caller should run
    /// the next attempt.
    pub async fn run<T, E, Fut>(&mut self, attempt: Fut) -> ControlFlow<Result<T, E>>
    where
        E: Classify + From<Rejected>,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_if(attempt, |_| true).await
    }

    /// Like [`run`](Self::run), with a user predicate that must also agree before a
    /// failure is retried.
    pub async fn run_if<T, E, Fut, P>(
        &mut self,
        attempt: Fut,
        _retry_if: P,
    ) -> ControlFlow<Result<T, E>>
    where
        E: Classify + From<Rejected>,
        Fut: Future<Output = Result<T, E>>,
        P: Fn(&E) -> bool,
    {
        let _ = self.policy;
        ControlFlow::Break(attempt.await)
    }
}
