//! `SELECT 1` through pool-sqlx, sqlx's `PgPool` (default options) and a raw
//! `PgConnection`, at 1, 16 and 64 concurrent tasks, in the same run.
//!
//! ```text
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p pool-sqlx --bench select_one
//! ```
//! Each measured element is one `SELECT 1` (checkout, query, return for the pools).

#![allow(clippy::unwrap_used, missing_docs)] // a benchmark: failing loudly is the point

use std::{sync::Arc, time::Duration};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pool_sqlx::{
    Config, PgPool,
    sqlx::{self, Connection, PgConnection, postgres::PgPoolOptions},
};
use tokio::{runtime::Runtime, sync::Mutex, time::Instant};

const TASKS: [u64; 3] = [1, 16, 64];

fn url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
}

/// Runs `iters` queries spread over `tasks` tasks; returns the wall time.
async fn spread<F, Fut>(iters: u64, tasks: u64, one: F) -> Duration
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let one = Arc::new(one);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let one = Arc::clone(&one);
            let share = iters / tasks + u64::from(task < iters % tasks);
            tokio::spawn(async move {
                for _ in 0..share {
                    one().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

fn select_one(c: &mut Criterion) {
    let Some(url) = url() else {
        eprintln!("SKIPPED select_one: set TEST_POSTGRES_URL to run this benchmark");
        return;
    };
    let runtime = Runtime::new().unwrap();
    let ours: PgPool = Config::from_url(&url)
        .unwrap()
        .build_pool::<sqlx::Postgres>("bench")
        .unwrap();
    let theirs = runtime
        .block_on(PgPoolOptions::new().connect(&url))
        .unwrap();
    let raw = Arc::new(Mutex::new(
        runtime.block_on(PgConnection::connect(&url)).unwrap(),
    ));

    let mut group = c.benchmark_group("select_one");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);

    // The same harness as the pools (one spawned task); the uncontended mutex is the
    // only way to share one connection with it and costs tens of nanoseconds.
    group.bench_function(BenchmarkId::new("raw_connection", 1), |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let raw = Arc::clone(&raw);
            spread(iters, 1, move || {
                let raw = Arc::clone(&raw);
                async move {
                    let mut conn = raw.lock().await;
                    sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
                }
            })
        })
    });
    for tasks in TASKS {
        group.bench_function(BenchmarkId::new("pool_sqlx", tasks), |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let pool = ours.clone();
                spread(iters, tasks, move || {
                    let pool = pool.clone();
                    async move {
                        let mut conn = pool.get().await.unwrap();
                        sqlx::query("SELECT 1").execute(&mut **conn).await.unwrap();
                    }
                })
            })
        });
        group.bench_function(BenchmarkId::new("sqlx_pgpool", tasks), |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let pool = theirs.clone();
                spread(iters, tasks, move || {
                    let pool = pool.clone();
                    async move {
                        let mut conn = pool.acquire().await.unwrap();
                        sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
                    }
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, select_one);
criterion_main!(benches);
