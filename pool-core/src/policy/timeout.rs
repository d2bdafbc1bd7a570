//! The per-attempt timeout: the attempt's future is dropped when time runs out, so whatever
//! it held (a pooled connection mid-statement) is dropped with it; the pool discards such a
//! connection rather than reusing it in an unknown state.

use std::{future::Future, task::Poll};

use tokio::time::Instant;

/// Runs `fut` until `deadline` (if any). `None` means time ran out and `fut` was dropped.
///
/// The timer is armed only if `fut` is not ready on its first poll: a tokio `Sleep` costs a
/// runtime-handle lookup to create and the timer driver's lock to drop, even when it never
/// fired, and an attempt that completes at once cannot have timed out.
#[inline]
pub(crate) async fn run_until<F: Future>(fut: F, deadline: Option<Instant>) -> Option<F::Output> {
    let Some(at) = deadline else {
        return Some(fut.await);
    };
    let mut fut = std::pin::pin!(fut);
    if let Poll::Ready(out) = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        return Some(out);
    }
    let mut sleep = std::pin::pin!(tokio::time::sleep_until(at));
    // `fut` was polled just above, in this same poll of the task: it is not polled again
    // until woken, only the timer is armed.
    let mut just_polled = true;
    std::future::poll_fn(|cx| {
        if !std::mem::replace(&mut just_polled, false)
            && let Poll::Ready(out) = fut.as_mut().poll(cx)
        {
            return Poll::Ready(Some(out));
        }
        sleep.as_mut().poll(cx).map(|()| None)
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn timed_out_future_is_dropped() {
        struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let fut = async move {
            let _held = flag;
            tokio::time::sleep(Duration::from_secs(10)).await;
        };
        let out = run_until(fut, Some(Instant::now() + Duration::from_secs(1))).await;
        assert!(out.is_none());
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(
            run_until(async { 7 }, Some(Instant::now())).await,
            Some(7),
            "a ready future wins"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pending_future_that_finishes_in_time_is_not_cut() {
        let start = Instant::now();
        let fut = async {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            5
        };
        let out = run_until(fut, Some(start + Duration::from_secs(1))).await;
        assert_eq!(out, Some(5));
        assert_eq!(start.elapsed(), Duration::from_millis(500));
    }
}
