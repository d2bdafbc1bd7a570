//! `SELECT 1` through pool-sqlx, sqlx's `PgPool` (default options) and a raw
//! `PgConnection`, at 1, 16 and 64 concurrent tasks, in the same run.
//!
//! ```text
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p pool-sqlx --bench select_one
//! ```
//! Each measured element is one `SELECT 1` (checkout, query, return for the pools).
//!
//! After criterion's groups, a table of *paired* rounds for one task, on one connection:
//! in each round, the same pool's single connection runs the same number of queries held
//! once (the raw connection: no checkout per query) and checked out per query (pool-sqlx),
//! back to back in alternating order, on a current-thread runtime and on the multi-thread
//! one; the table gives the median and interquartile range of the per-round ratios. One
//! connection on both sides because, on two cores, a loopback round trip depends on where
//! the scheduler puts that connection's server process: two connections measured side by
//! side differ by up to 3× for minutes at a time, whichever is the pooled one, which
//! criterion's groups above show as noise. `-- paired_only` skips criterion's groups.

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
    if std::env::args().any(|arg| arg == "paired_only") {
        paired(&url);
        return;
    }
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
    drop(runtime);
    paired(&url);
}

/// One task, `QUERIES` queries per side per round, `ROUNDS` rounds; the ratio of
/// pool-sqlx's throughput to the raw connection's in each round.
fn paired(url: &str) {
    const ROUNDS: usize = 401;
    const QUERIES: u32 = 50;
    println!(
        "\n1 task, one connection, {ROUNDS} paired rounds of {QUERIES} queries: pool-sqlx (checkout per query) throughput / the connection held"
    );
    println!(
        "| runtime | raw, µs/query (median) | pool-sqlx, µs/query (median) | ratio, median [IQR] |"
    );
    println!("|---|---:|---:|---:|");
    let runtimes = [
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        ),
        ("multi-thread, 2 workers", Runtime::new().unwrap()),
    ];
    for (name, runtime) in runtimes {
        let (raw, pool, ratios) = runtime.block_on(async {
            let pool: PgPool = Config::from_url(&format!(
                "{url}{}connection_limit=1",
                if url.contains('?') { '&' } else { '?' }
            ))
            .unwrap()
            .build_pool::<sqlx::Postgres>("bench_paired")
            .unwrap();
            let (mut raw_times, mut pool_times, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..ROUNDS + 1 {
                let mut times = [Duration::ZERO; 2];
                for side in [round % 2, (round + 1) % 2] {
                    // In a task of its own, as a request handler would run.
                    times[side] = if side == 0 {
                        let pool = pool.clone();
                        tokio::spawn(async move {
                            let mut held = pool.get().await.unwrap();
                            let conn: &mut PgConnection = &mut held;
                            let started = Instant::now();
                            for _ in 0..QUERIES {
                                sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
                            }
                            started.elapsed()
                        })
                        .await
                        .unwrap()
                    } else {
                        let pool = pool.clone();
                        tokio::spawn(async move {
                            let started = Instant::now();
                            for _ in 0..QUERIES {
                                let mut conn = pool.get().await.unwrap();
                                sqlx::query("SELECT 1").execute(&mut **conn).await.unwrap();
                            }
                            started.elapsed()
                        })
                        .await
                        .unwrap()
                    };
                }
                if round == 0 {
                    continue; // warm-up: connections opened, statements prepared
                }
                raw_times.push(times[0].as_secs_f64() * 1e6 / f64::from(QUERIES));
                pool_times.push(times[1].as_secs_f64() * 1e6 / f64::from(QUERIES));
                ratios.push(times[0].as_secs_f64() / times[1].as_secs_f64());
            }
            pool.close().await;
            (raw_times, pool_times, ratios)
        });
        let quartiles = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
            (at(0.25), at(0.5), at(0.75))
        };
        let (_, raw, _) = quartiles(raw);
        let (_, pool, _) = quartiles(pool);
        let (low, median, high) = quartiles(ratios);
        println!("| {name} | {raw:.1} | {pool:.1} | {median:.2}× [{low:.2}–{high:.2}] |");
    }
}

criterion_group!(benches, select_one);
criterion_main!(benches);
