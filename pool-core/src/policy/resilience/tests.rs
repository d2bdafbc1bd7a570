//! The composed policy on tokio's paused clock.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::time::{Instant, sleep};

use super::*;
use crate::{BreakerConfig, BreakerState, Classify, Delivery, ErrorClass, SlidingWindow};

#[derive(Debug, Clone, PartialEq)]
enum TestError {
    /// The server answered: deadlock, serialization failure.
    Transient,
    /// The connection was lost mid-statement: ambiguous.
    Lost,
    /// No connection could be had (like `PoolError`): the work was never sent.
    NoConnection,
    /// Bad SQL.
    Permanent,
    Rejected(Rejected),
}

impl Classify for TestError {
    fn class(&self) -> ErrorClass {
        match self {
            TestError::Transient => ErrorClass::Transient,
            TestError::Lost => ErrorClass::Connection,
            TestError::NoConnection => ErrorClass::Timeout,
            TestError::Permanent => ErrorClass::Permanent,
            TestError::Rejected(r) => r.class(),
        }
    }
    fn delivery(&self) -> Delivery {
        match self {
            TestError::Transient | TestError::Permanent => Delivery::Rejected,
            TestError::Lost => Delivery::Unknown,
            TestError::NoConnection => Delivery::NotSent,
            TestError::Rejected(r) => r.delivery(),
        }
    }
}

impl From<Rejected> for TestError {
    fn from(r: Rejected) -> Self {
        TestError::Rejected(r)
    }
}

const MS: Duration = Duration::from_millis(1);

fn fixed(label: &'static str, retries: u32) -> ResilienceBuilder {
    Resilience::builder(label)
        .retries(retries)
        .backoff(Backoff::Fixed)
        .base(100 * MS)
        .jitter(Jitter::None)
}

/// Runs a call whose attempts return `outcomes` in turn (then the last one again),
/// returning the result and the number of attempts that ran (were polled).
async fn run(
    policy: &Resilience,
    outcomes: &[Result<u32, TestError>],
) -> (Result<u32, TestError>, u32) {
    let attempts = AtomicU32::new(0);
    let result = policy
        .call(|| async {
            let n = attempts.fetch_add(1, Ordering::SeqCst) as usize;
            outcomes[n.min(outcomes.len() - 1)].clone()
        })
        .await;
    (result, attempts.load(Ordering::SeqCst))
}

fn breaker(name: &str, minimum_calls: u32) -> Arc<CircuitBreaker> {
    Arc::new(
        CircuitBreaker::new(
            name,
            BreakerConfig {
                minimum_calls,
                sliding_window: SlidingWindow::Count(10),
                permitted_calls_in_half_open: 5,
                wait_in_open: Duration::from_secs(10),
                ..BreakerConfig::default()
            },
        )
        .unwrap(),
    )
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_after_the_backoff() {
    let policy = fixed("transient", 3).build();
    let start = Instant::now();
    let (result, attempts) = run(
        &policy,
        &[Err(TestError::Transient), Err(TestError::Transient), Ok(7)],
    )
    .await;
    assert_eq!(result, Ok(7));
    assert_eq!(attempts, 3);
    assert_eq!(start.elapsed(), 200 * MS, "two fixed 100 ms delays");
}

#[tokio::test(start_paused = true)]
async fn retries_stop_after_the_last_attempt() {
    let policy = fixed("exhausted", 2).build();
    let (result, attempts) = run(&policy, &[Err(TestError::Transient)]).await;
    assert_eq!(result, Err(TestError::Transient));
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_sleeps_the_capped_sequence() {
    let policy = Resilience::builder("exp")
        .retries(5)
        .backoff(Backoff::Exponential)
        .base(100 * MS)
        .max_delay(300 * MS)
        .jitter(Jitter::None)
        .build();
    let start = Instant::now();
    let (_, attempts) = run(&policy, &[Err(TestError::Transient)]).await;
    assert_eq!(attempts, 6);
    // 100 + 200 + 300 + 300 + 300
    assert_eq!(start.elapsed(), 1200 * MS);
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_never_retried_and_not_counted_by_the_breaker() {
    let b = breaker("permanent", 2);
    let policy = fixed("permanent", 5)
        .circuit_breaker(Arc::clone(&b))
        .build();
    for _ in 0..20 {
        let (result, attempts) = run(&policy, &[Err(TestError::Permanent)]).await;
        assert_eq!(result, Err(TestError::Permanent));
        assert_eq!(attempts, 1, "a permanent error is not retried");
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().calls, 0, "permanent errors are not recorded");
}

#[tokio::test(start_paused = true)]
async fn ambiguous_failures_are_not_retried_without_idempotent() {
    let policy = fixed("ambiguous", 3).build();
    let (result, attempts) = run(&policy, &[Err(TestError::Lost), Ok(1)]).await;
    assert_eq!(result, Err(TestError::Lost));
    assert_eq!(attempts, 1);

    let policy = fixed("ambiguous_idempotent", 3).idempotent(true).build();
    let (result, attempts) = run(&policy, &[Err(TestError::Lost), Ok(1)]).await;
    assert_eq!(result, Ok(1));
    assert_eq!(attempts, 2);
}

#[tokio::test(start_paused = true)]
async fn failures_before_sending_are_always_retried() {
    let policy = fixed("not_sent", 3).build();
    let (result, attempts) = run(
        &policy,
        &[
            Err(TestError::NoConnection),
            Err(TestError::NoConnection),
            Ok(1),
        ],
    )
    .await;
    assert_eq!(result, Ok(1));
    assert_eq!(attempts, 3);
}

#[tokio::test(start_paused = true)]
async fn user_predicate_can_refuse_a_retry() {
    let policy = fixed("predicate", 3).build();
    let mut attempts = policy.begin();
    let flow = attempts
        .run_if(async { Err::<(), _>(TestError::Transient) }, |_| false)
        .await;
    assert!(matches!(
        flow,
        ControlFlow::Break(Err(TestError::Transient))
    ));
    assert_eq!(attempts.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn timed_out_attempt_is_dropped_and_retried_only_if_idempotent() {
    let slow = || async {
        sleep(Duration::from_secs(10)).await;
        Ok::<u32, TestError>(1)
    };
    let policy = fixed("timeout", 3).timeout(Duration::from_secs(1)).build();
    let start = Instant::now();
    let attempts = AtomicU32::new(0);
    let result = policy
        .call(|| {
            attempts.fetch_add(1, Ordering::SeqCst);
            slow()
        })
        .await;
    assert_eq!(
        result,
        Err(TestError::Rejected(Rejected::Timeout {
            after: Duration::from_secs(1)
        }))
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(1));

    let policy = fixed("timeout_idempotent", 2)
        .timeout(Duration::from_secs(1))
        .idempotent(true)
        .build();
    let attempts = AtomicU32::new(0);
    let _ = policy
        .call(|| {
            attempts.fetch_add(1, Ordering::SeqCst);
            slow()
        })
        .await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn deadline_counts_time_spent_in_attempts() {
    let policy = fixed("deadline", 10)
        .deadline(Duration::from_secs(1))
        .build();
    let start = Instant::now();
    let attempts = AtomicU32::new(0);
    let result = policy
        .call(|| {
            attempts.fetch_add(1, Ordering::SeqCst);
            async {
                sleep(400 * MS).await;
                Err::<u32, _>(TestError::Transient)
            }
        })
        .await;
    // 0-400 attempt, 400-500 delay, 500-900 attempt; another delay would reach 1 s.
    assert_eq!(result, Err(TestError::Transient));
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(start.elapsed(), 900 * MS);
}

#[tokio::test(start_paused = true)]
async fn deadline_cuts_a_hanging_attempt() {
    let policy = fixed("deadline_hang", 10)
        .timeout(Duration::from_secs(5))
        .deadline(Duration::from_secs(1))
        .build();
    let start = Instant::now();
    let result = policy
        .call(|| async {
            sleep(Duration::from_secs(60)).await;
            Ok::<u32, TestError>(1)
        })
        .await;
    assert_eq!(
        result,
        Err(TestError::Rejected(Rejected::DeadlineExceeded {
            after: Duration::from_secs(1)
        }))
    );
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn budget_exhaustion_stops_retries_and_successes_refill_it() {
    let budget = Arc::new(RetryBudget::new(1.0, 0).unwrap());
    let policy = fixed("budget", 5).budget(Arc::clone(&budget)).build();
    let (_, attempts) = run(&policy, &[Err(TestError::Transient)]).await;
    assert_eq!(attempts, 1, "an empty budget allows no retry");
    for _ in 0..2 {
        assert_eq!(run(&policy, &[Ok(1)]).await, (Ok(1), 1));
    }
    let (_, attempts) = run(&policy, &[Err(TestError::Transient)]).await;
    assert_eq!(attempts, 3, "two successes at ratio 1 earned two retries");
    let (_, attempts) = run(&policy, &[Err(TestError::Transient)]).await;
    assert_eq!(attempts, 1, "spent again");
}

#[tokio::test(start_paused = true)]
async fn open_breaker_ends_the_retry_loop_at_once() {
    let b = breaker("ends_loop", 2);
    let policy = fixed("ends_loop", 10)
        .circuit_breaker(Arc::clone(&b))
        .build();
    let (result, attempts) = run(&policy, &[Err(TestError::Transient)]).await;
    // Two failures of two open the breaker; the third attempt is rejected and not retried.
    assert!(matches!(
        result,
        Err(TestError::Rejected(Rejected::BreakerOpen { .. }))
    ));
    assert_eq!(attempts, 2);
    assert_eq!(b.state(), BreakerState::Open);

    b.force_open();
    let (result, attempts) = run(&policy, &[Ok(1)]).await;
    assert!(matches!(
        result,
        Err(TestError::Rejected(Rejected::BreakerOpen { .. }))
    ));
    assert_eq!(attempts, 0, "the attempt never ran");
}

#[tokio::test(start_paused = true)]
async fn exactly_n_half_open_probes_are_admitted_under_100_concurrent_callers() {
    let b = breaker("stampede", 2);
    let policy = Arc::new(fixed("stampede", 3).circuit_breaker(Arc::clone(&b)).build());
    let _ = run(&policy, &[Err(TestError::Transient)]).await;
    assert_eq!(b.state(), BreakerState::Open);
    tokio::time::advance(Duration::from_secs(10)).await;

    let ran = Arc::new(AtomicU32::new(0));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let policy = Arc::clone(&policy);
            let ran = Arc::clone(&ran);
            tokio::spawn(async move {
                policy
                    .call(|| {
                        let ran = Arc::clone(&ran);
                        async move {
                            ran.fetch_add(1, Ordering::SeqCst);
                            sleep(Duration::from_secs(1)).await;
                            Ok::<u32, TestError>(1)
                        }
                    })
                    .await
            })
        })
        .collect();
    let mut ok = 0;
    let mut rejected = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(TestError::Rejected(Rejected::BreakerOpen { .. })) => rejected += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(ran.load(Ordering::SeqCst), 5, "exactly 5 probes ran");
    assert_eq!((ok, rejected), (5, 95));
    assert_eq!(b.state(), BreakerState::Closed, "all probes succeeded");
}

#[tokio::test(start_paused = true)]
async fn undeclared_breaker_name_is_rejected_not_created() {
    let policy = fixed("undeclared", 3)
        .breaker("resilience-test-never-declared")
        .build();
    let (result, attempts) = run(&policy, &[Ok(1)]).await;
    assert_eq!(
        result,
        Err(TestError::Rejected(Rejected::BreakerNotDeclared {
            name: "resilience-test-never-declared".into()
        }))
    );
    assert_eq!(attempts, 0);
    assert!(breakers().get("resilience-test-never-declared").is_none());

    let policy = fixed("declared_late", 3)
        .breaker("resilience-test-declared-late")
        .build();
    assert!(run(&policy, &[Ok(1)]).await.0.is_err());
    breakers()
        .define("resilience-test-declared-late", BreakerConfig::default())
        .unwrap();
    assert_eq!(
        run(&policy, &[Ok(1)]).await,
        (Ok(1), 1),
        "found once defined"
    );
    assert!(policy.circuit_breaker().is_some());
}

#[tokio::test(start_paused = true)]
async fn full_bulkhead_rejects_the_call() {
    let policy = Arc::new(fixed("bulkhead", 3).bulkhead(1).build());
    let holder = {
        let policy = Arc::clone(&policy);
        tokio::spawn(async move {
            policy
                .call(|| async {
                    sleep(Duration::from_secs(1)).await;
                    Ok::<u32, TestError>(1)
                })
                .await
        })
    };
    tokio::task::yield_now().await;
    let (result, attempts) = run(&policy, &[Ok(2)]).await;
    assert!(matches!(
        result,
        Err(TestError::Rejected(Rejected::BulkheadFull {
            max_concurrent: 1,
            ..
        }))
    ));
    assert_eq!(attempts, 0);
    assert_eq!(holder.await.unwrap(), Ok(1));
    assert_eq!(run(&policy, &[Ok(2)]).await, (Ok(2), 1), "free again");
}

#[test]
fn invalid_settings_are_config_errors_and_build_corrects_them() {
    let err = Resilience::builder("bad")
        .timeout(Duration::ZERO)
        .try_build()
        .unwrap_err();
    assert_eq!(err.setting, "timeout");
    let err = Resilience::builder("bad")
        .bulkhead(0)
        .try_build()
        .unwrap_err();
    assert_eq!(err.setting, "bulkhead");
    let err = Resilience::builder("bad")
        .base(Duration::from_secs(10))
        .max_delay(Duration::from_secs(1))
        .try_build()
        .unwrap_err();
    assert_eq!(err.setting, "base");
    // build() never panics: it corrects and logs.
    let _ = Resilience::builder("bad")
        .timeout(Duration::ZERO)
        .bulkhead(0)
        .build();
}

/// What `metrics-util`'s debugging recorder saw, by `name{label=value,...}`.
struct Seen(HashMap<String, DebugValue>);

impl Seen {
    /// Takes the recorder's one snapshot (it resets its counters).
    fn of(snapshotter: &Snapshotter) -> Self {
        let seen = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .map(|(key, _, _, value)| {
                let key = key.key();
                let labels: Vec<String> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                (format!("{}{{{}}}", key.name(), labels.join(",")), value)
            });
        Seen(seen.collect())
    }
    fn get(&self, name: &str) -> u64 {
        match self.0.get(name) {
            Some(DebugValue::Counter(count)) => *count,
            _ => 0,
        }
    }
    fn gauge(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(DebugValue::Gauge(value)) => Some(value.into_inner()),
            _ => None,
        }
    }
}

#[test]
fn slow_calls_and_outcomes_are_counted_by_function() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let b = breaker("metrics_breaker", 2);
            let policy = fixed("repo::find_user", 1)
                .slow_call_threshold(100 * MS)
                .circuit_breaker(Arc::clone(&b))
                .build();
            let slow_ok = policy
                .call(|| async {
                    sleep(250 * MS).await;
                    Ok::<u32, TestError>(1)
                })
                .await;
            assert_eq!(slow_ok, Ok(1));
            let fast_ok = run(&policy, &[Ok(1)]).await;
            assert_eq!(fast_ok, (Ok(1), 1));
            // Two failures open the breaker (2 of 3 >= 50%); then a rejection.
            let _ = run(&policy, &[Err(TestError::Transient)]).await;
            let _ = run(&policy, &[Ok(1)]).await;
        });
    });
    let recorder = Seen::of(&snapshotter);
    let f = "function=repo::find_user";
    assert_eq!(recorder.get(&format!("pool_slow_calls_total{{{f}}}")), 1);
    assert_eq!(
        recorder.get(&format!("pool_calls_total{{{f},outcome=ok}}")),
        2
    );
    assert_eq!(
        recorder.get(&format!("pool_calls_total{{{f},outcome=rejected}}")),
        1
    );
    assert_eq!(recorder.get(&format!("pool_retries_total{{{f}}}")), 1);
    assert_eq!(
        recorder.get(&format!("pool_rejections_total{{{f},reason=breaker_open}}")),
        1
    );
    assert_eq!(
        recorder.get("pool_breaker_transitions_total{breaker=metrics_breaker,from=closed,to=open}"),
        1
    );
    assert_eq!(
        recorder.gauge("pool_breaker_state{breaker=metrics_breaker}"),
        Some(1.0)
    );
}

#[tokio::test(start_paused = true)]
async fn pending_attempts_are_timed_and_slow_calls_open_the_breaker() {
    let b = Arc::new(
        CircuitBreaker::new(
            "slow_rate",
            BreakerConfig {
                minimum_calls: 2,
                sliding_window: SlidingWindow::Count(10),
                slow_call_duration_threshold: Duration::from_secs(1),
                slow_call_rate_threshold: 100.0,
                ..BreakerConfig::default()
            },
        )
        .unwrap(),
    );
    let policy = fixed("slow_rate", 0)
        .timeout(Duration::from_secs(5))
        .circuit_breaker(Arc::clone(&b))
        .build();
    let slow = || async {
        sleep(Duration::from_secs(2)).await;
        Ok::<u32, TestError>(1)
    };
    // Ready at once: not timed, so not slow.
    assert_eq!(run(&policy, &[Ok(1)]).await, (Ok(1), 1));
    assert_eq!(b.snapshot().slow_calls, 0);
    // Pending for 2 s: slow, though not timed out.
    let start = Instant::now();
    assert_eq!(policy.call(slow).await, Ok(1));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(b.snapshot().slow_calls, 1);
    assert_eq!(b.state(), BreakerState::Closed, "1 slow of 2 is under 100%");
    // A fresh window: two slow calls of two reach the 100% slow-call rate.
    b.reset();
    assert_eq!(policy.call(slow).await, Ok(1));
    assert_eq!(policy.call(slow).await, Ok(1));
    assert_eq!(b.state(), BreakerState::Open);
    assert!(matches!(
        policy.call(slow).await,
        Err(TestError::Rejected(Rejected::BreakerOpen { .. }))
    ));
}

#[test]
fn a_pending_attempt_over_the_threshold_is_a_slow_call() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let policy = fixed("repo::slow_write", 0)
                .timeout(Duration::from_secs(5))
                .slow_call_threshold(Duration::from_secs(1))
                .build();
            // Ready at once, then pending for 2 s, then pending for 500 ms.
            assert_eq!(run(&policy, &[Ok(1)]).await, (Ok(1), 1));
            let timed = |d| async move {
                sleep(d).await;
                Ok::<u32, TestError>(1)
            };
            assert_eq!(policy.call(|| timed(Duration::from_secs(2))).await, Ok(1));
            assert_eq!(policy.call(|| timed(500 * MS)).await, Ok(1));
        });
    });
    let recorder = Seen::of(&snapshotter);
    let f = "function=repo::slow_write";
    assert_eq!(recorder.get(&format!("pool_slow_calls_total{{{f}}}")), 1);
    assert_eq!(
        recorder.get(&format!("pool_calls_total{{{f},outcome=ok}}")),
        3
    );
}

#[tokio::test(start_paused = true)]
async fn once_returns_the_only_attempts_result_and_never_retries() {
    // Even on a policy with retries left, `once` runs one attempt: its failure is the
    // call's, with no backoff slept.
    let policy = fixed("once", 3).build();
    let started = Instant::now();
    let mut attempts = policy.begin();
    let failed: Result<u32, TestError> = attempts.once(async { Err(TestError::Transient) }).await;
    assert_eq!(failed, Err(TestError::Transient));
    assert_eq!(attempts.attempts(), 1);
    assert_eq!(started.elapsed(), Duration::ZERO);

    let mut attempts = policy.begin();
    assert_eq!(attempts.once(async { Ok::<_, TestError>(7) }).await, Ok(7));

    // A policy rejection ends it the same way.
    let timed = fixed("once_timed", 0).timeout(10 * MS).build();
    let mut attempts = timed.begin();
    let cut: Result<u32, TestError> = attempts
        .once(async {
            sleep(Duration::from_secs(1)).await;
            Ok(1)
        })
        .await;
    assert_eq!(
        cut,
        Err(TestError::Rejected(Rejected::Timeout { after: 10 * MS }))
    );
}
