//! Cancellation safety: a `get()` future dropped at any point leaks nothing.
//!
//! The matrix drives every stage of a checkout (waiting for a slot, connecting,
//! validating) with connects and checks that succeed, fail, are slow or never finish,
//! and drops the future at each point in time; then it checks that every slot and
//! every connection is accounted for. A randomized stress test does the same under
//! contention on a multi-threaded runtime.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{sync::atomic::Ordering::SeqCst, time::Duration};

use pool_core::{ErrorClass, Pool, Validation};
use support::{Step, TestManager, run_for_in_steps, settle};

#[derive(Debug, Clone, Copy)]
enum Before {
    /// Nothing open: the checkout must connect.
    Empty,
    /// One idle connection that validation will check.
    StaleIdle,
    /// The only slot is held and comes back after 30 ms.
    Full,
}

async fn run_for(duration: Duration) {
    run_for_in_steps(duration, Duration::from_millis(10)).await;
}

async fn scenario(before: Before, connect: Step, check: Step, drop_after: Option<Duration>) {
    let label = format!("{before:?} connect={connect:?} check={check:?} drop_after={drop_after:?}");
    let (manager, state) = TestManager::new();
    let max_size = 2;
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .validation(Validation::Always)
        .connect_timeout(Duration::from_millis(100))
        .check_timeout(Duration::from_millis(80))
        .acquire_timeout(Duration::from_secs(1))
        .connect_backoff(Duration::from_millis(10), Duration::from_millis(40))
        .build()
        .unwrap();

    let mut held = Vec::new();
    match before {
        Before::Empty => {}
        Before::StaleIdle => drop(pool.get().await.unwrap()),
        Before::Full => {
            held.push(pool.get().await.unwrap());
            held.push(pool.get().await.unwrap());
        }
    }
    state.connect_default(connect);
    state.check_default(check);

    let releaser = (!held.is_empty()).then(|| {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            drop(held);
        })
    });

    // `timeout` polls the checkout before looking at its deadline, so a zero
    // deadline drops it after exactly one poll.
    let limit = drop_after.unwrap_or(Duration::ZERO);
    let outcome = tokio::time::timeout(limit, pool.get()).await;
    drop(outcome);

    // Let everything the dropped checkout started run out.
    state.connect_default(Step::Ok);
    state.check_default(Step::Ok);
    run_for(Duration::from_millis(500)).await;
    if let Some(releaser) = releaser {
        releaser.await.unwrap();
    }
    settle().await;

    let status = pool.status();
    assert_eq!(status.waiting, 0, "{label}: {status:?}");
    assert_eq!(status.in_use, 0, "{label}: {status:?}");
    assert!(status.size <= max_size, "{label}: {status:?}");
    assert_eq!(
        state.open(),
        status.size,
        "{label}: connections outside the pool"
    );
    assert!(
        state.max_open.load(SeqCst) <= max_size,
        "{label}: limit exceeded"
    );

    // Every slot is free again: the whole pool can be checked out at once.
    let mut all = Vec::new();
    for _ in 0..max_size {
        let conn = tokio::time::timeout(Duration::from_millis(900), pool.get())
            .await
            .unwrap_or_else(|_| panic!("{label}: a slot leaked"))
            .unwrap_or_else(|error| panic!("{label}: {error}"));
        all.push(conn);
    }
    assert_eq!(pool.status().in_use, max_size, "{label}");
    drop(all);
    assert_eq!(pool.status().in_use, 0, "{label}");
}

#[tokio::test(start_paused = true)]
async fn a_checkout_dropped_at_any_point_leaks_nothing() {
    let connects = [
        Step::Ok,
        Step::Fail(ErrorClass::Transient),
        Step::Fail(ErrorClass::Permanent),
        Step::Slow(Duration::from_millis(50)),
        Step::SlowFail(Duration::from_millis(50), ErrorClass::Connection),
        Step::Hang,
    ];
    let checks = [
        Step::Ok,
        Step::Fail(ErrorClass::Connection),
        Step::Slow(Duration::from_millis(50)),
        Step::Hang,
    ];
    let drop_points = [
        None,
        Some(Duration::from_millis(1)),
        Some(Duration::from_millis(25)),
        Some(Duration::from_millis(31)),
        Some(Duration::from_millis(49)),
        Some(Duration::from_millis(51)),
        Some(Duration::from_millis(85)),
        Some(Duration::from_millis(150)),
    ];
    let mut cases = 0;
    for before in [Before::Empty, Before::StaleIdle, Before::Full] {
        for connect in connects {
            for check in checks {
                for drop_after in drop_points {
                    scenario(before, connect, check, drop_after).await;
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 3 * 6 * 4 * 8);
}

/// Many tasks, random hold times, random cancellation, random failures, on two
/// worker threads; a sampler checks the invariants at every observation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_stress_keeps_the_invariants() {
    stress(false).await;
}

/// The same with the adaptive limit moving the slot total under the checkouts (the
/// transient connect failures cut it, the returns raise it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn randomized_stress_keeps_the_invariants_under_the_adaptive_limit() {
    stress(true).await;
}

async fn stress(adaptive: bool) {
    let (manager, state) = TestManager::new();
    let max_size = 8;
    let builder = Pool::builder(manager)
        .max_size(max_size)
        .validation(Validation::Always)
        .acquire_timeout(Duration::from_secs(5))
        .connect_backoff(Duration::from_millis(1), Duration::from_millis(5));
    let pool = if adaptive {
        builder.adaptive_limit(1)
    } else {
        builder
    }
    .build()
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = tokio::spawn({
        let pool = pool.clone();
        let state = state.clone();
        let stop = stop.clone();
        async move {
            let mut observations = 0u64;
            while !stop.load(SeqCst) {
                let status = pool.status();
                assert_eq!(status.idle + status.in_use, status.size, "{status:?}");
                assert!(status.size <= max_size, "{status:?}");
                assert!(status.limit <= max_size, "{status:?}");
                assert!(state.open() <= max_size, "open {}", state.open());
                observations += 1;
                tokio::task::yield_now().await;
            }
            observations
        }
    });

    let mut tasks = Vec::new();
    for seed in 0..64u64 {
        let pool = pool.clone();
        let state = state.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(seed);
            for _ in 0..300 {
                match rng.u8(0..20) {
                    0 => state.script_connects([Step::Fail(ErrorClass::Transient)]),
                    1 => state.script_checks([Step::Fail(ErrorClass::Connection)]),
                    2 => state.script_connects([Step::Slow(Duration::from_micros(200))]),
                    _ => {}
                }
                let cancel_after = Duration::from_micros(rng.u64(0..300));
                let hold = rng.u8(0..5);
                let breaks = rng.u8(0..30) == 0;
                let cancel = rng.bool();
                let checkout = async {
                    let mut conn = pool.get().await?;
                    for _ in 0..hold {
                        tokio::task::yield_now().await;
                    }
                    conn.broken = breaks;
                    Ok::<_, pool_core::PoolError<support::TestError>>(())
                };
                if cancel {
                    let _ = tokio::time::timeout(cancel_after, checkout).await;
                } else {
                    let _ = checkout.await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    stop.store(true, SeqCst);
    let observations = sampler.await.unwrap();
    assert!(observations > 100, "{observations} observations");

    // Connects still in flight land or give up shortly; nothing may stay checked out.
    for _ in 0..200 {
        if pool.status().in_use == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = pool.status();
    assert_eq!((status.in_use, status.waiting), (0, 0), "{status:?}");
    assert_eq!(state.open(), status.size);
    // Every slot of the limit (max_size without the adaptive limit) is free again.
    let limit = status.limit;
    let mut all = Vec::new();
    for _ in 0..limit {
        all.push(pool.get().await.unwrap());
    }
    assert_eq!(pool.status().in_use, limit);
    if !adaptive {
        assert_eq!(limit, max_size);
        assert_eq!(pool.status().size, max_size);
    }
}
