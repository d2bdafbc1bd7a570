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
//!
//! Last, the ceiling table (`-- ceiling_only` prints it alone): at 16 and 64 tasks,
//! pool-sqlx against raw connections held one per task and against pgbench at the same
//! concurrency, in interleaved rounds, so the pool's share and sqlx's share of the gap to
//! the server are each known (on the multi-thread runtime; `CEILING_WORKERS=1`: on a
//! current-thread runtime). `-- profile_raw` or `-- profile_pool` runs one side of it
//! alone for a profiler (BENCHMARKS.md has the profile). `CEILING_ROUNDS` and
//! `CEILING_SECONDS` shorten it (default 5 rounds of 3 s per side). The same table for
//! pool-postgres on tokio-postgres is pool-postgres's `select_one` bench, from the same
//! code (`common/ceiling.rs`: settings, pgbench, the ratio columns).

#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // a benchmark: failing loudly is the point

use std::{sync::Arc, time::Duration};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pool_sqlx::{
    Config, PgPool,
    sqlx::{self, Connection, PgConnection, postgres::PgPoolOptions},
};
use tokio::{runtime::Runtime, sync::Mutex, time::Instant};

mod common {
    pub(crate) mod ceiling;
}
use common::ceiling;

const TASKS: [u64; 3] = [1, 16, 64];

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
    let Some(url) = ceiling::url() else {
        eprintln!("SKIPPED select_one: set TEST_POSTGRES_URL to run this benchmark");
        return;
    };
    if std::env::args().any(|arg| arg == "paired_only") {
        paired(&url);
        return;
    }
    if std::env::args().any(|arg| arg == "ceiling_only") {
        ceiling(&url);
        return;
    }
    // `-- profile_raw` or `-- profile_pool`: one side of the ceiling alone, 16 tasks for
    // 20 s on a current-thread runtime, for a profiler attached to this process
    // (`perf record`).
    if let Some(side) =
        std::env::args().find_map(|arg| arg.strip_prefix("profile_").map(str::to_owned))
    {
        profile_side(&url, &side);
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
    ceiling(&url);
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
            let pool = pool_of(url, 1, "bench_paired");
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

/// The ceiling: at 16 and 64 tasks, pool-sqlx (a pool of as many connections as tasks,
/// a checkout per query) against the same number of raw `PgConnection`s each held by its
/// task (no pool: what sqlx itself can do) and against pgbench (`-M prepared -j 2`, a
/// `SELECT 1` script, as many clients), in rounds (5 of 3 s each, or `CEILING_ROUNDS` of
/// `CEILING_SECONDS`), the three back to back in rotating order. The pool's share of the
/// gap to the server is pool-sqlx / raw-held; sqlx's share is raw-held / pgbench.
fn ceiling(url: &str) {
    let (rounds, seconds) = ceiling::rounds_and_seconds();
    let Some(pgbench) = ceiling::pgbench() else {
        println!("{}", ceiling::NO_PGBENCH);
        return;
    };
    // `CEILING_WORKERS=1`: a current-thread runtime, where a connection's wake-ups cannot
    // move between workers (the hypothesis for the pool's share of the gap at 16 tasks).
    let (runtime, flavour) = ceiling::runtime();
    ceiling::print_heading(rounds, seconds, flavour, "pool-sqlx");
    for tasks in [16_u64, 64] {
        let duration = Duration::from_secs(seconds);
        // Each side opens its connections for its own turn and closes them after: the
        // three together would need 3 × 64 connections, past a default server's 100.
        // Every turn starts with a 500 ms warm-up (connections open, statement
        // prepared), as pgbench's own connects are outside its measured time.
        let raw_turn = |runtime: &Runtime| {
            let raws = held_connections(runtime, url, tasks);
            runtime.block_on(raw_rate(&raws, ceiling::WARM_UP));
            let rate = runtime.block_on(raw_rate(&raws, duration));
            for raw in raws {
                let conn = Arc::try_unwrap(raw).unwrap().into_inner();
                runtime.block_on(conn.close()).unwrap();
            }
            rate
        };
        let pool_turn = |runtime: &Runtime| {
            let pool = pool_of(url, tasks, "bench_ceiling");
            runtime.block_on(pool_rate(&pool, tasks, ceiling::WARM_UP));
            let rate = runtime.block_on(pool_rate(&pool, tasks, duration));
            runtime.block_on(pool.close());
            rate
        };
        let (mut bench, mut raw, mut ours) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            for side in 0..3 {
                match (round + side) % 3 {
                    0 => bench.push(ceiling::pgbench_rate(&pgbench, url, tasks, seconds)),
                    1 => raw.push(raw_turn(&runtime)),
                    _ => ours.push(pool_turn(&runtime)),
                }
            }
        }
        ceiling::print_row(tasks, &bench, &raw, &ours);
    }
}

/// One side of the ceiling alone (see `main`), printing its rate.
fn profile_side(url: &str, side: &str) {
    const TASKS: u64 = 16;
    let duration = Duration::from_secs(20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rate = match side {
        "raw" => {
            let raws = held_connections(&runtime, url, TASKS);
            runtime.block_on(raw_rate(&raws, duration))
        }
        "pool" => {
            let pool = pool_of(url, TASKS, "bench_profile");
            runtime.block_on(pool_rate(&pool, TASKS, duration))
        }
        other => panic!("profile_side takes raw or pool, not {other}"),
    };
    println!("{side}: {rate:.0} queries/s, {TASKS} tasks, current-thread runtime");
}

/// A pool-sqlx pool of `limit` connections on `url`, named `name`.
fn pool_of(url: &str, limit: u64, name: &str) -> PgPool {
    Config::from_url(&format!(
        "{url}{}connection_limit={limit}",
        if url.contains('?') { '&' } else { '?' }
    ))
    .unwrap()
    .build_pool::<sqlx::Postgres>(name)
    .unwrap()
}

/// `count` raw connections to `url`, one for each task to hold.
fn held_connections(runtime: &Runtime, url: &str, count: u64) -> Vec<Arc<Mutex<PgConnection>>> {
    (0..count)
        .map(|_| {
            Arc::new(Mutex::new(
                runtime.block_on(PgConnection::connect(url)).unwrap(),
            ))
        })
        .collect()
}

/// Queries per second of `tasks` tasks sharing `pool`, a checkout per query.
async fn pool_rate(pool: &PgPool, tasks: u64, duration: Duration) -> f64 {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut done = 0_u64;
                while Instant::now() < deadline {
                    let mut conn = pool.get().await.unwrap();
                    sqlx::query("SELECT 1").execute(&mut **conn).await.unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for handle in handles {
        total += handle.await.unwrap();
    }
    total as f64 / duration.as_secs_f64()
}

/// Queries per second of one task per raw connection, each holding its own.
async fn raw_rate(raws: &[Arc<Mutex<PgConnection>>], duration: Duration) -> f64 {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = raws
        .iter()
        .map(|raw| {
            let raw = Arc::clone(raw);
            tokio::spawn(async move {
                let mut conn = raw.lock().await;
                let mut done = 0_u64;
                while Instant::now() < deadline {
                    sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for handle in handles {
        total += handle.await.unwrap();
    }
    total as f64 / duration.as_secs_f64()
}

criterion_group!(benches, select_one);
criterion_main!(benches);
