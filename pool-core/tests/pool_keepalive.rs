//! `keepalive`: the background task checks connections idle past it, one at a time,
//! closes those that fail, and leaves everything else as it was.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::time::Duration;

use pool_core::{ErrorClass, Pool, PoolBuilder, Validation};
use support::{Step, TestManager, run_for};

/// A pool whose only checks are keepalive's: no validation at checkout, nothing expires.
fn builder(manager: TestManager, keepalive: Option<Duration>) -> PoolBuilder<TestManager> {
    Pool::builder(manager)
        .max_size(4)
        .validation(Validation::Never)
        .idle_timeout(None)
        .max_lifetime(None)
        .keepalive(keepalive)
}

/// Opens `count` connections at once and returns them all.
async fn open_idle(pool: &Pool<TestManager>, count: usize) {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        held.push(pool.get().await.unwrap());
    }
    drop(held);
    assert_eq!(pool.status().idle, count);
}

#[tokio::test(start_paused = true)]
async fn connections_idle_past_keepalive_are_checked_and_the_dead_closed() {
    let (manager, state) = TestManager::new();
    let pool = builder(manager, Some(Duration::from_secs(30)))
        .build()
        .unwrap();
    open_idle(&pool, 2).await;
    run_for(Duration::from_secs(29)).await;
    assert_eq!(state.checks(), 0, "not idle long enough yet");

    // The reaper runs every 15 s (keepalive / 2): both are due by 45 s.
    state.script_checks([Step::Fail(ErrorClass::Connection), Step::Ok]);
    run_for(Duration::from_secs(16)).await;
    assert_eq!(state.checks(), 2);
    assert_eq!(pool.metrics().closed_invalid, 1);
    assert_eq!(pool.status().idle, 1);
    assert_eq!(state.open(), 1, "the dead one is closed, not leaked");

    // The survivor counts from its check: checked again a keepalive later, not sooner.
    run_for(Duration::from_secs(14)).await;
    assert_eq!(state.checks(), 2);
    run_for(Duration::from_secs(32)).await;
    assert_eq!(state.checks(), 3);
    assert_eq!(pool.status().idle, 1);
}

#[tokio::test(start_paused = true)]
async fn connections_in_use_are_never_checked() {
    let (manager, state) = TestManager::new();
    let pool = builder(manager, Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    let held = pool.get().await.unwrap();
    run_for(Duration::from_secs(60)).await;
    assert_eq!(state.checks(), 0);
    drop(held);
    run_for(Duration::from_secs(16)).await;
    assert_eq!(state.checks(), 1, "checked once idle past keepalive");
}

#[tokio::test(start_paused = true)]
async fn without_keepalive_idle_connections_are_not_checked() {
    let (manager, state) = TestManager::new();
    let pool = builder(manager, None)
        .reaper_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    open_idle(&pool, 2).await;
    run_for(Duration::from_secs(120)).await;
    assert_eq!(state.checks(), 0);
}

#[tokio::test(start_paused = true)]
async fn keepalive_checks_leave_the_idle_timeout_counting_from_the_last_use() {
    let (manager, state) = TestManager::new();
    let pool = builder(manager, Some(Duration::from_secs(10)))
        .idle_timeout(Some(Duration::from_secs(60)))
        .build()
        .unwrap();
    open_idle(&pool, 1).await;
    run_for(Duration::from_secs(55)).await;
    assert_eq!(
        state.checks(),
        3,
        "checked at 15, 30 and 45 s: every 10 s, on a 5 s tick"
    );
    assert_eq!(pool.status().idle, 1);
    // The reaper ticks every 5 s: closed as idle by 65 s, though checked at every tick.
    run_for(Duration::from_secs(11)).await;
    assert_eq!(pool.status().size, 0);
    assert_eq!(pool.metrics().closed_idle, 1);
    assert_eq!(pool.metrics().closed_invalid, 0);
}

#[tokio::test(start_paused = true)]
async fn a_hung_check_is_cut_by_check_timeout_while_callers_take_the_others() {
    let (manager, state) = TestManager::new();
    let pool = builder(manager, Some(Duration::from_secs(10)))
        .check_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    open_idle(&pool, 2).await;
    state.script_checks([Step::Hang]);
    // The first tick at which both are due (15 s) takes one out for its hung check.
    run_for(Duration::from_millis(15_500)).await;
    assert_eq!(state.checks(), 1);
    assert_eq!(pool.status().idle, 1, "one is out for its check");
    let conn = tokio::time::timeout(Duration::from_millis(1), pool.get())
        .await
        .expect("the other connection is handed out at once")
        .unwrap();
    drop(conn);
    // The check is cut at 2 s: that connection is closed; the returned one is not due.
    run_for(Duration::from_secs(2)).await;
    assert_eq!(pool.metrics().closed_invalid, 1);
    assert_eq!(pool.status().size, 1);
    assert_eq!(state.open(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_pool_closed_during_a_check_closes_the_checked_connection_too() {
    let (manager, state) = TestManager::new();
    let pool = builder(manager, Some(Duration::from_secs(10)))
        .check_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    open_idle(&pool, 1).await;
    state.script_checks([Step::Slow(Duration::from_secs(1))]);
    run_for(Duration::from_millis(15_500)).await;
    assert_eq!(state.checks(), 1);
    assert_eq!(pool.status().idle, 0, "out for its check");
    // `close` waits for it as for a checked-out connection, and closes it once back.
    let report = pool.close_within(Duration::from_secs(3)).await;
    assert_eq!(report.still_open, 0, "{report:?}");
    assert_eq!(state.open(), 0);
    assert_eq!(pool.metrics().closed_pool, 1);
}

#[tokio::test(start_paused = true)]
async fn a_pool_shrunk_during_a_check_closes_the_checked_connection_if_above_its_size() {
    let (manager, state) = TestManager::new();
    let pool = builder(manager, Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    open_idle(&pool, 2).await;
    state.script_checks([Step::Slow(Duration::from_secs(1)), Step::Ok]);
    run_for(Duration::from_millis(15_500)).await;
    assert_eq!(state.checks(), 1);
    // The other one is in use, so nothing idle is left for the shrink to close now.
    let held = pool.get().await.unwrap();
    pool.resize(1).unwrap();
    assert_eq!(pool.status().size, 2, "{:?}", pool.status());
    // The checked one, back while the pool is above its new size, is closed.
    run_for(Duration::from_secs(1)).await;
    assert_eq!(pool.status().size, 1, "{:?}", pool.status());
    assert_eq!(pool.metrics().closed_pool, 1);
    drop(held);
    assert_eq!(pool.status().idle, 1);
    assert_eq!(state.open(), 1);
}

#[test]
fn a_zero_keepalive_is_a_config_error_naming_it() {
    let (manager, _) = TestManager::new();
    let error = builder(manager, Some(Duration::ZERO)).build().unwrap_err();
    assert_eq!(error.setting, "keepalive", "{error}");
}
