//! Checkout + return of a no-op connection: pool-core against deadpool and bb8 on the
//! same workload in the same run.
//!
//! A pool of 16, on a 2-worker Tokio runtime, with 1, 16, 64 and 256 tasks sharing a
//! fixed number of checkouts. Each pool runs with its default options (deadpool
//! recycles and bb8 tests on checkout: that is what their users get).
//!
//! `cargo bench -p pool-core --bench pool` prints criterion's figures, then a table of
//! throughput ratios measured back to back, then what OpenTelemetry's metric names cost
//! pool-core (the same pool built with `MetricNames::OpenTelemetry`, paired with the
//! default names, no recorder installed: the handles are no-ops, so the difference is
//! what the pool itself does for them, the clock read that times each use).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::{
    convert::Infallible,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{BenchmarkId, Criterion, Throughput};
use pool_core::{MetricNames, Pool};

const POOL_SIZE: usize = 16;
const CONCURRENCY: [usize; 4] = [1, 16, 64, 256];

#[path = "support/noop.rs"]
mod noop;
use noop::Noop;

struct DeadpoolNoop;

impl deadpool::managed::Manager for DeadpoolNoop {
    type Type = u64;
    type Error = Infallible;
    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
    async fn recycle(
        &self,
        _: &mut u64,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

struct Bb8Noop;

impl bb8::ManageConnection for Bb8Noop {
    type Connection = u64;
    type Error = Infallible;
    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
    async fn is_valid(&self, _: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

#[derive(Clone)]
enum Subject {
    Ours(Pool<Noop>),
    Deadpool(deadpool::managed::Pool<DeadpoolNoop>),
    Bb8(bb8::Pool<Bb8Noop>),
}

impl Subject {
    fn name(&self) -> &'static str {
        match self {
            Subject::Ours(_) => "pool-core",
            Subject::Deadpool(_) => "deadpool",
            Subject::Bb8(_) => "bb8",
        }
    }

    async fn checkout(&self) {
        match self {
            Subject::Ours(pool) => {
                let conn = pool.get().await.ok();
                std::hint::black_box(&conn);
            }
            Subject::Deadpool(pool) => {
                let conn = pool.get().await.ok();
                std::hint::black_box(&conn);
            }
            Subject::Bb8(pool) => {
                let conn = pool.get().await.ok();
                std::hint::black_box(&conn);
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn subjects(rt: &tokio::runtime::Runtime) -> Vec<Subject> {
    rt.block_on(async {
        let ours = Pool::builder(Noop).max_size(POOL_SIZE).build().unwrap();
        let deadpool = deadpool::managed::Pool::builder(DeadpoolNoop)
            .max_size(POOL_SIZE)
            .build()
            .unwrap();
        let bb8 = bb8::Pool::builder()
            .max_size(POOL_SIZE as u32)
            .build(Bb8Noop)
            .await
            .unwrap();
        let subjects = vec![
            Subject::Ours(ours),
            Subject::Deadpool(deadpool),
            Subject::Bb8(bb8),
        ];
        // Open every connection first so all three measure reuse, not connects.
        for subject in &subjects {
            run(subject, POOL_SIZE, POOL_SIZE as u64 * 100).await;
        }
        subjects
    })
}

/// `total` checkouts shared by `tasks` tasks; returns the wall time.
async fn run(subject: &Subject, tasks: usize, total: u64) -> Duration {
    let per_task = (total / tasks as u64).max(1);
    let barrier = Arc::new(tokio::sync::Barrier::new(tasks + 1));
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let subject = subject.clone();
        let barrier = barrier.clone();
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            for _ in 0..per_task {
                subject.checkout().await;
            }
        }));
    }
    barrier.wait().await;
    let started = Instant::now();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let subjects = subjects(&rt);
    for tasks in CONCURRENCY {
        let mut group = c.benchmark_group(format!("checkout/{tasks}_tasks"));
        group.throughput(Throughput::Elements(1));
        group.measurement_time(Duration::from_secs(3));
        group.warm_up_time(Duration::from_millis(500));
        for subject in &subjects {
            group.bench_function(BenchmarkId::from_parameter(subject.name()), |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let subject = subject.clone();
                    async move {
                        let iters = iters.max(tasks as u64);
                        run(&subject, tasks, iters).await
                    }
                })
            });
        }
        group.finish();
    }
    ratios(&rt, &subjects);
    metric_names_cost(&rt);
}

/// Paired rounds of pool-core under its own metric names and under OpenTelemetry's, as in
/// [`ratios`]: the median throughput of each and the per-round ratio.
fn metric_names_cost(rt: &tokio::runtime::Runtime) {
    const ROUNDS: usize = 21;
    const CHECKOUTS: u64 = 200_000;
    let pools: Vec<Subject> = [MetricNames::Pool, MetricNames::OpenTelemetry]
        .into_iter()
        .map(|names| {
            rt.block_on(async {
                let pool = Pool::builder(Noop)
                    .max_size(POOL_SIZE)
                    .metric_names(names)
                    .build()
                    .unwrap();
                let subject = Subject::Ours(pool);
                run(&subject, POOL_SIZE, POOL_SIZE as u64 * 100).await;
                subject
            })
        })
        .collect();
    println!(
        "\nOpenTelemetry's metric names against the pool's (checkouts/s, median of {ROUNDS} paired rounds of {CHECKOUTS}), no recorder"
    );
    println!("| tasks | pool names | OpenTelemetry names | OpenTelemetry / pool (median [IQR]) |");
    println!("|---:|---:|---:|---:|");
    let quartiles = |values: &mut Vec<f64>| -> (f64, f64, f64) {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        (at(0.25), at(0.5), at(0.75))
    };
    for tasks in CONCURRENCY {
        let mut rates = [Vec::new(), Vec::new()];
        let mut ratio = Vec::new();
        for round in 0..ROUNDS {
            let mut round_rates = [0.0; 2];
            for offset in 0..pools.len() {
                let index = (round + offset) % pools.len();
                let elapsed = rt.block_on(run(&pools[index], tasks, CHECKOUTS));
                round_rates[index] = CHECKOUTS as f64 / elapsed.as_secs_f64();
            }
            rates[0].push(round_rates[0]);
            rates[1].push(round_rates[1]);
            ratio.push(round_rates[1] / round_rates[0]);
        }
        let (_, pool_rate, _) = quartiles(&mut rates[0]);
        let (_, otel_rate, _) = quartiles(&mut rates[1]);
        let (r25, r50, r75) = quartiles(&mut ratio);
        println!("| {tasks} | {pool_rate:.0} | {otel_rate:.0} | {r50:.3}x [{r25:.3}–{r75:.3}] |");
    }
}

/// Paired rounds: in each round the three pools run the same workload back to back, so
/// each round's ratio compares like with like; the table gives the median throughput and
/// the median and interquartile range of the per-round ratios.
fn ratios(rt: &tokio::runtime::Runtime, subjects: &[Subject]) {
    const ROUNDS: usize = 21;
    const CHECKOUTS: u64 = 200_000;
    println!(
        "\nthroughput (checkouts/s, median of {ROUNDS} paired rounds of {CHECKOUTS}), pool of {POOL_SIZE}, 2 workers"
    );
    println!(
        "| tasks | pool-core | deadpool | bb8 | vs deadpool (median [IQR]) | vs bb8 (median [IQR]) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let median = |values: &mut Vec<f64>| -> (f64, f64, f64) {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        (at(0.25), at(0.5), at(0.75))
    };
    for tasks in CONCURRENCY {
        let mut rates = vec![Vec::new(); subjects.len()];
        let mut vs_deadpool = Vec::new();
        let mut vs_bb8 = Vec::new();
        for round in 0..ROUNDS {
            let mut round_rates = [0.0; 3];
            // Rotate who goes first so no pool always runs on a warmer or colder machine.
            for offset in 0..subjects.len() {
                let index = (round + offset) % subjects.len();
                let elapsed = rt.block_on(run(&subjects[index], tasks, CHECKOUTS));
                round_rates[index] = CHECKOUTS as f64 / elapsed.as_secs_f64();
            }
            for (index, rate) in round_rates.iter().enumerate() {
                rates[index].push(*rate);
            }
            vs_deadpool.push(round_rates[0] / round_rates[1]);
            vs_bb8.push(round_rates[0] / round_rates[2]);
        }
        let throughput: Vec<f64> = rates.iter_mut().map(|r| median(r).1).collect();
        let (d25, d50, d75) = median(&mut vs_deadpool);
        let (b25, b50, b75) = median(&mut vs_bb8);
        println!(
            "| {tasks} | {:.0} | {:.0} | {:.0} | {d50:.2}x [{d25:.2}–{d75:.2}] | {b50:.2}x [{b25:.2}–{b75:.2}] |",
            throughput[0], throughput[1], throughput[2]
        );
    }
}

criterion::criterion_group!(benches, bench);
criterion::criterion_main!(benches);
