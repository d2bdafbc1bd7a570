//! The bulkhead: at most `max_concurrent` calls in flight, waiting at most `max_wait` for a
//! place (resilience4j's semaphore bulkhead; its default wait is zero: reject at once).

use std::{sync::Arc, time::Duration};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::Rejected;

/// A concurrency limit.
#[derive(Debug)]
pub struct Bulkhead {
    name: Arc<str>,
    max_concurrent: usize,
    max_wait: Duration,
    semaphore: Semaphore,
}

impl Bulkhead {
    /// At most `max_concurrent` calls at once (clamped to at least 1); a call that finds it
    /// full waits up to `max_wait` for a place, then is rejected with
    /// [`Rejected::BulkheadFull`].
    pub fn new(name: impl Into<Arc<str>>, max_concurrent: usize, max_wait: Duration) -> Self {
        let max_concurrent = max_concurrent.clamp(1, Semaphore::MAX_PERMITS);
        Bulkhead {
            name: name.into(),
            max_concurrent,
            max_wait,
            semaphore: Semaphore::new(max_concurrent),
        }
    }

    /// The limit.
    pub fn max_concurrent(&self) -> usize {
        self.max_concurrent
    }

    /// Places free now.
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// Takes a place, waiting at most `max_wait` (and at most `limit`, when given).
    pub async fn acquire(&self, limit: Option<Duration>) -> Result<SemaphorePermit<'_>, Rejected> {
        match self.try_acquire() {
            Some(place) => Ok(place),
            None => self.wait(self.wait_for(limit)).await,
        }
    }

    /// Takes a place if one is free now.
    pub(crate) fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.semaphore.try_acquire().ok()
    }

    /// How long a call that found no place may wait for one: `max_wait`, capped by `limit`.
    pub(crate) fn wait_for(&self, limit: Option<Duration>) -> Duration {
        limit.map_or(self.max_wait, |l| l.min(self.max_wait))
    }

    /// Waits up to `wait` for a place.
    pub(crate) async fn wait(&self, wait: Duration) -> Result<SemaphorePermit<'_>, Rejected> {
        if !wait.is_zero()
            && let Ok(Ok(permit)) = tokio::time::timeout(wait, self.semaphore.acquire()).await
        {
            return Ok(permit);
        }
        Err(self.rejection())
    }

    /// What a call that found no place in time is told.
    pub(crate) fn rejection(&self) -> Rejected {
        Rejected::BulkheadFull {
            name: Arc::clone(&self.name),
            max_concurrent: self.max_concurrent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn full_bulkhead_rejects_at_once_without_a_wait() {
        let b = Bulkhead::new("b", 2, Duration::ZERO);
        let _p1 = b.acquire(None).await.unwrap();
        let _p2 = b.acquire(None).await.unwrap();
        let err = b.acquire(None).await.unwrap_err();
        assert!(matches!(
            err,
            Rejected::BulkheadFull {
                max_concurrent: 2,
                ..
            }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn full_bulkhead_waits_up_to_max_wait() {
        let b = Arc::new(Bulkhead::new("b", 1, Duration::from_secs(1)));
        let p1 = b.acquire(None).await.unwrap();
        let start = tokio::time::Instant::now();
        assert!(b.acquire(None).await.is_err());
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        let b2 = Arc::clone(&b);
        let waiter = tokio::spawn(async move { b2.acquire(None).await.is_ok() });
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(p1);
        assert!(waiter.await.unwrap(), "a place freed within the wait");
    }
}
