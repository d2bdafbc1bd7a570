//! [`Policy`]: one interface for what can wrap an operation that can be run again.
//!
//! [`Resilience`] composes retry, breaker, bulkhead and timeout in the documented order and
//! is what `#[resilient]` expands to. A [`CircuitBreaker`] or a [`Bulkhead`] on its own is
//! a policy too, for code that wants one of them around a call (a breaker in front of a
//! non-database service); neither retries, so `op` runs at most once under them.

use std::{future::Future, sync::Arc};

use tokio::time::Instant;

use super::{Bulkhead, CircuitBreaker, Resilience};
use crate::{ErrorClass, ResilientError};

/// Runs an operation under a policy. `op` makes one attempt each time it is called; a
/// policy that retries calls it again, so each call must build a fresh attempt.
pub trait Policy: Send + Sync {
    /// Runs `op` under this policy and returns the outcome: `op`'s own, or a
    /// [`Rejected`](crate::Rejected) converted into `E` when the policy stopped the call.
    fn call<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, E>> + Send
    where
        T: Send,
        E: ResilientError + Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send;
}

impl Policy for Resilience {
    fn call<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, E>> + Send
    where
        T: Send,
        E: ResilientError + Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        Resilience::call(self, op)
    }
}

impl Policy for CircuitBreaker {
    /// One attempt if the breaker admits it, recorded by its classification (a
    /// `Permanent` failure is not a breaker failure); else `Rejected::BreakerOpen`.
    async fn call<T, E, F, Fut>(&self, mut op: F) -> Result<T, E>
    where
        T: Send,
        E: ResilientError + Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        let permit = self.try_acquire().map_err(E::from)?;
        let started = Instant::now();
        let result = op().await;
        let elapsed = started.elapsed();
        match &result {
            Ok(_) => permit.success(elapsed),
            Err(error) if error.class() == ErrorClass::Permanent => permit.ignore(),
            Err(_) => permit.failure(elapsed),
        }
        result
    }
}

impl Policy for Bulkhead {
    /// One attempt once a place is free (waiting at most the bulkhead's `max_wait`); else
    /// `Rejected::BulkheadFull`.
    async fn call<T, E, F, Fut>(&self, mut op: F) -> Result<T, E>
    where
        T: Send,
        E: ResilientError + Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        let _place = self.acquire(None).await.map_err(E::from)?;
        op().await
    }
}

impl<P: Policy + ?Sized> Policy for Arc<P> {
    fn call<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, E>> + Send
    where
        T: Send,
        E: ResilientError + Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        (**self).call(op)
    }
}

impl<P: Policy + ?Sized> Policy for &P {
    fn call<T, E, F, Fut>(&self, op: F) -> impl Future<Output = Result<T, E>> + Send
    where
        T: Send,
        E: ResilientError + Send,
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
    {
        (**self).call(op)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicU32, Ordering},
        time::Duration,
    };

    use super::*;
    use crate::{BreakerConfig, BreakerState, Classify, Rejected, SlidingWindow};

    #[derive(Debug)]
    enum TestError {
        Busy,
        Rejected(Rejected),
    }

    impl Classify for TestError {
        fn class(&self) -> ErrorClass {
            match self {
                TestError::Busy => ErrorClass::Transient,
                TestError::Rejected(rejected) => rejected.class(),
            }
        }
    }

    impl From<Rejected> for TestError {
        fn from(rejected: Rejected) -> Self {
            TestError::Rejected(rejected)
        }
    }

    /// Generic over the policy, as a user's own helper would be. Fails `failures` times,
    /// then succeeds; returns the outcome and how many attempts ran.
    async fn flaky_under<P: Policy>(policy: &P, failures: u32) -> (Result<u32, TestError>, u32) {
        let attempts = AtomicU32::new(0);
        let result = policy
            .call(|| async {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                if attempt <= failures {
                    Err(TestError::Busy)
                } else {
                    Ok(attempt)
                }
            })
            .await;
        (result, attempts.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn each_policy_runs_an_operation_through_the_one_trait() {
        let retrying = Resilience::builder("policy::retrying").retries(3).build();
        let (result, attempts) = flaky_under(&retrying, 2).await;
        assert_eq!(
            (result.ok(), attempts),
            (Some(3), 3),
            "retried until it worked"
        );
        let (result, attempts) = flaky_under(&Arc::new(retrying), 2).await;
        assert_eq!((result.ok(), attempts), (Some(3), 3), "and through an Arc");

        let breaker = CircuitBreaker::new(
            "policy::breaker",
            BreakerConfig {
                minimum_calls: 1,
                sliding_window: SlidingWindow::Count(1),
                ..BreakerConfig::default()
            },
        )
        .unwrap();
        let (result, attempts) = flaky_under(&breaker, 1).await;
        assert!(
            matches!(result, Err(TestError::Busy)) && attempts == 1,
            "no retry"
        );
        assert_eq!(
            breaker.state(),
            BreakerState::Open,
            "the failure was recorded"
        );
        let (result, attempts) = flaky_under(&breaker, 0).await;
        assert!(
            matches!(
                result,
                Err(TestError::Rejected(Rejected::BreakerOpen { .. }))
            ),
            "{result:?}"
        );
        assert_eq!(attempts, 0, "an open breaker does not run the operation");

        let bulkhead = Bulkhead::new("policy::bulkhead", 1, Duration::ZERO);
        let (result, _) = flaky_under(&bulkhead, 0).await;
        assert_eq!(result.ok(), Some(1));
        let _held = bulkhead.acquire(None).await.unwrap();
        let (result, attempts) = flaky_under(&bulkhead, 0).await;
        assert!(
            matches!(
                result,
                Err(TestError::Rejected(Rejected::BulkheadFull { .. }))
            ),
            "{result:?}"
        );
        assert_eq!(attempts, 0, "a full bulkhead does not run the operation");
    }
}
