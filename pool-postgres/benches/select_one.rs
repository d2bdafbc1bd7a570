//! `SELECT 1` through pool-postgres and through raw tokio-postgres clients held by their
//! tasks: pool-sqlx's `select_one` bench for the tokio-postgres binding.
//!
//! ```text
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p pool-postgres --bench select_one
//! ```
//! Each measured element is one `SELECT 1` (checkout, query, return for the pool), its
//! statement prepared once per connection on both sides: the raw client prepares it
//! before it is measured, the pool's connections keep theirs (`prepare_cached`).
//!
//! After criterion's group, the ceiling table (`-- ceiling_only` prints it alone): at 16
//! and 64 tasks, pool-postgres against raw clients held one per task and against pgbench
//! at the same concurrency, in interleaved rounds, so the pool's share and
//! tokio-postgres's share of the gap to the server are each known. It is the same table
//! as pool-sqlx's (`CEILING_WORKERS`, `CEILING_ROUNDS`, `CEILING_SECONDS` work the same),
//! from the same code (`pool-sqlx/benches/common/ceiling.rs`). It lives here, not in
//! pool-sqlx's bench: there it would need pool-postgres as a dev-dependency of pool-sqlx,
//! so every build of pool-sqlx's tests would build the other binding too, and the
//! attributes in pool-sqlx's own doctests, which name no binding, would find two.

#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // a benchmark: failing loudly is the point

use std::{sync::Arc, time::Duration};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pool_postgres::{
    Config, PostgresPool,
    tokio_postgres::{self, Client, NoTls, Statement},
};
use tokio::{runtime::Runtime, task::JoinHandle, time::Instant};

#[path = "../../pool-sqlx/benches/common/ceiling.rs"]
mod ceiling;

const TASKS: [u64; 3] = [1, 16, 64];

/// The one statement both sides run.
const SELECT_ONE: &str = "SELECT 1";

/// A raw client, held by one task, with its statement prepared once.
struct Held {
    client: Client,
    statement: Statement,
    /// The connection's I/O task: it ends once the client is dropped and the session is
    /// over, which a turn waits for, so the next side finds the server's slots free.
    connection: JoinHandle<()>,
}

impl Held {
    async fn connect(url: &str) -> Held {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let statement = client.prepare(SELECT_ONE).await.unwrap();
        Held {
            client,
            statement,
            connection,
        }
    }

    async fn select_one(&self) {
        self.client.query_one(&self.statement, &[]).await.unwrap();
    }

    /// Drops the client and waits for its session to end.
    async fn close(self) {
        let Held {
            client,
            statement,
            connection,
        } = self;
        drop((statement, client));
        connection.await.unwrap();
    }
}

/// One `SELECT 1` on a connection checked out for it.
async fn pooled_select_one(pool: &PostgresPool) {
    let conn = pool.get().await.unwrap();
    let statement = conn.prepare_cached(SELECT_ONE).await.unwrap();
    conn.query_one(&statement, &[]).await.unwrap();
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
    let Some(url) = ceiling::url() else {
        eprintln!("SKIPPED select_one: set TEST_POSTGRES_URL to run this benchmark");
        return;
    };
    if std::env::args().any(|arg| arg == "ceiling_only") {
        ceiling(&url);
        return;
    }
    let runtime = Runtime::new().unwrap();
    let ours = pool_of(&url, 10, "bench");
    let raw = Arc::new(runtime.block_on(Held::connect(&url)));

    let mut group = c.benchmark_group("select_one");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);

    // The same harness as the pool (one spawned task); no lock: tokio-postgres's queries
    // take the client by `&`.
    group.bench_function(BenchmarkId::new("raw_client", 1), |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let raw = Arc::clone(&raw);
            spread(iters, 1, move || {
                let raw = Arc::clone(&raw);
                async move { raw.select_one().await }
            })
        })
    });
    for tasks in TASKS {
        group.bench_function(BenchmarkId::new("pool_postgres", tasks), |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let pool = ours.clone();
                spread(iters, tasks, move || {
                    let pool = pool.clone();
                    async move { pooled_select_one(&pool).await }
                })
            })
        });
    }
    group.finish();
    runtime.block_on(ours.close());
    if let Ok(raw) = Arc::try_unwrap(raw) {
        runtime.block_on(raw.close());
    }
    drop(runtime);
    ceiling(&url);
}

/// The ceiling: at 16 and 64 tasks, pool-postgres (a pool of as many connections as
/// tasks, a checkout per query) against the same number of raw tokio-postgres clients
/// each held by its task (no pool: what tokio-postgres itself can do) and against
/// pgbench, in rounds, the three back to back in rotating order. The pool's share of the
/// gap to the server is pool-postgres / raw-held; tokio-postgres's is raw-held / pgbench.
fn ceiling(url: &str) {
    let (rounds, seconds) = ceiling::rounds_and_seconds();
    let Some(pgbench) = ceiling::pgbench() else {
        println!("{}", ceiling::NO_PGBENCH);
        return;
    };
    let (runtime, flavour) = ceiling::runtime();
    ceiling::print_heading(rounds, seconds, flavour, "pool-postgres");
    for tasks in [16_u64, 64] {
        let duration = Duration::from_secs(seconds);
        // Each side opens its connections for its own turn and closes them after: the
        // three together would need 3 × 64 connections, past a default server's 100.
        let raw_turn = |runtime: &Runtime| {
            runtime.block_on(async {
                let mut raws = Vec::new();
                for _ in 0..tasks {
                    raws.push(Arc::new(Held::connect(url).await));
                }
                raw_rate(&raws, ceiling::WARM_UP).await;
                let rate = raw_rate(&raws, duration).await;
                for raw in raws {
                    if let Ok(raw) = Arc::try_unwrap(raw) {
                        raw.close().await;
                    }
                }
                rate
            })
        };
        let pool_turn = |runtime: &Runtime| {
            let pool = pool_of(url, tasks, "bench_ceiling");
            runtime.block_on(async {
                pool_rate(&pool, tasks, ceiling::WARM_UP).await;
                let rate = pool_rate(&pool, tasks, duration).await;
                pool.close().await;
                // The pool's sessions end on their own tasks once their clients are
                // dropped; give them the moment before the next side connects.
                tokio::time::sleep(Duration::from_millis(250)).await;
                rate
            })
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

/// A pool-postgres pool of `limit` connections on `url`, named `name`. Plain text unless
/// the URL sets an `sslmode`: a URL without one is `prefer` (TLS against a server with
/// `ssl = on`), and the raw clients it is measured against connect with `NoTls`.
fn pool_of(url: &str, limit: u64, name: &str) -> PostgresPool {
    let tls = if url.contains("sslmode=") {
        ""
    } else {
        "&sslmode=disable"
    };
    Config::from_url(&format!(
        "{url}{}connection_limit={limit}{tls}",
        if url.contains('?') { '&' } else { '?' }
    ))
    .unwrap()
    .build_pool(name)
    .unwrap()
}

/// Queries per second of `tasks` tasks sharing `pool`, a checkout per query.
async fn pool_rate(pool: &PostgresPool, tasks: u64, duration: Duration) -> f64 {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut done = 0_u64;
                while Instant::now() < deadline {
                    pooled_select_one(&pool).await;
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

/// Queries per second of one task per raw client, each holding its own.
async fn raw_rate(raws: &[Arc<Held>], duration: Duration) -> f64 {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = raws
        .iter()
        .map(|raw| {
            let raw = Arc::clone(raw);
            tokio::spawn(async move {
                let mut done = 0_u64;
                while Instant::now() < deadline {
                    raw.select_one().await;
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
