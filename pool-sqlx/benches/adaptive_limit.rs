//! The adaptive limit against fixed pool sizes on a real PostgreSQL with a knee.
//!
//! ```text
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p pool-sqlx --bench adaptive_limit
//! ```
//! The workload is CPU-bound in the server (`SELECT sum(i) FROM generate_series(1,
//! 20000) i`, a few milliseconds of one core each): on a 2-core machine the server's
//! throughput is flat past two or three queries at once, and every query beyond that only
//! waits inside the server. 64 tasks run the query in a closed loop, each through a
//! checkout, against four pools built from the same URL: `adaptive_limit=true` with
//! `connection_limit=64`, and fixed `connection_limit` 4, 16 and 64. Each pool is warmed
//! (every connection opened; the adaptive one given `WARM_UP` to find its limit), then
//! `ROUNDS` rounds of `SECONDS` run the four back to back in rotating order. The table
//! gives, per pool, the median throughput, the median of each round's p99 latency
//! (checkout wait included: what a caller sees), the median time a query held its
//! connection (the server's share), the limit during the rounds (sampled every 50 ms), and each
//! pool's throughput relative to the best fixed size in the same round.
//!
//! Not a test: nothing is asserted; `BENCHMARKS.md` records the figures and conditions.

#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // a benchmark: failing loudly is the point

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pool_sqlx::{Config, PgPool, sqlx};
use tokio::{runtime::Runtime, time::Instant};

const TASKS: usize = 64;
const ROUNDS: usize = 5;
const SECONDS: u64 = 6;
const WARM_UP: Duration = Duration::from_secs(10);
const QUERY: &str = "SELECT sum(i)::bigint FROM generate_series(1, 20000) i";

/// One round of one pool: queries per second, p99 latency seen by the caller, median
/// time a query held its connection.
struct Round {
    rate: f64,
    p99: Duration,
    held: Duration,
    /// The pool's limit, sampled every 50 ms.
    limits: Vec<usize>,
}

fn url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()
}

fn with(url: &str, parameters: &str) -> String {
    format!(
        "{url}{}{parameters}",
        if url.contains('?') { '&' } else { '?' }
    )
}

async fn round(pool: &PgPool, duration: Duration) -> Round {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut held = Vec::new();
                while Instant::now() < deadline {
                    let asked = Instant::now();
                    let mut conn = pool.get().await.unwrap();
                    let got = Instant::now();
                    sqlx::query(QUERY).execute(&mut **conn).await.unwrap();
                    drop(conn);
                    latencies.push(asked.elapsed());
                    held.push(got.elapsed());
                }
                (latencies, held)
            })
        })
        .collect();
    let mut limits = Vec::new();
    while Instant::now() < deadline {
        limits.push(pool.status().limit);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mut latencies, mut held) = (Vec::new(), Vec::new());
    for handle in handles {
        let (l, h) = handle.await.unwrap();
        latencies.extend(l);
        held.extend(h);
    }
    latencies.sort();
    held.sort();
    Round {
        rate: latencies.len() as f64 / duration.as_secs_f64(),
        p99: latencies[(latencies.len() - 1) * 99 / 100],
        held: held[held.len() / 2],
        limits,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn adaptive_limit(_: &mut Criterion) {
    let Some(url) = url() else {
        eprintln!("SKIPPED adaptive_limit: set TEST_POSTGRES_URL to run this benchmark");
        return;
    };
    let runtime = Runtime::new().unwrap();
    let configurations = [
        (
            "adaptive (max 64)",
            "adaptive_limit=true&connection_limit=64",
        ),
        ("fixed 4", "connection_limit=4"),
        ("fixed 16", "connection_limit=16"),
        ("fixed 64", "connection_limit=64"),
    ];
    let pools: Vec<PgPool> = configurations
        .iter()
        .map(|(name, parameters)| {
            Config::from_url(&with(&url, parameters))
                .unwrap()
                .build_pool::<sqlx::Postgres>(&name.replace([' ', '(', ')'], "_"))
                .unwrap()
        })
        .collect();
    for pool in &pools {
        let warm_up = if pool.status().limit < pool.status().max_size {
            WARM_UP
        } else {
            Duration::from_secs(1)
        };
        runtime.block_on(round(pool, warm_up));
    }
    println!(
        "\nadaptive_limit: {TASKS} tasks, `{QUERY}`, {ROUNDS} rounds of {SECONDS} s per pool in rotating order; multi-thread runtime, 2 workers; PostgreSQL on the same 2 cores"
    );
    let mut results: Vec<Vec<Round>> = configurations.iter().map(|_| Vec::new()).collect();
    for index in 0..ROUNDS {
        for offset in 0..pools.len() {
            let which = (index + offset) % pools.len();
            let measured = runtime.block_on(round(&pools[which], Duration::from_secs(SECONDS)));
            results[which].push(measured);
        }
    }
    // Per round, the best fixed size's throughput (configurations 1..).
    let best_fixed: Vec<f64> = (0..ROUNDS)
        .map(|index| {
            results[1..]
                .iter()
                .map(|rounds| rounds[index].rate)
                .fold(0.0, f64::max)
        })
        .collect();
    println!(
        "| pool | queries/s | p99 latency, ms | query holds its connection (median), ms | limit during the rounds, median [min–max] | vs best fixed size, median [min–max] |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for ((name, _), rounds) in configurations.iter().zip(&results) {
        let rate = median(rounds.iter().map(|r| r.rate).collect());
        let p99 = median(rounds.iter().map(|r| r.p99.as_secs_f64() * 1e3).collect());
        let held = median(rounds.iter().map(|r| r.held.as_secs_f64() * 1e3).collect());
        let mut relative: Vec<f64> = rounds
            .iter()
            .zip(&best_fixed)
            .map(|(r, best)| r.rate / best)
            .collect();
        relative.sort_by(f64::total_cmp);
        let mut limits: Vec<usize> = rounds.iter().flat_map(|r| r.limits.clone()).collect();
        limits.sort_unstable();
        println!(
            "| {name} | {rate:.0} | {p99:.1} | {held:.2} | {} [{}–{}] | {:.2}× [{:.2}–{:.2}] |",
            limits[limits.len() / 2],
            limits[0],
            limits[limits.len() - 1],
            relative[relative.len() / 2],
            relative[0],
            relative[relative.len() - 1],
        );
    }
    for pool in pools {
        runtime.block_on(pool.close());
    }
}

criterion_group!(benches, adaptive_limit);
criterion_main!(benches);
