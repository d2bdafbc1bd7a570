//! The pool's everyday contract: limits, configuration errors, FIFO waiters,
//! validation, broken connections, metrics, close, resize and process-wide pools.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{sync::atomic::Ordering::SeqCst, time::Duration};

use pool_core::{ErrorClass, GlobalPool, Pool, PoolError, TimeoutPhase, Validation};
use support::{Step, TestManager, settle};

fn pool(max_size: usize) -> (Pool<TestManager>, std::sync::Arc<support::State>) {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .acquire_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    (pool, state)
}

type Configure =
    Box<dyn Fn(pool_core::PoolBuilder<TestManager>) -> pool_core::PoolBuilder<TestManager>>;

#[test]
fn bad_configuration_is_a_typed_error_naming_the_setting() {
    let cases: Vec<(&str, Configure)> = vec![
        ("max_size", Box::new(|b| b.max_size(0))),
        ("min_idle", Box::new(|b| b.max_size(2).min_idle(3))),
        (
            "acquire_timeout",
            Box::new(|b| b.acquire_timeout(Duration::ZERO)),
        ),
        (
            "connect_timeout",
            Box::new(|b| b.connect_timeout(Duration::ZERO)),
        ),
        (
            "check_timeout",
            Box::new(|b| b.check_timeout(Duration::ZERO)),
        ),
        (
            "idle_timeout",
            Box::new(|b| b.idle_timeout(Some(Duration::ZERO))),
        ),
        (
            "max_lifetime",
            Box::new(|b| b.max_lifetime(Some(Duration::ZERO))),
        ),
        (
            "leak_threshold",
            Box::new(|b| b.leak_threshold(Some(Duration::ZERO))),
        ),
        (
            "connect_backoff",
            Box::new(|b| b.connect_backoff(Duration::from_secs(2), Duration::from_secs(1))),
        ),
    ];
    for (setting, configure) in cases {
        let (manager, _) = TestManager::new();
        let error = configure(Pool::builder(manager)).build().unwrap_err();
        assert_eq!(error.setting, setting, "{error}");
        assert!(error.to_string().contains(setting), "{error}");
    }
}

#[tokio::test(start_paused = true)]
async fn connections_are_reused_and_counted() {
    let (pool, state) = pool(2);
    let first_id = pool.get().await.unwrap().id;
    let second_id = pool.get().await.unwrap().id;
    assert_eq!(first_id, second_id, "the idle connection is reused");
    assert_eq!(state.connects(), 1);
    let status = pool.status();
    assert_eq!((status.size, status.idle, status.in_use), (1, 1, 0));
    let metrics = pool.metrics();
    assert_eq!(metrics.connections_created, 1);
    assert_eq!(
        metrics.checkouts_direct, 1,
        "the second checkout waited for nothing"
    );
    assert_eq!(
        metrics.checkouts_waited, 1,
        "the first waited for a connect"
    );
}

#[tokio::test(start_paused = true)]
async fn waiters_time_out_naming_the_slot_phase() {
    let (pool, _) = pool(1);
    let _held = pool.get().await.unwrap();
    let started = tokio::time::Instant::now();
    let error = pool.get().await.unwrap_err();
    match error {
        PoolError::Timeout { phase, waited, .. } => {
            assert_eq!(phase, TimeoutPhase::WaitingForSlot);
            assert_eq!(waited, Duration::from_secs(1));
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(pool.metrics().checkouts_timed_out, 1);
    assert_eq!(pool.status().waiting, 0);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_fifo_order() {
    let (pool, _) = pool(1);
    let held = pool.get().await.unwrap();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for waiter in 0..8 {
        let pool = pool.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            let conn = pool.get().await.unwrap();
            order.lock().unwrap().push(waiter);
            tokio::time::sleep(Duration::from_millis(1)).await;
            drop(conn);
        }));
        // Let this waiter queue up before the next one arrives.
        settle().await;
    }
    assert_eq!(pool.status().waiting, 8);
    drop(held);
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn validation_runs_only_after_the_idle_threshold() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .validate_after(Duration::from_millis(500))
        .build()
        .unwrap();
    drop(pool.get().await.unwrap());
    tokio::time::advance(Duration::from_millis(400)).await;
    drop(pool.get().await.unwrap());
    assert_eq!(state.checks(), 0, "idle 400 ms: not checked");
    tokio::time::advance(Duration::from_millis(600)).await;
    drop(pool.get().await.unwrap());
    assert_eq!(state.checks(), 1, "idle 600 ms: checked once");
}

#[tokio::test(start_paused = true)]
async fn validation_always_and_never() {
    for (validation, expected) in [(Validation::Always, 3), (Validation::Never, 0)] {
        let (manager, state) = TestManager::new();
        let pool = Pool::builder(manager)
            .validation(validation)
            .build()
            .unwrap();
        for _ in 0..4 {
            drop(pool.get().await.unwrap());
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(state.checks(), expected, "{validation:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_or_hung_check_is_replaced_transparently() {
    for failure in [
        Step::Fail(ErrorClass::Connection),
        Step::Hang,
        Step::SlowFail(Duration::from_millis(10), ErrorClass::Connection),
    ] {
        let (manager, state) = TestManager::new();
        let pool = Pool::builder(manager)
            .validation(Validation::Always)
            .check_timeout(Duration::from_millis(100))
            .acquire_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let first = pool.get().await.unwrap().id;
        state.script_checks([failure]);
        let conn = pool.get().await.unwrap();
        assert_ne!(
            conn.id, first,
            "{failure:?}: the invalid connection was replaced"
        );
        assert_eq!(state.connects(), 2);
        drop(conn);
        let metrics = pool.metrics();
        assert_eq!(metrics.closed_invalid, 1, "{failure:?}");
        assert_eq!(pool.status().size, 1);
        assert_eq!(state.open(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_broken_connection_is_discarded_on_return() {
    let (pool, state) = pool(2);
    let mut conn = pool.get().await.unwrap();
    conn.broken = true;
    drop(conn);
    assert_eq!(pool.status().size, 0);
    assert_eq!(state.open(), 0);
    assert_eq!(pool.metrics().closed_broken, 1);

    let conn = pool.get().await.unwrap();
    conn.discard();
    assert_eq!(pool.metrics().closed_broken, 2);
    assert_eq!(state.open(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_operation_dropped_midway_discards_its_connection() {
    let (pool, state) = pool(2);
    let mut conn = pool.get().await.unwrap();
    conn.begin_operation();
    drop(conn); // as if the future running the query were dropped
    assert_eq!(state.open(), 0);

    let mut conn = pool.get().await.unwrap();
    conn.begin_operation();
    conn.finish(&Ok::<(), support::TestError>(()));
    assert_eq!(
        pool.status().idle,
        1,
        "a finished operation returns the connection"
    );

    let mut conn = pool.get().await.unwrap();
    conn.begin_operation();
    let dead: Result<(), _> = Err(support::TestError {
        class: ErrorClass::Connection,
        seq: 0,
    });
    conn.finish(&dead);
    assert_eq!(
        pool.status().size,
        0,
        "a Connection-class error discards it"
    );
    let transient: Result<(), _> = Err(support::TestError {
        class: ErrorClass::Transient,
        seq: 0,
    });
    let mut conn = pool.get().await.unwrap();
    conn.begin_operation();
    conn.finish(&transient);
    assert_eq!(pool.status().idle, 1, "a transient error keeps it");
}

#[tokio::test(start_paused = true)]
async fn close_refuses_new_and_waiting_callers_and_waits_for_checked_out() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .max_size(2)
        .close_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    drop(pool.get().await.unwrap()); // one idle
    let _second = pool.get().await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(|_| ()) }
    });
    settle().await;
    let closer = tokio::spawn({
        let pool = pool.clone();
        async move { pool.close().await }
    });
    settle().await;
    assert!(matches!(waiter.await.unwrap(), Err(PoolError::Closed)));
    assert!(matches!(pool.get().await, Err(PoolError::Closed)));
    assert!(
        !closer.is_finished(),
        "close waits for checked-out connections"
    );
    drop(held);
    drop(_second);
    let report = closer.await.unwrap();
    assert_eq!(report.still_open, 0);
    assert_eq!(state.open(), 0);
    // Idempotent.
    let again = pool.close().await;
    assert_eq!((again.closed_idle, again.still_open), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn close_gives_up_waiting_at_its_deadline() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .close_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    let started = tokio::time::Instant::now();
    let report = pool.close().await;
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(report.still_open, 1);
    drop(held);
    assert_eq!(state.open(), 0, "closed when it came back");
    assert_eq!(pool.status().size, 0);
}

/// A connection returned while nobody waits keeps its slot (the next checkout takes both
/// at once); the slots must still add up to `max_size`, never more.
#[tokio::test(start_paused = true)]
async fn slots_parked_with_idle_connections_are_never_counted_twice() {
    let (pool, _) = pool(2);
    let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    drop((a, b));
    let (x, y) = (pool.get().await.unwrap(), pool.get().await.unwrap());
    assert!(matches!(
        pool.get().await,
        Err(PoolError::Timeout {
            phase: TimeoutPhase::WaitingForSlot,
            ..
        })
    ));
    // With a caller waiting, a return hands its slot to that caller.
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.get().await.map(drop) }
    });
    settle().await;
    assert_eq!(pool.status().waiting, 1);
    drop(x);
    waiter.await.unwrap().unwrap();
    drop(y);
    let all = (pool.get().await.unwrap(), pool.get().await.unwrap());
    assert_eq!(pool.status().in_use, 2);
    drop(all);

    // Shrinking takes parked slots with the idle connections it closes.
    pool.resize(1).unwrap();
    assert_eq!(pool.status().size, 1);
    let only = pool.get().await.unwrap();
    assert!(pool.get().await.is_err(), "a slot survived the shrink");
    drop(only);
    pool.resize(2).unwrap();
    let both = (pool.get().await.unwrap(), pool.get().await.unwrap());
    assert_eq!(pool.status().in_use, 2);
    drop(both);
}

#[tokio::test(start_paused = true)]
async fn resize_grows_and_shrinks_at_run_time() {
    let (pool, state) = pool(2);
    let a = pool.get().await.unwrap();
    let b = pool.get().await.unwrap();
    pool.resize(3).unwrap();
    let c = pool.get().await.unwrap();
    assert_eq!(pool.status().size, 3);
    pool.resize(1).unwrap();
    assert_eq!(pool.status().max_size, 1);
    drop((a, b));
    assert_eq!(
        pool.status().size,
        1,
        "connections above the new limit close on return"
    );
    assert!(matches!(
        pool.get().await,
        Err(PoolError::Timeout {
            phase: TimeoutPhase::WaitingForSlot,
            ..
        })
    ));
    drop(c);
    let _d = pool.get().await.unwrap();
    assert_eq!(state.open(), 1);
    assert_eq!(pool.resize(0).unwrap_err().setting, "max_size");
}

#[tokio::test(start_paused = true)]
async fn a_process_wide_pool_is_initialised_once() {
    static DB: GlobalPool<TestManager> = GlobalPool::new("db");
    assert!(matches!(
        DB.get(),
        Err(PoolError::NotInitialized { name: "db" })
    ));
    let (first, _) = pool(1);
    DB.init(first).unwrap();
    let (second, second_state) = pool(1);
    assert_eq!(DB.init(second).unwrap_err().name, "db");
    drop(DB.get().unwrap().get().await.unwrap());
    assert_eq!(second_state.connects(), 0, "the second pool was never used");
}

#[tokio::test(start_paused = true)]
async fn metrics_reach_the_metrics_facade() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let (manager, _) = TestManager::new();
    let pool = metrics::with_local_recorder(&recorder, || {
        Pool::builder(manager)
            .name("facade")
            .max_size(1)
            .build()
            .unwrap()
    });
    drop(pool.get().await.unwrap());
    drop(pool.get().await.unwrap());
    let mut broken = pool.get().await.unwrap();
    broken.broken = true;
    drop(broken);
    let snapshot = snapshotter.snapshot().into_vec();
    let counter = |name: &str, label: (&str, &str)| -> u64 {
        snapshot
            .iter()
            .find(|(key, _, _, _)| {
                key.key().name() == name
                    && key
                        .key()
                        .labels()
                        .any(|l| l.key() == label.0 && l.value() == label.1)
            })
            .map(|(_, _, _, value)| match value {
                DebugValue::Counter(count) => *count,
                _ => 0,
            })
            .unwrap_or(0)
    };
    assert_eq!(
        counter("pool_connections_created_total", ("pool", "facade")),
        1
    );
    assert_eq!(counter("pool_checkouts_total", ("outcome", "direct")), 2);
    assert_eq!(counter("pool_checkouts_total", ("outcome", "waited")), 1);
    assert_eq!(
        counter("pool_connections_closed_total", ("reason", "broken")),
        1
    );
    let _ = SeqCst;
}
