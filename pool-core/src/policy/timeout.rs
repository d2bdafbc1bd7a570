//! The per-attempt timeout: the attempt's future is dropped when time runs out, so whatever
//! it held (a pooled connection mid-statement) is dropped with it; the pool discards such a
//! connection rather than reusing it in an unknown state.

use std::future::Future;

use tokio::time::Instant;

/// Runs `fut` until `deadline` (if any). `None` means time ran out and `fut` was dropped.
#[inline]
pub(crate) async fn run_until<F: Future>(fut: F, deadline: Option<Instant>) -> Option<F::Output> {
    match deadline {
        None => Some(fut.await),
        Some(at) => tokio::time::timeout_at(at, fut).await.ok(),
    }
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
}
