//! The lifecycle hooks' contracts: when each runs, what its failure, panic or slowness
//! costs (that connection, never the pool), how each is counted, and that a checkout
//! dropped while `before_acquire` runs leaks neither a slot nor a connection. Also
//! `retain`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use pool_core::{ErrorClass, HookFuture, Pool, PoolBuilder, PoolError, TimeoutPhase};
use support::{State, TestConn, TestError, TestManager, settle};

/// What one run of a hook does.
#[derive(Debug, Clone, Copy)]
enum Act {
    Pass,
    Fail,
    Panic,
    /// Passes after this long.
    Sleep(Duration),
    Hang,
}

/// A scripted asynchronous hook: the acts queued, then `Pass`; counts its runs.
#[derive(Clone, Default)]
struct Script {
    acts: Arc<Mutex<VecDeque<Act>>>,
    runs: Arc<AtomicUsize>,
}

impl Script {
    fn queue(&self, acts: impl IntoIterator<Item = Act>) {
        self.acts.lock().unwrap().extend(acts);
    }

    fn runs(&self) -> usize {
        self.runs.load(SeqCst)
    }

    fn next(&self) -> Act {
        self.runs.fetch_add(1, SeqCst);
        self.acts.lock().unwrap().pop_front().unwrap_or(Act::Pass)
    }

    /// The hook, in the shape the builder takes.
    fn hook(&self) -> impl for<'c> Fn(&'c mut TestConn) -> HookFuture<'c, TestError> + use<> {
        let script = self.clone();
        move |_conn| {
            let act = script.next();
            if let Act::Panic = act {
                panic!("hook panicked (on purpose)");
            }
            Box::pin(async move {
                match act {
                    Act::Pass | Act::Panic => Ok(()),
                    Act::Fail => Err(TestError {
                        class: ErrorClass::Transient,
                        seq: 0,
                    }),
                    Act::Sleep(delay) => {
                        tokio::time::sleep(delay).await;
                        Ok(())
                    }
                    Act::Hang => std::future::pending().await,
                }
            })
        }
    }
}

fn builder() -> (PoolBuilder<TestManager>, Arc<State>) {
    let (manager, state) = TestManager::new();
    let builder = Pool::builder(manager)
        .max_size(2)
        .connect_timeout(Duration::from_millis(100))
        .acquire_timeout(Duration::from_millis(500))
        .connect_backoff(Duration::from_millis(10), Duration::from_millis(10));
    (builder, state)
}

/// Every connection the manager holds open is one the pool counts, nothing is checked
/// out or waiting, and every slot can be taken at once: the accounting adds up.
async fn assert_accounted(pool: &Pool<TestManager>, state: &State) {
    for _ in 0..50 {
        tokio::time::advance(Duration::from_millis(10)).await;
        settle().await;
    }
    let status = pool.status();
    assert_eq!(status.in_use, 0, "{status:?}");
    assert_eq!(status.waiting, 0, "{status:?}");
    assert_eq!(state.open(), status.size, "connections outside the pool");
    let mut all = Vec::new();
    for _ in 0..status.max_size {
        let conn = tokio::time::timeout(Duration::from_secs(5), pool.get())
            .await
            .expect("a slot leaked")
            .expect("checkout");
        all.push(conn);
    }
    drop(all);
}

#[tokio::test(start_paused = true)]
async fn after_connect_runs_on_each_new_connection_and_its_error_fails_that_connect() {
    let (builder, state) = builder();
    let hook = Script::default();
    hook.queue([Act::Fail]);
    let pool = builder.after_connect(hook.hook()).build().unwrap();

    let conn = pool.get().await.unwrap();
    assert_eq!(hook.runs(), 2, "the failed connection, then the kept one");
    assert_eq!(state.connects(), 2);
    let metrics = pool.metrics();
    assert_eq!(metrics.connect_errors, 1);
    assert_eq!(
        metrics.connections_created, 1,
        "a failed hook's connection was never kept"
    );
    drop(conn);
    // Reused, not set up again.
    drop(pool.get().await.unwrap());
    assert_eq!(hook.runs(), 2);
    assert_accounted(&pool, &state).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_after_connect_fails_that_connect_and_the_pool_carries_on() {
    let (builder, state) = builder();
    let hook = Script::default();
    hook.queue([Act::Panic, Act::Panic]);
    let pool = builder.after_connect(hook.hook()).build().unwrap();

    let conn = pool.get().await.unwrap();
    assert_eq!(hook.runs(), 3);
    assert_eq!(pool.metrics().connect_errors, 2);
    assert_eq!(pool.status().size, 1, "the panics gave their room back");
    drop(conn);
    assert_accounted(&pool, &state).await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_after_connect_is_cut_by_the_connect_timeout() {
    let (builder, state) = builder();
    let hook = Script::default();
    // Each attempt: the hook outlives the 100 ms connect timeout.
    hook.queue([Act::Sleep(Duration::from_secs(10)); 3]);
    let pool = builder
        .acquire_timeout(Duration::from_millis(250))
        .after_connect(hook.hook())
        .build()
        .unwrap();

    match pool.get().await {
        Err(PoolError::Timeout { phase, .. }) => assert_eq!(phase, TimeoutPhase::Connecting),
        other => panic!("expected a connect timeout, got {other:?}"),
    }
    assert!(pool.metrics().connect_errors >= 2);
    assert_eq!(pool.metrics().connections_created, 0);
    assert_accounted(&pool, &state).await;
}

#[tokio::test(start_paused = true)]
async fn before_acquire_runs_on_reuse_and_a_rejection_moves_the_checkout_on() {
    let (builder, state) = builder();
    let hook = Script::default();
    let pool = builder.before_acquire(hook.hook()).build().unwrap();

    let first = pool.get().await.unwrap();
    let first_id = first.id;
    assert_eq!(hook.runs(), 0, "a connection just opened is not checked");
    drop(first);
    let again = pool.get().await.unwrap();
    assert_eq!(
        (hook.runs(), again.id),
        (1, first_id),
        "reused after the hook passed"
    );
    drop(again);

    hook.queue([Act::Fail]);
    let next = pool.get().await.unwrap();
    assert_ne!(next.id, first_id, "the rejected connection was closed");
    assert_eq!(pool.metrics().closed_hook, 1);
    drop(next);

    hook.queue([Act::Panic]);
    let after_panic = pool.get().await.unwrap();
    assert_eq!(pool.metrics().closed_hook, 2, "a panic rejects too");
    drop(after_panic);
    assert_eq!(state.connects(), 3);
    assert_accounted(&pool, &state).await;
}

#[tokio::test(start_paused = true)]
async fn a_slow_before_acquire_is_cut_by_the_acquire_deadline() {
    let (builder, state) = builder();
    let hook = Script::default();
    let pool = builder.before_acquire(hook.hook()).build().unwrap();
    drop(pool.get().await.unwrap());

    hook.queue([Act::Hang]);
    let started = tokio::time::Instant::now();
    match pool.get().await {
        Err(PoolError::Timeout { phase, .. }) => assert_eq!(phase, TimeoutPhase::Validating),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(started.elapsed(), Duration::from_millis(500));
    assert_eq!(
        pool.metrics().closed_hook,
        1,
        "the connection it held is closed"
    );
    assert_accounted(&pool, &state).await;
}

#[tokio::test(start_paused = true)]
async fn a_checkout_dropped_while_before_acquire_runs_leaks_nothing() {
    for drop_after in [0, 1, 20, 49, 51] {
        let (builder, state) = builder();
        let hook = Script::default();
        let pool = builder.before_acquire(hook.hook()).build().unwrap();
        let held = pool.get().await.unwrap();
        drop(pool.get().await.unwrap());
        hook.queue([Act::Sleep(Duration::from_millis(50))]);

        let outcome = tokio::time::timeout(Duration::from_millis(drop_after), pool.get()).await;
        let finished = outcome.is_ok();
        assert_eq!(finished, drop_after > 50, "drop after {drop_after} ms");
        drop(outcome);
        drop(held);
        let closed = pool.metrics().closed_hook;
        assert_eq!(
            closed,
            u64::from(!finished),
            "drop after {drop_after} ms: a connection cut mid-hook is closed, one that passed is not"
        );
        assert_accounted(&pool, &state).await;
    }
}

#[tokio::test(start_paused = true)]
async fn after_release_may_discard_a_returned_connection() {
    let (builder, state) = builder();
    let verdicts = Arc::new(Mutex::new(VecDeque::from([true, false])));
    let seen = Arc::clone(&verdicts);
    let pool = builder
        .after_release(move |_conn| {
            let verdict = seen.lock().unwrap().pop_front();
            verdict.unwrap_or_else(|| panic!("after_release panicked (on purpose)"))
        })
        .build()
        .unwrap();

    drop(pool.get().await.unwrap());
    assert_eq!(
        (pool.status().idle, pool.metrics().closed_hook),
        (1, 0),
        "kept"
    );
    drop(pool.get().await.unwrap());
    assert_eq!(
        (pool.status().idle, pool.metrics().closed_hook),
        (0, 1),
        "discarded"
    );
    // A panic inside the return (inside `Drop`) discards, and does not abort.
    drop(pool.get().await.unwrap());
    assert_eq!(
        (pool.status().idle, pool.metrics().closed_hook),
        (0, 2),
        "panicked"
    );
    assert_eq!(state.open(), 0);
    verdicts.lock().unwrap().extend([true; 8]);
    assert_accounted(&pool, &state).await;
}

#[tokio::test(start_paused = true)]
async fn before_close_sees_every_connection_the_pool_closes() {
    let (builder, state) = builder();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let pool = builder
        .idle_timeout(Some(Duration::from_secs(1)))
        .reaper_interval(Duration::from_millis(100))
        .before_close(move |_conn| {
            if counter.fetch_add(1, SeqCst) == 0 {
                panic!("before_close panicked (on purpose)");
            }
        })
        .build()
        .unwrap();

    // Broken on return (closed at once), idle too long (the reaper), and `close()`.
    let mut broken = pool.get().await.unwrap();
    broken.broken = true;
    drop(broken);
    drop(pool.get().await.unwrap());
    for _ in 0..30 {
        tokio::time::advance(Duration::from_millis(100)).await;
        settle().await;
    }
    let _kept = pool.get().await.unwrap();
    let idle = pool.get().await.unwrap();
    drop(idle);
    drop(_kept);
    pool.close().await;

    let metrics = pool.metrics();
    let closed = metrics.closed_broken + metrics.closed_idle + metrics.closed_pool;
    assert_eq!((metrics.closed_broken, metrics.closed_idle), (1, 1));
    assert_eq!(seen.load(SeqCst) as u64, closed, "{metrics:?}");
    assert_eq!(
        state.open(),
        0,
        "the panicking hook's connection was closed anyway"
    );
}

#[tokio::test(start_paused = true)]
async fn retain_closes_the_idle_connections_it_is_told_to() {
    let (builder, state) = builder();
    let pool = builder.max_size(3).build().unwrap();
    let conns = [
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
        pool.get().await.unwrap(),
    ];
    let ids: Vec<u64> = conns.iter().map(|conn| conn.id).collect();
    let [a, b, c] = conns;
    drop(a);
    drop(b);

    // Only idle connections are seen; the checked-out one is not.
    let doomed = ids[0];
    assert_eq!(pool.retain(|conn| conn.id != doomed), 1);
    assert_eq!(pool.status().idle, 1);
    assert_eq!(
        pool.retain(|_| panic!("retain's predicate panicked (on purpose)")),
        1
    );
    assert_eq!(pool.status().idle, 0);
    assert_eq!(pool.metrics().closed_hook, 2);
    assert_eq!(pool.status().size, 1, "{:?}", pool.status());
    assert_eq!(c.id, ids[2]);
    drop(c);
    // The slots parked with the closed connections are free again.
    assert_accounted(&pool, &state).await;
}
