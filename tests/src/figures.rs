//! Figures a reliability scenario collects while it runs, printed in one stable format
//! (`RELIABILITY.md` copies them):
//!
//! ```text
//! == figures: blackout/postgres ==
//! operations: 812
//! ok: 600
//! errors: pool_timeout(connecting)=3 rejected(breaker_open)=205 sqlx(connection)=4
//! retries: 5
//! breaker transitions: +0.512s closed->open, +4.016s open->half_open, +4.031s half_open->closed
//! max connections seen: pool 4, proxy 4
//! recovery: 0.031s
//! <scenario-specific lines: `name: value`>
//! == end ==
//! ```
//!
//! Times (`+…s`) count from when the `Figures` was made.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{BreakerState, CircuitBreaker, PoolError, Rejected};
use tokio::time::Instant;

/// What one scenario measured.
#[derive(Debug)]
pub struct Figures {
    name: String,
    started: Instant,
    ok: AtomicU64,
    retries: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    transitions: Mutex<Vec<(Duration, BreakerState, BreakerState)>>,
    max_pool: AtomicU64,
    max_proxy: AtomicU64,
    recovery: Mutex<Option<Duration>>,
    notes: Mutex<Vec<(String, String)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Figures {
    /// Empty figures for the scenario `name` (`"blackout/postgres"`); the clock starts now.
    pub fn new(name: impl Into<String>) -> Arc<Self> {
        Arc::new(Figures {
            name: name.into(),
            started: Instant::now(),
            ok: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            transitions: Mutex::new(Vec::new()),
            max_pool: AtomicU64::new(0),
            max_proxy: AtomicU64::new(0),
            recovery: Mutex::new(None),
            notes: Mutex::new(Vec::new()),
        })
    }

    /// When the figures started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Records one operation that succeeded.
    pub fn ok(&self) {
        self.ok.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one operation that failed with an error of `kind` ([`error_kind`]).
    pub fn error(&self, kind: impl Into<String>) {
        *lock(&self.errors).entry(kind.into()).or_insert(0) += 1;
    }

    /// Records the outcome of one operation.
    pub fn outcome<T, E: FigureKind>(&self, result: &Result<T, E>) {
        match result {
            Ok(_) => self.ok(),
            Err(error) => self.error(error_kind(error)),
        }
    }

    /// Adds `n` retries.
    pub fn retries(&self, n: u64) {
        self.retries.fetch_add(n, Ordering::Relaxed);
    }

    /// Notes a number of connections the pool held at one moment.
    pub fn pool_connections(&self, n: usize) {
        self.max_pool.fetch_max(n as u64, Ordering::Relaxed);
    }

    /// Notes the most connections seen open through the proxy.
    pub fn proxy_connections(&self, n: u64) {
        self.max_proxy.fetch_max(n, Ordering::Relaxed);
    }

    /// The recovery time.
    pub fn recovery(&self, took: Duration) {
        *lock(&self.recovery) = Some(took);
    }

    /// A scenario-specific line `name: value`.
    pub fn note(&self, name: impl Into<String>, value: impl std::fmt::Display) {
        lock(&self.notes).push((name.into(), value.to_string()));
    }

    /// Operations so far (successes and errors).
    pub fn operations(&self) -> u64 {
        self.ok.load(Ordering::Relaxed) + lock(&self.errors).values().sum::<u64>()
    }

    /// Successful operations so far.
    pub fn successes(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Errors of `kind` so far.
    pub fn errors_of(&self, kind: &str) -> u64 {
        lock(&self.errors).get(kind).copied().unwrap_or(0)
    }

    /// Every error kind with its count.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        lock(&self.errors).clone()
    }

    /// The breaker transitions seen so far: (time since start, from, to).
    pub fn transitions(&self) -> Vec<(Duration, BreakerState, BreakerState)> {
        lock(&self.transitions).clone()
    }

    /// The time (since start) of the first transition into `to` after `after`, if any.
    pub fn transition_to(&self, to: BreakerState, after: Duration) -> Option<Duration> {
        lock(&self.transitions)
            .iter()
            .find(|(at, _, state)| *state == to && *at >= after)
            .map(|(at, _, _)| *at)
    }

    /// Records every state change of `breaker` from now on, until the task is aborted or
    /// the breaker is dropped. The subscription is taken before this returns.
    pub fn watch(self: &Arc<Self>, breaker: &CircuitBreaker) -> tokio::task::JoinHandle<()> {
        let mut events = breaker.subscribe();
        let figures = Arc::clone(self);
        tokio::spawn(async move {
            // Bounded by the breaker's life: `recv` fails once its sender is gone.
            loop {
                match events.recv().await {
                    Ok(event) => lock(&figures.transitions).push((
                        figures.started.elapsed(),
                        event.from,
                        event.to,
                    )),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        figures.note("breaker events missed", missed);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }

    /// The figures in their stable format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "== figures: {} ==", self.name);
        let _ = writeln!(out, "operations: {}", self.operations());
        let _ = writeln!(out, "ok: {}", self.successes());
        let errors = lock(&self.errors);
        let listed: Vec<String> = errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(
            out,
            "errors: {}",
            if listed.is_empty() {
                "none".to_owned()
            } else {
                listed.join(" ")
            }
        );
        drop(errors);
        let _ = writeln!(out, "retries: {}", self.retries.load(Ordering::Relaxed));
        let transitions: Vec<String> = lock(&self.transitions)
            .iter()
            .map(|(at, from, to)| {
                format!(
                    "+{:.3}s {}->{}",
                    at.as_secs_f64(),
                    from.as_str(),
                    to.as_str()
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "breaker transitions: {}",
            if transitions.is_empty() {
                "none".to_owned()
            } else {
                transitions.join(", ")
            }
        );
        let _ = writeln!(
            out,
            "max connections seen: pool {}, proxy {}",
            self.max_pool.load(Ordering::Relaxed),
            self.max_proxy.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "recovery: {}",
            lock(&self.recovery).map_or_else(
                || "n/a".to_owned(),
                |took| format!("{:.3}s", took.as_secs_f64())
            )
        );
        for (name, value) in lock(&self.notes).iter() {
            let _ = writeln!(out, "{name}: {value}");
        }
        let _ = write!(out, "== end ==");
        out
    }

    /// Prints the figures to stderr (shown with `--nocapture`).
    pub fn print(&self) {
        eprintln!("\n{}\n", self.render());
    }
}

/// A short, stable name for what an error is: `rejected(breaker_open)`,
/// `pool_timeout(waiting_for_slot)`, `pool_connect(connection)`, `sqlx(timeout)`, ...
pub fn error_kind<E: FigureKind>(error: &E) -> String {
    error.figure_kind()
}

/// An error as the scenarios' figures name it, alike on every binding.
pub trait FigureKind {
    /// See [`error_kind`].
    fn figure_kind(&self) -> String;
}

/// The name of a pool's or a policy's error, whatever the binding.
fn pool_kind<B: pool_sqlx::Classify>(error: &PoolError<B>) -> String {
    use pool_sqlx::{Classify, TimeoutPhase};
    match error {
        PoolError::Timeout { phase, .. } => format!(
            "pool_timeout({})",
            match phase {
                TimeoutPhase::WaitingForSlot => "waiting_for_slot",
                TimeoutPhase::Connecting => "connecting",
                TimeoutPhase::Validating => "validating",
            }
        ),
        PoolError::Connect(error) => format!("pool_connect({})", error.class().as_str()),
        PoolError::Closed => "pool_closed".to_owned(),
        _ => "pool_other".to_owned(),
    }
}

impl FigureKind for pool_sqlx::Error {
    fn figure_kind(&self) -> String {
        use pool_sqlx::{Classify, Error};
        match self {
            Error::Rejected(rejected) => format!("rejected({})", rejected_reason(rejected)),
            Error::Pool(error) => pool_kind(error),
            Error::Sqlx(error) => {
                format!("sqlx({})", pool_sqlx::classify::classify(error).as_str())
            }
            Error::Config(_) => "config".to_owned(),
            Error::CommitOutcomeUnknown(_) => "commit_outcome_unknown".to_owned(),
            other => format!("other({})", other.class().as_str()),
        }
    }
}

impl FigureKind for pool_postgres::Error {
    fn figure_kind(&self) -> String {
        use pool_postgres::{Classify, Error};
        match self {
            Error::Rejected(rejected) => format!("rejected({})", rejected_reason(rejected)),
            Error::Pool(error) => pool_kind(error),
            Error::Postgres(error) => format!("postgres({})", error.class().as_str()),
            Error::Config(_) => "config".to_owned(),
            Error::CommitOutcomeUnknown(_) => "commit_outcome_unknown".to_owned(),
            other => format!("other({})", other.class().as_str()),
        }
    }
}

fn rejected_reason(rejected: &Rejected) -> &'static str {
    rejected.reason()
}

/// Durations of many operations, summarised.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    /// No samples.
    pub fn new() -> Self {
        Latencies(Vec::new())
    }

    /// Adds one sample.
    pub fn push(&mut self, took: Duration) {
        self.0.push(took);
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: &Latencies) {
        self.0.extend_from_slice(&other.0);
    }

    /// The number of samples.
    pub fn count(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0..=1), nearest rank; zero without samples.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.0.clone();
        sorted.sort();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// The largest sample; zero without samples.
    pub fn max(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }

    /// `n=…, p50=…, p99=…, max=…` in microseconds.
    pub fn summary(&self) -> String {
        format!(
            "n={} p50={}us p99={}us max={}us",
            self.count(),
            self.quantile(0.5).as_micros(),
            self.quantile(0.99).as_micros(),
            self.max().as_micros()
        )
    }
}
