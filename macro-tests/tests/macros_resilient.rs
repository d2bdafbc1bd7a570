//! `#[resilient]` at run time: attempts, `?`, classification, shared breakers, methods.

use std::sync::atomic::{AtomicUsize, Ordering};

use pool_core::ErrorClass;

use macro_tests::memory::TestError;
use pool_macros::resilient;

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

/// A service whose methods take their receiver by value.
#[derive(Clone)]
struct Service {
    calls: std::sync::Arc<AtomicUsize>,
    log: Vec<usize>,
}

/// An alias not spelled `Result`, as service code writes them.
type ServiceResult<T> = Result<T, TestError>;

impl Service {
    /// Consumes `self` (an `Arc`) in every attempt.
    #[resilient(retries = 3, backoff = "fixed", base = "10ms")]
    async fn shared(self: std::sync::Arc<Self>) -> ServiceResult<usize> {
        let owned: std::sync::Arc<Self> = self;
        scripted(&owned.calls, 2, ErrorClass::Transient)
    }

    /// Mutates and consumes its own copy of `self` in every attempt.
    #[resilient(retries = 3, backoff = "fixed", base = "10ms")]
    async fn owned(mut self, value: usize) -> ServiceResult<Vec<usize>> {
        self.log.push(value);
        scripted(&self.calls, 2, ErrorClass::Transient)?;
        Ok(self.log)
    }
}

#[tokio::test(start_paused = true)]
async fn receivers_by_value_are_cloned_per_attempt_and_start_fresh() {
    let service = Service {
        calls: std::sync::Arc::default(),
        log: vec![1],
    };
    let shared = std::sync::Arc::new(service.clone());
    assert_eq!(std::sync::Arc::clone(&shared).shared().await, Ok(3));
    // Every attempt's clone of the `Arc` was dropped with its attempt.
    assert_eq!(std::sync::Arc::strong_count(&shared), 1);
    service.calls.store(0, Ordering::SeqCst);
    // Three attempts, each pushing onto its own copy of the original: one push, not three.
    assert_eq!(service.clone().owned(7).await, Ok(vec![1, 7]));
    assert_eq!(service.calls.load(Ordering::SeqCst), 3);
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

    use pool_core::{BreakerConfig, ErrorClass, Rejected, SlidingWindow, breakers};

    use macro_tests::memory::TestError;
    use pool_macros::resilient;

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

mod with_async_trait {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pool_core::ErrorClass;

    use macro_tests::memory::TestError;
    use pool_macros::resilient;

    #[async_trait::async_trait]
    trait Counter {
        async fn bump(&mut self, by: u64, label: String) -> Result<u64, TestError>;
    }

    struct Flaky {
        calls: AtomicUsize,
        total: u64,
        labels: Vec<String>,
    }

    #[async_trait::async_trait]
    impl Counter for Flaky {
        /// `#[async_trait]` expands first; `#[resilient]` retries inside its boxed future.
        #[resilient(retries = 3, backoff = "fixed", base = "10ms")]
        async fn bump(&mut self, by: u64, mut label: String) -> Result<u64, TestError> {
            label.push('!');
            self.labels.push(label);
            self.total += by;
            if self.calls.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(TestError::App(ErrorClass::Transient));
            }
            Ok(self.total)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn async_trait_methods_are_retried_with_mut_self() {
        let mut flaky = Flaky {
            calls: AtomicUsize::new(0),
            total: 0,
            labels: Vec::new(),
        };
        assert_eq!(flaky.bump(2, "a".to_owned()).await, Ok(6));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), 3);
        assert_eq!(flaky.labels, ["a!", "a!", "a!"]);
    }
}
