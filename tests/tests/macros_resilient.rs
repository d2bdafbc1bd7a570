//! `#[resilient]` at run time: attempts, `?`, classification, shared breakers, methods.

use std::sync::atomic::{AtomicUsize, Ordering};

use pool_sqlx::{ErrorClass, resilient};
use tests::memory::TestError;

/// Fails with `class` on the first `failures` calls counted by `calls`, then succeeds.
fn scripted(calls: &AtomicUsize, failures: usize, class: ErrorClass) -> Result<usize, TestError> {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if n <= failures {
        Err(TestError::App(class))
    } else {
        Ok(n)
    }
}

#[resilient(retries = 3, backoff = "fixed", base = "10ms")]
async fn flaky(calls: &AtomicUsize, failures: usize) -> Result<usize, TestError> {
    scripted(calls, failures, ErrorClass::Transient)
}

#[tokio::test(start_paused = true)]
async fn transient_twice_then_ok_after_exactly_three_calls() {
    let calls = AtomicUsize::new(0);
    assert_eq!(flaky(&calls, 2).await, Ok(3));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[resilient(retries = 3, backoff = "fixed", base = "10ms")]
async fn with_question_mark(calls: &AtomicUsize) -> Result<&'static str, TestError> {
    scripted(calls, 2, ErrorClass::Transient)?;
    Ok("done")
}

#[tokio::test(start_paused = true)]
async fn question_mark_ends_only_the_attempt() {
    let calls = AtomicUsize::new(0);
    assert_eq!(with_question_mark(&calls).await, Ok("done"));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[resilient(retries = 3, backoff = "fixed", base = "10ms")]
async fn with_early_return(calls: &AtomicUsize) -> Result<usize, TestError> {
    let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if n < 3 {
        return Err(TestError::App(ErrorClass::Transient));
    }
    Ok(n)
}

#[tokio::test(start_paused = true)]
async fn return_ends_only_the_attempt() {
    let calls = AtomicUsize::new(0);
    assert_eq!(with_early_return(&calls).await, Ok(3));
}

#[resilient(retries = 3, backoff = "fixed", base = "10ms")]
async fn permanent(calls: &AtomicUsize) -> Result<usize, TestError> {
    scripted(calls, usize::MAX, ErrorClass::Permanent)
}

#[tokio::test(start_paused = true)]
async fn permanent_error_is_not_retried() {
    let calls = AtomicUsize::new(0);
    assert_eq!(
        permanent(&calls).await,
        Err(TestError::App(ErrorClass::Permanent))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[resilient(retries = 2, backoff = "fixed", base = "10ms")]
async fn always_transient(calls: &AtomicUsize) -> Result<usize, TestError> {
    scripted(calls, usize::MAX, ErrorClass::Transient)
}

#[tokio::test(start_paused = true)]
async fn gives_up_after_retries_plus_one_attempts() {
    let calls = AtomicUsize::new(0);
    assert_eq!(
        always_transient(&calls).await,
        Err(TestError::App(ErrorClass::Transient))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

fn never(_: &TestError) -> bool {
    false
}

#[resilient(retries = 3, base = "10ms", retry_if = never)]
async fn vetoed(calls: &AtomicUsize) -> Result<usize, TestError> {
    scripted(calls, usize::MAX, ErrorClass::Transient)
}

#[tokio::test(start_paused = true)]
async fn retry_if_can_veto_a_retry() {
    let calls = AtomicUsize::new(0);
    assert!(vetoed(&calls).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Counts its clones, to prove each attempt gets one.
#[derive(Debug)]
struct Counted<'a>(&'a AtomicUsize);

impl Clone for Counted<'_> {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Counted(self.0)
    }
}

/// Takes its argument by value, as a body that moves an owned argument would.
fn consume<T>(_: T) {}

#[resilient(retries = 3, backoff = "fixed", base = "10ms")]
async fn consumes(
    calls: &AtomicUsize,
    owned: Counted<'_>,
    mut text: String,
) -> Result<String, TestError> {
    consume(owned);
    text.push('!');
    scripted(calls, 2, ErrorClass::Transient)?;
    Ok(text)
}

#[tokio::test(start_paused = true)]
async fn owned_arguments_are_cloned_per_attempt_and_start_fresh() {
    let calls = AtomicUsize::new(0);
    let clones = AtomicUsize::new(0);
    let result = consumes(&calls, Counted(&clones), "hi".to_owned()).await;
    // Each attempt pushed onto its own copy: one '!', not three.
    assert_eq!(result, Ok("hi!".to_owned()));
    assert_eq!(clones.load(Ordering::SeqCst), 3);
}

struct Repository {
    calls: AtomicUsize,
    log: Vec<usize>,
}

impl Repository {
    /// Reads through `&self`.
    #[resilient(retries = 3, backoff = "fixed", base = "10ms")]
    async fn read(&self, failures: usize) -> Result<usize, TestError> {
        scripted(&self.calls, failures, ErrorClass::Transient)
    }

    /// Writes through `&mut self`.
    #[resilient(retries = 3, backoff = "fixed", base = "10ms")]
    async fn write(&mut self, value: usize) -> Result<usize, TestError> {
        self.log.push(value);
        scripted(&self.calls, 3, ErrorClass::Transient)
    }
}

#[tokio::test(start_paused = true)]
async fn methods_are_retried_through_self() {
    let mut repo = Repository {
        calls: AtomicUsize::new(0),
        log: Vec::new(),
    };
    assert_eq!(repo.read(1).await, Ok(2));
    assert_eq!(repo.write(7).await, Ok(4));
    assert_eq!(repo.log, [7, 7]);
}

#[resilient(retries = 0, timeout = "1s")]
async fn once(calls: &AtomicUsize, owned: Vec<u8>) -> Result<usize, TestError> {
    drop(owned);
    scripted(calls, usize::MAX, ErrorClass::Transient)
}

#[tokio::test(start_paused = true)]
async fn retries_zero_runs_once_and_moves_arguments() {
    let calls = AtomicUsize::new(0);
    assert!(once(&calls, vec![1]).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

mod shared_breaker {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pool_sqlx::{BreakerConfig, ErrorClass, Rejected, SlidingWindow, breakers, resilient};
    use tests::memory::TestError;

    const NAME: &str = "macros-shared-breaker";

    #[resilient(retries = 0, breaker = "macros-shared-breaker")]
    async fn first(calls: &AtomicUsize) -> Result<(), TestError> {
        calls.fetch_add(1, Ordering::SeqCst);
        Err(TestError::App(ErrorClass::Transient))
    }

    #[resilient(retries = 0, breaker = "macros-shared-breaker")]
    async fn second(calls: &AtomicUsize) -> Result<(), TestError> {
        calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    #[tokio::test(start_paused = true)]
    async fn the_breaker_named_in_two_functions_is_shared() {
        let config = BreakerConfig {
            minimum_calls: 2,
            sliding_window: SlidingWindow::Count(2),
            failure_rate_threshold: 50.0,
            ..BreakerConfig::default()
        };
        if let Err(error) = breakers().define(NAME, config) {
            panic!("define: {error}");
        }
        let calls = AtomicUsize::new(0);
        // `first` fails twice: the shared breaker opens.
        assert!(first(&calls).await.is_err());
        assert!(first(&calls).await.is_err());
        // `second` is rejected by the same breaker without running.
        let rejected = second(&calls).await;
        assert!(
            matches!(
                rejected,
                Err(TestError::Rejected(Rejected::BreakerOpen { .. }))
            ),
            "{rejected:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
