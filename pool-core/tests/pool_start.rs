//! A database that cannot be reached: the eager start fails fast, within the connect
//! timeout and with the real error. On tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::time::Duration;

use pool_core::{ErrorClass, Pool, PoolError, StartError, TimeoutPhase};
use support::{Step, TestManager};
use tokio::time::Instant;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(start_paused = true)]
async fn a_refused_start_ends_within_the_connect_timeout_with_the_real_error() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Fail(ErrorClass::Connection));
    let started = Instant::now();
    let error = Pool::builder(manager)
        .connect_timeout(CONNECT_TIMEOUT)
        .build_and_connect()
        .await
        .unwrap_err();
    let took = started.elapsed();
    let StartError::Connect(PoolError::Connect(cause)) = &error else {
        panic!("expected the connect error, got {error}");
    };
    assert_eq!(cause.class, ErrorClass::Connection);
    assert!(took <= CONNECT_TIMEOUT, "took {took:?}");
    // The backoff (50 ms doubling, capped at 5 s) leaves room for several tries.
    assert!(state.connects() >= 4, "{} attempts", state.connects());
    println!(
        "refused start: {} attempts, failed after {took:?}",
        state.connects()
    );
}

#[tokio::test(start_paused = true)]
async fn slow_refusals_still_end_within_the_connect_timeout() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::SlowFail(
        Duration::from_millis(1500),
        ErrorClass::Connection,
    ));
    let started = Instant::now();
    let error = Pool::builder(manager)
        .connect_timeout(CONNECT_TIMEOUT)
        .build_and_connect()
        .await
        .unwrap_err();
    assert!(
        started.elapsed() <= CONNECT_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
    // The last attempt is cut by the deadline: the error is still the refusal seen before.
    assert!(
        matches!(&error, StartError::Connect(PoolError::Connect(cause)) if cause.class == ErrorClass::Connection),
        "{error}"
    );
    assert!(state.connects() >= 2);
}

#[tokio::test(start_paused = true)]
async fn a_start_that_never_answers_times_out_at_the_connect_timeout() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Hang);
    let started = Instant::now();
    let error = Pool::builder(manager)
        .connect_timeout(CONNECT_TIMEOUT)
        .build_and_connect()
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), CONNECT_TIMEOUT);
    assert!(
        matches!(
            error,
            StartError::Connect(PoolError::Timeout {
                phase: TimeoutPhase::Connecting,
                ..
            })
        ),
        "{error}"
    );
    assert_eq!(state.connects(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_start_that_recovers_within_the_connect_timeout_succeeds() {
    let (manager, state) = TestManager::new();
    state.script_connects([
        Step::Fail(ErrorClass::Connection),
        Step::Fail(ErrorClass::Connection),
    ]);
    let pool = Pool::builder(manager)
        .connect_timeout(CONNECT_TIMEOUT)
        .build_and_connect()
        .await
        .unwrap();
    assert_eq!(pool.status().idle, 1);
    assert_eq!(state.connects(), 3);
    let metrics = pool.metrics();
    assert_eq!(metrics.connect_errors, 2);
    assert_eq!(metrics.connections_created, 1);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_failure_ends_the_start_at_once() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Fail(ErrorClass::Permanent));
    let started = Instant::now();
    let error = Pool::builder(manager)
        .connect_timeout(CONNECT_TIMEOUT)
        .build_and_connect()
        .await
        .unwrap_err();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(state.connects(), 1);
    assert!(matches!(error, StartError::Connect(PoolError::Connect(_))));
}

#[tokio::test(start_paused = true)]
async fn a_connect_timeout_too_long_to_add_means_no_limit() {
    let (manager, state) = TestManager::new();
    state.script_connects([Step::Fail(ErrorClass::Connection)]);
    let pool = Pool::builder(manager)
        .connect_timeout(Duration::MAX)
        .build_and_connect()
        .await
        .unwrap();
    assert_eq!(pool.status().idle, 1);
    drop(pool.get().await.unwrap());
}
