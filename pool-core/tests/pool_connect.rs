//! Opening connections: timeouts by phase, the last connect error, connects that
//! outlive their waiter, permanent errors, backoff, and the eager start.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::time::Duration;

use pool_core::{ErrorClass, Pool, PoolError, StartError, TimeoutPhase, Validation};
use support::{Step, TestManager, settle};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_connect_timeout_carries_the_last_connect_error() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Fail(ErrorClass::Connection));
    let pool = Pool::builder(manager)
        .acquire_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let error = pool.get().await.unwrap_err();
    let PoolError::Timeout {
        phase,
        last_connect_error,
        waited,
        ..
    } = &error
    else {
        panic!("expected a timeout, got {error}");
    };
    assert_eq!(*phase, TimeoutPhase::Connecting);
    assert_eq!(*waited, Duration::from_secs(2));
    let last = last_connect_error
        .as_ref()
        .expect("the connect error is carried");
    assert_eq!(last.class, ErrorClass::Connection);
    assert!(error.to_string().contains("last connect error"), "{error}");
    assert!(
        state.connects() > 3,
        "retried in the background: {}",
        state.connects()
    );
}

#[tokio::test(start_paused = true)]
async fn background_connect_retries_back_off() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Fail(ErrorClass::Transient));
    let pool = Pool::builder(manager)
        .acquire_timeout(Duration::from_secs(10))
        .connect_backoff(Duration::from_millis(100), Duration::from_secs(2))
        .build()
        .unwrap();
    let _ = pool.get().await;
    // Delays of at least 50, 100, 200, 400, 800, 1000, 1000, ... ms (equal jitter:
    // half the exponential delay plus up to half again): over 10 s that is at most
    // 1 + 14 attempts, against thousands without backoff.
    let connects = state.connects();
    assert!((6..=15).contains(&connects), "{connects} connects in 10 s");
}

#[tokio::test(start_paused = true)]
async fn a_hanging_connect_times_out_as_the_connecting_phase() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Hang);
    let pool = Pool::builder(manager)
        .acquire_timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let error = pool.get().await.unwrap_err();
    assert!(
        matches!(
            error,
            PoolError::Timeout {
                phase: TimeoutPhase::Connecting,
                ..
            }
        ),
        "{error}"
    );
    assert!(pool.metrics().connect_errors >= 2);
    // The attempt in flight when the waiter left ends at its own connect timeout (or
    // the backoff sleep ends), and with no one waiting the task does not start another.
    for _ in 0..10 {
        tokio::time::advance(Duration::from_millis(100)).await;
        settle().await;
    }
    assert_eq!(pool.status().size, 0);
    assert_eq!(
        state.open(),
        0,
        "hung connects were dropped by the connect timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn a_validation_that_outlasts_the_acquire_deadline_names_that_phase() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .validation(Validation::Always)
        .acquire_timeout(Duration::from_millis(200))
        .check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    state.check_default(Step::Hang);
    let error = pool.get().await.unwrap_err();
    assert!(
        matches!(
            error,
            PoolError::Timeout {
                phase: TimeoutPhase::Validating,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        state.open(),
        0,
        "the connection under validation was closed"
    );
    assert_eq!(pool.status().size, 0);
}

#[tokio::test(start_paused = true)]
async fn a_connect_outlives_its_waiter_and_serves_the_next_one() {
    let (manager, state) = TestManager::new();
    state.script_connects([Step::Slow(Duration::from_millis(500))]);
    let pool = Pool::builder(manager)
        .acquire_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(
        pool.get().await.is_err(),
        "the first waiter gives up after 100 ms"
    );
    tokio::time::advance(Duration::from_millis(450)).await;
    settle().await;
    assert_eq!(
        pool.status().idle,
        1,
        "the connect finished without its waiter"
    );
    let started = Instant::now();
    let conn = pool.get().await.unwrap();
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(state.connects(), 1, "no second connect");
    drop(conn);
}

#[tokio::test(start_paused = true)]
async fn waiters_under_contention_do_not_start_a_connect_storm() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Slow(Duration::from_millis(200)));
    let pool = Pool::builder(manager)
        .max_size(4)
        .acquire_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    // Forty waves of impatient callers: each gives up long before a connect ends.
    for _ in 0..40 {
        let mut calls = Vec::new();
        for _ in 0..8 {
            let pool = pool.clone();
            calls.push(tokio::spawn(async move { pool.get().await.map(drop) }));
        }
        for call in calls {
            let _ = call.await;
        }
    }
    assert!(state.connects() <= 4, "{} connects", state.connects());
    assert!(pool.status().size <= 4);
}

#[tokio::test(start_paused = true)]
async fn a_permanent_connect_error_reaches_every_waiter_at_once() {
    let (manager, state) = TestManager::new();
    state.connect_default(Step::SlowFail(
        Duration::from_millis(20),
        ErrorClass::Permanent,
    ));
    let pool = Pool::builder(manager)
        .max_size(2)
        .acquire_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut calls = Vec::new();
    for _ in 0..10 {
        let pool = pool.clone();
        calls.push(tokio::spawn(async move { pool.get().await.map(drop) }));
    }
    for call in calls {
        let error = call.await.unwrap().unwrap_err();
        let PoolError::Connect(error) = error else {
            panic!("expected the connect error, got {error}");
        };
        assert_eq!(error.class, ErrorClass::Permanent);
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert!(
        state.connects() <= 2,
        "not retried in a loop: {}",
        state.connects()
    );
    assert_eq!(pool.status().size, 0);
}

#[tokio::test(start_paused = true)]
async fn an_eager_start_opens_min_idle_or_fails_with_the_real_error() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .max_size(4)
        .min_idle(3)
        .build_and_connect()
        .await
        .unwrap();
    assert_eq!(pool.status().idle, 3);
    assert_eq!(state.connects(), 3);

    let (manager, state) = TestManager::new();
    state.connect_default(Step::Fail(ErrorClass::Connection));
    let error = Pool::builder(manager)
        .build_and_connect()
        .await
        .unwrap_err();
    let StartError::Connect(PoolError::Connect(cause)) = &error else {
        panic!("expected the connect error, got {error}");
    };
    assert_eq!(cause.class, ErrorClass::Connection);
    assert!(
        state.connects() > 1,
        "retried while the connect timeout lasts"
    );

    let (manager, state) = TestManager::new();
    state.connect_default(Step::Fail(ErrorClass::Permanent));
    assert!(Pool::builder(manager).build_and_connect().await.is_err());
    assert_eq!(state.connects(), 1, "a permanent error is not retried");

    let (manager, _) = TestManager::new();
    let error = Pool::builder(manager)
        .max_size(0)
        .build_and_connect()
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::Config(ref e) if e.setting == "max_size"));
}

#[tokio::test(start_paused = true)]
async fn a_plain_build_is_lazy() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager).build().unwrap();
    settle().await;
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(state.connects(), 0);
    assert_eq!(pool.status().size, 0);
}

#[tokio::test(start_paused = true)]
async fn a_connect_that_gets_no_answer_is_named_in_the_timeout() {
    // A black-holed server returns no error to carry: the timeout must still say why.
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Hang);
    let pool = Pool::builder(manager)
        .acquire_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let error = pool.get().await.unwrap_err();
    let PoolError::Timeout {
        phase,
        last_connect_error,
        connect_timed_out_after,
        ..
    } = &error
    else {
        panic!("expected a timeout, got {error}");
    };
    assert_eq!(*phase, TimeoutPhase::Connecting);
    assert!(last_connect_error.is_none());
    assert_eq!(*connect_timed_out_after, Some(Duration::from_secs(2)));
    assert!(
        error
            .to_string()
            .contains("did not answer a connect within the connect timeout (2s)"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unbounded_acquire_timeout_waits_without_panicking() {
    // `Duration::MAX` reads as "no limit": the deadline saturates instead of overflowing.
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Ok);
    let pool = Pool::builder(manager)
        .max_size(1)
        .acquire_timeout(Duration::MAX)
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move {
            pool.get()
                .await
                .map(drop)
                .map_err(|error| error.to_string())
        }
    });
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(!waiter.is_finished(), "still waiting after an hour");
    drop(held);
    assert_eq!(waiter.await.unwrap(), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn a_connect_failure_stands_in_timeouts_until_a_connect_succeeds() {
    // Between two attempts the connect backoff can leave a whole acquire timeout without
    // a connect: the timeout still says why there is no connection.
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Fail(ErrorClass::Connection));
    let pool = Pool::builder(manager)
        .max_size(1)
        .acquire_timeout(Duration::from_secs(1))
        .connect_backoff(Duration::from_secs(10), Duration::from_secs(10))
        .build()
        .unwrap();
    let carried = |error: &PoolError<_>| match error {
        PoolError::Timeout {
            phase,
            last_connect_error,
            ..
        } => (*phase, last_connect_error.is_some()),
        other => panic!("expected a timeout, got {other}"),
    };
    let first = pool.get().await.unwrap_err();
    assert_eq!(carried(&first), (TimeoutPhase::Connecting, true));
    let connects = state.connects();
    let second = pool.get().await.unwrap_err();
    assert_eq!(
        state.connects(),
        connects,
        "the backoff held the next connect back"
    );
    assert_eq!(
        carried(&second),
        (TimeoutPhase::Connecting, true),
        "{second}"
    );
    assert!(
        second.to_string().contains("last connect error"),
        "{second}"
    );

    // Once a connect succeeds the failure no longer explains anything: a checkout that
    // then waits for the one busy connection times out without it.
    state.connect_default(Step::Ok);
    tokio::time::advance(Duration::from_secs(10)).await;
    let held = pool.get().await.unwrap();
    let third = pool.get().await.unwrap_err();
    assert_eq!(
        carried(&third),
        (TimeoutPhase::WaitingForSlot, false),
        "{third}"
    );
    drop(held);
}
