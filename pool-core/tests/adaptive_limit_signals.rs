//! The adaptive limit's edges: it never passes `max_size` (and follows `resize`), it
//! does not grow past what the load uses, congestion latency cannot show cuts it, and
//! the slot accounting still adds up when it moves under checkouts; a pool without it
//! reports `max_size` as its limit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{sync::Arc, time::Duration};

use pool_core::{ErrorClass, Pool};
use support::{State, Step, TestError, TestManager, settle};
use tokio::time::Instant;

/// `workers` callers, each holding a connection for 10 ms at a time, for `span`; the
/// server never slows, so only the load or `max_size` bounds the limit.
async fn load(pool: &Pool<TestManager>, workers: usize, span: Duration) {
    let end = Instant::now() + span;
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let conn = pool.get().await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(conn);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

fn adaptive(max_size: usize) -> (Pool<TestManager>, Arc<State>) {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .adaptive_limit(2)
        .connect_timeout(Duration::from_millis(100))
        .connect_backoff(Duration::from_millis(10), Duration::from_millis(10))
        .build()
        .unwrap();
    (pool, state)
}

#[tokio::test(start_paused = true)]
async fn a_fixed_pool_reports_max_size_as_its_limit() {
    let (manager, _state) = TestManager::new();
    let pool = Pool::builder(manager).max_size(7).build().unwrap();
    assert_eq!((pool.status().limit, pool.metrics().limit), (7, 7));
    pool.resize(3).unwrap();
    assert_eq!((pool.status().limit, pool.metrics().limit), (3, 3));
}

#[tokio::test(start_paused = true)]
async fn the_limit_starts_at_its_floor_and_is_checked() {
    let (pool, _state) = adaptive(10);
    assert_eq!(pool.status().limit, 2);
    for floor in [0, 11] {
        let (manager, _state) = TestManager::new();
        let error = Pool::builder(manager)
            .max_size(10)
            .adaptive_limit(floor)
            .build()
            .unwrap_err();
        assert_eq!(error.setting, "adaptive_limit", "{error}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_limit_grows_only_as_far_as_the_load_and_never_past_max_size() {
    let (pool, state) = adaptive(10);
    // Three callers never make anyone wait once the limit is three.
    load(&pool, 3, Duration::from_secs(5)).await;
    let limit = pool.status().limit;
    println!("3 callers: limit {limit}");
    assert!((3..=4).contains(&limit), "grew past the load: {limit}");

    // Forty callers on a server that never slows: up to max_size, and no further.
    load(&pool, 40, Duration::from_secs(5)).await;
    assert_eq!(pool.status().limit, 10);
    assert!(state.max_open.load(std::sync::atomic::Ordering::SeqCst) <= 10);

    // resize lowers the cap under the limit; raising it again lets the limit earn it.
    pool.resize(5).unwrap();
    assert_eq!(pool.status().limit, 5);
    pool.resize(20).unwrap();
    assert_eq!(pool.status().limit, 5, "a larger cap is not a larger limit");
    load(&pool, 40, Duration::from_secs(5)).await;
    assert_eq!(pool.status().limit, 20);
    assert_accounted(&pool, &state).await;
}

#[tokio::test(start_paused = true)]
async fn congestion_cuts_the_limit_and_accounting_still_adds_up() {
    let (pool, state) = adaptive(20);
    load(&pool, 40, Duration::from_secs(5)).await;
    assert_eq!(pool.status().limit, 20);

    // Work that times out: a tenth off (at least one), and it is not a sample.
    let mut conn = pool.get().await.unwrap();
    conn.begin_operation();
    conn.finish(&Err::<(), _>(TestError {
        class: ErrorClass::Timeout,
        seq: 0,
    }));
    assert_eq!(pool.status().limit, 18);
    // A hard limit at once, though the quiet pool had a free slot parked with each of
    // its 20 idle connections.
    assert_accounted(&pool, &state).await;

    // A connect refused as "too many connections" (transient): another tenth off.
    // (`retain` empties the idle list, so the next checkout must connect.)
    // (The check above held every connection 50 ms: that latency lowered the limit.)
    pool.retain(|_| false);
    let before = pool.status().limit;
    assert!(before >= 4, "{before}: too low to see two cuts");
    println!("limit before the connect failures: {before}");
    state.script_connects([Step::Fail(ErrorClass::Transient)]);
    let conn = pool.get().await.unwrap();
    assert_eq!(pool.status().limit, cut(before), "{:?}", pool.status());
    // And a connect that times out.
    state.script_connects([Step::Hang]);
    let other = pool.get().await.unwrap();
    assert_eq!(pool.status().limit, cut(cut(before)), "{:?}", pool.status());
    drop((conn, other));
    assert!(pool.metrics().connect_errors >= 2);
    assert_accounted(&pool, &state).await;
}

/// A tenth off, at least one, not below the floor (2).
fn cut(limit: usize) -> usize {
    (limit - limit / 10).min(limit - 1).max(2)
}

/// Nothing checked out or waiting, every connection the manager holds is the pool's,
/// and exactly `limit` checkouts can be held at once (one more waits).
async fn assert_accounted(pool: &Pool<TestManager>, state: &State) {
    settle().await;
    let status = pool.status();
    assert_eq!((status.in_use, status.waiting), (0, 0), "{status:?}");
    assert_eq!(state.open(), status.size);
    let mut held = Vec::new();
    for _ in 0..status.limit {
        held.push(
            tokio::time::timeout(Duration::from_secs(5), pool.get())
                .await
                .expect("a slot leaked")
                .unwrap(),
        );
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(50), pool.get())
            .await
            .is_err(),
        "more than the limit at once: {:?}",
        pool.status()
    );
    drop(held);
}
