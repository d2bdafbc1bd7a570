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
//! Knobs for a shorter or wider run (environment; the defaults are the run above):
//! `ADAPTIVE_ROUNDS` (5), `ADAPTIVE_SECONDS` per round (6), `ADAPTIVE_WARM_UP_SECONDS` for
//! the adaptive pool (10), and `ADAPTIVE_FIXED`, the fixed sizes to compare, comma-separated
//! (`4,16,64`; more sizes draw the server's throughput curve the adaptive point sits on).
//! `ADAPTIVE_JSON=PATH` also writes every round's figures and the limit sampled every
//! 50 ms (warm-up included, with the queries done so far) to PATH as JSON: the input of
//! `cargo run -p bench-plots -- adaptive PATH OUT.png`, the plot in `BENCHMARKS.md`.
//!
//! Not a test: nothing is asserted; `BENCHMARKS.md` records the figures and conditions.

#![allow(clippy::unwrap_used, clippy::panic, missing_docs)] // a benchmark: failing loudly is the point

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use criterion::{Criterion, criterion_group, criterion_main};
use pool_sqlx::{Config, PgPool, sqlx};
use serde::Serialize;
use tokio::{runtime::Runtime, time::Instant};

const TASKS: usize = 64;
const QUERY: &str = "SELECT sum(i)::bigint FROM generate_series(1, 20000) i";
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// One round of one pool: queries per second, p99 latency seen by the caller, median
/// time a query held its connection.
struct Round {
    rate: f64,
    p99: Duration,
    held: Duration,
    /// The pool's limit, sampled every 50 ms.
    limits: Vec<usize>,
    /// The same samples with their time and the queries done by then.
    samples: Vec<Sample>,
}

/// The limit at one instant of a round, and the queries done since it began.
#[derive(Serialize)]
struct Sample {
    seconds: f64,
    limit: usize,
    queries: u64,
}

/// What `ADAPTIVE_JSON` receives: the run's shape, then each pool's rounds.
#[derive(Serialize)]
struct Record<'a> {
    tasks: usize,
    query: &'a str,
    rounds: usize,
    round_seconds: u64,
    warm_up_seconds: u64,
    machine_cores: usize,
    pools: Vec<PoolRecord<'a>>,
}

#[derive(Serialize)]
struct PoolRecord<'a> {
    name: &'a str,
    parameters: &'a str,
    adaptive: bool,
    max_size: usize,
    /// The warm-up, measured as a round is (the adaptive pool's: its limit from the start).
    warm_up: RoundRecord,
    rounds: Vec<RoundRecord>,
}

#[derive(Serialize)]
struct RoundRecord {
    seconds: f64,
    queries_per_second: f64,
    p99_ms: f64,
    held_median_ms: f64,
    /// This round's throughput over the best fixed size's in the same round (0 in warm-up).
    vs_best_fixed: f64,
    samples: Vec<Sample>,
}

impl RoundRecord {
    fn new(round: Round, seconds: Duration, vs_best_fixed: f64) -> Self {
        RoundRecord {
            seconds: seconds.as_secs_f64(),
            queries_per_second: round.rate,
            p99_ms: round.p99.as_secs_f64() * 1e3,
            held_median_ms: round.held.as_secs_f64() * 1e3,
            vs_best_fixed,
            samples: round.samples,
        }
    }
}

/// A whole number from the environment variable `name`, else `default`.
fn knob(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not `{value}`")),
        Err(_) => default,
    }
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
    let started = Instant::now();
    let deadline = started + duration;
    let done = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let pool = pool.clone();
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut held = Vec::new();
                while Instant::now() < deadline {
                    let asked = Instant::now();
                    let mut conn = pool.get().await.unwrap();
                    let got = Instant::now();
                    sqlx::query(QUERY).execute(&mut **conn).await.unwrap();
                    drop(conn);
                    done.fetch_add(1, Ordering::Relaxed);
                    latencies.push(asked.elapsed());
                    held.push(got.elapsed());
                }
                (latencies, held)
            })
        })
        .collect();
    let mut limits = Vec::new();
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        let limit = pool.status().limit;
        limits.push(limit);
        samples.push(Sample {
            seconds: started.elapsed().as_secs_f64(),
            limit,
            queries: done.load(Ordering::Relaxed),
        });
        tokio::time::sleep(SAMPLE_EVERY).await;
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
        samples,
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
    let rounds = knob("ADAPTIVE_ROUNDS", 5).max(1) as usize;
    let seconds = knob("ADAPTIVE_SECONDS", 6).max(1);
    let warm_up_seconds = knob("ADAPTIVE_WARM_UP_SECONDS", 10).max(1);
    let fixed: Vec<u64> = std::env::var("ADAPTIVE_FIXED")
        .unwrap_or_else(|_| "4,16,64".to_owned())
        .split(',')
        .map(|size| {
            size.trim()
                .parse()
                .unwrap_or_else(|_| panic!("ADAPTIVE_FIXED takes pool sizes, not `{size}`"))
        })
        .collect();
    let configurations: Vec<(String, String)> = std::iter::once((
        "adaptive (max 64)".to_owned(),
        "adaptive_limit=true&connection_limit=64".to_owned(),
    ))
    .chain(
        fixed
            .iter()
            .map(|size| (format!("fixed {size}"), format!("connection_limit={size}"))),
    )
    .collect();
    let pools: Vec<PgPool> = configurations
        .iter()
        .map(|(name, parameters)| {
            Config::from_url(&with(&url, parameters))
                .unwrap()
                .build_pool::<sqlx::Postgres>(&name.replace([' ', '(', ')'], "_"))
                .unwrap()
        })
        .collect();
    let warm_ups: Vec<(Duration, Round)> = pools
        .iter()
        .map(|pool| {
            let warm_up = if pool.status().limit < pool.status().max_size {
                Duration::from_secs(warm_up_seconds)
            } else {
                Duration::from_secs(1)
            };
            (warm_up, runtime.block_on(round(pool, warm_up)))
        })
        .collect();
    println!(
        "\nadaptive_limit: {TASKS} tasks, `{QUERY}`, {rounds} rounds of {seconds} s per pool in rotating order; multi-thread runtime, 2 workers; PostgreSQL on the same 2 cores"
    );
    let mut results: Vec<Vec<Round>> = configurations.iter().map(|_| Vec::new()).collect();
    for index in 0..rounds {
        for offset in 0..pools.len() {
            let which = (index + offset) % pools.len();
            let measured = runtime.block_on(round(&pools[which], Duration::from_secs(seconds)));
            results[which].push(measured);
        }
    }
    // Per round, the best fixed size's throughput (configurations 1..).
    let best_fixed: Vec<f64> = (0..rounds)
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
    if let Ok(path) = std::env::var("ADAPTIVE_JSON") {
        let record = Record {
            tasks: TASKS,
            query: QUERY,
            rounds,
            round_seconds: seconds,
            warm_up_seconds,
            machine_cores: std::thread::available_parallelism().map_or(0, usize::from),
            pools: configurations
                .iter()
                .zip(&pools)
                .zip(warm_ups.into_iter().zip(results))
                .enumerate()
                .map(
                    |(index, (((name, parameters), pool), ((warm_up, warmed), rounds)))| {
                        PoolRecord {
                            name,
                            parameters,
                            adaptive: index == 0,
                            max_size: pool.status().max_size,
                            warm_up: RoundRecord::new(warmed, warm_up, 0.0),
                            rounds: rounds
                                .into_iter()
                                .zip(&best_fixed)
                                .map(|(r, best)| {
                                    let relative = r.rate / best;
                                    RoundRecord::new(r, Duration::from_secs(seconds), relative)
                                })
                                .collect(),
                        }
                    },
                )
                .collect(),
        };
        std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap() + "\n").unwrap();
        println!("\nadaptive_limit: every round's figures in {path}");
    }
    for pool in pools {
        runtime.block_on(pool.close());
    }
}

criterion_group!(benches, adaptive_limit);
criterion_main!(benches);
