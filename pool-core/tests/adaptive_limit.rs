//! The adaptive limit finds a server's concurrency knee, on the paused clock.
//!
//! The simulated server takes `BASE × max(1, in_flight / K)` per query: up to K queries
//! at once cost nothing extra, beyond K every query slows in proportion (a saturated
//! server, by Little's law). Offered load is 4 K closed-loop workers, well above K. A
//! last test adds contention before the knee (every query slower from the second on,
//! throughput still growing to K), the shape measured on a real PostgreSQL.
//! Each figure the assertions use is printed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::Duration,
};

use pool_core::{Classify, ErrorClass, Manager, Pool};
use tokio::time::Instant;

const BASE: Duration = Duration::from_millis(10);
/// Until the limit must be within ±25 % of K (after a start or a change of K).
const SETTLE: Duration = Duration::from_secs(5);
/// How long each run is measured after settling.
const MEASURE: Duration = Duration::from_secs(20);
/// How often the limit is sampled.
const TICK: Duration = Duration::from_millis(10);

/// The simulated server: its knee, and the queries running on it now.
#[derive(Debug, Default)]
struct Server {
    knee: AtomicUsize,
    in_flight: AtomicUsize,
    /// A real server's spread: each query takes up to this share longer, at random
    /// (seeded), whatever the load.
    spread: Mutex<Option<(f64, fastrand::Rng)>>,
    /// Contention before saturation: each query beyond the first, up to the knee, makes
    /// every query this share slower (a CPU-bound query on cores the client shares), so
    /// latency grows from the second query on while throughput still grows to the knee.
    contention: f64,
}

impl Server {
    fn with_spread(spread: f64) -> Self {
        Server {
            spread: Mutex::new(Some((spread, fastrand::Rng::with_seed(7)))),
            ..Server::default()
        }
    }

    fn with_contention(contention: f64) -> Self {
        Server {
            contention,
            ..Server::default()
        }
    }

    async fn query(&self) {
        let running = self.in_flight.fetch_add(1, SeqCst) + 1;
        let knee = self.knee.load(SeqCst);
        let contended = 1.0 + self.contention * (running.min(knee) as f64 - 1.0);
        let stretch = contended * (running as f64 / knee as f64).max(1.0);
        let noise = match &mut *self.spread.lock().unwrap() {
            Some((spread, rng)) => 1.0 + *spread * rng.f64(),
            None => 1.0,
        };
        tokio::time::sleep(BASE.mul_f64(stretch * noise)).await;
        self.in_flight.fetch_sub(1, SeqCst);
    }
}

#[derive(Debug)]
struct NoError;

impl std::fmt::Display for NoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no error")
    }
}

impl std::error::Error for NoError {}

impl Classify for NoError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

struct SimManager(Arc<Server>);

impl Manager for SimManager {
    type Connection = Arc<Server>;
    type Error = NoError;

    async fn connect(&self) -> Result<Arc<Server>, NoError> {
        Ok(Arc::clone(&self.0))
    }

    async fn check(&self, _conn: &mut Arc<Server>) -> Result<(), NoError> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut Arc<Server>) -> bool {
        false
    }
}

/// What one run saw.
#[derive(Debug, Default)]
struct Run {
    /// (time since start, limit) every `TICK`.
    limits: Vec<(Duration, usize)>,
    /// Per query finished inside the measured span: checkout-to-return time and
    /// end-to-end time (waiting for the connection included).
    query: Vec<Duration>,
    end_to_end: Vec<Duration>,
}

impl Run {
    fn throughput(&self) -> f64 {
        self.query.len() as f64 / MEASURE.as_secs_f64()
    }

    /// The mean of the limits sampled from `from` on.
    fn mean_limit_after(&self, from: Duration) -> f64 {
        let after: Vec<f64> = self
            .limits
            .iter()
            .filter(|(at, _)| *at >= from)
            .map(|(_, limit)| *limit as f64)
            .collect();
        after.iter().sum::<f64>() / after.len() as f64
    }
}

fn p99(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

/// Runs `workers` closed-loop workers against a server whose knee is `knees[i].1` from
/// `knees[i].0` on; measures from `measure_from` for `MEASURE`.
async fn run(
    pool: Pool<SimManager>,
    server: Arc<Server>,
    workers: usize,
    knees: &[(Duration, usize)],
    measure_from: Duration,
) -> Run {
    let start = Instant::now();
    let end = start + measure_from + MEASURE;
    let measured = start + measure_from;
    server.knee.store(knees[0].1, SeqCst);
    let seen = Arc::new(Mutex::new(Run::default()));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let pool = pool.clone();
        let seen = Arc::clone(&seen);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let asked = Instant::now();
                let conn = pool.get().await.unwrap();
                let got = Instant::now();
                conn.query().await;
                drop(conn);
                let done = Instant::now();
                if asked >= measured && done <= end {
                    let mut seen = seen.lock().unwrap();
                    seen.query.push(done - got);
                    seen.end_to_end.push(done - asked);
                }
            }
        }));
    }
    let mut next_knee = 1;
    while Instant::now() < end {
        tokio::time::sleep(TICK).await;
        let at = start.elapsed();
        if let Some(&(when, knee)) = knees.get(next_knee)
            && at >= when
        {
            server.knee.store(knee, SeqCst);
            next_knee += 1;
        }
        let limit = pool.status().limit;
        seen.lock().unwrap().limits.push((at, limit));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let status = pool.status();
    assert!(
        status.in_use == 0 && status.size <= status.max_size,
        "{status:?}"
    );
    assert_eq!(pool.metrics().limit, status.limit as u64);
    std::mem::take(&mut *seen.lock().unwrap())
}

fn adaptive_pool(server: &Arc<Server>) -> Pool<SimManager> {
    Pool::builder(SimManager(Arc::clone(server)))
        .max_size(100)
        .adaptive_limit(1)
        .acquire_timeout(Duration::from_secs(3600))
        .build()
        .unwrap()
}

fn fixed_pool(server: &Arc<Server>, size: usize) -> Pool<SimManager> {
    Pool::builder(SimManager(Arc::clone(server)))
        .max_size(size)
        .acquire_timeout(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// Within ±25 % of `knee`.
fn in_band(limit: usize, knee: usize) -> bool {
    let (limit, knee) = (limit as f64, knee as f64);
    limit >= knee * 0.75 && limit <= knee * 1.25
}

/// From `from` to `to`: when the limit first entered the band (relative to `from`),
/// and the share of ticks in it after that.
fn settling(run: &Run, knee: usize, from: Duration, to: Duration) -> (Duration, f64) {
    let span: Vec<_> = run
        .limits
        .iter()
        .filter(|(at, _)| *at >= from && *at < to)
        .collect();
    let first = span
        .iter()
        .position(|(_, limit)| in_band(*limit, knee))
        .unwrap_or_else(|| panic!("K={knee}: the limit never reached ±25 %: {span:?}"));
    let after = &span[first..];
    let inside = after
        .iter()
        .filter(|(_, limit)| in_band(*limit, knee))
        .count();
    (span[first].0 - from, inside as f64 / after.len() as f64)
}

#[tokio::test(start_paused = true)]
async fn the_limit_settles_at_the_knee_and_beats_a_large_fixed_pool() {
    for knee in [2, 8, 32] {
        let workers = 4 * knee;
        let server = Arc::new(Server::default());
        let adaptive = run(
            adaptive_pool(&server),
            Arc::clone(&server),
            workers,
            &[(Duration::ZERO, knee)],
            SETTLE,
        )
        .await;
        let (settled_in, share) = settling(&adaptive, knee, Duration::ZERO, SETTLE + MEASURE);
        let mean = adaptive.mean_limit_after(SETTLE);

        let mut best = (0, 0.0);
        for size in [knee / 2, knee, 2 * knee, 100]
            .into_iter()
            .filter(|size| *size > 0)
        {
            let fixed = run(
                fixed_pool(&server, size),
                Arc::clone(&server),
                workers,
                &[(Duration::ZERO, knee)],
                SETTLE,
            )
            .await;
            if fixed.throughput() > best.1 {
                best = (size, fixed.throughput());
            }
        }
        let large = run(
            fixed_pool(&server, 100),
            Arc::clone(&server),
            workers,
            &[(Duration::ZERO, knee)],
            SETTLE,
        )
        .await;

        println!(
            "K={knee:>2} workers={workers:>3}: settled within ±25 % after {settled_in:?}, in the band {:.1} % of the time after, mean limit {mean:.2}; \
             throughput {:.0}/s vs best fixed ({}) {:.0}/s = {:.1} %; \
             query p99 {:?} vs fixed 100 {:?}; end-to-end p99 {:?} vs fixed 100 {:?}",
            share * 100.0,
            adaptive.throughput(),
            best.0,
            best.1,
            adaptive.throughput() / best.1 * 100.0,
            p99(&adaptive.query),
            p99(&large.query),
            p99(&adaptive.end_to_end),
            p99(&large.end_to_end),
        );
        assert!(
            settled_in <= SETTLE,
            "K={knee}: settled after {settled_in:?}"
        );
        assert!(
            share >= 0.95,
            "K={knee}: in the band only {:.1} % of the time",
            share * 100.0
        );
        assert!(
            in_band(mean.round() as usize, knee),
            "K={knee}: mean limit {mean}"
        );
        assert!(
            adaptive.throughput() >= 0.95 * best.1,
            "K={knee}: throughput {} below 95 % of fixed {} ({})",
            adaptive.throughput(),
            best.0,
            best.1
        );
        assert!(
            p99(&adaptive.query) * 2 <= p99(&large.query),
            "K={knee}: query p99 {:?} not half of fixed 100's {:?}",
            p99(&adaptive.query),
            p99(&large.query)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_limit_follows_the_knee_when_the_server_changes() {
    let server = Arc::new(Server::default());
    let change = SETTLE + Duration::from_secs(10);
    let back = change + Duration::from_secs(10);
    let knees = [(Duration::ZERO, 32), (change, 8), (back, 32)];
    // Measured from the last change to the end of the run.
    let seen = run(
        adaptive_pool(&server),
        Arc::clone(&server),
        128,
        &knees,
        back,
    )
    .await;
    let phases = [
        (Duration::ZERO, change, 32),
        (change, back, 8),
        (back, back + MEASURE, 32),
    ];
    for (from, to, knee) in phases {
        let (settled_in, share) = settling(&seen, knee, from, to);
        let settled_share = {
            let after: Vec<_> = seen
                .limits
                .iter()
                .filter(|(at, _)| *at >= from + SETTLE && *at < to)
                .collect();
            after
                .iter()
                .filter(|(_, limit)| in_band(*limit, knee))
                .count() as f64
                / after.len() as f64
        };
        println!(
            "knee {knee} from {from:?}: within ±25 % after {settled_in:?}, in the band {:.1} % after that, {:.1} % from {SETTLE:?} on",
            share * 100.0,
            settled_share * 100.0
        );
        assert!(
            settled_in <= SETTLE,
            "knee {knee} from {from:?}: settled after {settled_in:?}"
        );
        assert!(
            settled_share >= 0.95,
            "knee {knee} from {from:?}: {:.1} %",
            settled_share * 100.0
        );
    }
}

/// A server whose queries vary by up to 60 % on their own (a busy host): the spread must
/// not read as queueing. The limit still settles near the knee and keeps its throughput.
#[tokio::test(start_paused = true)]
async fn a_server_s_spread_is_not_taken_for_queueing() {
    for knee in [2, 8] {
        let workers = 4 * knee;
        let server = Arc::new(Server::with_spread(0.6));
        let adaptive = run(
            adaptive_pool(&server),
            Arc::clone(&server),
            workers,
            &[(Duration::ZERO, knee)],
            SETTLE,
        )
        .await;
        let mean = adaptive.mean_limit_after(SETTLE);
        let fixed = run(
            fixed_pool(&server, knee),
            Arc::clone(&server),
            workers,
            &[(Duration::ZERO, knee)],
            SETTLE,
        )
        .await;
        println!(
            "K={knee} with 60 % spread: mean limit {mean:.2}; throughput {:.0}/s vs fixed {knee} {:.0}/s = {:.1} %",
            adaptive.throughput(),
            fixed.throughput(),
            adaptive.throughput() / fixed.throughput() * 100.0
        );
        assert!(
            mean >= knee as f64 * 0.75 && mean <= knee as f64 * 1.5,
            "K={knee}: mean limit {mean}"
        );
        assert!(
            adaptive.throughput() >= 0.9 * fixed.throughput(),
            "K={knee}: throughput {} against fixed {}",
            adaptive.throughput(),
            fixed.throughput()
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_slower_before_its_knee_is_sized_by_throughput() {
    // K = 4, each extra query up to K makes every one 50 % slower: per query 1, 1.5, 2 and
    // 2.5 × BASE at 1 to 4 in flight, so throughput grows 1 : 1.33 : 1.5 : 1.6 and is flat
    // after. Latency alone reads queueing from 2 on; the best throughput needs 4 or more.
    let knee = 4;
    let workers = 32;
    let server = Arc::new(Server::with_contention(0.5));
    let adaptive = run(
        adaptive_pool(&server),
        Arc::clone(&server),
        workers,
        &[(Duration::ZERO, knee)],
        SETTLE,
    )
    .await;
    let mean = adaptive.mean_limit_after(SETTLE);
    let mut best = 0.0_f64;
    for size in [2, 4, 16] {
        let fixed = run(
            fixed_pool(&server, size),
            Arc::clone(&server),
            workers,
            &[(Duration::ZERO, knee)],
            SETTLE,
        )
        .await;
        println!("contention, fixed {size}: {:.0}/s", fixed.throughput());
        best = best.max(fixed.throughput());
    }
    println!(
        "contention before the knee (K={knee}): mean limit {mean:.2}; throughput {:.0}/s vs best fixed {best:.0}/s = {:.1} %",
        adaptive.throughput(),
        adaptive.throughput() / best * 100.0
    );
    assert!(
        mean >= 3.5,
        "the limit stayed below the throughput's knee: {mean}"
    );
    assert!(
        adaptive.throughput() >= 0.95 * best,
        "throughput {} against the best fixed size's {best}",
        adaptive.throughput()
    );
}
